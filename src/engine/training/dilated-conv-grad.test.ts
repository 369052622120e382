import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import './gradients';
import { registerDilatedConv2DGradient } from './dilated-conv-grad';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** The dilated filter written out with zeros: an undilated conv with it equals the dilated conv. */
function zeroInserted(w: tf.Tensor4D, dh: number, dw: number): tf.Tensor4D {
  const [kh, kw, ci, co] = w.shape;
  const spread = tf.pad(tf.reshape(w, [kh, 1, kw, 1, ci, co]), [[0, 0], [0, dh - 1], [0, 0], [0, dw - 1], [0, 0], [0, 0]]);
  return tf.slice(tf.reshape(spread, [kh * dh, kw * dw, ci, co]), 0, [(kh - 1) * dh + 1, (kw - 1) * dw + 1, ci, co]) as tf.Tensor4D;
}

function maxRelErr(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  let d = 0;
  let m = 0;
  for (let i = 0; i < y.length; i++) {
    d = Math.max(d, Math.abs(x[i] - y[i]));
    m = Math.max(m, Math.abs(y[i]));
  }
  return d / m;
}

type Pad = 'same' | 'valid' | number;
const cases: { x: [number, number, number, number]; k: [number, number]; co: number; d: [number, number]; pad: Pad }[] = [
  { x: [2, 9, 10, 3], k: [3, 3], co: 4, d: [2, 2], pad: 'same' }, // ASPP-like
  { x: [1, 12, 11, 2], k: [3, 3], co: 3, d: [4, 4], pad: 'same' },
  { x: [1, 11, 13, 2], k: [3, 2], co: 2, d: [2, 3], pad: 'valid' },
  { x: [1, 10, 10, 2], k: [2, 2], co: 2, d: [3, 3], pad: 'same' }, // even effective kernel: asymmetric 'same' padding
  { x: [2, 8, 9, 2], k: [3, 3], co: 2, d: [2, 2], pad: 1 },
];

describe('dilated Conv2D gradient', () => {
  it.each(cases.map((c) => [`${c.x} k${c.k} d${c.d} ${c.pad}`, c] as const))('matches the zero-inserted-filter reference: %s', (_n, c) => {
    const x = tf.randomNormal(c.x, 0, 1, 'float32', 11);
    const w = tf.randomNormal([...c.k, c.x[3], c.co], 0, 0.5, 'float32', 12) as tf.Tensor4D;
    const r = tf.randomNormal([1], 0, 1, 'float32', 13); // makes dy non-uniform through a nonlinear loss
    const lossDilated = (xi: tf.Tensor, wi: tf.Tensor) =>
      tf.sum(tf.sin(tf.add(tf.conv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, 1, c.pad, 'NHWC', c.d), r)));
    const lossReference = (xi: tf.Tensor, wi: tf.Tensor) =>
      tf.sum(tf.sin(tf.add(tf.conv2d(xi as tf.Tensor4D, zeroInserted(wi as tf.Tensor4D, c.d[0], c.d[1]), 1, c.pad), r)));
    const [gx, gw] = tf.grads(lossDilated)([x, w]);
    const [rx, rw] = tf.grads(lossReference)([x, w]);
    expect(gx.shape).toEqual(x.shape);
    expect(gw.shape).toEqual(w.shape);
    expect(maxRelErr(gx, rx)).toBeLessThan(1e-5);
    expect(maxRelErr(gw, rw)).toBeLessThan(1e-5);
  });

  it('leaves dilation-1 gradients to tfjs and is idempotent', () => {
    registerDilatedConv2DGradient();
    const g = tf.getGradient(tf.Conv2D);
    registerDilatedConv2DGradient();
    expect(tf.getGradient(tf.Conv2D)).toBe(g);
    const x = tf.randomNormal([1, 5, 5, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
    const w = tf.ones([2, 2, 1, 1]) as tf.Tensor4D;
    // d/dw Σ conv(x, w) 'valid' = the sum of x over each tap's window: hand-computable from x.
    const gw = tf.grad((wi: tf.Tensor) => tf.sum(tf.conv2d(x, wi as tf.Tensor4D, 1, 'valid')))(w).dataSync();
    const xs = x.dataSync();
    const window = (i0: number, j0: number) => {
      let s = 0;
      for (let i = i0; i < i0 + 4; i++) for (let j = j0; j < j0 + 4; j++) s += xs[i * 5 + j];
      return s;
    };
    expect(Array.from(gw).map((v) => +v.toFixed(4))).toEqual([window(0, 0), window(0, 1), window(1, 0), window(1, 1)].map((v) => +v.toFixed(4)));
  });
});
