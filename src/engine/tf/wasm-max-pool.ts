/**
 * Max pooling kernels for tfjs-wasm 4.22. Its native `MaxPoolGrad`, `MaxPool3D` and `MaxPool3DGrad`
 * treat a window whose values are all negative as if its maximum were ~0 (as if the running maximum
 * started at the smallest positive float): the 3D forward returns ~0 there and both gradients route
 * the window's gradient wrongly. After a LeakyReLU such windows are common, so 2D training (COPLE-Net's
 * max+avg downsampling, the 2D U-Net) had wrong gradients on wasm too. Measured against the cpu backend in
 * wasm-kernels.test.ts. The native 2D `MaxPool` forward (XNNPACK) and `ArgMax` are correct.
 */
import { backend_util, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type * as tf from '@tensorflow/tfjs-core';
import { anyPad, free, pad, reshape, runWasm, spatialPads } from './wasm-compose';

/**
 * 2D max-pool gradient. Non-overlapping windows (kernel = stride, no padding; every pooling of our
 * networks): each window's values on one axis, `ArgMax` (the first maximum, as the cpu backend picks),
 * one-hot × dy, and back to the input layout. Other poolings: the native kernel on the input shifted to
 * values ≥ 1, which keeps its maxima (up to float rounding of near-ties) and avoids its bug.
 */
export function maxPoolGradVia(native: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
    const a = attrs as unknown as tf.MaxPoolGradAttrs;
    const info = backend_util.computePool2DInfo(input.shape as [number, number, number, number], a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
    const p = info.padInfo;
    const windows = info.filterHeight === info.strideHeight && info.filterWidth === info.strideWidth && p.top + p.bottom + p.left + p.right === 0;
    return windows ? windowGrad(backend, dy, input, info) : shiftedGrad(native, args);
  };
}

function windowGrad(backend: unknown, dy: TensorInfo, input: TensorInfo, info: backend_util.Conv2DInfo): TensorInfo {
  const [n, h, w, c] = input.shape;
  const { filterHeight: kh, filterWidth: kw, outHeight: ho, outWidth: wo } = info;
  const cropped = ho * kh !== h || wo * kw !== w;
  const x = cropped ? runWasm('Slice', backend, { x: input }, { begin: [0, 0, 0, 0], size: [n, ho * kh, wo * kw, c] }) : input;
  const split = reshape(backend, x, [n, ho, kh, wo, kw, c]);
  if (cropped) free(backend, x);
  const grouped = runWasm('Transpose', backend, { x: split }, { perm: [0, 1, 3, 5, 2, 4] });
  const rows = reshape(backend, grouped, [n * ho * wo * c, kh * kw]);
  const first = runWasm('ArgMax', backend, { x: rows }, { axis: 1 });
  // wasm's OneHot ignores a float32 dtype attribute (its output stays int32): cast explicitly.
  const hotInt = runWasm('OneHot', backend, { indices: first }, { depth: kh * kw, onValue: 1, offValue: 0, dtype: 'int32' });
  const hot = runWasm('Cast', backend, { x: hotInt }, { dtype: 'float32' });
  const dyCol = reshape(backend, dy, [n * ho * wo * c, 1]);
  const g = runWasm('Multiply', backend, { a: hot, b: dyCol }, {});
  free(backend, split, grouped, rows, first, hotInt, hot, dyCol);
  const gSplit = reshape(backend, g, [n, ho, wo, c, kh, kw]);
  const back = runWasm('Transpose', backend, { x: gSplit }, { perm: [0, 1, 4, 2, 5, 3] });
  const dx = reshape(backend, back, [n, ho * kh, wo * kw, c]);
  free(backend, g, gSplit, back);
  if (!cropped) return dx;
  const full = pad(backend, dx, [[0, 0], [0, h - ho * kh], [0, w - wo * kw], [0, 0]]);
  free(backend, dx);
  return full;
}

/** The native gradient (2D or 3D) of the input shifted to values ≥ 1. */
function shiftedGrad(native: KernelFunc, args: Parameters<KernelFunc>[0]): TensorInfo {
  const { inputs, backend } = args;
  const { input } = inputs as { input: TensorInfo };
  const axis = input.shape.map((_, i) => i);
  const min = runWasm('Min', backend, { x: input }, { axis, keepDims: false });
  const one = runWasm('Fill', backend, {}, { shape: [], value: 1, dtype: 'float32' });
  const offset = runWasm('Sub', backend, { a: min, b: one }, {});
  const shifted = runWasm('Sub', backend, { a: input, b: offset }, {});
  free(backend, min, one, offset);
  const dx = native({ ...args, inputs: { ...inputs, input: shifted } }) as TensorInfo;
  free(backend, shifted);
  return dx;
}

interface Pool3D {
  /** x padded with −∞ where the pooling pads, as [N·D', H', W', C] for the in-plane 2D pooling. */
  planes: TensorInfo;
  /** In-plane maxima [N·D', Ho, Wo, C], and as [N, D', Ho·Wo, C] for the pooling along D. */
  inPlane: TensorInfo;
  columns: TensorInfo;
  /** Final maxima [N, Do, Ho·Wo, C]. */
  out: TensorInfo;
  info: backend_util.Conv3DInfo;
}

/**
 * Separable 3D max pooling, exact: 2D max pooling over (H, W) of every depth slice, then over D
 * (kernel [kd, 1]). Padding is explicit −∞ so both stages are 'valid'. Returns null for an output size that does not
 * follow from the padding (numeric pad with a rounding mode): the caller then uses the native kernel.
 */
function pool3D(backend: unknown, x: TensorInfo, attrs: tf.MaxPool3DAttrs): Pool3D | null {
  const info = backend_util.computePool3DInfo(x.shape as [number, number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const pads = spatialPads(info.padInfo);
  const [n, d, h, w, c] = x.shape;
  const [dp, hp, wp] = [d, h, w].map((v, a) => v + pads[a + 1][0] + pads[a + 1][1]);
  const valid = (len: number, kk: number, st: number) => Math.floor((len - kk) / st) + 1;
  if (valid(dp, info.filterDepth, info.strideDepth) !== info.outDepth || valid(hp, info.filterHeight, info.strideHeight) !== info.outHeight || valid(wp, info.filterWidth, info.strideWidth) !== info.outWidth) return null;
  const xPad = anyPad(pads) ? pad(backend, x, pads, -Infinity) : x;
  const planes = reshape(backend, xPad, [n * dp, hp, wp, c]);
  if (xPad !== x) free(backend, xPad);
  const inPlane = runWasm('MaxPool', backend, { x: planes }, { filterSize: [info.filterHeight, info.filterWidth], strides: [info.strideHeight, info.strideWidth], pad: 'valid' });
  const columns = reshape(backend, inPlane, [n, dp, info.outHeight * info.outWidth, c]);
  const out = runWasm('MaxPool', backend, { x: columns }, { filterSize: [info.filterDepth, 1], strides: [info.strideDepth, 1], pad: 'valid' });
  return { planes, inPlane, columns, out, info };
}

/** `MaxPool3D` by the separable pooling of `pool3D`; the native kernel only where that does not apply. */
export function maxPool3DVia(native: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const x = (inputs as { x: TensorInfo }).x;
    const p = pool3D(backend, x, attrs as unknown as tf.MaxPool3DAttrs);
    if (!p) return native(args);
    const { info } = p;
    const y = reshape(backend, p.out, [x.shape[0], info.outDepth, info.outHeight, info.outWidth, x.shape[4]]);
    free(backend, p.planes, p.inPlane, p.columns, p.out);
    return y;
  };
}

/**
 * Non-overlapping windows (kernel = stride, no padding): the gradient through the two stages of
 * `pool3D`, each by the windowed 2D gradient (the first maximum along D of the first in-plane maxima is
 * the first maximum in (d, h, w) order, as on cpu). Other poolings: the shifted native kernel.
 */
export function maxPool3DGradVia(native: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
    const a = attrs as unknown as tf.MaxPool3DAttrs;
    const info = backend_util.computePool3DInfo(input.shape as [number, number, number, number, number], a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
    const windows =
      info.filterDepth === info.strideDepth && info.filterHeight === info.strideHeight && info.filterWidth === info.strideWidth && !anyPad(spatialPads(info.padInfo));
    const p = windows ? pool3D(backend, input, a) : null;
    if (!p) return shiftedGrad(native, args);
    const dyCols = reshape(backend, dy, p.out.shape);
    const dCols = runWasm('MaxPoolGrad', backend, { dy: dyCols, input: p.columns, output: p.out }, { filterSize: [info.filterDepth, 1], strides: [info.strideDepth, 1], pad: 'valid' });
    const dInPlane = reshape(backend, dCols, p.inPlane.shape);
    const dPlanes = runWasm('MaxPoolGrad', backend, { dy: dInPlane, input: p.planes, output: p.inPlane }, { filterSize: [info.filterHeight, info.filterWidth], strides: [info.strideHeight, info.strideWidth], pad: 'valid' });
    free(backend, p.inPlane, p.columns, p.out, p.planes, dyCols, dCols, dInPlane);
    const dx = reshape(backend, dPlanes, input.shape);
    free(backend, dPlanes);
    return dx;
  };
}
