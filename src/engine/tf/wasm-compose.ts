/**
 * Helpers for kernels composed from other tfjs-wasm kernels (wasm-kernels.ts, wasm-kernels-3d.ts).
 * Inside a kernel, ops would go through the engine again (and onto the tape), so compositions call the
 * wasm backend's kernel functions directly and free their intermediates themselves.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';

export const WASM = 'wasm';

interface DisposableBackend {
  disposeData(dataId: object): boolean;
}

/** Runs another wasm kernel directly. */
export function runWasm(name: string, backend: unknown, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
  const kernel = tf.getKernel(name, WASM);
  if (!kernel) throw new Error(`wasm backend has no '${name}' kernel to compose from`);
  return kernel.kernelFunc({ inputs, backend: backend as tf.KernelBackend, attrs }) as TensorInfo;
}

/** Frees intermediates (reshapes share data with a reference count, so each is freed once). */
export function free(backend: unknown, ...infos: TensorInfo[]): void {
  for (const t of infos) (backend as DisposableBackend).disposeData(t.dataId);
}

export type Pads = [number, number][];

export function pad(backend: unknown, x: TensorInfo, paddings: Pads, constantValue = 0): TensorInfo {
  return runWasm('PadV2', backend, { x }, { paddings, constantValue });
}

export const reshape = (backend: unknown, x: TensorInfo, shape: number[]) => runWasm('Reshape', backend, { x }, { shape });

/** Paddings of a rank-5 NDHWC tensor from a 3D conv / pool's padInfo. */
export function spatialPads(p: { front: number; back: number; top: number; bottom: number; left: number; right: number }): Pads {
  return [[0, 0], [p.front, p.back], [p.top, p.bottom], [p.left, p.right], [0, 0]];
}

export const anyPad = (pads: Pads) => pads.some(([a, b]) => a !== 0 || b !== 0);

/**
 * Elements begin, begin + stride, … (`size` of them) along one axis, computed on a [outer, length, inner]
 * view with rank-3/4 `Slice`s: tfjs-wasm 4.22 copies a non-contiguous rank-5 Slice (and any
 * StridedSlice) element by element in JS, ~40× slower (a depth window of 2×66³×8: 600 ms vs 16 ms).
 */
export function sliceAxis(backend: unknown, x: TensorInfo, axis: number, begin: number, size: number, stride = 1): TensorInfo {
  const shape = x.shape;
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outShape = shape.map((d, a) => (a === axis ? size : d));
  const view = reshape(backend, x, [outer, shape[axis], inner]);
  const span = (size - 1) * stride + 1;
  let cur = runWasm('Slice', backend, { x: view }, { begin: [0, begin, 0], size: [outer, span, inner] });
  free(backend, view);
  if (stride > 1) {
    // [outer, size·stride, inner] → [outer, size, stride, inner], keep phase 0.
    const padded = pad(backend, cur, [[0, 0], [0, size * stride - span], [0, 0]]);
    free(backend, cur);
    const split = reshape(backend, padded, [outer, size, stride, inner]);
    free(backend, padded);
    cur = runWasm('Slice', backend, { x: split }, { begin: [0, 0, 0, 0], size: [outer, size, 1, inner] });
    free(backend, split);
  }
  const out = reshape(backend, cur, outShape);
  free(backend, cur);
  return out;
}
