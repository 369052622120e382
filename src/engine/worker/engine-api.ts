/**
 * What the engine worker offers the UI. Everything heavy (decoding, metrics, inference) runs
 * behind this interface, off the main thread. Volumes cross the boundary with their voxel buffers
 * transferred, not copied.
 */
import { loadFiles, type LoadOptions, type LoadResult } from '../io/load';
import type { NamedBytes } from '../io/named-bytes';

export const engineApi = {
  async load(files: NamedBytes[], opts: LoadOptions = {}): Promise<LoadResult> {
    return loadFiles(files, opts);
  },
};

export type EngineApi = typeof engineApi;
