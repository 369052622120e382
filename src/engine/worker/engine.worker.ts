/// <reference lib="webworker" />
import * as Comlink from 'comlink';
import { engineApi, type EngineApi } from './engine-api';
import type { LoadResult } from '../io/load';

// Results that carry a volume hand its voxel buffer over instead of copying it.
const api: EngineApi = {
  async load(files, opts) {
    const result: LoadResult = await engineApi.load(files, opts);
    return result.kind === 'volume' ? Comlink.transfer(result, [result.volume.data.buffer as ArrayBuffer]) : result;
  },
};

Comlink.expose(api);
