import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { relErr as relativeError } from '../../../tests/compare';
import '../training/gradients';
import { registerWasmTrainingKernels } from './wasm-kernels';

/** Deterministic pseudo-random values in [-1, 1) (a tiny LCG), so both backends get the same data. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Runs `f` on a backend and returns the data of every output. */
async function on(backend: 'cpu' | 'wasm', f: () => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const outs = tf.tidy(f);
  const list = Array.isArray(outs) ? outs : [outs];
  const data = await Promise.all(list.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose(list);
  return data;
}

/** relErr against a reference that is not all zero (a zero reference would make the check vacuous). */
function relErr(a: Float32Array, b: Float32Array): number {
  expect(b.some((v) => v !== 0)).toBe(true);
  return relativeError(a, b);
}

let registered: string[] = [];
beforeAll(async () => {
  registered = registerWasmTrainingKernels();
  await tf.setBackend('wasm');
  await tf.ready();
});

type Pad = 'same' | 'valid' | number;
interface ConvCase {
  x: [number, number, number, number];
  k: [number, number];
  co: number;
  s: [number, number];
  pad: Pad;
  format?: 'NHWC' | 'NCHW';
}
const convCases: ConvCase[] = [
  { x: [2, 9, 10, 3], k: [3, 3], co: 4, s: [1, 1], pad: 'same' },
  { x: [1, 11, 9, 2], k: [3, 3], co: 5, s: [1, 1], pad: 'valid' },
  { x: [2, 9, 10, 3], k: [3, 3], co: 4, s: [2, 2], pad: 'same' },
  { x: [1, 10, 11, 2], k: [3, 3], co: 3, s: [2, 2], pad: 'valid' }, // windows leave a remainder: cropped taps
  { x: [1, 12, 12, 4], k: [1, 1], co: 6, s: [1, 1], pad: 'same' },
  { x: [1, 9, 12, 2], k: [5, 3], co: 3, s: [1, 2], pad: 'same' },
  { x: [2, 8, 8, 3], k: [3, 3], co: 2, s: [1, 1], pad: 2 },
  { x: [1, 10, 10, 2], k: [2, 2], co: 3, s: [1, 1], pad: 'same' }, // even kernel: asymmetric padding
  { x: [2, 3, 8, 9], k: [3, 3], co: 4, s: [2, 2], pad: 'same', format: 'NCHW' },
];

interface Conv3dCase {
  x: [number, number, number, number, number];
  k: [number, number, number];
  co: number;
  s: [number, number, number];
  pad: Pad;
}
const conv3dCases: Conv3dCase[] = [
  { x: [2, 6, 7, 5, 3], k: [3, 3, 3], co: 4, s: [1, 1, 1], pad: 'same' },
  { x: [2, 8, 8, 8, 3], k: [3, 3, 3], co: 4, s: [2, 2, 2], pad: 'same' }, // UNetPipe's downsampling conv
  { x: [1, 9, 8, 7, 2], k: [3, 3, 3], co: 3, s: [2, 2, 2], pad: 'valid' }, // windows leave a remainder
  { x: [1, 8, 6, 4, 3], k: [2, 2, 2], co: 2, s: [2, 2, 2], pad: 'valid' },
  { x: [1, 7, 8, 10, 2], k: [3, 3, 3], co: 3, s: [3, 2, 1], pad: 'same' },
  { x: [2, 5, 5, 5, 4], k: [1, 1, 1], co: 2, s: [1, 1, 1], pad: 'valid' },
  { x: [1, 6, 6, 6, 2], k: [3, 3, 3], co: 2, s: [1, 1, 1], pad: 1 },
  { x: [1, 6, 7, 5, 2], k: [1, 1, 1], co: 3, s: [2, 2, 2], pad: 'valid' }, // phases no tap reaches: zero
  { x: [1, 7, 6, 9, 2], k: [3, 3, 3], co: 2, s: [2, 2, 2], pad: 2 },
  { x: [1, 8, 9, 6, 2], k: [4, 4, 4], co: 2, s: [2, 3, 2], pad: 'same' },
];

interface PoolCase {
  x: number[];
  k: number;
  s: number;
  pad: 'same' | 'valid';
}
const poolCases: PoolCase[] = [
  { x: [2, 9, 8, 3], k: 2, s: 2, pad: 'valid' }, // COPLE-Net / 2D U-Net pooling (odd size: remainder row)
  { x: [1, 9, 8, 2], k: 3, s: 2, pad: 'same' }, // overlapping windows: the shifted native kernel
  { x: [2, 8, 7, 9, 3], k: 2, s: 2, pad: 'valid' }, // 3D U-Net pooling
  { x: [1, 7, 8, 9, 2], k: 3, s: 2, pad: 'same' },
];

describe('tfjs-wasm training kernels', () => {
  it('registers Conv2DBackpropFilter (missing in tfjs-wasm 4.22), the stride-1 Conv2DBackpropInput and the corrected 3D / max-pool kernels; idempotent', () => {
    expect(registered).toEqual(['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'Conv3D', 'Conv3DBackpropInputV2', 'Conv3DBackpropFilterV2', 'MaxPoolGrad', 'MaxPool3D', 'MaxPool3DGrad']);
    expect(registerWasmTrainingKernels()).toEqual([]);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('every kernel on the backward path of a COPLE-Net-like net exists for wasm', () => {
    const wasm = new Set(tf.getKernelsForBackend('wasm').map((k) => k.kernelName));
    const needed = [
      'Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'FusedConv2D', 'FusedBatchNorm', 'LeakyRelu', 'Prelu',
      'Relu', 'Sigmoid', 'Step', 'Select', 'Greater', 'MaxPool', 'MaxPoolGrad', 'AvgPool', 'AvgPoolGrad', 'ResizeBilinear',
      'ResizeBilinearGrad', 'Concat', 'Slice', 'Mean', 'Sum', 'BatchMatMul', 'Softmax', 'PadV2', 'Transpose', 'Reverse',
      'Tile', 'Rsqrt', 'SquaredDifference', 'Abs', 'Sign', 'Pow',
    ];
    expect(needed.filter((k) => !wasm.has(k))).toEqual([]);
  });

  it.each(convCases.map((c) => [`${c.format ?? 'NHWC'} x${c.x} k${c.k} s${c.s} ${c.pad}`, c] as const))(
    'Conv2DBackpropFilter and Conv2DBackpropInput match cpu: %s',
    async (_n, c) => {
      const format = c.format ?? 'NHWC';
      const [n, a, b, cin] = c.x; // NHWC: a = H, b = W, cin = C; NCHW: a = C, b = H, cin = W
      const inShape = c.x;
      const info = tf.backend_util.computeConv2DInfo(
        format === 'NHWC' ? inShape : [n, b, cin, a],
        [...c.k, format === 'NHWC' ? cin : a, c.co],
        c.s,
        1,
        c.pad,
      );
      const dyShape = format === 'NHWC' ? [n, info.outHeight, info.outWidth, c.co] : [n, c.co, info.outHeight, info.outWidth];
      const filterShape = [...c.k, info.inChannels, c.co] as [number, number, number, number];
      const attrs = { strides: c.s, pad: c.pad, dataFormat: format, dimRoundingMode: undefined as unknown as string };
      const xv = values(size(inShape), 1);
      const dyv = values(size(dyShape), 2);
      const wv = values(size(filterShape), 3);
      const run = () => {
        const x = tf.tensor(xv, inShape);
        const dy = tf.tensor(dyv, dyShape);
        const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape }) as tf.Tensor;
        const out = [dw];
        if (format === 'NHWC') {
          // tfjs-wasm's Conv2DBackpropInput is NHWC only.
          const filter = tf.tensor(wv, filterShape);
          out.push(tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, { ...attrs, inputShape: inShape }) as tf.Tensor);
        }
        return out;
      };
      const ref = await on('cpu', run);
      const got = await on('wasm', run);
      expect(got[0].length).toBe(size(filterShape));
      for (let i = 0; i < ref.length; i++) expect(relErr(got[i], ref[i])).toBeLessThanOrEqual(1e-4);
    },
  );

  it.each(conv3dCases.map((c) => [`x${c.x} k${c.k} s${c.s} ${c.pad}`, c] as const))(
    'Conv3D, Conv3DBackpropFilterV2 and Conv3DBackpropInputV2 match cpu (the native gradients do not): %s',
    async (_n, c) => {
      const filterShape = [...c.k, c.x[4], c.co] as [number, number, number, number, number];
      const info = tf.backend_util.computeConv3DInfo(c.x, filterShape, c.s, 1, c.pad);
      const dyShape = [c.x[0], info.outDepth, info.outHeight, info.outWidth, c.co];
      const [xv, dyv, wv] = [values(size(c.x), 11), values(size(dyShape), 12), values(size(filterShape), 13)];
      const run = () => {
        const dy = tf.tensor(dyv, dyShape);
        const attrs = { strides: c.s, pad: c.pad };
        return [
          tf.engine().runKernel('Conv3DBackpropFilterV2', { x: tf.tensor(xv, c.x), dy }, { ...attrs, filterShape }) as tf.Tensor,
          tf.engine().runKernel('Conv3DBackpropInputV2', { dy, filter: tf.tensor(wv, filterShape) }, { ...attrs, inputShape: c.x }) as tf.Tensor,
          tf.conv3d(tf.tensor(xv, c.x) as tf.Tensor5D, tf.tensor(wv, filterShape) as tf.Tensor5D, c.s, c.pad as 'same'),
        ];
      };
      const ref = await on('cpu', run);
      const got = await on('wasm', run);
      expect(got[0].length).toBe(size(filterShape));
      expect(got[1].length).toBe(size(c.x));
      expect(got[2].length).toBe(size(dyShape.slice(0, 4).concat(c.co)));
      for (let i = 0; i < ref.length; i++) expect(relErr(got[i], ref[i])).toBeLessThanOrEqual(1e-5);
    },
  );

  it.each(poolCases.map((c) => [`x${c.x} k${c.k} s${c.s} ${c.pad}`, c] as const))(
    'max pooling and its gradient match cpu where every value is negative (native wasm: ~0): %s',
    async (_n, c) => {
      // Values in [−2.5, −0.5): every window is all-negative, the case the native kernels get wrong.
      const xv = values(size(c.x), 21).map((v) => v - 1.5);
      const pool = (x: tf.Tensor) => (c.x.length === 4 ? tf.maxPool(x as tf.Tensor4D, c.k, c.s, c.pad) : tf.maxPool3d(x as tf.Tensor5D, c.k, c.s, c.pad));
      const run = () => {
        const x = tf.tensor(xv, c.x);
        const y = pool(x);
        const w = tf.tensor(values(size(y.shape), 22), y.shape); // distinct weights per output: a misrouted gradient shows
        const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(pool(a), w)))(x);
        return [y, dx];
      };
      const ref = await on('cpu', run);
      const got = await on('wasm', run);
      expect(got[0].every((v) => v < -0.5)).toBe(true);
      expect(Array.from(got[0])).toEqual(Array.from(ref[0]));
      expect(relErr(got[1], ref[1])).toBeLessThanOrEqual(1e-6);
    },
  );

  it('Conv3D with dilations matches cpu', async () => {
    const xv = values(1 * 9 * 8 * 10 * 2, 51);
    const wv = values(3 * 2 * 3 * 2 * 3, 52);
    const run = () => [tf.conv3d(tf.tensor(xv, [1, 9, 8, 10, 2]) as tf.Tensor5D, tf.tensor(wv, [3, 2, 3, 2, 3]) as tf.Tensor5D, 1, 'same', 'NDHWC', [2, 1, 3])];
    const ref = await on('cpu', run);
    const got = await on('wasm', run);
    expect(got[0].length).toBe(9 * 8 * 10 * 3);
    expect(relErr(got[0], ref[0])).toBeLessThanOrEqual(1e-5);
  });

  it('gradients of a small 3D net (strided conv3d, leakyRelu, maxPool3d, conv3d) match cpu', async () => {
    const shapes = [[3, 3, 3, 1, 4], [4], [3, 3, 3, 4, 4], [1, 1, 1, 4, 2]];
    const xv = values(2 * 16 * 16 * 16, 31);
    const tv = values(2 * 4 * 4 * 4 * 2, 32);
    const run = () => {
      const x = tf.tensor(xv, [2, 16, 16, 16, 1]);
      const target = tf.tensor(tv, [2, 4, 4, 4, 2]);
      const params = shapes.map((s, i) => tf.mul(tf.tensor(values(size(s), 40 + i), s), 0.5));
      const loss = (w1: tf.Tensor, b1: tf.Tensor, w2: tf.Tensor, w3: tf.Tensor) => {
        let h = tf.leakyRelu(tf.add(tf.conv3d(x as tf.Tensor5D, w1 as tf.Tensor5D, 2, 'same'), b1), 0.01);
        h = tf.maxPool3d(h as tf.Tensor5D, 2, 2, 'valid');
        h = tf.leakyRelu(tf.conv3d(h as tf.Tensor5D, w2 as tf.Tensor5D, 1, 'same'), 0.01);
        return tf.mean(tf.square(tf.sub(tf.conv3d(h as tf.Tensor5D, w3 as tf.Tensor5D, 1, 'valid'), target))) as tf.Scalar;
      };
      return tf.grads(loss)(params);
    };
    const ref = await on('cpu', run);
    const got = await on('wasm', run);
    expect(got).toHaveLength(4);
    for (let i = 0; i < 4; i++) expect(relErr(got[i], ref[i])).toBeLessThanOrEqual(1e-4);
  });

  it('gradients of a small conv net (conv, dilated conv, leakyRelu, avgPool, resizeBilinear, batch norm) match cpu', async () => {
    const shapes: Record<string, number[]> = {
      w1: [3, 3, 2, 6], b1: [6], w2: [3, 3, 6, 4], w3: [3, 3, 4, 4], w4: [1, 1, 4, 2], gamma: [4], beta: [4],
    };
    const xv = values(2 * 16 * 16 * 2, 7);
    const tv = values(2 * 16 * 16 * 2, 8).map((v) => (v > 0 ? 1 : 0));
    const run = () => {
      const x = tf.tensor4d(xv, [2, 16, 16, 2]);
      const target = tf.tensor4d(tv, [2, 16, 16, 2]);
      const params = Object.entries(shapes).map(([name, s], i) => tf.mul(tf.tensor(values(size(s), 20 + i), s), name === 'gamma' ? 0 : 0.5));
      const [w1, b1, w2, w3, w4, gamma, beta] = params;
      const loss = (...p: tf.Tensor[]) => {
        const [pw1, pb1, pw2, pw3, pw4, pg, pb] = p;
        let h = tf.leakyRelu(tf.add(tf.conv2d(x, pw1 as tf.Tensor4D, 1, 'same'), pb1), 0.01);
        h = tf.avgPool(h as tf.Tensor4D, 2, 2, 'valid');
        h = tf.conv2d(h as tf.Tensor4D, pw2 as tf.Tensor4D, 1, 'same');
        h = tf.conv2d(h as tf.Tensor4D, pw3 as tf.Tensor4D, 1, 'same', 'NHWC', 2); // ASPP-style dilation
        const m = tf.moments(h, [0, 1, 2]);
        h = tf.leakyRelu(tf.batchNorm(h, m.mean, m.variance, pb, tf.add(pg, 1), 1e-5), 0.01);
        h = tf.image.resizeBilinear(h as tf.Tensor4D, [16, 16], true);
        const logits = tf.conv2d(h as tf.Tensor4D, pw4 as tf.Tensor4D, 1, 'same');
        return tf.mean(tf.square(tf.sub(tf.softmax(logits), target))) as tf.Scalar;
      };
      return tf.grads(loss)([w1, b1, w2, w3, w4, gamma, beta]);
    };
    const ref = await on('cpu', run);
    const got = await on('wasm', run);
    expect(got).toHaveLength(7);
    const errs = got.map((g, i) => relErr(g, ref[i]));
    for (const e of errs) expect(e).toBeLessThanOrEqual(1e-4);
  });

  it('the composed kernels leak no wasm memory', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(values(2 * 8 * 8 * 3, 4), [2, 8, 8, 3]);
    const w = tf.tensor4d(values(3 * 3 * 3 * 4, 5), [3, 3, 3, 4]);
    const x3 = tf.tensor5d(values(8 * 8 * 8 * 2, 6), [1, 8, 8, 8, 2]);
    const w3 = tf.tensor5d(values(3 * 3 * 3 * 2 * 3, 7), [3, 3, 3, 2, 3]);
    const step = () =>
      tf.tidy(() => [
        ...tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.maxPool(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'), 2, 2, 'valid')))([x, w]),
        ...tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.maxPool3d(tf.conv3d(a as tf.Tensor5D, b as tf.Tensor5D, 2, 'same'), 2, 2, 'valid')))([x3, w3]),
        tf.grad((a: tf.Tensor) => tf.sum(tf.maxPool3d(a as tf.Tensor5D, 3, 2, 'same')))(x3),
      ]);
    tf.dispose(step());
    const before = tf.memory();
    for (let i = 0; i < 3; i++) tf.dispose(step());
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
    expect((tf.backend() as unknown as { numDataIds(): number }).numDataIds()).toBe(before.numDataBuffers);
  });
});
