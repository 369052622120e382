/**
 * Stage plans for running a profiled layer sequence (UNetPipe) as K pipeline stages: K and the
 * layer ranges, the memory each stage needs, which long-skip tensors cross stages, and whether
 * crossing skips must be parked in CPU memory (inference).
 *
 * K: with several devices, one stage per device (LAMP: all visible GPUs). With one device, the
 * smallest K whose stages each fit `stageBudgetBytes`. Split points: torchgpipe's balance_by_size
 * (size_l = latent_l·(micro-batch/profiled batch) + param_bytes_l·param_scale) through its block
 * partition; where that gives an empty stage or never ends, the min-max partition of the same sizes.
 *
 * Memory model (bytes; s = micro-batch size / profiled batch; per layer l: in, out, latent, peak,
 * trainPeak as measured in profile.ts):
 * - Inference, stage j: params_j + max over its layers of s·(in_l + peak_l + skips resident during l),
 *   plus, in the last stage, the outputs of earlier micro-batches. Resident skips: every stashed,
 *   not yet popped skip; parked: only the ones stashed in this stage, and the one being popped
 *   (uploaded back from the CPU for its PopCat). Activations are freed layer by layer, so on one
 *   device K only splits the parameters; parking is what shrinks the activations.
 * - Training (GPipe with checkpointing): params_j·(copies: weights + gradients, + 2 Adam moments or
 *   1 SGD momentum) + buffers + M·s·(stage input + crossing skips popped here: the checkpoints kept
 *   from the forward pass) + s·Σ trainPeak_l over its layers (the recomputed forward of one
 *   micro-batch on the tape, plus the gradients, which TF.js keeps until the stage's backward ends).
 * - `singleDeviceBytes`: every stage on one device, run in turn (all parameters resident).
 * - `wholeBytes`: the unpartitioned network as `Network.apply` / `tf.variableGrads` run it: inference
 *   in one tidy (every intermediate alive until the end): params + b·(input + Σ latent); training on
 *   the whole mini-batch, one tape: params·copies + b·(input + Σ trainPeak), b = batch / profiled batch.
 * The largest single tensor (s·largestTensorBytes) must fit `maxBufferBytes` whatever K is.
 * Training plans need a profile measured with `training: true` (trainPeakBytes).
 */
import { BlockPartitionCycleError, balanceBySize, layerSizes, minMaxPartition } from './partition';
import type { LayerProfile, NetworkProfile } from './profile';

export type PlanMode = 'inference' | 'training';
export type OptimizerKind = 'adam' | 'sgd' | 'none';

export interface DeviceBudget {
  name?: string;
  memoryBytes: number;
  /** min(maxBufferSize, maxStorageBufferBindingSize) of the adapter. */
  maxBufferBytes?: number;
}

export interface PlanOptions {
  mode: PlanMode;
  /** Mini-batch size. Default: the profiled batch. */
  batch?: number;
  /** GPipe micro-batches (chunks) per mini-batch. Default 1. */
  microBatches?: number;
  /** Training: whose per-parameter state counts. Default 'adam'. */
  optimizer?: OptimizerKind;
  /** Several devices: one stage per device, in order. */
  devices?: readonly DeviceBudget[];
  /** One device: the bytes one stage may use. */
  stageBudgetBytes?: number;
  /** One device: the adapter's largest buffer. */
  maxBufferBytes?: number;
  /** One device: the largest K to try. Default: one stage per layer. */
  maxStages?: number;
}

export interface Stage {
  from: number;
  to: number;
}

export interface StagePlan extends Stage {
  index: number;
  layers: string[];
  /** Parameters and buffers, plus gradients and optimizer state when training. */
  paramBytes: number;
  /** Activations with every skip tensor resident (training: checkpoints + recompute). */
  activationBytes: number;
  /** Inference: activations with crossing skips parked in CPU memory (= activationBytes when training). */
  parkedActivationBytes: number;
  /** Training: the checkpoints (stage inputs, crossing skips) of all micro-batches, part of activationBytes. */
  checkpointBytes: number;
  /** paramBytes + the activations the plan uses (parked or not). */
  bytes: number;
  largestTensorBytes: number;
  budgetBytes?: number;
  device?: string;
  fits: boolean;
}

export interface SkipRoute {
  namespace: number;
  stashLayer: string;
  popLayer: string;
  stashIndex: number;
  popIndex: number;
  stashStage: number;
  popStage: number;
  crosses: boolean;
  /** Bytes of the skip tensor for one micro-batch. */
  bytes: number;
}

export interface PipelinePlan {
  mode: PlanMode;
  stages: StagePlan[];
  /** Layers per stage. */
  balance: number[];
  /** The per-layer sizes the balance was computed from (torchgpipe's size_l). */
  sizes: number[];
  skips: SkipRoute[];
  /** The skips stashed in one stage and popped in a later one. */
  crossing: SkipRoute[];
  microBatches: number;
  microBatchSize: number;
  /** Inference: park crossing skips in CPU memory between stages (needed to fit). */
  parkSkips: boolean;
  largestTensorBytes: number;
  singleDeviceBytes: number;
  wholeBytes: number;
  fits: boolean;
  /** Why the plan does not fit, one line each. */
  problems: string[];
  notes: string[];
}

/** Consecutive [from, to) ranges of a balance (layers per stage). */
export function stagesOf(balance: readonly number[]): Stage[] {
  let from = 0;
  return balance.map((n) => {
    const s = { from, to: from + n };
    from += n;
    return s;
  });
}

function stageOf(stages: readonly Stage[], layer: number): number {
  return stages.findIndex((s) => s.from <= layer && layer < s.to);
}

/** Where each stashed skip is produced and consumed, for these stages. */
export function skipRoutes(layers: readonly LayerProfile[], stages: readonly Stage[], scale = 1): SkipRoute[] {
  const routes: SkipRoute[] = [];
  for (const stash of layers) {
    if (stash.stashes === undefined) continue;
    const pop = layers.find((l) => l.pops === stash.stashes && l.index > stash.index);
    if (!pop) throw new Error(`namespace ${stash.stashes} is stashed by ${stash.name} and never popped`);
    const stashStage = stageOf(stages, stash.index);
    const popStage = stageOf(stages, pop.index);
    routes.push({
      namespace: stash.stashes,
      stashLayer: stash.name,
      popLayer: pop.name,
      stashIndex: stash.index,
      popIndex: pop.index,
      stashStage,
      popStage,
      crosses: popStage > stashStage,
      bytes: stash.stashedBytes * scale,
    });
  }
  return routes;
}

const PARAM_COPIES: Record<OptimizerKind, number> = { adam: 4, sgd: 3, none: 2 };

export interface StageMemory {
  paramBytes: number;
  activationBytes: number;
  parkedActivationBytes: number;
  /** Training: the checkpoints (stage inputs, crossing skips) of all micro-batches, part of activationBytes. */
  checkpointBytes: number;
  largestTensorBytes: number;
}

function trainPeak(l: LayerProfile): number {
  if (l.trainPeakBytes === undefined) throw new Error(`training plans need a profile measured with training: true (${l.name} has no trainPeakBytes)`);
  return l.trainPeakBytes;
}

/** Memory of each stage (see the header for the model). */
export function stageMemory(profile: NetworkProfile, stages: readonly Stage[], opts: PlanOptions): StageMemory[] {
  const { layers } = profile;
  const batch = opts.batch ?? profile.batch;
  const m = opts.microBatches ?? 1;
  const micro = Math.ceil(batch / m);
  const s = micro / profile.batch;
  const routes = skipRoutes(layers, stages);
  const copies = opts.mode === 'training' ? PARAM_COPIES[opts.optimizer ?? 'adam'] : 1;
  return stages.map((st, j) => {
    const own = layers.slice(st.from, st.to);
    const paramBytes = own.reduce((n, l) => n + l.paramBytes * copies + l.bufferBytes, 0);
    const largestTensorBytes = s * Math.max(...own.map((l) => l.largestTensorBytes));
    if (opts.mode === 'training') {
      const stageInput = st.from === 0 ? profile.inputBytes : layers[st.from - 1].outputBytes;
      const portals = routes.filter((r) => r.crosses && r.popStage === j).reduce((n, r) => n + r.bytes, 0);
      const recompute = own.reduce((n, l) => n + trainPeak(l), 0);
      const checkpointBytes = m * s * (stageInput + portals);
      const activationBytes = checkpointBytes + s * recompute;
      return { paramBytes, activationBytes, parkedActivationBytes: activationBytes, checkpointBytes, largestTensorBytes };
    }
    const working = (parked: boolean) =>
      Math.max(
        ...own.map((l) => {
          const resident = routes
            .filter((r) => r.stashIndex < l.index && r.popIndex >= l.index)
            .filter((r) => !parked || r.stashStage === j || r.popIndex === l.index)
            // A Stash layer's output is the stashed tensor itself: count it once.
            .filter((r) => r.stashIndex !== l.index - 1)
            .reduce((n, r) => n + r.bytes, 0);
          return s * (l.inputBytes + l.peakBytes + resident);
        }),
      );
    const collected = j === stages.length - 1 ? (m - 1) * s * layers[layers.length - 1].outputBytes : 0;
    return { paramBytes, activationBytes: working(false) + collected, parkedActivationBytes: working(true) + collected, checkpointBytes: 0, largestTensorBytes };
  });
}

/** Balance for K stages: torchgpipe's, or the min-max partition where torchgpipe's is unusable. */
function balanceFor(profile: NetworkProfile, k: number, opts: PlanOptions, notes: string[]): { balance: number[]; sizes: number[] } {
  const sizeOpts = {
    profiledBatch: profile.batch,
    batch: opts.batch ?? profile.batch,
    chunks: opts.microBatches ?? 1,
    paramScale: opts.mode === 'training' ? PARAM_COPIES[opts.optimizer ?? 'adam'] : 1,
  };
  const sizes = layerSizes(profile.layers, sizeOpts);
  try {
    const balance = balanceBySize(profile.layers, k, sizeOpts);
    if (balance.every((n) => n > 0)) return { balance, sizes };
    notes.push(`K=${k}: torchgpipe's block partition left a stage empty; used the min-max partition`);
  } catch (e) {
    if (!(e instanceof BlockPartitionCycleError)) throw e;
    notes.push(`K=${k}: torchgpipe's block partition does not terminate here; used the min-max partition`);
  }
  return { balance: minMaxPartition(sizes, k), sizes };
}

export function planPipeline(profile: NetworkProfile, opts: PlanOptions): PipelinePlan {
  const n = profile.layers.length;
  const batch = opts.batch ?? profile.batch;
  const m = opts.microBatches ?? 1;
  if (!(Number.isInteger(m) && m >= 1 && m <= batch)) throw new Error(`micro-batches must be an integer in [1, batch = ${batch}], got ${m}`);
  const micro = Math.ceil(batch / m);
  const s = micro / profile.batch;
  const devices = opts.devices ?? [];
  const multi = devices.length >= 2;
  const single = devices.length === 1 ? devices[0] : undefined;
  const stageBudget = single?.memoryBytes ?? opts.stageBudgetBytes;
  const maxBuffer = single?.maxBufferBytes ?? opts.maxBufferBytes;
  const notes: string[] = [];

  const evaluate = (k: number) => {
    const { balance, sizes } = balanceFor(profile, k, opts, notes);
    const stages = stagesOf(balance);
    const mem = stageMemory(profile, stages, opts);
    const park = opts.mode === 'inference' && stageBudget !== undefined && !multi && mem.some((x) => x.paramBytes + x.activationBytes > stageBudget);
    const planned: StagePlan[] = stages.map((st, j) => {
      const dev = multi ? devices[j] : undefined;
      const budgetBytes = dev?.memoryBytes ?? stageBudget;
      const bufferLimit = dev?.maxBufferBytes ?? maxBuffer;
      const used = mem[j].paramBytes + (park ? mem[j].parkedActivationBytes : mem[j].activationBytes);
      return {
        index: j,
        ...st,
        layers: profile.layers.slice(st.from, st.to).map((l) => l.name),
        ...mem[j],
        bytes: used,
        ...(budgetBytes !== undefined ? { budgetBytes } : {}),
        ...(dev?.name !== undefined ? { device: dev.name } : {}),
        fits: (budgetBytes === undefined || used <= budgetBytes) && (bufferLimit === undefined || mem[j].largestTensorBytes <= bufferLimit),
      };
    });
    return { balance, sizes, stages: planned, park };
  };

  let chosen: ReturnType<typeof evaluate>;
  if (multi) {
    if (devices.length > n) throw new Error(`${devices.length} devices for ${n} layers`);
    chosen = evaluate(devices.length);
  } else {
    const maxK = Math.min(opts.maxStages ?? n, n);
    let best: ReturnType<typeof evaluate> | undefined;
    const worst = (p: ReturnType<typeof evaluate>) => Math.max(...p.stages.map((x) => x.bytes));
    for (let k = 1; k <= maxK; k++) {
      const p = evaluate(k);
      if (!best || worst(p) < worst(best)) best = p;
      if (p.stages.every((x) => x.fits)) {
        best = p;
        break;
      }
    }
    chosen = best!;
  }

  const { stages, balance, sizes, park } = chosen;
  const skips = skipRoutes(profile.layers, stages, s);
  const largest = profile.layers.reduce((a, l) => (l.largestTensorBytes > a.largestTensorBytes ? l : a));
  const largestTensorBytes = s * largest.largestTensorBytes;
  const problems: string[] = [];
  for (const st of stages) {
    if (st.budgetBytes !== undefined && st.bytes > st.budgetBytes) {
      problems.push(`stage ${st.index} (${st.layers[0]} … ${st.layers[st.layers.length - 1]}) needs ${st.bytes} bytes, over its budget of ${st.budgetBytes}`);
    }
  }
  if (multi) {
    for (const st of stages) {
      const limit = devices[st.index].maxBufferBytes;
      if (limit !== undefined && st.largestTensorBytes > limit) {
        problems.push(`stage ${st.index} has a ${st.largestTensorBytes}-byte tensor, over the largest buffer its device allows (${limit}); use a smaller input (sliding window)`);
      }
    }
  } else if (maxBuffer !== undefined && largestTensorBytes > maxBuffer) {
    problems.push(`the largest tensor (${largest.name}, ${largestTensorBytes} bytes) exceeds the largest buffer the adapter allows (${maxBuffer}); use a smaller input (sliding window)`);
  }

  const totalParams = stages.reduce((a, st) => a + st.paramBytes, 0);
  const activation = (st: StagePlan) => st.bytes - st.paramBytes;
  let singleDeviceBytes: number;
  let wholeBytes: number;
  const full = batch / profile.batch;
  if (opts.mode === 'training') {
    const checkpoints = stages.reduce((a, st) => a + st.checkpointBytes, 0);
    singleDeviceBytes = totalParams + checkpoints + Math.max(...stages.map((st) => st.activationBytes - st.checkpointBytes));
    const { layers } = profile;
    wholeBytes = totalParams + full * (profile.inputBytes + layers.reduce((a, l) => a + trainPeak(l), 0));
  } else {
    singleDeviceBytes = totalParams + Math.max(...stages.map(activation));
    wholeBytes = totalParams + full * (profile.inputBytes + profile.layers.reduce((a, l) => a + l.latentBytes, 0));
  }

  return {
    mode: opts.mode,
    stages,
    balance,
    sizes,
    skips,
    crossing: skips.filter((r) => r.crosses),
    microBatches: m,
    microBatchSize: micro,
    parkSkips: park,
    largestTensorBytes,
    singleDeviceBytes,
    wholeBytes,
    fits: problems.length === 0,
    problems,
    notes: [...new Set(notes)],
  };
}
