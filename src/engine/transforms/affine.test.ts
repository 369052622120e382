import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../random';
import { RandAffine, RandAffined, createRotate } from './affine';
import { Rand2DElastic, Rand2DElasticd, Rand3DElastic, Rand3DElasticd, bicubicUpsample } from './elastic';
import { Rotate90 } from './flip';
import { erf, gaussianKernel1d, gaussianSmooth } from './gaussian';
import type { MetaImage } from './image';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const I4 = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
function rand(shape: number[], seed: number): MetaImage {
  const r = new Rng(seed);
  const n = shape.slice(1).reduce((a, b) => a * b, shape[0]);
  return { data: Float32Array.from({ length: n }, () => r.uniform(0, 10)), shape, affine: I4 };
}
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
const HALF_PI: [number, number] = [Math.PI / 2, Math.PI / 2];

describe('RandAffine', () => {
  it('with no ranges (identity) returns the input values', async () => {
    const x = rand([2, 5, 6], 1);
    const out = await new RandAffine({ prob: 1 }).call(x);
    expect(maxDiff(out.data, x.data)).toBeLessThan(1e-6);
    expect(out.affine).toEqual(I4);
  });

  it('a pure +90° rotation equals rot90(k=3) in 2D and in the (1,2) plane of 3D', async () => {
    const x2 = rand([1, 5, 5], 2);
    const out2 = await new RandAffine({ prob: 1, rotate_range: [HALF_PI] }).call(x2);
    expect(maxDiff(out2.data, new Rotate90({ k: 3 }).call(x2).data)).toBeLessThan(1e-5);
    const x3 = rand([1, 3, 4, 4], 3);
    const out3 = await new RandAffine({ prob: 1, rotate_range: [HALF_PI], padding_mode: 'zeros' }).call(x3);
    expect(maxDiff(out3.data, new Rotate90({ k: 3, spatial_axes: [1, 2] }).call(x3).data)).toBeLessThan(1e-5);
    // the output affine keeps every voxel at its world position: compare with Rotate90's
    new Rotate90({ k: 3 }).call(x2).affine.forEach((v, n) => expect(out2.affine[n]).toBeCloseTo(v, 12));
  });

  it('a translation shifts the array (zeros outside); a scale samples every other voxel', async () => {
    const x = rand([1, 6, 7], 4);
    const out = await new RandAffine({ prob: 1, translate_range: [[2, 2], [-1, -1]], padding_mode: 'zeros' }).call(x);
    for (let i = 0; i < 6; i++) for (let j = 0; j < 7; j++) {
      const si = i + 2;
      const sj = j - 1;
      const want = si < 6 && sj >= 0 ? x.data[si * 7 + sj] : 0;
      expect(out.data[i * 7 + j]).toBeCloseTo(want, 5);
    }
    const y = rand([1, 9, 9], 5);
    const z = await new RandAffine({ prob: 1, scale_range: [[1, 1], [1, 1]], spatial_size: [5, 5] }).call(y);
    // centred: out (o − 2)·2 + 4 = 2o
    for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) expect(z.data[i * 5 + j]).toBeCloseTo(y.data[2 * i * 9 + 2 * j], 5);
  });

  it('not applied: same size → unchanged; other spatial_size → centred crop/pad with the padding mode', async () => {
    const x = rand([1, 4, 4], 6);
    expect(Array.from((await new RandAffine({ prob: 0 }).call(x)).data)).toEqual(Array.from(x.data));
    const c = await new RandAffine({ prob: 0, spatial_size: [2, 6], padding_mode: 'zeros' }).call(x);
    // rows 1..2, columns −1..4
    expect(Array.from(c.data)).toEqual([0, ...Array.from(x.data.subarray(4, 8)), 0, 0, ...Array.from(x.data.subarray(8, 12)), 0]);
  });

  it('RandAffined: one draw for all keys; labels default to nearest', async () => {
    const image = rand([1, 6, 6], 7);
    const label: MetaImage = { data: Float32Array.from({ length: 36 }, (_, v) => (v % 5 === 0 ? 2 : 0)), shape: [1, 6, 6], affine: I4, meta: { units: 'label' } };
    const t = new RandAffined({ keys: ['image', 'label'], prob: 1, rotate_range: [0.5], padding_mode: ['border', 'zeros'] }).setRandomState(11);
    const d = await t.call({ image, label: { ...label }, copy: { ...image, data: Float32Array.from(image.data) } });
    expect(new Set((d.label as MetaImage).data)).toEqual(new Set([0, 2]));
    const again = await new RandAffine({ prob: 1, rotate_range: [0.5], padding_mode: 'border' }).setRandomState(11).call(image);
    expect(t.lastParams?.rotate_params).toHaveLength(1);
    expect(maxDiff((d.image as MetaImage).data, again.data)).toBeLessThan(1e-6);
  });

  it('create_rotate composes the per-axis rotations in MONAI order (x then y then z)', () => {
    const r = createRotate(3, [0.1, 0.2, 0.3]);
    const [a, b, c] = [0.1, 0.2, 0.3];
    // Rx(a)·Ry(b)·Rz(c), first row
    expect(r[0][0]).toBeCloseTo(Math.cos(b) * Math.cos(c), 12);
    expect(r[0][1]).toBeCloseTo(-Math.cos(b) * Math.sin(c), 12);
    expect(r[0][2]).toBeCloseTo(Math.sin(b), 12);
    expect(r[1][2]).toBeCloseTo(-Math.sin(a) * Math.cos(b), 12);
  });
});

describe('Gaussian smoothing', () => {
  it('erf matches reference values', () => {
    const ref: [number, number][] = [
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [2, 0.9953222650189527],
      [2.6, 0.9997639655834707],
      [3, 0.9999779095030014],
      [4, 0.9999999845827421],
    ];
    for (const [x, v] of ref) {
      expect(erf(x)).toBeCloseTo(v, 14);
      expect(erf(-x)).toBeCloseTo(-v, 14);
    }
  });

  it('kernels: erf (HEAD) sums to ≈1 without renormalising, sampled (0.2.0) to exactly 1; tail = int(3σ + 0.5)', () => {
    const k = gaussianKernel1d(2);
    expect(k.length).toBe(2 * 6 + 1);
    expect(k[6]).toBeCloseTo(erf(0.25 / Math.SQRT2) * 2 * 0.5, 7);
    // the erf differences telescope: Σ = erf((tail + ½)·t), t = 0.70710678/σ
    expect(k.reduce((a, b) => a + b, 0)).toBeCloseTo(erf((6.5 * 0.70710678) / 2), 12);
    const s = gaussianKernel1d(2, 3, 'sampled');
    expect(s.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(s[7] / s[6]).toBeCloseTo(Math.exp(-1 / 8), 12);
  });

  it('smooths an impulse into the outer product of kernels, zero-padded; chunking changes nothing', async () => {
    const shape = [1, 5, 6, 7];
    const field = new Float32Array(210);
    field[(2 * 6 + 1) * 7 + 5] = 1; // at (2, 1, 5)
    const out = await gaussianSmooth(field, shape, 0.8);
    const k = gaussianKernel1d(0.8); // tail 2
    const kv = (d: number) => (Math.abs(d) <= 2 ? k[d + 2] : 0);
    for (let i = 0; i < 5; i++) for (let j = 0; j < 6; j++) for (let l = 0; l < 7; l++) expect(out[(i * 6 + j) * 7 + l]).toBeCloseTo(kv(i - 2) * kv(j - 1) * kv(l - 5), 6);
    const r = new Rng(2);
    const noise = Float32Array.from({ length: 3 * 210 }, () => r.uniform(-1, 1));
    const whole = await gaussianSmooth(noise, [3, 5, 6, 7], 3);
    const chunked = await gaussianSmooth(noise, [3, 5, 6, 7], 3, { maxTensorBytes: 64 });
    expect(maxDiff(whole, chunked)).toBeLessThan(1e-6);
  });
});

describe('elastic', () => {
  const ranges = {
    rotate_range: [[0.3, 0.3], [0.2, 0.2], [-0.1, -0.1]] as [number, number][],
    shear_range: [[0.05, 0.05]] as [number, number][],
    translate_range: [[1, 1], [-0.5, -0.5], [0.25, 0.25]] as [number, number][],
    scale_range: [[0.1, 0.1], [-0.1, -0.1], [0, 0]] as [number, number][],
  };

  it('Rand3DElastic with magnitude 0 equals RandAffine with the same affine (grid path vs affine path)', async () => {
    const x = rand([1, 6, 7, 5], 8);
    for (const padding_mode of ['reflection', 'zeros', 'border'] as const) {
      const el = await new Rand3DElastic({ sigma_range: [1, 2], magnitude_range: [0, 0], prob: 1, ...ranges, padding_mode, spatial_size: [5, 6, 4] }).setRandomState(1).call(x);
      const af = await new RandAffine({ prob: 1, ...ranges, padding_mode, spatial_size: [5, 6, 4] }).call(x);
      expect(maxDiff(el.data, af.data)).toBeLessThan(1e-4);
      el.affine.forEach((v, n) => expect(v).toBeCloseTo(af.affine[n], 12));
    }
  });

  it('Rand2DElastic with magnitude 0 and spacing 1 equals RandAffine (the upsampling is then the identity)', async () => {
    const x = rand([1, 12, 10], 9);
    const r2 = { rotate_range: [[0.4, 0.4]] as [number, number][], translate_range: [[1, 1], [-2, -2]] as [number, number][] };
    const el = await new Rand2DElastic({ spacing: 1, magnitude_range: [0, 0], prob: 1, ...r2, spatial_size: [8, 9] }).setRandomState(3).call(x);
    const af = await new RandAffine({ prob: 1, ...r2, spatial_size: [8, 9] }).call(x);
    expect(maxDiff(el.data, af.data)).toBeLessThan(1e-4);
  });

  it('torch bicubic (A = −0.75, align_corners=False, clamped taps) on hand-computed coefficients', () => {
    // f = column index on a 4×5 grid, upsampled ×2. Taps for t = ¼: c2(1¼), c1(¼), c1(¾), c2(1¾)
    // = −0.10546875, 0.87890625, 0.26171875, −0.03515625 (A = −0.75 does not reproduce lines exactly).
    const src = Float32Array.from({ length: 20 }, (_, v) => v % 5);
    const up = bicubicUpsample(src, 1, 4, 5, 8, 10);
    expect(up[3]).toBeCloseTo(0.87890625 * 1 + 0.26171875 * 2 - 0.03515625 * 3, 6); // X=3: real 1.25
    expect(up[4]).toBeCloseTo(0.26171875 * 1 + 0.87890625 * 2 - 0.10546875 * 3, 6); // X=4: real 1.75
    // X=0: real −0.25 → i0 = −1, t = ¾, taps −2…1 clamped to 0,0,0,1 → only c2(1¼)·1
    expect(up[0]).toBeCloseTo(-0.10546875, 6);
    for (let Y = 0; Y < 8; Y++) expect(up[Y * 10 + 3]).toBeCloseTo(up[3], 6); // rows are constant
    const flat = bicubicUpsample(new Float32Array(20).fill(3), 1, 4, 5, 7, 9);
    flat.forEach((v) => expect(v).toBeCloseTo(3, 6));
  });

  it('with magnitude > 0: reproducible per seed, one draw for all keys, labels stay labels', async () => {
    const image = rand([1, 8, 8, 8], 10);
    const label: MetaImage = { data: Float32Array.from(image.data, (v) => (v > 5 ? 1 : 0)), shape: [1, 8, 8, 8], affine: I4 };
    const make = () => new Rand3DElasticd({ keys: ['image', 'label'], sigma_range: [1, 2], magnitude_range: [1, 2], prob: 1, mode: ['bilinear', 'nearest'], padding_mode: ['border', 'zeros'] });
    const a = await make().setRandomState(4).call({ image, label });
    const b = await make().setRandomState(4).call({ image, label });
    expect(Array.from((a.image as MetaImage).data)).toEqual(Array.from((b.image as MetaImage).data));
    expect(maxDiff((a.image as MetaImage).data, image.data)).toBeGreaterThan(0.1);
    expect(new Set((a.label as MetaImage).data)).toEqual(new Set([0, 1]));
    // nearest label of the same warp = the warped image thresholded where the warp hits voxel centres exactly: check agreement rate
    const img2 = (a.image as MetaImage).data;
    const lab2 = (a.label as MetaImage).data;
    let agree = 0;
    for (let i = 0; i < img2.length; i++) if ((img2[i] > 5 ? 1 : 0) === lab2[i]) agree++;
    expect(agree / img2.length).toBeGreaterThan(0.6);
    const two = await new Rand2DElasticd({ keys: ['x'], spacing: 2, magnitude_range: [1, 1], prob: 1 }).setRandomState(1).call({ x: rand([1, 6, 6], 1) });
    expect((two.x as MetaImage).shape).toEqual([1, 6, 6]);
  });
});
