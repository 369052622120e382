/// <reference lib="webworker" />
import * as Comlink from 'comlink';
import { engineApi, type EngineApi } from './engine-api';
import { WASM_PATHS } from './wasm-paths';

// Results that carry voxel buffers hand them over instead of copying them.
const api: EngineApi = {
  ...engineApi,
  async load(files, opts) {
    const result = await engineApi.load(files, opts);
    if (result.kind === 'volume') return Comlink.transfer(result, [result.volume.data.buffer as ArrayBuffer]);
    if (result.kind === 'labels') return Comlink.transfer(result, result.labels.map((l) => l.data.buffer as ArrayBuffer));
    return result;
  },
  async importLabels(files, opts) {
    const labels = await engineApi.importLabels(files, opts);
    return Comlink.transfer(labels, labels.map((l) => l.data.buffer as ArrayBuffer));
  },
  startBackend(order, options) {
    return engineApi.startBackend(order, { wasmPaths: WASM_PATHS, wasmThreads: false, ...options });
  },
  async segment(volume, onProgress, opts) {
    const res = await engineApi.segment(volume, onProgress, opts);
    return Comlink.transfer(res, [res.mask.buffer, ...(res.probabilities ? [res.probabilities.buffer] : [])] as ArrayBuffer[]);
  },
  async runLamp(volume, req, onProgress) {
    const res = await engineApi.runLamp(volume, req, onProgress);
    return Comlink.transfer(res, [res.mask.buffer as ArrayBuffer]);
  },
  async generatePhantom(seed) {
    const res = await engineApi.generatePhantom(seed);
    return Comlink.transfer(res, [res.volume.data.buffer, res.truth.buffer, ...res.observers.map((o) => o.data.buffer)] as ArrayBuffer[]);
  },
  async fillHoles(data, k) {
    const res = await engineApi.fillHoles(data, k);
    return Comlink.transfer(res, [res.data.buffer as ArrayBuffer]);
  },
  async fillBetweenSlices(data) {
    const res = await engineApi.fillBetweenSlices(data);
    return Comlink.transfer(res, [res.data.buffer as ArrayBuffer]);
  },
  async compareLayers(layers, opts, onProgress) {
    const res = await engineApi.compareLayers(layers, opts, onProgress);
    const buffers = [res.consensus, res.majority, res.agreement].filter((x): x is Uint8Array => !!x).map((x) => x.buffer as ArrayBuffer);
    return Comlink.transfer(res, buffers);
  },
};

Comlink.expose(api);
