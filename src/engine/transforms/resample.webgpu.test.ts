import { beforeAll, describe, expect, it } from 'vitest';
import type * as tfType from '@tensorflow/tfjs-core';
import { useWebGPU } from '../../../tests/webgpu';
import { Rng } from '../random';
import { matvec, type Matrix } from './matrix';
import { resample } from './resample';
import { referenceSample } from './resample.reference';

let tf: typeof tfType;
beforeAll(async () => {
  tf = await useWebGPU();
});

describe('resample on the WebGPU backend (SwiftShader)', () => {
  it('matches the plain-JS trilinear reference on a 6×7×5 volume within 1e-5, and frees its tensors', async () => {
    expect(tf.getBackend()).toBe('webgpu');
    const shape = [1, 6, 7, 5];
    const r = new Rng(5);
    const data = Float32Array.from({ length: 210 }, () => r.uniform(-3, 3));
    const m: Matrix = [
      [0.8713, 0.2519, -0.1307, -0.6121],
      [-0.2207, 0.9941, 0.1733, 0.4409],
      [0.1291, -0.1877, 0.9123, -0.5377],
      [0, 0, 0, 1],
    ];
    const outSp = [6, 7, 5];
    const pts: number[][] = [];
    for (let i = 0; i < 6; i++) for (let j = 0; j < 7; j++) for (let k = 0; k < 5; k++) pts.push(matvec(m, [i, j, k, 1]).slice(0, 3));
    const before = tf.memory().numTensors;
    for (const pad of ['zeros', 'reflection'] as const) {
      const got = await resample({ data, shape }, outSp, { affine: m }, { mode: 'bilinear', padding_mode: pad, align_corners: true });
      const ref = referenceSample(data, shape, pts, 'bilinear', pad, true);
      let worst = 0;
      for (let k = 0; k < ref.length; k++) worst = Math.max(worst, Math.abs(got[k] - ref[k]));
      expect(worst).toBeLessThan(1e-5);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
