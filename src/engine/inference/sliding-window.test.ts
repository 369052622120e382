import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { importanceMap, slidingWindowInference, windowStarts, type Predictor } from './sliding-window';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const identity: Predictor = (w) => tf.clone(w);
/** Every output voxel of a window = the window's first input value (the input encodes positions). */
const firstValue: Predictor = (w) => tf.tidy(() => tf.mul(tf.onesLike(w), tf.slice(w, new Array(w.rank).fill(0), [-1, ...new Array(w.rank - 2).fill(1), -1])));

/** A predictor that records the first value of every window it sees, in call order. */
function recorder(): { predictor: Predictor; seen: number[]; batches: number[] } {
  const seen: number[] = [];
  const batches: number[] = [];
  return {
    seen,
    batches,
    predictor: (w) => {
      batches.push(w.shape[0]);
      const v = w.dataSync();
      const per = v.length / w.shape[0];
      for (let b = 0; b < w.shape[0]; b++) seen.push(v[b * per]);
      return tf.clone(w);
    },
  };
}

const range = (n: number, f = (i: number) => i) => Array.from({ length: n }, (_, i) => f(i));

describe('window positions (MONAI HEAD dense_patch_slices)', () => {
  it('stops at the first start that reaches the end and clamps it', () => {
    expect(windowStarts(10, 4, 3)).toEqual([0, 3, 6]);
    expect(windowStarts(7, 4, 2)).toEqual([0, 2, 3]);
    expect(windowStarts(5, 3, 1)).toEqual([0, 1, 2]);
    expect(windowStarts(20, 20, 20)).toEqual([0]);
    // COPLE-Net demo along D (roi 20, overlap 0): 45 slices → 0, 20, 25 (HEAD; 0.2.0 gives the same here).
    expect(windowStarts(45, 20, 20)).toEqual([0, 20, 25]);
  });

  it('visits windows first-dim-slowest, item by item, in batches of sw_batch_size (2D, N = 2)', async () => {
    // 7×5 image, value = 100·b + 10·i + j; roi 4×3, overlap 0.5 → intervals int(2) and int(1.5) = 1.
    const x = tf.tensor(range(2 * 7 * 5, (n) => 100 * Math.floor(n / 35) + 10 * Math.floor((n % 35) / 5) + (n % 5)), [2, 7, 5, 1]);
    const rec = recorder();
    const y = await slidingWindowInference(x, [4, 3], 4, rec.predictor, { overlap: 0.5 });
    // Hand: starts along i = 0, 2, then 4 clamped to 7 − 4 = 3; along j = 0, 1, 2.
    const starts = [0, 2, 3].flatMap((i) => [0, 1, 2].map((j) => 10 * i + j));
    expect(rec.seen).toEqual([...starts, ...starts.map((s) => 100 + s)]);
    expect(rec.batches).toEqual([4, 4, 4, 4, 2]);
    expect(Array.from(y.dataSync())).toEqual(Array.from(x.dataSync()));
    x.dispose();
    y.dispose();
  });

  it('blends constant weights as the mean of the covering windows (1D)', async () => {
    const x = tf.tensor(range(10), [1, 10, 1]);
    const y = await slidingWindowInference(x, 4, 2, firstValue, { overlap: 0.25 });
    // Windows [0,4), [3,7), [6,10), each predicting its start.
    expect(Array.from(y.dataSync())).toEqual([0, 0, 0, 1.5, 3, 3, 4.5, 6, 6, 6]);
    tf.dispose([x, y]);
  });

  it('blends gaussian weights by their importance (1D)', async () => {
    // size 6, roi 4, overlap 0.5 → windows at 0 and 2; σ = 0.5, weights [a, b, b, a].
    const a = Math.exp(-4.5);
    const b = Math.exp(-0.5);
    const x = tf.tensor(range(6), [1, 6, 1]);
    const y = await slidingWindowInference(x, 4, 1, firstValue, { overlap: 0.5, mode: 'gaussian' });
    const got = Array.from(y.dataSync());
    const want = [0, 0, (2 * a) / (a + b), (2 * b) / (a + b), 2, 2];
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
    tf.dispose([x, y]);
  });

  it('returns the input for an identity predictor, any overlap, mode and channels', async () => {
    const x = tf.randomUniform([2, 9, 11, 3], -1, 1, 'float32', 7);
    const ref = x.dataSync();
    for (const overlap of [0, 0.25, 0.5, 0.8]) {
      for (const mode of ['constant', 'gaussian'] as const) {
        const y = await slidingWindowInference(x, [4, 5], 3, identity, { overlap, mode });
        expect(y.shape).toEqual([2, 9, 11, 3]);
        const v = y.dataSync();
        for (let n = 0; n < v.length; n++) expect(Math.abs(v[n] - ref[n])).toBeLessThan(1e-6);
        y.dispose();
      }
    }
    x.dispose();
  });

  it('uses the image size for roi components ≤ 0 or null', async () => {
    const x = tf.tensor(range(4 * 6, (n) => 10 * Math.floor(n / 6) + (n % 6)), [1, 4, 6, 1]);
    const rec = recorder();
    const y = await slidingWindowInference(x, [-1, 2], 10, rec.predictor, { overlap: 0 });
    expect(rec.seen).toEqual([0, 2, 4]);
    const rec2 = recorder();
    const y2 = await slidingWindowInference(x, [null, 0], 10, rec2.predictor);
    expect(rec2.seen).toEqual([0]);
    tf.dispose([x, y, y2]);
  });
});

describe('padding where the image is smaller than the ROI', () => {
  // 1D image [10, 11, 12], roi 6 → pad (1, 2); the single window shows the padded content.
  const cases: [string, number[]][] = [
    ['constant', [7, 10, 11, 12, 7, 7]],
    ['reflect', [11, 10, 11, 12, 11, 10]],
    ['replicate', [10, 10, 11, 12, 12, 12]],
    ['circular', [12, 10, 11, 12, 10, 11]],
  ];
  for (const [mode, padded] of cases) {
    it(`${mode}: pads (diff//2, diff − diff//2) and crops the result back`, async () => {
      const x = tf.tensor([10, 11, 12], [1, 3, 1]);
      let window: number[] = [];
      const y = await slidingWindowInference(
        x,
        6,
        1,
        (w) => {
          window = Array.from(w.dataSync());
          return tf.mul(w, 2);
        },
        { paddingMode: mode as 'constant', cval: 7 },
      );
      expect(window).toEqual(padded);
      expect(y.shape).toEqual([1, 3, 1]);
      expect(Array.from(y.dataSync())).toEqual([20, 22, 24]);
      tf.dispose([x, y]);
    });
  }

  it('pads only the dims smaller than the ROI and slides along the others', async () => {
    const x = tf.tensor(range(2 * 9, (n) => 10 * Math.floor(n / 9) + (n % 9)), [1, 2, 9, 1]);
    const rec = recorder();
    const y = await slidingWindowInference(x, [4, 5], 8, rec.predictor, { overlap: 0.5, paddingMode: 'replicate' });
    // Dim 0: 2 → 4, pad (1, 1) by replicate, so each window starts with row 0; dim 1: interval 2, starts 0, 2, 4.
    expect(rec.seen).toEqual([0, 2, 4]);
    expect(Array.from(y.dataSync())).toEqual(Array.from(x.dataSync()));
    tf.dispose([x, y]);
  });
});

describe('importance map (MONAI HEAD compute_importance_map)', () => {
  it('is all ones for constant blending', () => {
    expect(Array.from(importanceMap([2, 3]))).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('is the un-normalised separable gaussian with σ = 0.125·roi', () => {
    // roi 5: σ = 0.625, x = −2..2.
    const m5 = importanceMap([5], 'gaussian');
    const e = (x: number, s: number) => Math.exp(-(x * x) / (2 * s * s));
    [-2, -1, 0, 1, 2].forEach((x, i) => expect(m5[i]).toBeCloseTo(e(x, 0.625), 6));
    expect(m5[2]).toBe(1);
    // roi 4×6: centre values use x = ±0.5 and the product of both axes.
    const m = importanceMap([4, 6], 'gaussian');
    expect(m[1 * 6 + 2]).toBeCloseTo(e(0.5, 0.5) * e(0.5, 0.75), 6);
    expect(m[1 * 6 + 0]).toBeCloseTo(e(0.5, 0.5) * e(2.5, 0.75), 7); // ≈ 2.3e-3
    expect(m[0]).toBeCloseTo(1e-3, 9); // e(1.5)·e(2.5) ≈ 4.3e-5, clamped
    // sigma_scale per dim.
    const m2 = importanceMap([3], 'gaussian', [0.5]);
    expect(m2[0]).toBeCloseTo(e(1, 1.5), 6);
  });

  it('clamps values below 1e-3 up to 1e-3', () => {
    // roi 16: σ = 2, edge x = 7.5 → exp(−7.03) ≈ 8.8e-4 < 1e-3.
    const m = importanceMap([16], 'gaussian');
    expect(m[0]).toBeCloseTo(1e-3, 9);
    expect(m[15]).toBeCloseTo(1e-3, 9);
    expect(m[1]).toBeCloseTo(Math.exp(-(6.5 * 6.5) / 8), 7);
    expect(Math.min(...m)).toBeCloseTo(1e-3, 9);
  });
});

describe('resources', () => {
  it('leaves no tensors behind', async () => {
    const x = tf.randomUniform([1, 6, 10, 2]);
    const before = tf.memory().numTensors;
    for (const paddingMode of ['constant', 'reflect'] as const) {
      const y = await slidingWindowInference(x, [8, 4], 2, (w) => tf.tidy(() => tf.concat([w, tf.neg(w)], 3)), { mode: 'gaussian', paddingMode });
      expect(y.shape).toEqual([1, 6, 10, 4]);
      y.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('rejects with an AbortError when aborted between batches, leaking nothing', async () => {
    const x = tf.randomUniform([1, 12, 1]);
    const before = tf.memory().numTensors;
    const ctl = new AbortController();
    const run = slidingWindowInference(x, 4, 1, identity, { overlap: 0, signal: ctl.signal, onProgress: () => ctl.abort() });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('rejects a predictor that changes the window size', async () => {
    const x = tf.zeros([1, 8, 1]);
    const before = tf.memory().numTensors;
    await expect(slidingWindowInference(x, 4, 1, (w) => tf.slice(w, [0, 0, 0], [-1, 2, -1]))).rejects.toThrow(/keep the window size/);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
