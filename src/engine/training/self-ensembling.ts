/**
 * Adaptive self-ensembling (COPLE-Net paper, spec monai-reference.md §3.2): a mean teacher whose
 * weights are an exponential moving average (EMA) of the student's, with
 *  - an adaptive teacher: the EMA update is suppressed for batches whose student loss is abnormally
 *    large (likely noisy labels);
 *  - an adaptive student: the consistency term (MSE between student and teacher softmax outputs)
 *    counts only for samples where the teacher agrees with the (noisy) label better than the student.
 *
 * The abstract fixes only the mechanism. The exact rules are UNVERIFIED against the paper (§III-C not
 * available); the numbers here are OUR choices, following PyMIC's mean-teacher conventions where one
 * exists: α = 0.99 with optional warm-up α_t = min(1 − 1/(t + 1), α); "abnormal" = loss > mean + k·std
 * of the last W batch losses (k = 2, W = 50, at least 10 losses seen); suppression = skip the update;
 * "teacher better" = the teacher's per-sample NR-Dice against the label is lower than the student's;
 * consistency weight λ = 0.1 with the sigmoid ramp-up exp(−5(1 − t)²).
 *
 * Everything works on any list or name→variable map of `tf.Variable`s and on logits tensors, so the
 * trainer can use it with any network `(x, training) => logits`.
 */
import * as tf from '@tensorflow/tfjs-core';
import './gradients';
import { nrDicePerSample, toChannelLast, type NRDiceOptions } from './losses';

/** The weights of one network: a list, or a map from name to variable (paired by key). */
export type VariableSet = readonly tf.Variable[] | Readonly<Record<string, tf.Variable>>;

/** Teacher/student variable pairs: by position for lists, by key for maps. Checks shapes. */
function pairUp(teacher: VariableSet, student: VariableSet): [tf.Variable, tf.Variable][] {
  const pairs: [tf.Variable, tf.Variable][] = [];
  if (Array.isArray(teacher) !== Array.isArray(student)) throw new Error('teacher and student must both be lists or both be maps');
  if (Array.isArray(teacher)) {
    const s = student as readonly tf.Variable[];
    if (teacher.length !== s.length) throw new Error(`teacher has ${teacher.length} variables, student ${s.length}`);
    teacher.forEach((t, i) => pairs.push([t, s[i]]));
  } else {
    const t = teacher as Readonly<Record<string, tf.Variable>>;
    const s = student as Readonly<Record<string, tf.Variable>>;
    const keys = Object.keys(t);
    if (keys.length !== Object.keys(s).length || keys.some((k) => !(k in s))) throw new Error('teacher and student variable names differ');
    for (const k of keys) pairs.push([t[k], s[k]]);
  }
  for (const [t, s] of pairs) {
    if (!tf.util.arraysEqual(t.shape, s.shape)) throw new Error(`teacher variable ${t.name} [${t.shape}] vs student ${s.name} [${s.shape}]`);
  }
  return pairs;
}

/**
 * Copies of the student's variables for the teacher, NOT trainable, so `tf.variableGrads` and
 * optimizers (which default to trainable variables) never touch them.
 */
export function cloneAsTeacher<T extends VariableSet>(student: T): T {
  const copy = (v: tf.Variable) => tf.variable(v, false);
  if (Array.isArray(student)) return (student as readonly tf.Variable[]).map(copy) as unknown as T;
  return Object.fromEntries(Object.entries(student as Record<string, tf.Variable>).map(([k, v]) => [k, copy(v)])) as unknown as T;
}

export interface EmaOptions {
  /** EMA decay α. Default 0.99 (mean-teacher / PyMIC default; the paper's value is unverified). */
  alpha?: number;
  /** PyMIC-style warm-up: α_t = min(1 − 1/(t + 1), α), so early teachers follow the student closely. Default false. */
  warmup?: boolean;
}

/** The EMA decay for update number `step` (0-based). */
export function emaDecay(step: number, opts: EmaOptions = {}): number {
  const { alpha = 0.99, warmup = false } = opts;
  if (!(alpha >= 0 && alpha <= 1)) throw new Error(`EMA decay must be in [0, 1], got ${alpha}`);
  return warmup ? Math.min(1 - 1 / (step + 1), alpha) : alpha;
}

/**
 * θ' ← α θ' + (1 − α) θ for every teacher/student pair, in place (the teacher variables are assigned;
 * unlike PyMIC's non-in-place `.add`, the student term really lands). α = 1 is a no-op.
 */
export function emaUpdate(teacher: VariableSet, student: VariableSet, alpha: number): void {
  const pairs = pairUp(teacher, student);
  if (alpha === 1) return;
  tf.tidy(() => {
    for (const [t, s] of pairs) t.assign(tf.add(tf.mul(t, alpha), tf.mul(s, 1 - alpha)));
  });
}

export interface LossGateOptions {
  /** Threshold = mean + k·std of the recent losses. Default 2. */
  k?: number;
  /** Number of recent batch losses kept. Default 50. */
  window?: number;
  /** No batch is judged abnormal before this many losses were seen. Default 10. */
  minHistory?: number;
}

/**
 * Flags abnormally large batch losses against running statistics of the recent ones. A loss is
 * abnormal when it is strictly above mean + k·std (population std) of the window BEFORE it is added;
 * non-finite losses are always abnormal and never enter the window. Every finite loss enters the window,
 * abnormal ones included, so that a lasting shift in the loss level (e.g. a learning-rate change) is
 * absorbed after a while instead of suppressing the teacher forever.
 */
export class LossOutlierGate {
  private readonly k: number;
  private readonly window: number;
  private readonly minHistory: number;
  private readonly history: number[] = [];

  constructor(opts: LossGateOptions = {}) {
    this.k = opts.k ?? 2;
    this.window = opts.window ?? 50;
    this.minHistory = Math.min(opts.minHistory ?? 10, this.window);
    if (!(this.window >= 1) || !(this.minHistory >= 1)) throw new Error('loss gate window and minHistory must be >= 1');
  }

  /** mean + k·std of the current window, or null while fewer than `minHistory` losses were seen. */
  get threshold(): number | null {
    const n = this.history.length;
    if (n < this.minHistory) return null;
    const mean = this.history.reduce((a, b) => a + b, 0) / n;
    const variance = this.history.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    return mean + this.k * Math.sqrt(variance);
  }

  /** The losses in the window, oldest first (what a checkpoint stores). */
  recent(): number[] {
    return this.history.slice();
  }

  /** Replaces the window with saved losses (resuming from a checkpoint); non-finite values are dropped. */
  restore(losses: readonly number[]): void {
    this.history.length = 0;
    for (const l of losses.slice(-this.window)) if (Number.isFinite(l)) this.history.push(l);
  }

  /** Judges `loss` against the window, then records it. */
  observe(loss: number): { abnormal: boolean; threshold: number | null } {
    const threshold = this.threshold;
    if (!Number.isFinite(loss)) return { abnormal: true, threshold };
    const abnormal = threshold !== null && loss > threshold;
    this.history.push(loss);
    if (this.history.length > this.window) this.history.shift();
    return { abnormal, threshold };
  }
}

export interface AdaptiveTeacherOptions extends EmaOptions, LossGateOptions {
  /** What a suppressed update does: 'skip' (α_t = 1, default) or 'scale' ((1 − α_t) × `scale`). */
  suppression?: 'skip' | 'scale';
  /** Factor on the student's weight (1 − α_t) in 'scale' mode. Default 0.1. */
  scale?: number;
}

export interface TeacherStep {
  /** The decay actually applied (1 = teacher unchanged). */
  alpha: number;
  suppressed: boolean;
  threshold: number | null;
}

/** Mean teacher with the loss-gated EMA update. Call `update(studentLoss)` after each optimizer step. */
export class AdaptiveTeacher {
  readonly gate: LossOutlierGate;
  /** Updates requested so far (suppressed ones included): the `t` of the warm-up. */
  step = 0;

  constructor(
    readonly teacher: VariableSet,
    readonly student: VariableSet,
    private readonly opts: AdaptiveTeacherOptions = {},
  ) {
    pairUp(teacher, student);
    this.gate = new LossOutlierGate(opts);
  }

  update(studentLoss: number): TeacherStep {
    const { suppression = 'skip', scale = 0.1 } = this.opts;
    const base = emaDecay(this.step++, this.opts);
    const { abnormal, threshold } = this.gate.observe(studentLoss);
    const alpha = !abnormal ? base : suppression === 'skip' ? 1 : 1 - (1 - base) * scale;
    emaUpdate(this.teacher, this.student, alpha);
    return { alpha, suppressed: abnormal, threshold };
  }
}

/** Identity in the forward pass, zero gradient in the backward pass. */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const input = args[0] as tf.Tensor;
    return { value: tf.clone(input), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
  });
  return f(x) as T;
}

/**
 * Sigmoid ramp-up exp(−5(1 − p)²) with p = (t − start)/(end − start) clipped to [0, 1] (PyMIC
 * `get_rampup_ratio(..., 'sigmoid')`, current version; an older PyMIC returned 0 before `start`).
 * `end <= start` means no ramp: 1.
 */
export function sigmoidRampup(t: number, start: number, end: number): number {
  if (end <= start) return 1;
  const p = Math.min(Math.max((t - start) / (end - start), 0), 1);
  return Math.exp(-5 * (1 - p) ** 2);
}

export interface ConsistencyWeightOptions {
  /** Final weight λ. Default 0.1 (PyMIC `regularize_w`). */
  lambda?: number;
  /** Ramp-up start and end, in the same unit as `step` (iterations). Defaults 0 and 0 (no ramp). */
  rampupStart?: number;
  rampupEnd?: number;
}

/** λ · sigmoidRampup(step). */
export function consistencyWeight(step: number, opts: ConsistencyWeightOptions = {}): number {
  const { lambda = 0.1, rampupStart = 0, rampupEnd = 0 } = opts;
  return lambda * sigmoidRampup(step, rampupStart, rampupEnd);
}

export interface ConsistencyOptions {
  /** Per-sample weights [N] (e.g. `adaptiveStudentMask`); default all ones. */
  mask?: tf.Tensor;
  /** Channel axis of the logits. Default -1. */
  channelAxis?: number;
}

/**
 * Consistency term: for each sample, the MSE between the student's and the teacher's softmax outputs
 * (mean over voxels and channels), times its mask value, averaged over ALL N samples (masked-out
 * samples count as 0, so the term's scale does not jump when few samples pass the mask). The teacher
 * side is treated as a constant.
 */
export function consistencyLoss(studentLogits: tf.Tensor, teacherLogits: tf.Tensor, opts: ConsistencyOptions = {}): tf.Scalar {
  if (!tf.util.arraysEqual(studentLogits.shape, teacherLogits.shape)) {
    throw new Error(`consistencyLoss: student [${studentLogits.shape}] vs teacher [${teacherLogits.shape}]`);
  }
  return tf.tidy(() => {
    const ps = tf.softmax(toChannelLast(studentLogits, opts.channelAxis));
    const pt = stopGradient(tf.softmax(toChannelLast(teacherLogits, opts.channelAxis)));
    const n = ps.shape[0];
    const perSample = tf.mean(tf.reshape(tf.squaredDifference(ps, pt), [n, -1]), 1);
    const weighted = opts.mask ? tf.mul(perSample, stopGradient(tf.reshape(tf.cast(opts.mask, 'float32'), [n]))) : perSample;
    return tf.mean(weighted) as tf.Scalar;
  });
}

/**
 * Adaptive-student mask [N]: 1 where the teacher's per-sample NR-Dice against the (noisy) label is
 * strictly lower than the student's, else 0. Carries no gradient. `opts` are the NR-Dice options
 * (default: paper form, foreground, γ = 1.5, inputs are logits).
 */
export function adaptiveStudentMask(
  studentLogits: tf.Tensor,
  teacherLogits: tf.Tensor,
  target: tf.Tensor,
  opts: NRDiceOptions = {},
): tf.Tensor1D {
  // One custom-gradient op: the comparison inside is not recorded on the tape (tfjs has no gradient
  // for `less`), and the mask's gradient is zero for all three inputs.
  const mask = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [s, t, g] = args as tf.Tensor[];
    const value = tf.tidy(() => tf.cast(tf.less(nrDicePerSample(t, g, opts), nrDicePerSample(s, g, opts)), 'float32'));
    return { value, gradFunc: () => [tf.zerosLike(s), tf.zerosLike(t), tf.zerosLike(g)] };
  });
  return mask(studentLogits, teacherLogits, target) as tf.Tensor1D;
}
