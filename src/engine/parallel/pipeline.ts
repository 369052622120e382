/**
 * UNetPipe run as pipeline stages on one TF.js backend (spec §4.2, LAMP / torchgpipe semantics).
 * The same passes (stage-pass.ts) run one stage per backend / worker in multi-device.ts.
 *
 * Training (`pipelineGradients`, `pipelineTrainStep`): GPipe with checkpoint='always'. The
 * mini-batch is split into M micro-batches (torch.chunk sizes). Forward: each micro-batch goes
 * through the stages in turn, each stage in one tidy, keeping only the stage inputs and the skip
 * tensors that cross to a later stage (torchgpipe's portals). Backward: per micro-batch, the stages
 * in reverse; each stage's forward is recomputed under the gradient tape and differentiated with
 * the upstream gradients dy folded in, objective Σ(y·dy) + Σ(skip·dskip), giving the gradients of its
 * parameters and of its inputs (stage input and popped skips) for the stages before. The last stage
 * runs once, directly on the loss. Gradients are summed over micro-batches and stages, each
 * micro-batch's mean loss weighted by its share of the batch, so a per-sample-mean loss gets the
 * whole batch's gradient; then one optimizer step.
 *
 * BatchNorm: 'frozen' uses the running statistics. 'train' normalises each micro-batch with its own
 * statistics (torchgpipe without deferred_batch_norm, so the results differ from whole-batch training
 * by design) and updates the running statistics once per micro-batch: the recomputation restores
 * them. Batch-pooled losses (MONAI Dice with batch=True) are not per-sample means either.
 *
 * Inference (`pipelineInference`): stage by stage, layer by layer (each layer in its own tidy, so
 * only the current activation and the pending skips are alive); with `parkSkips` the skips that
 * cross stages wait in CPU memory between stages. Progress per stage and micro-batch; an
 * AbortSignal is honoured between stages.
 */
import * as tf from '@tensorflow/tfjs-core';
import '../training/gradients';
import type { ScheduledOptimizer } from '../training/optim';
import type { SkipStash, UNetPipe } from '../../models/unetpipe';
import type { Stage } from './plan';
import { accumulateInto, checkAbort, checkStages, crossings, stageForward, stageGradients, stageInference, upstreamObjective, type PlainTensor } from './stage-pass';

export interface PipelineProgress {
  phase: 'forward' | 'backward' | 'inference';
  stage: number;
  stages: number;
  microBatch: number;
  microBatches: number;
}

interface CommonOptions {
  /** Contiguous [from, to) layer ranges covering the network (e.g. `plan.stages`). */
  stages: readonly Stage[];
  /** Micro-batches (torch.chunk of the batch axis). Default 1. */
  microBatches?: number;
  /** Called after each stage of each micro-batch. */
  onProgress?: (p: PipelineProgress) => void;
  /**
   * Checked between stages (training) or before every layer (inference: one stage of a whole volume can
   * take long); an aborted signal rejects with its reason and frees everything.
   */
  signal?: AbortSignal;
}

export interface PipelineTrainOptions extends CommonOptions {
  /** Mean loss of one micro-batch: logits (n, D, H, W, classes) and the matching target slice. */
  loss: (logits: tf.Tensor, target: tf.Tensor) => tf.Scalar;
  batchNorm: 'train' | 'frozen';
}

export interface PipelineInferOptions extends CommonOptions {
  /** Keep skip tensors that cross stages in CPU memory between stages (`plan.parkSkips`). */
  parkSkips?: boolean;
}

/** torch.chunk along the batch: chunks of ⌈N/M⌉, the last one smaller (and fewer chunks if N is small). */
export function chunkSizes(n: number, chunks: number): number[] {
  if (!(Number.isInteger(chunks) && chunks >= 1)) throw new Error(`micro-batches must be a positive integer, got ${chunks}`);
  const size = Math.ceil(n / chunks);
  const out: number[] = [];
  for (let start = 0; start < n; start += size) out.push(Math.min(size, n - start));
  return out;
}

/**
 * Gradients of the batch loss by pipeline stages (GPipe semantics, see the header), keyed by
 * variable name like `tf.variableGrads`; the caller disposes them.
 */
export async function pipelineGradients(
  net: UNetPipe,
  x: tf.Tensor,
  target: tf.Tensor,
  opts: PipelineTrainOptions,
): Promise<{ loss: number; grads: tf.NamedTensorMap }> {
  const { stages, signal, onProgress } = opts;
  checkStages(net, stages);
  net.checkInput(x);
  if (target.shape[0] !== x.shape[0]) throw new Error(`target batch ${target.shape[0]} != input batch ${x.shape[0]}`);
  const k = stages.length;
  const sizes = chunkSizes(x.shape[0], opts.microBatches ?? 1);
  const m = sizes.length;
  const mode = { training: opts.batchNorm === 'train' };
  const route = crossings(net, stages);
  const report = (phase: PipelineProgress['phase'], stage: number, microBatch: number) => onProgress?.({ phase, stage, stages: k, microBatch, microBatches: m });

  // Everything kept between phases, freed on every exit path.
  const inputs: tf.Tensor[][] = stages.map(() => []); // inputs[j][mb]
  const targets: tf.Tensor[] = [];
  const skips: SkipStash[] = sizes.map(() => new Map()); // crossing skips per micro-batch
  const grads: tf.NamedTensorMap = {};
  let loss = tf.scalar(0);
  let dy: tf.Tensor | null = null; // gradient of the stage output, in flight
  const dSkip = new Map<number, tf.Tensor>(); // gradients of crossing skips, in flight
  try {
    // Forward: stage inputs and crossing skips only; the last stage runs in the backward pass.
    let start = 0;
    for (const [mb, size] of sizes.entries()) {
      inputs[0][mb] = tf.slice(x, start, size);
      targets[mb] = tf.slice(target, start, size);
      start += size;
      for (let j = 0; j < k - 1; j++) {
        await checkAbort(signal);
        const { y, kept } = stageForward(net, stages[j], inputs[j][mb], skips[mb], route.out[j], mode);
        route.out[j].forEach((ns, i) => skips[mb].set(ns, kept[i]));
        inputs[j + 1][mb] = y;
        report('forward', j, mb);
      }
    }

    // Backward, micro-batch by micro-batch, last stage first.
    for (let mb = 0; mb < m; mb++) {
      for (let j = k - 1; j >= 0; j--) {
        await checkAbort(signal);
        const a = inputs[j][mb];
        const popped = route.in[j].map((ns) => [ns, skips[mb].get(ns)!] as const);
        const last = j === k - 1;
        const upstream = dy;
        const objective = (y: tf.Tensor, stash: SkipStash): tf.Scalar =>
          last ? (tf.mul(opts.loss(y, targets[mb]), sizes[mb] / x.shape[0]) as tf.Scalar) : upstreamObjective(y, stash, upstream!, dSkip, route.out[j]);
        // The forward pass already updated the running statistics of the stages it ran (all but the last).
        const { value, dInput, dSkips: dPopped, vars, grads: g } = stageGradients(net, stages[j], a, new Map(popped), mode, objective, { inputGrad: j > 0, restoreBuffers: !last });
        if (last) {
          const next = tf.add(loss, value) as tf.Scalar;
          tf.dispose([loss, value]);
          loss = next;
        } else value.dispose();
        accumulateInto(grads, vars, g);
        // Free what this stage consumed; a checkpoint an earlier stage still needs stays.
        const release = (t: tf.Tensor) => {
          if (!inputs.some((row, jj) => jj < j && row[mb] === t)) t.dispose();
        };
        tf.dispose([...(upstream ? [upstream] : []), ...route.out[j].flatMap((ns) => (dSkip.has(ns) ? [dSkip.get(ns)!] : []))]);
        route.out[j].forEach((ns) => dSkip.delete(ns));
        [a, ...popped.map(([, t]) => t)].forEach(release);
        popped.forEach(([ns]) => skips[mb].delete(ns));
        dPopped.forEach((t, ns) => dSkip.set(ns, t));
        dy = dInput;
        report('backward', j, mb);
      }
      targets[mb].dispose();
    }
    const value = (await loss.data())[0];
    return { loss: value, grads };
  } catch (e) {
    tf.dispose([...Object.values(grads)]);
    throw e;
  } finally {
    tf.dispose([loss, ...inputs.flat(), ...targets, ...skips.flatMap((s) => [...s.values()]), ...(dy ? [dy] : []), ...dSkip.values()]);
  }
}

/** One optimizer update from `pipelineGradients`; returns the batch loss. */
export async function pipelineTrainStep(
  net: UNetPipe,
  optimizer: ScheduledOptimizer,
  x: tf.Tensor,
  target: tf.Tensor,
  opts: PipelineTrainOptions,
): Promise<{ loss: number }> {
  const { loss, grads } = await pipelineGradients(net, x, target, opts);
  try {
    optimizer.applyGradients(grads);
  } finally {
    tf.dispose(Object.values(grads));
  }
  return { loss };
}

/** Eval-mode forward by stages; returns the logits (N, D, H, W, classes). */
export async function pipelineInference(net: UNetPipe, x: tf.Tensor, opts: PipelineInferOptions): Promise<tf.Tensor> {
  const { stages, signal, onProgress } = opts;
  checkStages(net, stages);
  net.checkInput(x);
  const sizes = chunkSizes(x.shape[0], opts.microBatches ?? 1);
  const outputs: tf.Tensor[] = [];
  const stash: SkipStash = new Map();
  const parked = new Map<number, PlainTensor>();
  let a: tf.Tensor | null = null;
  try {
    let start = 0;
    for (const [mb, size] of sizes.entries()) {
      a = tf.slice(x, start, size);
      start += size;
      for (const [j, stage] of stages.entries()) {
        const input = a!;
        a = null; // owned by stageInference now
        a = await stageInference(net, stage, input, stash, { parked, signal });
        if (opts.parkSkips) {
          for (const [ns, t] of [...stash]) {
            if (t === a) continue; // the next stage's input: it stays on the device anyway
            parked.set(ns, { data: (await t.data()) as Float32Array, shape: t.shape });
            t.dispose();
            stash.delete(ns);
          }
        }
        onProgress?.({ phase: 'inference', stage: j, stages: stages.length, microBatch: mb, microBatches: sizes.length });
      }
      outputs.push(a!);
      a = null;
    }
    if (outputs.length === 1) return outputs.pop()!;
    const y = tf.concat(outputs, 0);
    tf.dispose(outputs.splice(0));
    return y;
  } finally {
    tf.dispose([...(a ? [a] : []), ...stash.values(), ...outputs]);
  }
}
