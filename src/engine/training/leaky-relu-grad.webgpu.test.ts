import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, expect, it } from 'vitest';
import { relErr } from '../../../tests/compare';
import { useWebGPU } from '../../../tests/webgpu';
import { UNetPipe } from '../../models/unetpipe';
import './gradients';
import { diceCELoss } from './losses';

beforeAll(async () => {
  await useWebGPU();
});

/** Values of `f` on each backend, from the same inputs. */
async function on(backend: string, f: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const out = f();
  const data = await Promise.all(out.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose(out);
  return data;
}

it('LeakyReLU’s gradient of a rank-5 tensor on WebGPU (tfjs-webgpu has no rank-5 Where) equals α·dy below 0, dy above', async () => {
  const xv = Float32Array.from({ length: 2 * 3 * 4 * 5 * 2 }, (_, n) => ((n * 7) % 11) - 5.5);
  const [g] = await on('webgpu', () => [tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.leakyRelu(x, 0.1), 3)))(tf.tensor(xv, [2, 3, 4, 5, 2]))]);
  expect(Array.from(g)).toEqual(Array.from(xv, (v) => (v > 0 ? 3 : Math.fround(0.1 * 3))));
});

it('a UNetPipe (n_feat 2, 32³) training gradient on WebGPU matches the cpu backend', async () => {
  const net = new UNetPipe({ nFeat: 2, outChannels: 2, seed: 1 });
  const xv = Float32Array.from({ length: 32 ** 3 }, (_, n) => Math.sin(n * 0.37));
  const yv = Float32Array.from({ length: 32 ** 3 * 2 }, (_, n) => ((n >> 1) % 3 === 0 ? n & 1 : 1 - (n & 1)));
  const vars = net.trainableVariables();
  const step = () => {
    const { value, grads } = tf.variableGrads(() => diceCELoss(net.apply(tf.tensor(xv, [1, 32, 32, 32, 1]), { training: true }), tf.tensor(yv, [1, 32, 32, 32, 2]), { softmax: true }), vars);
    return [value, ...vars.map((v) => grads[v.name])];
  };
  // The same variables serve both backends (tfjs moves their data on first use).
  const ref = await on('cpu', step);
  const got = await on('webgpu', step);
  expect(got).toHaveLength(vars.length + 1);
  expect(got[0][0]).toBeCloseTo(ref[0][0], 4);
  for (let i = 1; i < ref.length; i++) expect(relErr(got[i], ref[i])).toBeLessThan(1e-3);
  net.dispose();
});
