import * as Comlink from 'comlink';
import type { EngineApi } from '../engine/worker/engine-api';
import type { NamedBytes } from '../engine/io/named-bytes';

let remote: Comlink.Remote<EngineApi> | null = null;

/** The engine worker, started on first use. */
export function engine(): Comlink.Remote<EngineApi> {
  if (!remote) {
    const worker = new Worker(new URL('../engine/worker/engine.worker.ts', import.meta.url), { type: 'module', name: 'engine' });
    remote = Comlink.wrap<EngineApi>(worker);
  }
  return remote;
}

/** Reads browser File objects into the engine's NamedBytes (the relative path keeps folder drops apart). */
export async function readFiles(files: File[]): Promise<NamedBytes[]> {
  return Promise.all(
    files.map(async (f) => ({ name: (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name, bytes: new Uint8Array(await f.arrayBuffer()) })),
  );
}

/** Sends files to the worker, transferring their buffers (the caller must not reuse them). */
export function transferFiles(files: NamedBytes[]): NamedBytes[] {
  return Comlink.transfer(files, files.map((f) => f.bytes.buffer as ArrayBuffer));
}
