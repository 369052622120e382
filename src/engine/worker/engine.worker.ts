/// <reference lib="webworker" />
import * as Comlink from 'comlink';
import { engineApi, type EngineApi } from './engine-api';

// Results that carry voxel buffers hand them over instead of copying them.
const api: EngineApi = {
  ...engineApi,
  async load(files, opts) {
    const result = await engineApi.load(files, opts);
    return result.kind === 'volume' ? Comlink.transfer(result, [result.volume.data.buffer as ArrayBuffer]) : result;
  },
  async importLabels(files, opts) {
    const labels = await engineApi.importLabels(files, opts);
    return Comlink.transfer(labels, labels.map((l) => l.data.buffer as ArrayBuffer));
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
