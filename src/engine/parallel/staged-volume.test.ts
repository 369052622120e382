import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { UNetPipe } from '../../models/unetpipe';
import { Rng } from '../random';
import { IDENTITY3, type Volume } from '../volume';
import { stagesOf } from './plan';
import { profileLayers } from './profile';
import { extrapolateProfile } from './capacity';
import { profileForSize, segmentVolumeStaged, unetPipeInput } from './staged-volume';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A non-HU scan with every axis a different, non-multiple-of-32 length. */
function scan(dims: [number, number, number], seed: number, units: Volume['units'] = 'unknown'): Volume {
  const rng = new Rng(seed);
  const n = dims[0] * dims[1] * dims[2];
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = rng.uniform(-50, 150);
  return { data, dims, spacing: [1, 1, 2], origin: [0, 0, 0], direction: [...IDENTITY3], units, notices: [], source: { format: 'test', name: 'test scan' } };
}

/** A net whose BatchNorm statistics are not the identity. */
function net(seed: number, nFeat = 2, outChannels = 3): UNetPipe {
  const n = new UNetPipe({ nFeat, outChannels, seed });
  for (const [key, p] of n.namedParameters()) {
    if (key.endsWith('running_var')) p.variable.assign(tf.randomUniform(p.variable.shape, 0.5, 2, 'float32', seed + 1));
    if (key.endsWith('running_mean')) p.variable.assign(tf.randomNormal(p.variable.shape, 0, 0.2, 'float32', seed + 2));
  }
  return n;
}

describe('unetPipeInput', () => {
  it('windows HU like the 3D pipeline, pads each axis to a multiple of 32 symmetrically, keeps (k, j, i) order', () => {
    const v = scan([3, 2, 33], 1, 'HU');
    v.data.fill(-2000);
    v.data[0] = -1400; // (0,0,0)
    v.data[1] = -650; // (1,0,0) -> 0.5
    v.data[2 + 3 * (1 + 2 * 32)] = 100; // (2,1,32) -> 1
    v.data[1 + 3 * (0 + 2 * 5)] = 3000; // (1,0,5) -> clipped to 1
    const x = unetPipeInput(v);
    expect(x.size).toEqual([64, 32, 32]);
    expect(x.scanSize).toEqual([33, 2, 3]);
    // pad 31 -> 15 before; 30 -> 15; 29 -> 14
    expect(x.offset).toEqual([15, 15, 14]);
    const at = (k: number, j: number, i: number) => x.data[i + x.offset[2] + 32 * (j + x.offset[1] + 32 * (k + x.offset[0]))];
    expect(at(0, 0, 0)).toBe(0);
    expect(at(0, 0, 1)).toBeCloseTo(0.5, 6);
    expect(at(32, 1, 2)).toBe(1);
    expect(at(5, 0, 1)).toBe(1);
    // Nothing else is non-zero (the padding is 0, and -2000 HU clips to 0).
    expect(x.data.reduce((a, b) => a + b, 0)).toBeCloseTo(2.5, 5);
  });

  it('min-max scales scans that are not in HU', () => {
    const v = scan([2, 2, 2], 2, 'unknown');
    v.data.set([10, 20, 30, 40, 50, 60, 70, 90]);
    const x = unetPipeInput(v);
    expect(x.offset).toEqual([15, 15, 15]);
    expect(x.data[15 + 32 * (15 + 32 * 15)]).toBe(0);
    expect(x.data[16 + 32 * (16 + 32 * 16)]).toBe(1);
    expect(x.data[15 + 32 * (16 + 32 * 15)]).toBeCloseTo(20 / 80, 6);
  });
});

describe('segmentVolumeStaged', () => {
  it('three stages with parked skips equal the whole network, and the argmax lands on the scan grid', async () => {
    const v = scan([20, 9, 40], 3);
    const n = net(7);
    const stages = stagesOf([10, 14, 6]);
    const before = tf.memory().numTensors;
    const seen: string[] = [];
    const res = await segmentVolumeStaged(n, v, {
      stages,
      parkSkips: true,
      compareWhole: true,
      onProgress: (p) => seen.push(p.phase === 'whole' ? 'whole' : `${p.stage}/${p.stages}`),
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(seen).toEqual(['0/3', '1/3', '2/3', 'whole']);
    expect(res.paddedSize).toEqual([64, 32, 32]);
    expect(res.offset).toEqual([12, 11, 6]);
    expect(res.maxAbsDiff).toBeLessThan(1e-4);
    expect(res.mask).toHaveLength(20 * 9 * 40);
    expect(res.classVoxels.reduce((a, b) => a + b, 0)).toBe(20 * 9 * 40);
    // Independent reference: min-max by hand, tf.pad, the whole network, crop, argmax.
    const values = Array.from(v.data);
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    const want = tf.tidy(() => {
      const x = tf.div(tf.sub(tf.tensor5d(v.data as Float32Array, [1, 40, 9, 20, 1]), lo), hi - lo);
      const padded = tf.pad(x, [[0, 0], [12, 12], [11, 12], [6, 6], [0, 0]]);
      const y = n.apply(padded);
      return tf.argMax(tf.slice(y, [0, 12, 11, 6, 0], [1, 40, 9, 20, 3]), 4).dataSync();
    });
    let same = 0;
    for (let i = 0; i < want.length; i++) if (want[i] === res.mask[i]) same++;
    expect(same).toBe(want.length);
    // Several classes actually occur, so a transposed or shifted mask would not match by chance.
    expect(res.classVoxels.filter((c) => c > 0).length).toBeGreaterThan(1);
    n.dispose();
  });

  it('an abort between stages rejects with AbortError and leaves tf.memory unchanged', async () => {
    const v = scan([32, 32, 32], 4);
    const n = net(11);
    const before = tf.memory();
    const ctrl = new AbortController();
    const run = segmentVolumeStaged(n, v, {
      stages: stagesOf([8, 8, 8, 6]),
      parkSkips: true,
      compareWhole: true,
      signal: ctrl.signal,
      onProgress: (p) => p.phase !== 'whole' && p.stage === 1 && ctrl.abort(),
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
    n.dispose();
  });
});

describe('profileForSize', () => {
  it('a profile extrapolated from two smaller proxies has the directly measured tensor sizes', async () => {
    const n = net(5, 2, 2);
    const direct = await profileLayers(n, [1, 128, 32, 64, 1], { runs: 0 });
    const scaled = await profileForSize(n, [128, 32, 64]); // measured on 32×32×64 and 64×32×64
    const ratio = (a: number, b: number) => (b === 0 ? (a === 0 ? 1 : Infinity) : a / b);
    expect(scaled.inputShape).toEqual([1, 128, 32, 64, 1]);
    expect(scaled.inputBytes).toBe(direct.inputBytes);
    for (const [i, l] of direct.layers.entries()) {
      const s = scaled.layers[i];
      expect(s.outputShape, l.name).toEqual(l.outputShape);
      expect([s.inputBytes, s.outputBytes, s.stashedBytes, s.stashAliveBytes], l.name).toEqual([l.inputBytes, l.outputBytes, l.stashedBytes, l.stashAliveBytes]);
      expect(s.paramBytes).toBe(l.paramBytes);
      // Kernel temporaries (e.g. a padded copy with its halo) scale only approximately.
      for (const f of ['largestTensorBytes', 'peakBytes', 'latentBytes'] as const) {
        expect(ratio(s[f], l[f]), `${l.name} ${f}`).toBeGreaterThan(0.75);
        expect(ratio(s[f], l[f]), `${l.name} ${f}`).toBeLessThan(1.34);
      }
    }
    // Extrapolating to a size already measured gives that measurement back.
    const small = await profileLayers(n, [1, 32, 32, 64, 1], { runs: 0 });
    expect(extrapolateProfile(small, direct, [1, 128, 32, 64, 1])).toEqual(direct);
    n.dispose();
  });
});
