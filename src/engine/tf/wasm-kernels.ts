/**
 * Kernels that tfjs-backend-wasm 4.22 lacks (or has slowly) but a training step needs, composed from
 * the wasm backend's own kernels so that they run inside wasm (no round trip through the cpu backend).
 *
 * - `Conv2DBackpropFilter`: missing, so tfjs-wasm cannot train convs at all without it.
 * - `Conv2DBackpropInput`, stride 1 NHWC: present but a plain loop; re-expressed as one XNNPACK conv
 *   (bench/wasm-train.ts, (1,128,128,32)->32 3x3: ~21 ms instead of ~136 ms).
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
 * Importing this module is side-effect free (it does not load the wasm backend); call
 * `registerWasmTrainingKernels()` once after importing '@tensorflow/tfjs-backend-wasm'.
 */
import * as tf from '@tensorflow/tfjs-core';
import { backend_util, type KernelFunc, type NamedAttrMap, type NamedTensorInfoMap, type TensorInfo } from '@tensorflow/tfjs-core';

const BACKEND = 'wasm';

interface DisposableBackend {
  disposeData(dataId: object): boolean;
}

/** Runs another wasm kernel directly (inside a kernel, ops would go through the engine again). */
function runWasm(name: string, backend: unknown, inputs: NamedTensorInfoMap, attrs: NamedAttrMap): TensorInfo {
  const kernel = tf.getKernel(name, BACKEND);
  if (!kernel) throw new Error(`wasm backend has no '${name}' kernel to compose from`);
  return kernel.kernelFunc({ inputs, backend: backend as tf.KernelBackend, attrs }) as TensorInfo;
}

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
  const b = backend as unknown as DisposableBackend;
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
  b.disposeData(xT.dataId);
  b.disposeData(dyT.dataId);
  // With stride > 1 the padded input can extend past the last window: keep the first kh × kw taps.
  const [kh, kw, ci, co] = filterShape;
  let taps = conv;
  if (conv.shape[1] !== kh || conv.shape[2] !== kw) {
    taps = runWasm('Slice', backend, { x: conv }, { begin: [0, 0, 0, 0], size: [ci, kh, kw, co] });
    b.disposeData(conv.dataId);
  }
  const out = runWasm('Transpose', backend, { x: taps }, { perm: [1, 2, 0, 3] });
  b.disposeData(taps.dataId);
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
    const b = backend as unknown as DisposableBackend;
    const flipped = runWasm('Reverse', backend, { x: filter }, { dims: [0, 1] });
    const swapped = runWasm('Transpose', backend, { x: flipped }, { perm: [0, 1, 3, 2] });
    b.disposeData(flipped.dataId);
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
    b.disposeData(swapped.dataId);
    return out;
  };
}

/** Our wasm kernel configs, to recognise them when registration runs twice. */
const ours = new WeakSet<KernelFunc>();

/**
 * Registers the compositions for the 'wasm' backend: `Conv2DBackpropFilter` (absent from tfjs-wasm;
 * skipped if a later version ships one) and the faster stride-1 `Conv2DBackpropInput` (wrapping the
 * native kernel, whose setup it keeps). Call it after importing '@tensorflow/tfjs-backend-wasm', before
 * or after `tf.setBackend('wasm')`. Idempotent; returns the kernel names it (re)registered.
 */
export function registerWasmTrainingKernels(): string[] {
  const added: string[] = [];
  if (!tf.getKernel(tf.Conv2DBackpropFilter, BACKEND)) {
    ours.add(conv2DBackpropFilter);
    tf.registerKernel({ kernelName: tf.Conv2DBackpropFilter, backendName: BACKEND, kernelFunc: conv2DBackpropFilter });
    added.push(tf.Conv2DBackpropFilter);
  }
  const native = tf.getKernel(tf.Conv2DBackpropInput, BACKEND);
  if (native && !ours.has(native.kernelFunc)) {
    const kernelFunc = conv2DBackpropInputVia(native.kernelFunc);
    ours.add(kernelFunc);
    tf.unregisterKernel(tf.Conv2DBackpropInput, BACKEND);
    tf.registerKernel({ ...native, kernelFunc });
    added.push(tf.Conv2DBackpropInput);
  }
  return added;
}
