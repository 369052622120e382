/// <reference lib="webworker" />
/**
 * A Web Worker holding one pipeline stage (stage-device.ts) on its own TF.js backend: a worker that
 * initialises tfjs-webgpu requests its own GPUDevice, so K workers are K devices (on a machine
 * with several adapters, each worker's high-performance request picks per the browser). Results
 * hand their Float32Array buffers over instead of copying them.
 */
import * as Comlink from 'comlink';
import { initBackend, type BackendInfo, type BackendName } from '../tf/backend';
import { WASM_PATHS } from '../worker/wasm-paths';
import { StageDevice, type PlainSkips, type StageBackward, type StageDeviceConfig, type StageOutput, type StageWeights } from './stage-device';
import type { PlainTensor } from './stage-pass';

let device: StageDevice | null = null;

function dev(): StageDevice {
  if (!device) throw new Error('stage worker: init first');
  return device;
}

const buffersOf = (skips: PlainSkips) => skips.map(([, p]) => p.data.buffer as ArrayBuffer);
const sendOutput = (r: StageOutput) => Comlink.transfer(r, [r.output.data.buffer as ArrayBuffer, ...buffersOf(r.skips)]);
const sendBackward = <T extends StageBackward>(r: T) => Comlink.transfer(r, [...(r.dInput ? [r.dInput.data.buffer as ArrayBuffer] : []), ...buffersOf(r.dSkips)]);
const sendWeights = (w: StageWeights) => Comlink.transfer(w, Object.values(w).map((t) => t.data.buffer as ArrayBuffer));

const api = {
  async init(backend: readonly BackendName[], config: StageDeviceConfig): Promise<BackendInfo> {
    if (device) throw new Error('stage worker: already initialised');
    const info = await initBackend(backend, { wasmPaths: WASM_PATHS, wasmThreads: false });
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

export type StageWorkerApi = typeof api;

Comlink.expose(api);
