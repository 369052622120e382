/// <reference lib="webworker" />
/**
 * A Web Worker holding one pipeline stage (stage-worker-api.ts) on its own TF.js backend: a worker
 * that initialises tfjs-webgpu requests its own GPUDevice, so K workers are K devices; on a machine
 * with two GPUs the spawner deals the stages out over both adapters (stage-workers.ts).
 */
import * as Comlink from 'comlink';
import { WASM_PATHS } from '../worker/wasm-paths';
import { stageWorkerApi } from './stage-worker-api';

Comlink.expose(stageWorkerApi({ wasmPaths: WASM_PATHS, wasmThreads: false }));
