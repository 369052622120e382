/**
 * The 3D convolution gradients for tfjs-wasm 4.22, composed from its `Conv3D` forward kernel (correct
 * at any stride and dilation) with `PadV2`, `Transpose`, `Slice`, `Reshape` and `Reverse`, because the
 * native ones are wrong against the cpu backend (wasm-kernels.test.ts):
 *
 * - `Conv3DBackpropInputV2`: relative error ~1 at every stride, sometimes huge values — the cause of the
 *   non-finite gradients and the 3D U-Net that did not learn in `npm run experiment:lamp`.
 * - `Conv3DBackpropFilterV2`: right at stride 1, wrong (relative error ~0.6) at stride 2, which
 *   UNetPipe's downsampling convs use.
 */
import { backend_util, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type * as tf from '@tensorflow/tfjs-core';
import { anyPad, free, pad, reshape, runWasm, spatialPads, type Pads } from './wasm-compose';

/**
 * dW[k, ci, co] = Σ_{n, o} x_pad[n, o·s + k, ci] · dy[n, o, co]: a convolution of x laid out as
 * [ci, D, H, W, n] (channels as batch, batch as channels) with dy as the filter [O1, O2, O3, n, co] at
 * dilation = the forward stride; the first K taps per axis are kept.
 */
export const conv3DBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad: padding, filterShape } = attrs as unknown as tf.Conv3DBackpropFilterV2Attrs;
  const info = backend_util.computeConv3DInfo(x.shape as [number, number, number, number, number], filterShape, strides, 1, padding);
  const pads = spatialPads(info.padInfo);
  const xPad = anyPad(pads) ? pad(backend, x, pads) : x;
  const xT = runWasm('Transpose', backend, { x: xPad }, { perm: [4, 1, 2, 3, 0] });
  if (xPad !== x) free(backend, xPad);
  const dyT = runWasm('Transpose', backend, { x: dy }, { perm: [1, 2, 3, 0, 4] });
  const dilations = [info.strideDepth, info.strideHeight, info.strideWidth];
  const conv = runWasm('Conv3D', backend, { x: xT, filter: dyT }, { strides: [1, 1, 1], pad: 'valid', dilations, dataFormat: 'NDHWC' });
  free(backend, xT, dyT);
  const [kd, kh, kw, ci, co] = filterShape;
  let taps = conv;
  if (conv.shape[1] !== kd || conv.shape[2] !== kh || conv.shape[3] !== kw) {
    taps = runWasm('Slice', backend, { x: conv }, { begin: [0, 0, 0, 0, 0], size: [ci, kd, kh, kw, co] });
    free(backend, conv);
  }
  const out = runWasm('Transpose', backend, { x: taps }, { perm: [1, 2, 3, 0, 4] });
  free(backend, taps);
  return out;
};

/**
 * dx = dy with (stride − 1) zeros inserted after each value along each axis, padded, then correlated
 * with W flipped in space and with in/out channels swapped (a stride-1 'valid' conv). With forward
 * padding p_before and input size I, the upsampled dy (length O·s) is padded by K − 1 − p_before in front
 * and I + p_before − O·s at the back (negative amounts crop).
 */
export const conv3DBackpropInput: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad: padding, inputShape } = attrs as unknown as tf.Conv3DBackpropInputV2Attrs;
  const info = backend_util.computeConv3DInfo(inputShape, filter.shape as [number, number, number, number, number], strides, 1, padding);
  const s = [info.strideDepth, info.strideHeight, info.strideWidth];
  const k = [info.filterDepth, info.filterHeight, info.filterWidth];
  const before = [info.padInfo.front, info.padInfo.top, info.padInfo.left];
  const size = [info.inDepth, info.inHeight, info.inWidth];
  let cur = dy;
  const swap = (next: TensorInfo) => {
    if (cur !== dy) free(backend, cur);
    cur = next;
  };
  // Zero insertion, one axis at a time: [A, O, 1, B] padded to [A, O, s, B] → [A, O·s, B].
  for (let a = 0; a < 3; a++) {
    if (s[a] === 1) continue;
    const shape = cur.shape;
    const outer = shape.slice(0, a + 1).reduce((p, q) => p * q, 1);
    const inner = shape.slice(a + 2).reduce((p, q) => p * q, 1);
    const o = shape[a + 1];
    const r = reshape(backend, cur, [outer, o, 1, inner]);
    swap(r);
    swap(pad(backend, cur, [[0, 0], [0, 0], [0, s[a] - 1], [0, 0]]));
    swap(reshape(backend, cur, shape.map((d, i) => (i === a + 1 ? d * s[a] : d))));
  }
  const front = k.map((kk, a) => kk - 1 - before[a]);
  const back = size.map((n, a) => n + before[a] - cur.shape[a + 1]);
  if (front.some((v) => v < 0) || back.some((v) => v < 0)) {
    // Crop first (negative amounts), then pad (positive ones).
    const begin = [0, ...front.map((v) => Math.max(0, -v)), 0];
    const sz = cur.shape.map((d, i) => (i === 0 || i === 4 ? d : d - Math.max(0, -front[i - 1]) - Math.max(0, -back[i - 1])));
    swap(runWasm('Slice', backend, { x: cur }, { begin, size: sz }));
  }
  const pads: Pads = [[0, 0], ...front.map((f, a): [number, number] => [Math.max(0, f), Math.max(0, back[a])]), [0, 0]];
  if (anyPad(pads)) swap(pad(backend, cur, pads));
  const flipped = runWasm('Reverse', backend, { x: filter }, { dims: [0, 1, 2] });
  const swapped = runWasm('Transpose', backend, { x: flipped }, { perm: [0, 1, 2, 4, 3] });
  free(backend, flipped);
  const out = runWasm('Conv3D', backend, { x: cur, filter: swapped }, { strides: [1, 1, 1], pad: 'valid', dilations: [1, 1, 1], dataFormat: 'NDHWC' });
  free(backend, swapped);
  if (cur !== dy) free(backend, cur);
  return out;
};
