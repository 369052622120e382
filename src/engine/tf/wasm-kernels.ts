/**
 * Kernels that tfjs-backend-wasm 4.22 lacks (or has slowly) but a training step needs, composed from
 * the wasm backend's own kernels so that they run inside wasm (no round trip through the cpu backend).
 *
 * - `Conv2DBackpropFilter`: missing, so tfjs-wasm cannot train convs at all without it.
 * - `Conv2DBackpropInput`, stride 1 NHWC: present but a plain loop; re-expressed as one XNNPACK conv
 *   (bench/wasm-train.ts, (1,128,128,32)->32 3x3: ~21 ms instead of ~136 ms).
 * - `Conv3D` at stride 1 (a plain loop; by XNNPACK 2D convs), `Conv3DBackpropInputV2`, `Conv3DBackpropFilterV2`
 *   (wasm-conv3d.ts) and `MaxPoolGrad`, `MaxPool3D`, `MaxPool3DGrad` (wasm-max-pool.ts): the last five
 *   present but wrong; replaced by compositions.
 *
 * Every other kernel reached by the gradients of conv2d, batchNorm (moments + FusedBatchNorm),
 * leakyRelu / prelu / relu / sigmoid, max/avg pooling, resizeBilinear, concat, mean, matMul, softmax
 * and pad is registered for wasm (checked against `tf.getKernelsForBackend('wasm')`; wasm-kernels.test.ts
 * runs such a backward pass on wasm). The other kernels the cpu backend has and wasm lacks are not
 * composed, because none of our networks reaches them: DepthwiseConv2dNativeBackpropFilter/Input (no
 * depthwise convs), UnsortedSegmentSum (only gather's gradient), Einsum, FFT/IFFT/Complex/Real/Imag/
 * ComplexAbs, Ragged*, StaticRegexReplace, Draw. Dilated-conv gradients are a tfjs-core gap on every
 * backend: see src/engine/training/dilated-conv-grad.ts.
 *
 * Importing this module is side-effect free (it does not load the wasm backend); `initBackend`
 * (backend.ts) calls `registerWasmTrainingKernels()` whenever it loads wasm — for inference too, as
 * the native `MaxPool3D` forward is among the wrong kernels.
 */
import * as tf from '@tensorflow/tfjs-core';
import { backend_util, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { WASM, free, runWasm } from './wasm-compose';
import { conv3DBackpropFilter, conv3DBackpropInput, conv3DVia } from './wasm-conv3d';
import { maxPool3DGradVia, maxPool3DVia, maxPoolGradVia } from './wasm-max-pool';

/**
 * dW[kh, kw, ci, co] = Σ_{n, oh, ow} x_pad[n, oh·s + kh, ow·s + kw, ci] · dy[n, oh, ow, co].
 * That is a convolution of x (laid out as [ci, H, W, n], i.e. channels as batch and batch as channels)
 * with dy as the filter ([Ho, Wo, n, co]) at dilation = the forward stride and stride 1, over the
 * forward pass's explicit padding. One wasm (XNNPACK) conv plus three transposes.
 */
const conv2DBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const format = backend_util.convertConv2DDataFormat(dataFormat);
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    format,
  );
  const last = format === 'channelsLast';
  const xT = runWasm('Transpose', backend, { x }, { perm: last ? [3, 1, 2, 0] : [1, 2, 3, 0] });
  const dyT = runWasm('Transpose', backend, { x: dy }, { perm: last ? [1, 2, 0, 3] : [2, 3, 0, 1] });
  const { top, bottom, left, right } = info.padInfo;
  const conv = runWasm(
    'Conv2D',
    backend,
    { x: xT, filter: dyT },
    {
      strides: [1, 1],
      pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
      dataFormat: 'NHWC',
      dilations: [info.strideHeight, info.strideWidth],
    },
  );
  free(backend, xT);
  free(backend, dyT);
  // With stride > 1 the padded input can extend past the last window: keep the first kh × kw taps.
  const [kh, kw, ci, co] = filterShape;
  let taps = conv;
  if (conv.shape[1] !== kh || conv.shape[2] !== kw) {
    taps = runWasm('Slice', backend, { x: conv }, { begin: [0, 0, 0, 0], size: [ci, kh, kw, co] });
    free(backend, conv);
  }
  const out = runWasm('Transpose', backend, { x: taps }, { perm: [1, 2, 0, 3] });
  free(backend, taps);
  return out;
};

/**
 * Conv2DBackpropInput for stride 1, NHWC: dx = conv2d(dy, W'), W' = W flipped in space with in/out
 * channels swapped, padded by (k − 1 − forward pad). tfjs-wasm's native kernel is a plain loop
 * (bench/wasm-train.ts: ~11x slower than its XNNPACK forward conv on the same shape), and every conv of
 * COPLE-Net has stride 1. Strided or NCHW cases go to the native kernel.
 */
function conv2DBackpropInputVia(native: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as tf.Conv2DBackpropInputAttrs;
    const format = backend_util.convertConv2DDataFormat(dataFormat);
    const info = backend_util.computeConv2DInfo(
      inputShape,
      filter.shape as [number, number, number, number],
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      format,
    );
    if (info.strideHeight !== 1 || info.strideWidth !== 1 || format !== 'channelsLast') return native(args);
    const flipped = runWasm('Reverse', backend, { x: filter }, { dims: [0, 1] });
    const swapped = runWasm('Transpose', backend, { x: flipped }, { perm: [0, 1, 3, 2] });
    free(backend, flipped);
    const { top, bottom, left, right } = info.padInfo;
    const kh = info.filterHeight;
    const kw = info.filterWidth;
    const out = runWasm(
      'Conv2D',
      backend,
      { x: dy, filter: swapped },
      {
        strides: [1, 1],
        pad: [[0, 0], [kh - 1 - top, kh - 1 - bottom], [kw - 1 - left, kw - 1 - right], [0, 0]],
        dataFormat: 'NHWC',
        dilations: [1, 1],
      },
    );
    free(backend, swapped);
    return out;
  };
}

/** Our wasm kernel configs, to recognise them when registration runs twice. */
const ours = new WeakSet<KernelFunc>();

/** Replaces a native wasm kernel by `wrap(native)` (which may fall back to it), keeping its setup. */
function replace(name: string, wrap: (native: KernelFunc) => KernelFunc, added: string[]): void {
  const native = tf.getKernel(name, WASM);
  if (!native || ours.has(native.kernelFunc)) return;
  const kernelFunc = wrap(native.kernelFunc);
  ours.add(kernelFunc);
  tf.unregisterKernel(name, WASM);
  tf.registerKernel({ ...native, kernelFunc });
  added.push(name);
}

/**
 * Registers the compositions for the 'wasm' backend: `Conv2DBackpropFilter` (absent from tfjs-wasm;
 * skipped if a later version ships one), the faster stride-1 `Conv2DBackpropInput` and the corrected
 * 3D and max-pool kernels (each wrapping the native kernel, whose setup it keeps). Call it after
 * importing '@tensorflow/tfjs-backend-wasm', before or after `tf.setBackend('wasm')`. Idempotent;
 * returns the kernel names it (re)registered.
 */
export function registerWasmTrainingKernels(): string[] {
  const added: string[] = [];
  if (!tf.getKernel(tf.Conv2DBackpropFilter, WASM)) {
    ours.add(conv2DBackpropFilter);
    tf.registerKernel({ kernelName: tf.Conv2DBackpropFilter, backendName: WASM, kernelFunc: conv2DBackpropFilter });
    added.push(tf.Conv2DBackpropFilter);
  }
  replace(tf.Conv2DBackpropInput, conv2DBackpropInputVia, added);
  replace(tf.Conv3D, conv3DVia, added);
  replace(tf.Conv3DBackpropInputV2, () => conv3DBackpropInput, added);
  replace(tf.Conv3DBackpropFilterV2, () => conv3DBackpropFilter, added);
  replace(tf.MaxPoolGrad, maxPoolGradVia, added);
  replace(tf.MaxPool3D, maxPool3DVia, added);
  replace(tf.MaxPool3DGrad, maxPool3DGradVia, added);
  return added;
}
