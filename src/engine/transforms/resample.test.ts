import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../random';
import { matvec, type Matrix } from './matrix';
import { resample, type GridPadMode, type InterpMode } from './resample';
import { referenceSample } from './resample.reference';

/** Output index list of a C-order grid. */
function indices(shape: number[]): number[][] {
  const out: number[][] = [];
  const rec = (prefix: number[]) => {
    if (prefix.length === shape.length) out.push(prefix);
    else for (let i = 0; i < shape[prefix.length]; i++) rec([...prefix, i]);
  };
  rec([]);
  return out;
}

function randomImage(shape: number[], seed: number): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r.uniform(-5, 5));
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

// A rotation + scale + shift that sends part of the output outside the 6×7×5 input.
// Irregular coefficients keep nearest-neighbour lookups away from exact .5 ties, where float32
// (device) and float64 (reference) could legitimately round differently.
const oblique: Matrix = [
  [0.9137, 0.3071, -0.1123, -1.2391],
  [-0.2531, 1.1093, 0.2017, 0.7177],
  [0.1519, -0.2083, 0.8111, -0.9013],
  [0, 0, 0, 1],
];

// wasm too: it is the app's backend without a GPU, and its int32 ClipByValue does not clamp (see cornerData).
for (const backend of ['cpu', 'wasm'] as const) describe(`resample (${backend} backend) against the plain-JS reference`, () => {
  beforeAll(async () => {
    await tf.setBackend(backend);
    await tf.ready();
  });

  const shape = [2, 6, 7, 5];
  const data = randomImage(shape, 11);
  const outSp = [5, 8, 6];
  const pts = indices(outSp).map((o) => matvec(oblique, [...o, 1]).slice(0, 3));

  for (const mode of ['bilinear', 'nearest'] as InterpMode[]) {
    for (const pad of ['zeros', 'border', 'reflection'] as GridPadMode[]) {
      for (const align of [false, true]) {
        it(`${mode} / ${pad} / align_corners=${align}: affine coords and grid coords agree with the reference`, async () => {
          const ref = referenceSample(data, shape, pts, mode, pad, align);
          const viaAffine = await resample({ data, shape }, outSp, { affine: oblique }, { mode, padding_mode: pad, align_corners: align });
          expect(maxDiff(viaAffine, ref)).toBeLessThan(1e-5);
          const grid = new Float32Array(3 * pts.length);
          pts.forEach((p, k) => p.forEach((v, d) => (grid[d * pts.length + k] = v)));
          const viaGrid = await resample({ data, shape }, outSp, { grid }, { mode, padding_mode: pad, align_corners: align });
          expect(maxDiff(viaGrid, ref)).toBeLessThan(1e-5);
        });
      }
    }
  }

  it('gives the same result when forced to split into many input slabs and output chunks', async () => {
    const whole = await resample({ data, shape }, outSp, { affine: oblique }, { padding_mode: 'reflection' });
    // 240 bytes = 60 floats: 30-voxel slabs of the 210-voxel input, 30-voxel output chunks.
    const split = await resample({ data, shape }, outSp, { affine: oblique }, { padding_mode: 'reflection', maxTensorBytes: 240 });
    expect(maxDiff(split, whole)).toBeLessThan(1e-6);
  });

  it('is exact at voxel centres and reproduces linear functions (2D bilinear)', async () => {
    const sh = [1, 4, 5];
    const ramp = Float32Array.from(indices([4, 5]).map(([i, j]) => 3 * i - 2 * j + 1));
    const m: Matrix = [
      [0.5, 0, 0.25],
      [0, 0.75, 0.5],
      [0, 0, 1],
    ];
    const out = await resample({ data: ramp, shape: sh }, [7, 6], { affine: m }, { mode: 'bilinear', padding_mode: 'zeros' });
    indices([7, 6]).forEach(([o0, o1], k) => {
      const x = 0.5 * o0 + 0.25;
      const y = 0.75 * o1 + 0.5;
      if (x <= 3 && y <= 4) expect(out[k]).toBeCloseTo(3 * x - 2 * y + 1, 5);
    });
    const same = await resample({ data: ramp, shape: sh }, [4, 5], { affine: [[1, 0, 0], [0, 1, 0], [0, 0, 1]] });
    expect(Array.from(same)).toEqual(Array.from(ramp));
  });

  it('keeps integer labels exact with nearest and disposes every intermediate tensor', async () => {
    const labels = Int16Array.from({ length: 6 * 7 * 5 }, (_, i) => i % 7);
    const before = tf.memory().numTensors;
    const out = await resample({ data: labels, shape: [1, 6, 7, 5] }, outSp, { affine: oblique }, { mode: 'nearest', padding_mode: 'border' });
    expect(tf.memory().numTensors).toBe(before);
    expect(out.every((v) => Number.isInteger(v) && v >= 0 && v < 7)).toBe(true);
    await resample({ data, shape }, outSp, { affine: oblique }, { maxTensorBytes: 240 });
    expect(tf.memory().numTensors).toBe(before);
  });
});
