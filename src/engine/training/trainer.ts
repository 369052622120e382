/**
 * The training loop for the slice-wise networks (COPLE-Net, 2D U-Net): seeded patch batches
 * (data.ts) → loss (Dice, CE, Dice+CE or NR-Dice) → Adam/SGD with an LR schedule (optim.ts), with
 * optional adaptive self-ensembling (self-ensembling.ts), periodic validation, checkpoints through a
 * `CheckpointStore`, and pause / resume / cancel. Runs the same in a Web Worker and in Node.
 *
 * Determinism: batch `s` depends only on (seed, s) (data.ts), network initialisation on the model
 * seed, and dropout on (seed, s) — tfjs's `dropout` draws its seed from `Math.random`, so the
 * forward/backward pass runs with `Math.random` temporarily replaced by a seeded generator. With a
 * deterministic backend (cpu, wasm) a run resumed from a checkpoint therefore reproduces the
 * uninterrupted run.
 *
 * Choices made here (the paper's are not all known, spec §3.2): the mean teacher predicts in eval mode
 * (running BatchNorm statistics, no dropout) and its EMA covers every float tensor of the state dict,
 * BatchNorm running statistics included; the adaptive teacher is gated on the student's supervised loss;
 * `batchNorm: 'frozen'` runs the network in eval mode (running statistics, and so also no dropout),
 * because our networks have one training switch for both.
 */
import * as tf from '@tensorflow/tfjs-core';
import './gradients';
import { InputError } from '../io/errors';
import { Rng } from '../random';
import { deriveSeed } from '../synth/seeds';
import { readSafetensors, writeSafetensors, type StateDict } from '../weights';
import { createNetwork, type ModelKind, type Network } from '../../models';
import { loadOptimizerState, saveOptimizerState, type CheckpointStore, type DataOptions, type TrainingCheckpoint } from './checkpoint';
import { contextChannels } from '../inference/slice-context';
import { PatchSampler, type PatchBatch, type PatchOptions, type PreparedCase, type ValidationSlices } from './data';
import { crossEntropyLoss, diceCELoss, diceLoss, nrDiceLoss, oneHotTarget, type NRDiceOptions } from './losses';
import { createOptimizer, type OptimizerOptions, type ScheduledOptimizer } from './optim';
import {
  AdaptiveTeacher,
  adaptiveStudentMask,
  consistencyLoss,
  consistencyWeight,
  type ConsistencyWeightOptions,
  type LossGateOptions,
  type TeacherStep,
} from './self-ensembling';

/**
 * Supervised losses (softmax; Dice terms on the lesion channel only). `batch`: one Dice pooled over
 * the whole batch (MONAI `batch=True`) instead of one per patch — a patch without lesion then no
 * longer scores ≈ 1 for any faint foreground probability. NR-Dice always pools (PyMIC).
 * NR-Dice `channels`: 'mean' (default) averages background and lesion as PyMIC's NoiseRobustDiceLoss
 * does; on the lesion channel alone ('foreground') predicting lesion everywhere scores below
 * predicting none in lesion-poor patches, and training collapses to all-lesion (measured with
 * experiment:noisy).
 */
export type LossSpec =
  | { kind: 'dice'; batch?: boolean }
  | { kind: 'ce' }
  | { kind: 'dicece'; lambdaDice?: number; lambdaCe?: number; batch?: boolean }
  | { kind: 'nrdice'; gamma?: number; form?: 'paper' | 'pymic'; channels?: 'mean' | 'foreground' };

export interface SelfEnsemblingConfig {
  /** EMA decay α (default 0.99) and PyMIC warm-up α_t = min(1 − 1/(t + 1), α) (default false). */
  alpha?: number;
  warmup?: boolean;
  /** Suppress the EMA update on abnormally large student losses (default true), with the gate's settings. */
  adaptiveTeacher?: boolean;
  gate?: LossGateOptions;
  suppression?: 'skip' | 'scale';
  /** Consistency only where the teacher's NR-Dice against the label beats the student's (default true). */
  adaptiveStudent?: boolean;
  /** λ (default 0.1) and its sigmoid ramp-up over steps [rampupStart, rampupEnd]. */
  consistency?: ConsistencyWeightOptions;
}

export interface TrainerConfig {
  /** Slice-wise networks only. `seed` seeds the initialisation. */
  model: { kind: Extract<ModelKind, 'coplenet' | 'unet2d'>; features?: number[]; seed?: number };
  loss: LossSpec;
  optimizer: OptimizerOptions;
  /** Total number of updates `run()` performs. */
  steps: number;
  /** Patch size, batch size, pos/neg ratio and augmentation (the seed is `seed`). */
  patches: Omit<PatchOptions, 'seed'>;
  /** Seeds batches and dropout. */
  seed: number;
  /** 'train' (default): batch statistics, running statistics updated; 'frozen': eval-mode network. */
  batchNorm?: 'train' | 'frozen';
  /** Train only the decoder (and bottleneck): encoder parameters get no updates. Default false. */
  freezeEncoder?: boolean;
  selfEnsembling?: SelfEnsemblingConfig | null;
  /** Validate every N updates (and after the last one); 0 or absent = never. */
  validateEvery?: number;
  /** Save a checkpoint every N updates (and on pause); 0 or absent = only on pause / `save()`. */
  checkpointEvery?: number;
}

/** One update, as kept in the history. */
export interface StepRecord {
  /** 1-based count of updates done after this one. */
  step: number;
  /** Total loss (supervised + weighted consistency). */
  loss: number;
  supervisedLoss: number;
  lr: number;
  seconds: number;
  valDice?: number;
  /** Self-ensembling: whether the EMA update was suppressed, and the fraction of samples the adaptive student learned from the teacher on. */
  teacherSuppressed?: boolean;
  studentMaskFraction?: number;
}

export interface StepInfo extends StepRecord {
  /** Updates per second over the last (up to) 10 updates. */
  stepsPerSec: number;
  teacher?: TeacherStep;
}

/** Anything that hands out the batch of update `step`. */
export interface BatchSource {
  batch(step: number): Promise<PatchBatch>;
}

export interface TrainerData {
  train: readonly PreparedCase[];
  validation?: readonly ValidationSlices[];
  /** Replaces the PatchSampler built from `train` (tests inject label noise this way). */
  sampler?: BatchSource;
  store?: CheckpointStore;
  /** Checkpoint key in `store`. Default 'training'. */
  key?: string;
  /** Saved with every checkpoint as they are, for the caller to rebuild this data when resuming. */
  dataOptions?: DataOptions;
  onStep?: (info: StepInfo) => void;
}

export type TrainerState = 'idle' | 'running' | 'paused' | 'finished' | 'cancelled';

const ENCODER_PREFIXES: Record<TrainerConfig['model']['kind'], string[]> = {
  coplenet: ['in_conv.', 'down1.', 'down2.', 'down3.', 'down4.'],
  unet2d: ['conv_0.', 'down_1.', 'down_2.', 'down_3.', 'down_4.'],
};

/** Runs `f` with `Math.random` drawing from a generator seeded with `seed` (see the file header). `f` must be synchronous. */
function withSeededRandom<T>(seed: number, f: () => T): T {
  const original = Math.random;
  const R = new Rng(seed);
  Math.random = () => R.random();
  try {
    return f();
  } finally {
    Math.random = original;
  }
}

function checkConfig(c: TrainerConfig): void {
  const bad = (reason: string) => new InputError('training configuration', reason);
  if (!(c.model.kind === 'coplenet' || c.model.kind === 'unet2d')) throw bad(`model must be coplenet or unet2d (slice-wise), got ${String(c.model.kind)}`);
  if (!(Number.isInteger(c.steps) && c.steps >= 0)) throw bad(`steps must be a non-negative integer, got ${c.steps}`);
  if (!['dice', 'ce', 'dicece', 'nrdice'].includes(c.loss.kind)) throw bad(`unknown loss ${String(c.loss.kind)}`);
  if (c.loss.kind === 'nrdice' && c.loss.gamma !== undefined && !(c.loss.gamma > 0)) throw bad(`NR-Dice γ must be > 0, got ${c.loss.gamma}`);
  for (const k of ['validateEvery', 'checkpointEvery'] as const) {
    const v = c[k];
    if (v !== undefined && !(Number.isInteger(v) && v >= 0)) throw bad(`${k} must be a non-negative integer, got ${v}`);
  }
}

/** The network a config trains: its input channels follow the patches' context slices. */
function networkOptions(config: TrainerConfig) {
  return { features: config.model.features, seed: config.model.seed, inChannels: contextChannels(config.patches.contextSlices ?? 0) };
}

/** Eval-mode argmax labels of (n, h, w, channels) slices, `batch` at a time: (n, h, w) 0/1. */
export async function predictSlices(network: Network, images: Float32Array, n: number, h: number, w: number, batch = 4, channels = 1): Promise<Uint8Array> {
  const out = new Uint8Array(n * h * w);
  const size = h * w * channels;
  for (let i = 0; i < n; i += batch) {
    const m = Math.min(batch, n - i);
    const labels = tf.tidy(() => tf.argMax(network.apply(tf.tensor4d(images.subarray(i * size, (i + m) * size), [m, h, w, channels])), -1));
    out.set(await labels.data(), i * h * w);
    labels.dispose();
  }
  return out;
}

/** Pooled foreground Dice of eval-mode predictions on the validation slices (1 when both are empty). */
export async function validationDice(network: Network, sets: readonly ValidationSlices[], batch = 4): Promise<number> {
  let inter = 0;
  let sum = 0;
  for (const v of sets) {
    const pred = await predictSlices(network, v.images, v.count, v.height, v.width, batch, v.channels);
    for (let s = 0; s < v.count; s++) {
      for (let r = 0; r < v.rows; r++) {
        const p0 = (s * v.height + r + v.top) * v.width + v.left;
        const g0 = (s * v.rows + r) * v.cols;
        for (let c = 0; c < v.cols; c++) {
          const p = pred[p0 + c];
          const g = v.labels[g0 + c];
          inter += p & g;
          sum += p + g;
        }
      }
    }
  }
  return sum === 0 ? 1 : (2 * inter) / sum;
}

export class Trainer {
  readonly history: StepRecord[] = [];
  private _state: TrainerState = 'idle';
  private readonly sampler: BatchSource;
  private readonly varList: tf.Variable[];
  private readonly stateKeyOf = new Map<string, string>();
  private readonly tfNameOf = new Map<string, string>();
  private readonly recentSeconds: number[] = [];
  private pauseRequested = false;
  private cancelRequested = false;
  private wake: (() => void) | null = null;
  /** Callers of `pause()` waiting for the run to stop (checkpoint saved) or to end. */
  private pauseWaiters: (() => void)[] = [];

  private constructor(
    readonly config: TrainerConfig,
    readonly network: Network,
    private readonly optimizer: ScheduledOptimizer,
    private readonly teacherNet: Network | null,
    private readonly teacher: AdaptiveTeacher | null,
    private readonly data: TrainerData,
    /** Updates done so far. */
    private done: number,
  ) {
    this.sampler = data.sampler ?? new PatchSampler(data.train, { ...config.patches, seed: config.seed });
    const frozen = config.freezeEncoder ? ENCODER_PREFIXES[config.model.kind] : [];
    this.varList = [];
    for (const [key, p] of network.namedParameters()) {
      this.stateKeyOf.set(p.variable.name, key);
      this.tfNameOf.set(key, p.variable.name);
      if (p.trainable && !frozen.some((f) => key.startsWith(f))) this.varList.push(p.variable);
    }
  }

  /** A new run: the network initialised from `config.model.seed`, or from `initialWeights` (fine-tuning). */
  static async create(config: TrainerConfig, data: TrainerData, initialWeights?: StateDict): Promise<Trainer> {
    checkConfig(config);
    const network = createNetwork(config.model.kind, networkOptions(config));
    if (initialWeights) network.loadStateDict(initialWeights, { source: 'initial weights' });
    return Trainer.assemble(config, network, data, 0);
  }

  /** Continues the run saved under `data.key` in `data.store` (same data must be supplied). */
  static async resume(data: TrainerData): Promise<Trainer> {
    const key = data.key ?? 'training';
    if (!data.store) throw new InputError('checkpoint', 'resuming needs a checkpoint store');
    const ckpt = await data.store.load(key);
    if (!ckpt) throw new InputError(`checkpoint ${key}`, 'no checkpoint saved under this key');
    return Trainer.fromCheckpoint(ckpt, data);
  }

  static async fromCheckpoint(ckpt: TrainingCheckpoint, data: TrainerData): Promise<Trainer> {
    const config = ckpt.config;
    checkConfig(config);
    const network = createNetwork(config.model.kind, networkOptions(config));
    network.loadStateDict(readSafetensors(ckpt.weights, 'checkpoint weights').stateDict, { source: 'checkpoint weights' });
    const t = Trainer.assemble(config, network, data, ckpt.step, ckpt.teacher?.weights);
    await loadOptimizerState(t.optimizer, ckpt.optimizerState, t.tfNameOf);
    if (t.teacher && ckpt.teacher) {
      t.teacher.step = ckpt.teacher.updates;
      t.teacher.gate.restore(ckpt.teacher.recentLosses);
    }
    t.history.push(...ckpt.history);
    return t;
  }

  private static assemble(config: TrainerConfig, network: Network, data: TrainerData, done: number, teacherWeights?: Uint8Array): Trainer {
    const optimizer = createOptimizer(config.optimizer);
    let teacherNet: Network | null = null;
    let teacher: AdaptiveTeacher | null = null;
    const se = config.selfEnsembling;
    if (se) {
      teacherNet = createNetwork(config.model.kind, { ...networkOptions(config), seed: undefined });
      if (teacherWeights) teacherNet.loadStateDict(readSafetensors(teacherWeights, 'checkpoint teacher').stateDict, { source: 'checkpoint teacher' });
      else for (const [[, s], [, t]] of zip(network.namedParameters(), teacherNet.namedParameters())) t.variable.assign(s.variable);
      const floats = (net: Network) => Object.fromEntries([...net.namedParameters()].filter(([, p]) => p.variable.dtype === 'float32').map(([k, p]) => [k, p.variable]));
      // A plain mean teacher: no finite loss is ever above mean + ∞·std.
      const gate = se.adaptiveTeacher === false ? { ...se.gate, k: Infinity } : se.gate;
      teacher = new AdaptiveTeacher(floats(teacherNet), floats(network), { alpha: se.alpha, warmup: se.warmup, suppression: se.suppression, ...gate });
    }
    return new Trainer(config, network, optimizer, teacherNet, teacher, data, done);
  }

  get state(): TrainerState {
    return this._state;
  }

  /** Updates done so far. */
  get step(): number {
    return this.done;
  }

  /** The learning rate of the next update. */
  get learningRate(): number {
    return this.optimizer.learningRate;
  }

  /** The mean teacher (self-ensembling only). */
  get teacherNetwork(): Network | null {
    return this.teacherNet;
  }

  /** Number of trainable scalars that get updates (fewer with `freezeEncoder`). */
  get trainedParameterCount(): number {
    return this.varList.reduce((n, v) => n + v.size, 0);
  }

  /** One update on batch number `step`. */
  async trainStep(): Promise<StepInfo> {
    const t0 = performance.now();
    const s = this.done;
    const batch = await this.sampler.batch(s);
    const { batchSize: B, patchSize: P } = batch;
    const x = tf.tensor4d(batch.images, [B, P, P, batch.channels]);
    const y = tf.tidy(() => oneHotTarget(batch.labels, [B, P, P], this.network.outChannels));
    const teacherLogits = this.teacherNet ? this.teacherNet.apply(x, { training: false }) : null;
    const se = this.config.selfEnsembling;
    const w = se ? consistencyWeight(s, se.consistency) : 0;
    const training = this.config.batchNorm !== 'frozen';
    // Tensors kept out of the gradient computation's tidy: the supervised part and the student mask.
    const kept: { supervised?: tf.Scalar; mask?: tf.Tensor } = {};
    const lr = this.optimizer.learningRate;
    const { value, grads } = withSeededRandom(deriveSeed(this.config.seed, 'dropout', s), () =>
      tf.variableGrads(() => {
        const logits = this.network.apply(x, { training });
        const sup = this.supervisedLoss(logits, y);
        kept.supervised = tf.keep(tf.clone(sup));
        if (!teacherLogits || w === 0) return sup;
        const mask = se!.adaptiveStudent === false ? undefined : adaptiveStudentMask(logits, teacherLogits, y, this.nrDiceOptions());
        if (mask) kept.mask = tf.keep(tf.clone(mask));
        return tf.add(sup, tf.mul(consistencyLoss(logits, teacherLogits, { mask }), w)) as tf.Scalar;
      }, this.varList),
    );
    this.optimizer.applyGradients(grads);
    const loss = (await value.data())[0];
    const supervisedLoss = (await kept.supervised!.data())[0];
    const maskData = kept.mask ? await kept.mask.data() : null;
    tf.dispose([x, y, value, ...Object.values(grads), kept.supervised!, ...(teacherLogits ? [teacherLogits] : []), ...(kept.mask ? [kept.mask] : [])]);
    const teacherStep = this.teacher ? this.teacher.update(supervisedLoss) : undefined;
    this.done++;
    const seconds = (performance.now() - t0) / 1000;
    const record: StepRecord = { step: this.done, loss, supervisedLoss, lr, seconds };
    if (teacherStep) record.teacherSuppressed = teacherStep.suppressed;
    if (maskData) record.studentMaskFraction = Array.from(maskData).reduce((a, b) => a + b, 0) / maskData.length;
    const every = this.config.validateEvery ?? 0;
    if (this.data.validation?.length && every > 0 && (this.done % every === 0 || this.done === this.config.steps)) {
      record.valDice = await this.validate();
    }
    this.history.push(record);
    this.recentSeconds.push((performance.now() - t0) / 1000);
    if (this.recentSeconds.length > 10) this.recentSeconds.shift();
    const stepsPerSec = this.recentSeconds.length / this.recentSeconds.reduce((a, b) => a + b, 0);
    const info: StepInfo = { ...record, stepsPerSec, ...(teacherStep ? { teacher: teacherStep } : {}) };
    const ckEvery = this.config.checkpointEvery ?? 0;
    if (this.data.store && ckEvery > 0 && this.done % ckEvery === 0) await this.save();
    this.data.onStep?.(info);
    return info;
  }

  private nrDiceOptions(): NRDiceOptions {
    const l = this.config.loss;
    return l.kind === 'nrdice' ? { gamma: l.gamma, form: l.form, channels: l.channels ?? 'mean' } : { channels: 'mean' };
  }

  private supervisedLoss(logits: tf.Tensor, y: tf.Tensor): tf.Scalar {
    const l = this.config.loss;
    switch (l.kind) {
      case 'dice':
        return diceLoss(logits, y, { softmax: true, includeBackground: false, batch: l.batch });
      case 'ce':
        return crossEntropyLoss(logits, y);
      case 'dicece':
        return diceCELoss(logits, y, { softmax: true, includeBackground: false, batch: l.batch, lambdaDice: l.lambdaDice, lambdaCe: l.lambdaCe });
      case 'nrdice':
        return nrDiceLoss(logits, y, this.nrDiceOptions());
    }
  }

  /** Pooled Dice of the eval-mode network on the validation slices (NaN without validation data). */
  async validate(): Promise<number> {
    if (!this.data.validation?.length) return NaN;
    return validationDice(this.network, this.data.validation);
  }

  /**
   * Trains until `config.steps` updates are done, yielding to the event loop between updates (so a
   * worker receives pause/cancel messages). Resolves 'finished' or 'cancelled'; while paused, the
   * promise waits for `resume()` or `cancel()`.
   */
  async run(): Promise<'finished' | 'cancelled'> {
    if (this._state === 'running' || this._state === 'paused') throw new Error('the trainer is already running');
    this._state = 'running';
    this.cancelRequested = false;
    try {
      while (this.done < this.config.steps) {
        await new Promise((r) => setTimeout(r, 0));
        if (this.cancelRequested) break;
        if (this.pauseRequested) {
          // 'paused' only once the checkpoint is written, so a reload right after pausing can resume.
          if (this.data.store) await this.save();
          this._state = 'paused';
          this.settlePause();
          await new Promise<void>((r) => (this.wake = r));
          this.wake = null;
          if (this.cancelRequested) break;
          this._state = 'running';
        }
        await this.trainStep();
      }
      this._state = this.cancelRequested ? 'cancelled' : 'finished';
      this.pauseRequested = false;
      return this._state === 'cancelled' ? 'cancelled' : 'finished';
    } finally {
      // A pause asked for during the last update (or a failed one) must not wait forever.
      this.settlePause();
    }
  }

  private settlePause(): void {
    for (const r of this.pauseWaiters.splice(0)) r();
  }

  /**
   * Stops after the current update and saves a checkpoint (when there is a store). Resolves once the
   * run is paused with its checkpoint written, or has ended; at once when the trainer is not running.
   */
  pause(): Promise<void> {
    this.pauseRequested = true;
    if (this._state !== 'running') return Promise.resolve();
    return new Promise((r) => this.pauseWaiters.push(r));
  }

  resume(): void {
    this.pauseRequested = false;
    this.wake?.();
  }

  /** Ends `run()` after the current update (no checkpoint is written). */
  cancel(): void {
    this.cancelRequested = true;
    this.wake?.();
  }

  /** Everything needed to continue this run later. */
  async checkpoint(): Promise<TrainingCheckpoint> {
    const ckpt: TrainingCheckpoint = {
      weights: writeSafetensors(await this.network.stateDict()),
      optimizerState: await saveOptimizerState(this.optimizer, this.stateKeyOf),
      step: this.done,
      config: this.config,
      history: this.history.map((h) => ({ ...h })),
      savedAt: new Date().toISOString(),
    };
    if (this.teacherNet && this.teacher) {
      ckpt.teacher = { weights: writeSafetensors(await this.teacherNet.stateDict()), updates: this.teacher.step, recentLosses: this.teacher.gate.recent() };
    }
    if (this.data.dataOptions) ckpt.dataOptions = { ...this.data.dataOptions };
    return ckpt;
  }

  /** Saves a checkpoint under the data's key (no-op without a store). */
  async save(): Promise<void> {
    if (this.data.store) await this.data.store.save(this.data.key ?? 'training', await this.checkpoint());
  }

  /** The student's weights as safetensors (float16 storage on request), with `metadata`. */
  async weights(opts: { float16?: boolean; metadata?: Record<string, string> } = {}): Promise<Uint8Array> {
    return writeSafetensors(await this.network.stateDict(), opts);
  }

  /** Frees the networks and the optimizer. */
  dispose(): void {
    this.network.dispose();
    this.teacherNet?.dispose();
    this.optimizer.dispose();
  }
}

function* zip<A, B>(a: Iterable<A>, b: Iterable<B>): Generator<[A, B]> {
  const ib = b[Symbol.iterator]();
  for (const x of a) {
    const y = ib.next();
    if (y.done) return;
    yield [x, y.value];
  }
}
