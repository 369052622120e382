/**
 * K stage devices in K Web Workers (stage.worker.ts), one per stage, each with its own TF.js backend
 * (browser only; the engine worker spawns them as nested workers). Arguments hand their buffers over;
 * a worker that dies or is terminated rejects its pending and later calls instead of leaving them
 * hanging, so a coordinator waiting on it (multi-device.ts) always settles.
 */
import * as Comlink from 'comlink';
import type { BackendInfo, BackendName, PowerPreference } from '../tf/backend';
import type { PlainSkips, StageDeviceApi, StageDeviceConfig } from './stage-device';
import type { PlainTensor } from './stage-pass';
import type { StageWorkerApi } from './stage-worker-api';

export interface StageWorker extends StageDeviceApi {
  /** The backend the worker initialised (its adapter for WebGPU). */
  readonly backend: BackendInfo;
  /** Ends the worker at once (its device memory goes with it); pending calls reject. */
  terminate(): void;
}

const send = (p: PlainTensor) => Comlink.transfer(p, [p.data.buffer as ArrayBuffer]);
const sendSkips = (s: PlainSkips) => Comlink.transfer(s, s.map(([, p]) => p.data.buffer as ArrayBuffer));

/** A channel to a stage worker: its message endpoint, how to end it, and how it reports a crash. */
export interface StageChannel {
  endpoint: Comlink.Endpoint;
  terminate(): void;
  onError(report: (error: Error) => void): void;
}

/** A module Web Worker running stage.worker.ts. */
export function stageWebWorker(index: number): StageChannel {
  const worker = new Worker(new URL('./stage.worker.ts', import.meta.url), { type: 'module', name: `pipeline stage ${index}` });
  return {
    endpoint: worker,
    terminate: () => worker.terminate(),
    onError(report) {
      worker.addEventListener('error', (e) => report(new Error(`stage worker ${index}: ${e.message ? `${e.message} (${e.filename}:${e.lineno})` : 'failed to load or crashed'}`)));
      worker.addEventListener('messageerror', () => report(new Error(`stage worker ${index}: a message could not be read`)));
    },
  };
}

async function spawnOne(index: number, backend: readonly BackendName[], config: StageDeviceConfig, channel: StageChannel, powerPreference?: PowerPreference): Promise<StageWorker> {
  let fail!: (e: unknown) => void;
  const dead = new Promise<never>((_, reject) => (fail = reject));
  dead.catch(() => undefined);
  channel.onError(fail);
  const remote = Comlink.wrap<StageWorkerApi>(channel.endpoint);
  const call = <T>(p: Promise<T>): Promise<T> => Promise.race([p, dead]);
  const terminate = () => {
    channel.terminate();
    fail(new DOMException(`stage worker ${index} was terminated`, 'AbortError'));
  };
  try {
    const weights = config.weights ? Object.values(config.weights).map((w) => w.data.buffer as ArrayBuffer) : [];
    const info = await call(remote.init([...backend], Comlink.transfer(config, weights), powerPreference));
    return {
      backend: info,
      terminate,
      info: () => call(remote.info()),
      forward: (mb, input, skips) => call(remote.forward(mb, send(input), sendSkips(skips))),
      backward: (mb, dOutput, dSkips) => call(remote.backward(mb, send(dOutput), sendSkips(dSkips))),
      lastStep: (mb, input, skips, target, weight) => call(remote.lastStep(mb, send(input), sendSkips(skips), send(target), weight)),
      gradients: () => call(remote.gradients()),
      applyGradients: () => call(remote.applyGradients()),
      infer: (input, skips) => call(remote.infer(send(input), sendSkips(skips))),
      reset: () => call(remote.reset()),
      weights: () => call(remote.weights()),
      memory: () => call(remote.memory()),
      async dispose() {
        try {
          await call(remote.dispose());
        } finally {
          terminate();
        }
      },
    };
  } catch (e) {
    terminate();
    throw e;
  }
}

/**
 * One worker per configuration, each initialising the first backend of `backend` that works. Config
 * weights are handed over (their buffers are detached here). If any fails to start, all are ended.
 * `channel` opens the worker (default: a module Web Worker; tests pass a MessagePort pair).
 * `adapters`: the WebGPU power preferences to deal out, stage j getting `adapters[j mod n]` (from
 * `webgpuAdapters()`, so that a machine with two GPUs runs stages on both); default the high-performance one.
 */
export async function spawnStageWorkers(
  configs: readonly StageDeviceConfig[],
  backend: readonly BackendName[],
  channel: (index: number) => StageChannel = stageWebWorker,
  adapters: readonly PowerPreference[] = [],
): Promise<StageWorker[]> {
  if (channel === stageWebWorker && typeof Worker === 'undefined') throw new Error('stage workers need Web Workers (a browser); run the stages in turn on one device instead');
  const started = await Promise.allSettled(configs.map(async (c, j) => spawnOne(j, backend, c, channel(j), adapters.length ? adapters[j % adapters.length] : undefined)));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    for (const s of started) if (s.status === 'fulfilled') s.value.terminate();
    throw failed.reason;
  }
  return started.map((s) => (s as PromiseFulfilledResult<StageWorker>).value);
}
