/**
 * How large an input a UNetPipe can train under a memory budget (LAMP's question, spec §4.5), from
 * the stage planner's memory model (plan.ts) rather than by running the network at every size.
 *
 * Profiling large cubes by running each layer is too slow on a CPU, so profiles at other sizes are
 * extrapolated from two measured ones: for a fixed network every activation quantity of a layer
 * (input, output, latent, peak, train peak, stashed and largest tensor) is an affine function of the
 * voxel count — linear in the activations, plus a constant for the parameter gradients that a layer's
 * train peak also holds — so two sizes determine it. Parameters and buffers do not depend on the size.
 */
import { planPipeline, type OptimizerKind, type PipelinePlan } from './plan';
import type { LayerProfile, NetworkProfile } from './profile';

/** Fields of a layer profile that grow with the input (fitted), the rest are copied. */
const SIZE_FIELDS = ['inputBytes', 'outputBytes', 'latentBytes', 'peakBytes', 'largestTensorBytes', 'stashedBytes', 'stashAliveBytes', 'trainPeakBytes', 'forwardMs', 'trainMs'] as const;

const voxels = (shape: readonly number[]) => shape.slice(0, -1).reduce((a, b) => a * b, 1); // N·D·H·W

/**
 * The profile `a` / `b` would have had on channels-last input `inputShape` (same network, same
 * channels): per layer and field v(x) = v_a + (v_b − v_a)·(x − x_a)/(x_b − x_a), x = N·D·H·W (bytes
 * rounded), never below 0. Exact for quantities that are affine in the voxel count.
 */
export function extrapolateProfile(a: NetworkProfile, b: NetworkProfile, inputShape: readonly number[]): NetworkProfile {
  const [xa, xb, x] = [voxels(a.inputShape), voxels(b.inputShape), voxels(inputShape)];
  if (xa === xb) throw new Error('extrapolateProfile needs profiles of two different sizes');
  if (a.layers.length !== b.layers.length || a.layers.some((l, i) => l.name !== b.layers[i].name)) throw new Error('extrapolateProfile needs two profiles of the same network');
  if (a.training !== b.training) throw new Error('extrapolateProfile needs two profiles in the same BatchNorm mode');
  const t = (x - xa) / (xb - xa);
  const fit = (va: number, vb: number, round: boolean) => Math.max(0, round ? Math.round(va + (vb - va) * t) : va + (vb - va) * t);
  const ratio = x / xb;
  const layers = a.layers.map((la, i): LayerProfile => {
    const lb = b.layers[i];
    const out: LayerProfile = { ...lb, outputShape: scaleShape(lb.outputShape, b.inputShape, inputShape) };
    for (const f of SIZE_FIELDS) {
      const [va, vb] = [la[f], lb[f]];
      if (va === undefined || vb === undefined) continue;
      out[f] = fit(va, vb, f.endsWith('Bytes'));
    }
    return out;
  });
  return { ...b, inputShape: inputShape.slice(), batch: inputShape[0], inputBytes: Math.round(b.inputBytes * ratio), layers };
}

/** Spatial dims of a layer's output for another input: each scaled by the input's ratio along that axis. */
function scaleShape(shape: readonly number[], from: readonly number[], to: readonly number[]): number[] {
  if (shape.length !== 5) return shape.slice();
  return [to[0], ...[1, 2, 3].map((d) => Math.round((shape[d] * to[d]) / from[d])), shape[4]];
}

export interface TrainingMemoryOptions {
  batch?: number;
  microBatches?: number;
  optimizer?: OptimizerKind;
  /** Largest K tried for the one-device pipeline. Default: one stage per layer. */
  maxStages?: number;
  /**
   * Bytes of the loss's forward + backward on the network output for the whole mini-batch (not part of
   * the layer profile); it is alive with the last stage's recompute. Default 0.
   */
  headBytes?: number;
}

export interface TrainingMemory {
  /** Unpartitioned, one tape over the whole mini-batch (plan.wholeBytes) + the loss. */
  wholeBytes: number;
  /** GPipe with checkpointing, all K stages on one device in turn: the K with the fewest bytes. */
  pipelineBytes: number;
  pipelineStages: number;
  pipelinePlan: PipelinePlan;
}

/** Exactly K stages (torchgpipe's balance for K), no budget. */
export function trainingPlanForK(profile: NetworkProfile, k: number, opts: TrainingMemoryOptions = {}): PipelinePlan {
  const base = { mode: 'training' as const, batch: opts.batch, microBatches: opts.microBatches, optimizer: opts.optimizer ?? 'adam' };
  if (k === 1) return planPipeline(profile, { ...base, stageBudgetBytes: Infinity, maxStages: 1 });
  return planPipeline(profile, { ...base, devices: Array.from({ length: k }, () => ({ memoryBytes: Infinity })) });
}

/**
 * A plan's stages run in turn on one device (plan.singleDeviceBytes): all parameters, the checkpoints of
 * every stage, and the largest recompute, the last stage's counted with the loss's `headBytes`.
 */
export function oneDeviceBytes(plan: PipelinePlan, headBytes = 0): number {
  const last = plan.stages.length - 1;
  const params = plan.stages.reduce((n, s) => n + s.paramBytes, 0);
  const checkpoints = plan.stages.reduce((n, s) => n + s.checkpointBytes, 0);
  return params + checkpoints + Math.max(...plan.stages.map((s, j) => s.activationBytes - s.checkpointBytes + (j === last ? headBytes : 0)));
}

/** Training bytes of the whole network and of the best one-device pipeline (K = 1 … maxStages). */
export function trainingMemory(profile: NetworkProfile, opts: TrainingMemoryOptions = {}): TrainingMemory {
  const maxK = Math.min(opts.maxStages ?? profile.layers.length, profile.layers.length);
  const head = opts.headBytes ?? 0;
  let best: { plan: PipelinePlan; bytes: number } | undefined;
  for (let k = 1; k <= maxK; k++) {
    const plan = trainingPlanForK(profile, k, opts);
    const bytes = oneDeviceBytes(plan, head);
    if (!best || bytes < best.bytes) best = { plan, bytes };
  }
  return { wholeBytes: best!.plan.wholeBytes + head, pipelineBytes: best!.bytes, pipelineStages: best!.plan.stages.length, pipelinePlan: best!.plan };
}

export interface CubeSearch<T> {
  /** Largest edge that fits, 0 when even the smallest does not. */
  edge: number;
  /** What `fits` returned for that edge (undefined when none fits). */
  at?: T;
  /** The first edge that did not fit (undefined when the search reached maxEdge). */
  firstMiss?: number;
}

/**
 * Largest cube edge (a multiple of `step`, up to `maxEdge`) for which `fits(edge)` returns a value;
 * memory grows with the edge, so the search stops at the first miss.
 */
export function largestCube<T>(fits: (edge: number) => T | null, opts: { step?: number; maxEdge?: number } = {}): CubeSearch<T> {
  const step = opts.step ?? 32;
  const maxEdge = opts.maxEdge ?? 2048;
  let found: CubeSearch<T> = { edge: 0 };
  for (let edge = step; edge <= maxEdge; edge += step) {
    const r = fits(edge);
    if (r === null) return { ...found, firstMiss: edge };
    found = { edge, at: r };
  }
  return found;
}
