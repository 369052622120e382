import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { flipAveraged } from './flip-tta';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('flipAveraged', () => {
  // A "network" that is not flip-equivariant: it weights each pixel by its position.
  const [H, W] = [3, 4];
  const ramp = Float32Array.from({ length: H * W }, (_, n) => 1 + n * n);
  const weightByPosition = (x: tf.Tensor) => tf.mul(x, tf.tensor4d(ramp, [1, H, W, 1]));

  it('averages the flipped-back outputs over the 4 in-plane flips (hand-computed)', async () => {
    const xv = Float32Array.from({ length: 2 * H * W }, (_, n) => (n % 5) - 1.5);
    const x = tf.tensor4d(xv, [2, H, W, 1]);
    const before = tf.memory().numTensors;
    const y = flipAveraged(weightByPosition, [1, 2])(x);
    expect(tf.memory().numTensors).toBe(before + 1);
    const got = await y.data();
    // flip(f(flip(x))) = x · flip(ramp): the result is x times the mean of the ramp's four flips.
    const r = (i: number, j: number) => ramp[i * W + j];
    for (let b = 0; b < 2; b++)
      for (let i = 0; i < H; i++)
        for (let j = 0; j < W; j++) {
          const mean = (r(i, j) + r(H - 1 - i, j) + r(i, W - 1 - j) + r(H - 1 - i, W - 1 - j)) / 4;
          expect(got[(b * H + i) * W + j]).toBeCloseTo(xv[(b * H + i) * W + j] * mean, 4);
        }
    tf.dispose([x, y]);
  });

  it('one axis: 2 passes; an equivariant network is unchanged', async () => {
    const x = tf.tensor4d(Float32Array.from({ length: H * W }, (_, n) => n), [1, H, W, 1]);
    let calls = 0;
    const counted = (t: tf.Tensor) => {
      calls++;
      return weightByPosition(t);
    };
    const y = flipAveraged(counted, [2])(x);
    expect(calls).toBe(2);
    const got = await y.data();
    expect(got[0 * W + 1]).toBeCloseTo(1 * ((ramp[1] + ramp[2]) / 2), 4);
    const same = flipAveraged((t) => tf.mul(t, 3), [1, 2])(x);
    expect(Array.from(await same.data())).toEqual(Array.from(await x.data()).map((v) => v * 3));
    tf.dispose([x, y, same]);
  });
});
