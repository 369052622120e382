/**
 * 3D convolutions for tfjs-wasm 4.22, built on its XNNPACK `Conv2D` (and our composed
 * `Conv2DBackpropFilter`) over depth slices, with `PadV2`, `Transpose`, `Slice`, `StridedSlice`,
 * `Reshape`, `Reverse`, `Concat`, `Add` and `Fill`:
 *
 * - `Conv3D` at stride 1: the native kernel is right but a plain loop; one Conv2D per depth tap over all
 *   output depths at once (depth folded into the batch) is ~2.5× faster (2×64³×8→8: 1.7 s vs 4.4 s).
 * - `Conv3DBackpropInputV2`: the native one is wrong (relative error ~1 at every stride, sometimes huge
 *   values — the non-finite gradients of the 3D U-Net that did not learn in `npm run experiment:lamp`).
 * - `Conv3DBackpropFilterV2`: the native one is right at stride 1, wrong (relative error ~0.6) at
 *   stride 2, which UNetPipe's downsampling convs use.
 * wasm-kernels.test.ts checks all three against the cpu backend.
 */
import { backend_util, type KernelFunc, type NamedTensorInfoMap, type TensorInfo } from '@tensorflow/tfjs-core';
import type * as tf from '@tensorflow/tfjs-core';
import { anyPad, free, pad, reshape, runWasm, sliceAxis, spatialPads, type Pads } from './wasm-compose';

/** The depth window of tap `kd`: output depths od read x_pad[od·s + kd·d], as [n·Od, H, W, ci]. */
function depthTap(backend: unknown, xPad: TensorInfo, kd: number, outDepth: number, stride: number, dilation: number): TensorInfo {
  const [n, , h, w, c] = xPad.shape;
  const sl = sliceAxis(backend, xPad, 1, kd * dilation, outDepth, stride);
  const out = reshape(backend, sl, [n * outDepth, h, w, c]);
  free(backend, sl);
  return out;
}

/**
 * y = Σ_kd Conv2D(depth tap kd of x, W[kd]) on x padded in all three axes, at stride 1. Strided convs
 * go to the native kernel, which computes only the strided outputs and was faster there (2×64³×8→16
 * at stride 2: 1.0 s native, 2.3 s by depth taps — measured before the taps used `sliceAxis`, not since).
 */
export const conv3DVia = (native: KernelFunc): KernelFunc => (args) => {
  const { inputs, backend, attrs } = args;
  const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
  const { strides, pad: padding, dilations } = attrs as unknown as tf.Conv3DAttrs;
  const info = backend_util.computeConv3DInfo(x.shape as [number, number, number, number, number], filter.shape as [number, number, number, number, number], strides, dilations, padding);
  if (info.strideDepth !== 1 || info.strideHeight !== 1 || info.strideWidth !== 1) return native(args);
  const pads = spatialPads(info.padInfo);
  const xPad = anyPad(pads) ? pad(backend, x, pads) : x;
  const [kd, kh, kw, ci, co] = filter.shape;
  let acc: TensorInfo | null = null;
  for (let d = 0; d < kd; d++) {
    const tap = depthTap(backend, xPad, d, info.outDepth, info.strideDepth, info.dilationDepth);
    const wd = runWasm('Slice', backend, { x: filter }, { begin: [d, 0, 0, 0, 0], size: [1, kh, kw, ci, co] });
    const w2 = reshape(backend, wd, [kh, kw, ci, co]);
    const y = runWasm('Conv2D', backend, { x: tap, filter: w2 }, { strides: [info.strideHeight, info.strideWidth], pad: 'valid', dataFormat: 'NHWC', dilations: [info.dilationHeight, info.dilationWidth] });
    free(backend, tap, wd, w2);
    if (acc) {
      const sum = runWasm('Add', backend, { a: acc, b: y });
      free(backend, acc, y);
      acc = sum;
    } else acc = y;
  }
  if (xPad !== x) free(backend, xPad);
  const out = reshape(backend, acc!, [info.batchSize, info.outDepth, info.outHeight, info.outWidth, co]);
  free(backend, acc!);
  return out;
};

/** dW[kd] = Conv2DBackpropFilter(depth tap kd of x_pad, dy) with depth folded into the batch; stacked over kd. */
export const conv3DBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad: padding, filterShape } = attrs as unknown as tf.Conv3DBackpropFilterV2Attrs;
  const info = backend_util.computeConv3DInfo(x.shape as [number, number, number, number, number], filterShape, strides, 1, padding);
  const pads = spatialPads(info.padInfo);
  const xPad = anyPad(pads) ? pad(backend, x, pads) : x;
  const [kd, kh, kw, ci, co] = filterShape;
  const dy2 = reshape(backend, dy, [info.batchSize * info.outDepth, info.outHeight, info.outWidth, co]);
  const taps: TensorInfo[] = [];
  for (let d = 0; d < kd; d++) {
    const tap = depthTap(backend, xPad, d, info.outDepth, info.strideDepth, 1);
    const dw = runWasm('Conv2DBackpropFilter', backend, { x: tap, dy: dy2 }, { strides: [info.strideHeight, info.strideWidth], pad: 'valid', dataFormat: 'NHWC', filterShape: [kh, kw, ci, co] });
    free(backend, tap);
    taps.push(reshape(backend, dw, [1, kh, kw, ci, co]));
    free(backend, dw);
  }
  free(backend, dy2);
  if (xPad !== x) free(backend, xPad);
  if (taps.length === 1) return taps[0];
  const out = runWasm('Concat', backend, taps as unknown as NamedTensorInfoMap, { axis: 0 });
  free(backend, ...taps);
  return out;
};

/**
 * dx[i] = Σ_{o·s + k − p = i} dy[o] · W[k] (per axis), computed by phases: the outputs i with
 * (i + p) mod s = r only meet the taps k = r + s·t, so with q = ⌊(i + p) / s⌋ they are a stride-1
 * correlation of dy with the flipped sub-kernel W[r::s]: dx_r[q] = Σ_t dy[q − t] · W[r + s·t]. Each of
 * the s³ phases is one 'valid' Conv3D on dy padded (or cropped) to give q ∈ [q0, q0 + Q); the phases
 * are interleaved by one Transpose and the window [p, p + I) of i + p is cut out. This does the work
 * of the transposed convolution itself: inserting s − 1 zeros between dy's values and running one
 * convolution (the textbook route) would multiply by zeros s³ times as often (8× at stride 2).
 */
export const conv3DBackpropInput: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad: padding, inputShape } = attrs as unknown as tf.Conv3DBackpropInputV2Attrs;
  const info = backend_util.computeConv3DInfo(inputShape, filter.shape as [number, number, number, number, number], strides, 1, padding);
  const s = [info.strideDepth, info.strideHeight, info.strideWidth];
  const k = [info.filterDepth, info.filterHeight, info.filterWidth];
  const p = [info.padInfo.front, info.padInfo.top, info.padInfo.left];
  const size = [info.inDepth, info.inHeight, info.inWidth];
  const outSize = [info.outDepth, info.outHeight, info.outWidth];
  const [n, ci] = [info.batchSize, info.inChannels];
  // Per axis: q from q0 = ⌊p / s⌋ for Q values covers i + p ∈ [q0·s, (q0 + Q)·s) ⊇ [p, p + I).
  const q0 = p.map((v, a) => Math.floor(v / s[a]));
  const Q = p.map((v, a) => Math.ceil((v + size[a]) / s[a]) - q0[a]);
  const taps = (a: number, r: number) => Math.max(0, Math.ceil((k[a] - r) / s[a]));
  const phases: TensorInfo[] = [];
  for (let rd = 0; rd < s[0]; rd++)
    for (let rh = 0; rh < s[1]; rh++)
      for (let rw = 0; rw < s[2]; rw++) {
        const r = [rd, rh, rw];
        const T = r.map((v, a) => taps(a, v));
        if (T.some((t) => t === 0)) {
          // No tap of W lands on this phase: its outputs are zero.
          phases.push(runWasm('Fill', backend, {}, { shape: [1, n, ...Q, ci], value: 0, dtype: 'float32' }));
          continue;
        }
        // dy padded so that the 'valid' correlation's output m is q = q0 + m: T − 1 − q0 in front.
        const front = T.map((t, a) => t - 1 - q0[a]);
        const back = T.map((t, a) => Q[a] + t - 1 - front[a] - outSize[a]);
        const x = padOrCrop(backend, dy, front, back);
        const sub = runWasm('StridedSlice', backend, { x: filter }, { begin: [...r, 0, 0], end: [...k, ci, filter.shape[4]], strides: [...s, 1, 1], beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0 });
        const flipped = runWasm('Reverse', backend, { x: sub }, { dims: [0, 1, 2] });
        const swapped = runWasm('Transpose', backend, { x: flipped }, { perm: [0, 1, 2, 4, 3] });
        free(backend, sub, flipped);
        const out = runWasm('Conv3D', backend, { x, filter: swapped }, { strides: [1, 1, 1], pad: 'valid', dilations: [1, 1, 1], dataFormat: 'NDHWC' });
        free(backend, swapped);
        if (x !== dy) free(backend, x);
        phases.push(reshape(backend, out, [1, n, ...Q, ci]));
        free(backend, out);
      }
  // [sd·sh·sw, n, Qd, Qh, Qw, ci] → [n, Qd, sd, Qh, sh, Qw, sw, ci] → [n, Qd·sd, Qh·sh, Qw·sw, ci].
  const stacked = phases.length === 1 ? phases[0] : runWasm('Concat', backend, phases as unknown as NamedTensorInfoMap, { axis: 0 });
  if (stacked !== phases[0]) free(backend, ...phases);
  const split = reshape(backend, stacked, [...s, n, ...Q, ci]);
  free(backend, stacked);
  const woven = runWasm('Transpose', backend, { x: split }, { perm: [3, 4, 0, 5, 1, 6, 2, 7] });
  free(backend, split);
  const full = reshape(backend, woven, [n, ...Q.map((v, a) => v * s[a]), ci]);
  free(backend, woven);
  // Cut i + p ∈ [p, p + I) out of [q0·s, (q0 + Q)·s).
  const begin = p.map((v, a) => v - q0[a] * s[a]);
  const dx = padOrCrop(backend, full, begin.map((b) => -b), size.map((v, a) => v + begin[a] - Q[a] * s[a]));
  if (dx !== full) free(backend, full);
  return dx;
};

/** Pads (positive amounts) or crops (negative ones) the three spatial axes of an NDHWC tensor. */
function padOrCrop(backend: unknown, x: TensorInfo, front: number[], back: number[]): TensorInfo {
  let cur = x;
  for (let a = 0; a < 3; a++) {
    const [cutFront, cutBack] = [Math.max(0, -front[a]), Math.max(0, -back[a])];
    if (!cutFront && !cutBack) continue;
    const next = sliceAxis(backend, cur, a + 1, cutFront, cur.shape[a + 1] - cutFront - cutBack);
    if (cur !== x) free(backend, cur);
    cur = next;
  }
  const pads: Pads = [[0, 0], ...front.map((f, a): [number, number] => [Math.max(0, f), Math.max(0, back[a])]), [0, 0]];
  if (!anyPad(pads)) return cur;
  const padded = pad(backend, cur, pads);
  if (cur !== x) free(backend, cur);
  return padded;
}
