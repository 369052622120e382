/**
 * GPipe across K stage devices (stage-device.ts), one stage each, stages working concurrently:
 * stage j+1 runs micro-batch i while stage j runs i+1. With devices in Web Workers (stage-workers.ts)
 * that is real overlap, on one GPU or several; in-process devices interleave at their awaits.
 *
 * Training step: every stage runs the forwards of all M micro-batches in order, each as soon as its
 * input (and the skips it pops) arrived; the last stage runs forward, loss and backward of each
 * micro-batch as it arrives; the other stages then run their recomputed backwards as the gradients
 * come back (GPipe's flush: a stage starts backward after its last forward). Each micro-batch's mean
 * loss is weighted by its share of the batch, so the summed gradients are the batch's; then one
 * optimizer step on every device. Activations, skips and their gradients travel as plain Float32Arrays
 * through the coordinator, each consumed once (skips go straight from the stashing to the popping stage).
 *
 * Inference: stage by stage, micro-batches streamed through the stages the same way.
 *
 * Cancel (AbortSignal) or a failing device: every waiting stage stops, the coordinator waits for the
 * operations in flight, then `reset`s every device (frees all checkpoints and gradients) and rejects
 * with the abort reason / the first error. The devices themselves stay the caller's. If an optimizer
 * step fails on one device after others made theirs, the stages' weights are out of step: discard them.
 */
import { abortError } from '../inference/sliding-window';
import { chunkSizes, type PipelineProgress } from './pipeline';
import type { PlainSkips, StageDeviceApi, StageInfo } from './stage-device';
import type { PlainTensor } from './stage-pass';

/** How busy each stage device was: the sum of its call times, against the wall time of the whole run. */
export interface MultiDeviceTiming {
  /** Per stage, ms inside its forward / backward / lastStep / infer calls (transfers included). */
  busyMs: number[];
  wallMs: number;
}

export interface MultiDeviceOptions {
  /** Micro-batches (torch.chunk of the batch axis). Default 1. */
  microBatches?: number;
  /** Called after each stage of each micro-batch (from whichever stage finished). */
  onProgress?: (p: PipelineProgress) => void;
  signal?: AbortSignal;
}

/** Micro-batch `i` of a batch-first tensor (a copy, so it can be transferred). */
export function sliceBatch(t: PlainTensor, start: number, size: number): PlainTensor {
  const per = t.data.length / t.shape[0];
  return { data: t.data.slice(start * per, (start + size) * per), shape: [size, ...t.shape.slice(1)] };
}

export function concatBatch(parts: readonly PlainTensor[]): PlainTensor {
  if (parts.length === 1) return parts[0];
  const data = new Float32Array(parts.reduce((n, p) => n + p.data.length, 0));
  let at = 0;
  for (const p of parts) {
    data.set(p.data, at);
    at += p.data.length;
  }
  return { data, shape: [parts.reduce((n, p) => n + p.shape[0], 0), ...parts[0].shape.slice(1)] };
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}

/** Values passed between stages by key, each taken once; `fail` rejects everything still awaited. */
class Board {
  private readonly slots = new Map<string, Deferred<unknown>>();
  private failure: { error: unknown } | null = null;

  private slot(key: string): Deferred<unknown> {
    let d = this.slots.get(key);
    if (!d) {
      let resolve!: (v: unknown) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<unknown>((res, rej) => ((resolve = res), (reject = rej)));
      promise.catch(() => undefined); // a failure reaches the caller through `failed`, not here
      d = { promise, resolve, reject };
      if (this.failure) d.reject(this.failure.error);
      this.slots.set(key, d);
    }
    return d;
  }

  put(key: string, value: unknown): void {
    this.slot(key).resolve(value);
  }

  async take<T>(key: string): Promise<T> {
    const v = (await this.slot(key).promise) as T;
    this.slots.delete(key);
    return v;
  }

  fail(error: unknown): void {
    if (this.failure) return;
    this.failure = { error };
    for (const d of this.slots.values()) d.reject(error);
  }

  get failed(): { error: unknown } | null {
    return this.failure;
  }

  /** Throws the failure, if any: checked before every device call. */
  check(): void {
    if (this.failure) throw this.failure.error;
  }
}

async function describe(devices: readonly StageDeviceApi[]): Promise<StageInfo[]> {
  if (devices.length === 0) throw new Error('no stage devices');
  const infos = await Promise.all(devices.map((d) => d.info()));
  let next = 0;
  for (const i of infos) {
    if (i.stage.from !== next) throw new Error(`stage devices must hold contiguous layer ranges from 0; got [${infos.map((s) => `${s.stage.from}-${s.stage.to}`).join(', ')}]`);
    next = i.stage.to;
  }
  if (next !== infos[0].layers) throw new Error(`stage devices end at layer ${next}, the network has ${infos[0].layers}`);
  return infos;
}

/**
 * Runs one task per stage concurrently over a shared board; on abort or the first error, stops the
 * others, waits for them, resets every device and rethrows.
 */
async function runStages(
  devices: readonly StageDeviceApi[],
  board: Board,
  signal: AbortSignal | undefined,
  task: (j: number, timed: <T>(call: Promise<T>) => Promise<T>) => Promise<void>,
): Promise<MultiDeviceTiming> {
  const onAbort = () => board.fail(abortError(signal!));
  if (signal?.aborted) throw abortError(signal);
  signal?.addEventListener('abort', onAbort);
  const busyMs = devices.map(() => 0);
  const t0 = performance.now();
  try {
    await Promise.all(
      devices.map((_, j) => {
        const timed = async <T>(call: Promise<T>): Promise<T> => {
          const start = performance.now();
          try {
            return await call;
          } finally {
            busyMs[j] += performance.now() - start;
          }
        };
        return task(j, timed).catch((e) => {
          board.fail(e);
        });
      }),
    );
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (board.failed) {
    await Promise.allSettled(devices.map((d) => d.reset()));
    throw board.failed.error;
  }
  return { busyMs, wallMs: performance.now() - t0 };
}

/**
 * The batch's gradients by GPipe over the devices (see the header), left accumulated on each device
 * (`gradients()`, `applyGradients()`). `x` (N, D, H, W, C), `target` the one-hot (N, D, H, W, classes).
 */
export async function multiDeviceGradients(devices: readonly StageDeviceApi[], x: PlainTensor, target: PlainTensor, opts: MultiDeviceOptions = {}): Promise<{ loss: number } & MultiDeviceTiming> {
  const infos = await describe(devices);
  const n = x.shape[0];
  if (target.shape[0] !== n) throw new Error(`target batch ${target.shape[0]} != input batch ${n}`);
  const sizes = chunkSizes(n, opts.microBatches ?? 1);
  const starts = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
  const k = devices.length;
  const m = sizes.length;
  const board = new Board();
  const report = (phase: PipelineProgress['phase'], stage: number, microBatch: number) => opts.onProgress?.({ phase, stage, stages: k, microBatch, microBatches: m });
  sizes.forEach((size, i) => board.put(`act 0 ${i}`, sliceBatch(x, starts[i], size)));
  const takeSkips = (names: number[], prefix: string, i: number) => Promise.all(names.map(async (ns) => [ns, await board.take<PlainTensor>(`${prefix} ${ns} ${i}`)] as [number, PlainTensor]));
  const putSkips = (skips: PlainSkips, prefix: string, i: number) => skips.forEach(([ns, p]) => board.put(`${prefix} ${ns} ${i}`, p));
  const losses: number[] = [];

  const timing = await runStages(devices, board, opts.signal, async (j, timed) => {
    const dev = devices[j];
    const info = infos[j];
    if (j === k - 1) {
      for (let i = 0; i < m; i++) {
        const input = await board.take<PlainTensor>(`act ${j} ${i}`);
        const skips = await takeSkips(info.inSkips, 'skip', i);
        board.check();
        const res = await timed(dev.lastStep(i, input, skips, sliceBatch(target, starts[i], sizes[i]), sizes[i] / n));
        losses[i] = res.loss;
        if (res.dInput) board.put(`grad ${j} ${i}`, res.dInput);
        putSkips(res.dSkips, 'dskip', i);
        report('backward', j, i);
      }
      return;
    }
    for (let i = 0; i < m; i++) {
      const input = await board.take<PlainTensor>(`act ${j} ${i}`);
      const skips = await takeSkips(info.inSkips, 'skip', i);
      board.check();
      const res = await timed(dev.forward(i, input, skips));
      board.put(`act ${j + 1} ${i}`, res.output);
      putSkips(res.skips, 'skip', i);
      report('forward', j, i);
    }
    for (let i = 0; i < m; i++) {
      const dy = await board.take<PlainTensor>(`grad ${j + 1} ${i}`);
      const dSkips = await takeSkips(info.outSkips, 'dskip', i);
      board.check();
      const res = await timed(dev.backward(i, dy, dSkips));
      if (res.dInput) board.put(`grad ${j} ${i}`, res.dInput);
      putSkips(res.dSkips, 'dskip', i);
      report('backward', j, i);
    }
  });
  return { loss: losses.reduce((a, b) => a + b, 0), ...timing };
}

/** One training step: `multiDeviceGradients`, then one optimizer step on every device. Returns the batch loss and the gradients' timing. */
export async function multiDeviceTrainStep(devices: readonly StageDeviceApi[], x: PlainTensor, target: PlainTensor, opts: MultiDeviceOptions = {}): Promise<{ loss: number } & MultiDeviceTiming> {
  const res = await multiDeviceGradients(devices, x, target, opts);
  try {
    if (opts.signal?.aborted) throw abortError(opts.signal);
    await Promise.all(devices.map((d) => d.applyGradients()));
  } catch (e) {
    await Promise.allSettled(devices.map((d) => d.reset()));
    throw e;
  }
  return res;
}

/** Eval-mode forward through the devices, micro-batches streamed; returns the logits (N, D, H, W, classes). */
export async function multiDeviceInference(devices: readonly StageDeviceApi[], x: PlainTensor, opts: MultiDeviceOptions = {}): Promise<{ logits: PlainTensor } & MultiDeviceTiming> {
  const infos = await describe(devices);
  const sizes = chunkSizes(x.shape[0], opts.microBatches ?? 1);
  const k = devices.length;
  const board = new Board();
  let start = 0;
  sizes.forEach((size, i) => {
    board.put(`act 0 ${i}`, sliceBatch(x, start, size));
    start += size;
  });
  const outputs: PlainTensor[] = [];
  const timing = await runStages(devices, board, opts.signal, async (j, timed) => {
    for (let i = 0; i < sizes.length; i++) {
      const input = await board.take<PlainTensor>(`act ${j} ${i}`);
      const skips = await Promise.all(infos[j].inSkips.map(async (ns) => [ns, await board.take<PlainTensor>(`skip ${ns} ${i}`)] as [number, PlainTensor]));
      board.check();
      const res = await timed(devices[j].infer(input, skips));
      if (j === k - 1) outputs[i] = res.output;
      else board.put(`act ${j + 1} ${i}`, res.output);
      res.skips.forEach(([ns, p]) => board.put(`skip ${ns} ${i}`, p));
      opts.onProgress?.({ phase: 'inference', stage: j, stages: k, microBatch: i, microBatches: sizes.length });
    }
  });
  return { logits: concatBatch(outputs), ...timing };
}
