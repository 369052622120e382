import { beforeAll, describe, expect, it } from 'vitest';
import type * as TF from '@tensorflow/tfjs-core';
import { useWebGPU } from './webgpu';

describe('WebGPU backend in Node (Dawn on SwiftShader)', () => {
  let tf: Awaited<ReturnType<typeof useWebGPU>>;
  beforeAll(async () => {
    tf = await useWebGPU();
  });
  it('runs a conv2d with hand-computed result', async () => {
    expect(tf.getBackend()).toBe('webgpu');
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
    const w = tf.ones([2, 2, 1, 1]) as TF.Tensor4D;
    const y = tf.conv2d(x, w, 1, 'valid');
    expect(Array.from(await y.data())).toEqual([12, 16, 24, 28]);
  });
});
