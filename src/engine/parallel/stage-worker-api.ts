/**
 * What a stage worker (stage.worker.ts) exposes over Comlink: one stage device (stage-device.ts) on
 * the worker's own TF.js backend. Results hand their Float32Array buffers over instead of copying
 * them. Separate from the worker entry so that tests can expose it on a MessagePort in Node.
 */
import * as Comlink from 'comlink';
import { initBackend, type BackendInfo, type BackendName, type InitBackendOptions, type PowerPreference } from '../tf/backend';
import { StageDevice, type PlainSkips, type StageBackward, type StageDeviceConfig, type StageOutput, type StageWeights } from './stage-device';
import type { PlainTensor } from './stage-pass';

const buffersOf = (skips: PlainSkips) => skips.map(([, p]) => p.data.buffer as ArrayBuffer);
const sendOutput = (r: StageOutput) => Comlink.transfer(r, [r.output.data.buffer as ArrayBuffer, ...buffersOf(r.skips)]);
const sendBackward = <T extends StageBackward>(r: T) => Comlink.transfer(r, [...(r.dInput ? [r.dInput.data.buffer as ArrayBuffer] : []), ...buffersOf(r.dSkips)]);
const sendWeights = (w: StageWeights) => Comlink.transfer(w, Object.values(w).map((t) => t.data.buffer as ArrayBuffer));

export function stageWorkerApi(backendOptions: InitBackendOptions = {}) {
  let device: StageDevice | null = null;
  const dev = (): StageDevice => {
    if (!device) throw new Error('stage worker: init first');
    return device;
  };
  return {
    async init(backend: readonly BackendName[], config: StageDeviceConfig, powerPreference?: PowerPreference): Promise<BackendInfo> {
      if (device) throw new Error('stage worker: already initialised');
      const info = await initBackend(backend, { ...backendOptions, ...(powerPreference && { powerPreference }) });
      device = new StageDevice(config);
      return info;
    },
    info: () => dev().info(),
    forward: async (mb: number, input: PlainTensor, skips: PlainSkips) => sendOutput(await dev().forward(mb, input, skips)),
    backward: async (mb: number, dOutput: PlainTensor, dSkips: PlainSkips) => sendBackward(await dev().backward(mb, dOutput, dSkips)),
    lastStep: async (mb: number, input: PlainTensor, skips: PlainSkips, target: PlainTensor, weight: number) => sendBackward(await dev().lastStep(mb, input, skips, target, weight)),
    gradients: async () => sendWeights(await dev().gradients()),
    applyGradients: () => dev().applyGradients(),
    infer: async (input: PlainTensor, skips: PlainSkips) => sendOutput(await dev().infer(input, skips)),
    reset: () => dev().reset(),
    weights: async () => sendWeights(await dev().weights()),
    memory: () => dev().memory(),
    async dispose() {
      await device?.dispose();
      device = null;
    },
  };
}

export type StageWorkerApi = ReturnType<typeof stageWorkerApi>;
