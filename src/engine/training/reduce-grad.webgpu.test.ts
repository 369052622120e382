import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, expect, it } from 'vitest';
import { useWebGPU } from '../../../tests/webgpu';
import './gradients';

beforeAll(async () => {
  await useWebGPU();
});

const SHAPE = [2, 3, 4, 5];
const xv = Float32Array.from({ length: 120 }, (_, n) => Math.sin(n));
// A weight per channel (last axis), so that each reduced element's gradient is known by hand.
const wv = [1, -2, 0.5, 3, -0.25];

/** d/dx Σ_c w_c · reduce(x)_c over axes 0…2, on one backend. */
async function grad(backend: string, reduce: (x: tf.Tensor) => tf.Tensor): Promise<number[]> {
  await tf.setBackend(backend);
  const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(reduce(x), tf.tensor1d(wv))))(tf.tensor(xv, SHAPE));
  const out = Array.from(await g.data());
  g.dispose();
  return out;
}

for (const backend of ['cpu', 'webgpu']) {
  it(`Sum's and Mean's gradients broadcast dy (and dy / n) over the reduced axes on ${backend}`, async () => {
    const sum = await grad(backend, (x) => tf.sum(x, [0, 1, 2]));
    const mean = await grad(backend, (x) => tf.mean(x, [0, 1, 2]));
    // keepDims and a negative axis take the same path
    const meanKeep = await grad(backend, (x) => tf.reshape(tf.mean(x, [-2, 0, 1], true), [5]));
    expect(sum).toEqual(Array.from({ length: 120 }, (_, n) => wv[n % 5]));
    expect(mean).toEqual(Array.from({ length: 120 }, (_, n) => Math.fround(wv[n % 5] / 24)));
    expect(meanKeep).toEqual(mean);
    // a full reduction (no axis), as the losses use
    expect(await grad(backend, (x) => tf.mul(tf.mean(x), tf.ones([5])))).toEqual(Array.from({ length: 120 }, () => Math.fround(wv.reduce((a, b) => a + b) / 120)));
  });
}

it('moments (BatchNorm) train the same on both backends', async () => {
  const f = (x: tf.Tensor) => {
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    return tf.sum(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), tf.tensor(xv.map((v) => v * v), SHAPE)));
  };
  const g = async (backend: string) => {
    await tf.setBackend(backend);
    const out = tf.grad(f)(tf.tensor(xv, SHAPE));
    const d = Array.from(await out.data());
    out.dispose();
    return d;
  };
  const cpu = await g('cpu');
  const gpu = await g('webgpu');
  const scale = Math.max(...cpu.map(Math.abs));
  expect(scale).toBeGreaterThan(0.1);
  for (let n = 0; n < cpu.length; n++) expect(Math.abs(gpu[n] - cpu[n])).toBeLessThan(1e-4 * scale);
});

it('the registered gradients make their ones with a Fill kernel, not a host-made array', async () => {
  await tf.setBackend('cpu');
  const x = tf.tensor(xv, SHAPE);
  const prof = await tf.profile(() => tf.grad((t: tf.Tensor) => tf.mean(t, [0, 1, 2]))(x));
  const names = prof.kernels.map((k) => k.name);
  // tfjs-core's own gradient runs Multiply too, but its ones come from the host (no Fill kernel).
  expect(names).toEqual(expect.arrayContaining(['Fill', 'Multiply']));
  x.dispose();
  tf.dispose(prof.result as tf.Tensor);
});
