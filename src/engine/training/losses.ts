/**
 * Segmentation losses on tfjs ops: MONAI DiceLoss / DiceCELoss semantics, cross-entropy, and the
 * noise-robust Dice (NR-Dice) of COPLE-Net in its paper form and its PyMIC form
 * (spec: monai-reference.md §3.1; reference values: fixtures/monai/losses/losses.json).
 *
 * Every loss takes `logits` (or probabilities, see `softmax`) and a one-hot `target` of the same
 * shape, with the class channel at `channelAxis` (default -1: our networks are NHWC). Inputs are
 * moved to channel-last internally because tfjs softmax/logSoftmax only work on the last axis.
 * Channel 0 is background. All functions return fresh tensors and leak nothing (they run in tidy).
 */
import * as tf from '@tensorflow/tfjs-core';
import './gradients';

export interface ChannelOptions {
  /** Axis of the class channel in `logits` and `target`; negative counts from the end. Default -1. */
  channelAxis?: number;
}

export interface DiceOptions extends ChannelOptions {
  /** Apply softmax over the channel axis first (MONAI `softmax`). Default false, as in MONAI. */
  softmax?: boolean;
  /** Keep channel 0 (MONAI `include_background`). Default true. */
  includeBackground?: boolean;
  /** Added to the numerator (MONAI `smooth_nr`). Default 1e-5. */
  smoothNr?: number;
  /** Added to the denominator (MONAI `smooth_dr`). Default 1e-5. */
  smoothDr?: number;
  /** Pool the batch into one Dice per channel (MONAI `batch`). Default false: one per (item, channel). */
  batch?: boolean;
}

export interface DiceCEOptions extends DiceOptions {
  /** Weight of the Dice term (MONAI `lambda_dice`). Default 1. */
  lambdaDice?: number;
  /** Weight of the cross-entropy term (MONAI `lambda_ce`). Default 1. */
  lambdaCe?: number;
}

export interface NRDiceOptions extends ChannelOptions {
  /** Exponent γ of |p − g|. Default 1.5 (both third-party re-implementations; unverified vs paper). */
  gamma?: number;
  /** ε in the denominator. Default 1e-5. */
  eps?: number;
  /**
   * 'foreground': average over the non-background channels only (for two classes: channel 1 only);
   * 'mean': average over all channels, background included (PyMIC). Default 'foreground'.
   */
  channels?: 'foreground' | 'mean';
  /** 'paper': denominator Σp² + Σg² + ε; 'pymic': Σ(p + g) + ε (the authors' PyMIC code). Default 'paper'. */
  form?: 'paper' | 'pymic';
  /** Inputs are logits to be softmaxed (default true); false = they are already probabilities. */
  softmax?: boolean;
}

/** Moves `axis` of `x` to the end (no-op when it is already last). */
export function toChannelLast<T extends tf.Tensor>(x: T, channelAxis = -1): T {
  const axis = normalizeAxis(channelAxis, x.rank);
  if (axis === x.rank - 1) return x;
  const perm = [...Array(x.rank).keys()].filter((a) => a !== axis);
  perm.push(axis);
  return tf.transpose(x, perm);
}

function normalizeAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new Error(`channel axis ${axis} is out of range for a rank-${rank} tensor`);
  return a;
}

/** Both inputs moved to channel-last, after checking that they match and have batch + space + channel. */
/**
 * A float32 one-hot target (…shape, classes) from integer labels, built in JS and uploaded as float32.
 * tfjs's `oneHot` is unusable for this on two of our backends: its default int32 result, even cast to
 * float32, gives a wrong softmax Dice on tfjs-webgpu 4.22 (a shader fails to compile: "expected f32,
 * got i32"; losses.webgpu.test.ts), and asking it for float32 gives a wrong target on tfjs-wasm 4.22.
 */
export function oneHotTarget(labels: ArrayLike<number>, shape: readonly number[], classes: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (labels.length !== n) throw new Error(`oneHotTarget: ${labels.length} labels for shape [${shape.join(', ')}]`);
  const out = new Float32Array(n * classes);
  for (let i = 0; i < n; i++) {
    const c = labels[i];
    if (c >= 0 && c < classes) out[i * classes + c] = 1;
  }
  return tf.tensor(out, [...shape, classes], 'float32');
}

function prepare(logits: tf.Tensor, target: tf.Tensor, channelAxis: number | undefined, what: string): [tf.Tensor, tf.Tensor] {
  if (target.dtype !== 'float32' && tf.getBackend() === 'webgpu') {
    throw new Error(`${what}: the target must be float32 on WebGPU (tfjs-webgpu 4.22 computes a wrong loss from an ${target.dtype} one; build it with oneHotTarget)`);
  }
  if (logits.rank < 3) throw new Error(`${what}: expected (batch, ..., channel) tensors of rank >= 3, got rank ${logits.rank}`);
  if (!tf.util.arraysEqual(logits.shape, target.shape)) {
    throw new Error(`${what}: prediction shape [${logits.shape}] differs from target shape [${target.shape}] (the target must be one-hot)`);
  }
  return [toChannelLast(tf.cast(logits, 'float32'), channelAxis), toChannelLast(tf.cast(target, 'float32'), channelAxis)];
}

/** Axes 1 .. rank-2 of a channel-last tensor (the spatial axes), plus 0 when the batch is pooled. */
function reduceAxes(rank: number, poolBatch: boolean): number[] {
  const spatial = [...Array(rank - 2).keys()].map((a) => a + 1);
  return poolBatch ? [0, ...spatial] : spatial;
}

function dropBackground(x: tf.Tensor): tf.Tensor {
  const c = x.shape[x.rank - 1];
  if (c < 2) throw new Error('excluding the background needs at least 2 channels');
  const begin = new Array<number>(x.rank).fill(0);
  begin[x.rank - 1] = 1;
  return tf.slice(x, begin, [...x.shape.slice(0, -1), c - 1]);
}

/**
 * MONAI `DiceLoss` with `reduction='mean'`: for each item n and channel c (sums over that item's
 * voxels), `1 − (2Σpg + smoothNr) / (Σp + Σg + smoothDr)`, then the mean over all (n, c).
 */
export function diceLoss(logits: tf.Tensor, target: tf.Tensor, opts: DiceOptions = {}): tf.Scalar {
  const { softmax = false, includeBackground = true, smoothNr = 1e-5, smoothDr = 1e-5, batch = false } = opts;
  return tf.tidy(() => {
    const [l, g0] = prepare(logits, target, opts.channelAxis, 'diceLoss');
    let p = softmax ? tf.softmax(l) : l;
    let g = g0;
    if (!includeBackground) {
      p = dropBackground(p);
      g = dropBackground(g);
    }
    const axes = reduceAxes(p.rank, batch);
    const intersection = tf.sum(tf.mul(p, g), axes);
    const denominator = tf.add(tf.sum(p, axes), tf.sum(g, axes));
    const f = tf.sub(1, tf.div(tf.add(tf.mul(intersection, 2), smoothNr), tf.add(denominator, smoothDr)));
    return tf.mean(f);
  });
}

/**
 * Cross-entropy with a one-hot (or soft) target, as torch `CrossEntropyLoss` with probability
 * targets: the mean over all items and voxels of `−Σ_c g_c · log_softmax(logits)_c`.
 */
export function crossEntropyLoss(logits: tf.Tensor, target: tf.Tensor, opts: ChannelOptions = {}): tf.Scalar {
  return tf.tidy(() => {
    const [l, g] = prepare(logits, target, opts.channelAxis, 'crossEntropyLoss');
    return tf.neg(tf.mean(tf.sum(tf.mul(g, tf.logSoftmax(l)), -1)));
  });
}

/**
 * MONAI `DiceCELoss`: `lambdaDice · diceLoss + lambdaCe · crossEntropyLoss`. MONAI's default is
 * `softmax=false`, which runs the Dice term on the RAW LOGITS (so it can be negative); that quirk is
 * kept as the default for parity — pass `softmax: true` for the configuration normally trained with.
 */
export function diceCELoss(logits: tf.Tensor, target: tf.Tensor, opts: DiceCEOptions = {}): tf.Scalar {
  const { lambdaDice = 1, lambdaCe = 1, ...dice } = opts;
  return tf.tidy(() =>
    tf.add(tf.mul(diceLoss(logits, target, dice), lambdaDice), tf.mul(crossEntropyLoss(logits, target, dice), lambdaCe)),
  );
}

/**
 * `|d|^γ` with a gradient that is safe where d = 0. tfjs differentiates `abs` as −1 at 0 and
 * `pow(a, γ−1)` is 1 (γ = 1) or ∞ (γ < 1) there, so the plain composition gives a wrong −γ (γ = 1) or
 * NaN (γ < 1) exactly where a prediction saturates onto its label. We use the subgradient 0 at d = 0
 * (exact for γ > 1, the symmetric choice for γ = 1) and `γ·sign(d)·|d|^(γ−1)` elsewhere.
 */
export function powAbs(d: tf.Tensor, gamma: number): tf.Tensor {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([x]);
    return {
      value: tf.pow(tf.abs(x), gamma),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs] = saved;
        const a = tf.abs(xs);
        const nonzero = tf.greater(a, 0);
        // Replace 0 by 1 before the power so that γ < 1 never produces ∞ (masked out anyway).
        const safe = tf.pow(tf.where(nonzero, a, tf.onesLike(a)), gamma - 1);
        return tf.mul(dy, tf.where(nonzero, tf.mul(tf.sign(xs), tf.mul(safe, gamma)), tf.zerosLike(a)));
      },
    };
  });
  return f(d);
}

/** Per-channel NR-Dice, summed over `axes`, then averaged over the chosen channels (last axis). */
function nrDice(logits: tf.Tensor, target: tf.Tensor, opts: NRDiceOptions, poolBatch: boolean, what: string): tf.Tensor {
  const { gamma = 1.5, eps = 1e-5, channels = 'foreground', form = 'paper', softmax = true } = opts;
  if (!(gamma > 0)) throw new Error(`${what}: gamma must be > 0, got ${gamma}`);
  const [l, g0] = prepare(logits, target, opts.channelAxis, what);
  let p = softmax ? tf.softmax(l) : l;
  let g = g0;
  if (channels === 'foreground') {
    p = dropBackground(p);
    g = dropBackground(g);
  }
  const axes = reduceAxes(p.rank, poolBatch);
  const numerator = tf.sum(powAbs(tf.sub(p, g), gamma), axes);
  const denominator =
    form === 'paper' ? tf.add(tf.sum(tf.square(p), axes), tf.sum(tf.square(g), axes)) : tf.sum(tf.add(p, g), axes);
  return tf.mean(tf.div(numerator, tf.add(denominator, eps)), -1);
}

/**
 * Noise-robust Dice loss, sums pooled over the whole batch and all voxels (one value per channel),
 * then averaged over the channels selected by `channels`. Paper form:
 * `Σ|p − g|^γ / (Σp² + Σg² + ε)`; PyMIC form: `Σ|p − g|^γ / (Σ(p + g) + ε)`.
 */
export function nrDiceLoss(logits: tf.Tensor, target: tf.Tensor, opts: NRDiceOptions = {}): tf.Scalar {
  return tf.tidy(() => nrDice(logits, target, opts, true, 'nrDiceLoss') as tf.Scalar);
}

/** The same NR-Dice computed for each batch item on its own: shape [N]. */
export function nrDicePerSample(logits: tf.Tensor, target: tf.Tensor, opts: NRDiceOptions = {}): tf.Tensor1D {
  return tf.tidy(() => nrDice(logits, target, opts, false, 'nrDicePerSample') as tf.Tensor1D);
}
