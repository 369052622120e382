import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { affineLPS, affineToRAS, geometryFromLPS, type Mat3 } from '../volume';
import type { MetaImage } from './image';
import { invert } from './invert';
import { fromMat4, matmul, matvec, transpose, type Matrix } from './matrix';
import { Spacing, Spacingd, computeShapeOffset, zoomAffine } from './spacing';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function ramp(shape: number[], affine: number[], f: (i: number, j: number, k: number) => number): MetaImage {
  const [n0, n1, n2] = shape;
  const data = new Float32Array(n0 * n1 * n2);
  for (let i = 0; i < n0; i++) for (let j = 0; j < n1; j++) for (let k = 0; k < n2; k++) data[(i * n1 + j) * n2 + k] = f(i, j, k);
  return { data, shape: [1, ...shape], affine };
}

const I4 = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];

describe('Spacing', () => {
  it('2× downsample of a linear ramp: out_d = round((n−1)/2 + 1), values exact, affine diag(2)', async () => {
    const img = ramp([9, 5, 7], I4, (i, j, k) => 2 * i + 3 * j - k);
    const out = await new Spacing({ pixdim: 2 }).call(img);
    expect(out.shape).toEqual([1, 5, 3, 4]);
    expect(out.affine).toEqual([2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1]);
    for (let i = 0; i < 5; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 4; k++) expect(out.data[(i * 3 + j) * 4 + k]).toBeCloseTo(4 * i + 6 * j - 2 * k, 4);
  });

  it('non-integer factors interpolate a linear ramp exactly (trilinear)', async () => {
    const img = ramp([7, 4, 3], I4, (i, j, k) => i - 2 * j + 0.5 * k);
    const out = await new Spacing({ pixdim: [1.5, 0.75, 1] }).call(img);
    expect(out.shape).toEqual([1, 5, 5, 3]);
    for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) for (let k = 0; k < 3; k++) expect(out.data[(i * 5 + j) * 3 + k]).toBeCloseTo(1.5 * i - 1.5 * j + 0.5 * k, 4);
  });

  it('rounds the output shape half-to-even like numpy (ptp + 1 = 3.5 → 4, 4.5 → 4)', () => {
    const d = (n: number) => computeShapeOffset([n], [[1, 0], [0, 1]], [[2, 0], [0, 1]]).shape[0];
    expect([d(6), d(8), d(7), d(9)]).toEqual([4, 4, 4, 5]);
  });

  it('keeps a flipped axis and puts the corner that is first in output order at the origin', async () => {
    const A = [-1, 0, 0, 10, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1];
    const out = await new Spacing({ pixdim: [2, 0.5, -1] }).call(ramp([5, 3, 2], A, (i) => i));
    expect(out.shape).toEqual([1, 3, 5, 2]);
    expect(out.affine).toEqual([-2, 0, 0, 10, 0, 0.5, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1]); // pixdim −1 keeps 2
  });

  it('on an oblique, anisotropic grid samples the same world-linear function at every output centre', async () => {
    const c = Math.cos(0.4);
    const s = Math.sin(0.4);
    const direction: Mat3 = [c, s, 0, -s, c, 0, 0, 0, 1];
    const geom = { spacing: [0.8, 1.1, 2.5] as [number, number, number], origin: [-3, 4, 10] as [number, number, number], direction };
    const A = affineLPS(geom);
    const f = (p: number[]) => 0.3 * p[0] - 0.2 * p[1] + 0.1 * p[2] + 5;
    const Am = fromMat4(A);
    const img = ramp([9, 8, 5], A, (i, j, k) => f(matvec(Am, [i, j, k, 1])));
    const out = await new Spacing({ pixdim: [1.3, 0.9, 1.7] }).call(img);
    // the direction is kept, the zooms replaced
    const g = geometryFromLPS(out.affine);
    g.direction.forEach((v, n) => expect(v).toBeCloseTo(direction[n], 12));
    g.spacing.forEach((v, n) => expect(v).toBeCloseTo([1.3, 0.9, 1.7][n], 12));
    expect(out.shape).toEqual([1, Math.round((8 * 0.8) / 1.3) + 1, Math.round((7 * 1.1) / 0.9) + 1, Math.round((4 * 2.5) / 1.7) + 1]);
    g.origin.forEach((v, n) => expect(v).toBeCloseTo(geom.origin[n], 12)); // index-0 corner stays
    const B = fromMat4(out.affine);
    const [, n0, n1, n2] = out.shape;
    let checked = 0;
    for (let i = 0; i < n0; i++) for (let j = 0; j < n1; j++) for (let k = 0; k < n2; k++) {
      const w = matvec(B, [i, j, k, 1]);
      const src = [(i * 1.3) / 0.8, (j * 0.9) / 1.1, (k * 1.7) / 2.5];
      if (src[0] > 8 || src[1] > 7 || src[2] > 4) continue; // border-clamped beyond the input
      expect(out.data[(i * n1 + j) * n2 + k]).toBeCloseTo(f(w), 3);
      checked++;
    }
    expect(checked).toBeGreaterThan(200);
  });

  it('zoom_affine splits a sheared affine as rotation · upper-triangular (Cholesky) and sets the zooms', () => {
    const rzs: Matrix = [
      [1.2, 0.3, 0.1],
      [0.1, 0.9, -0.2],
      [0.05, 0.2, 2.0],
    ];
    const A = [...rzs.map((r, n) => [...r, n]), [0, 0, 0, 1]];
    const Z = zoomAffine(A, [2, 3, 4]);
    const R = Z.slice(0, 3).map((r) => r.slice(0, 3).map((v, m) => v / [2, 3, 4][m]));
    const RtR = matmul(transpose(R), R);
    RtR.forEach((r, a) => r.forEach((v, b) => expect(v).toBeCloseTo(a === b ? 1 : 0, 12)));
    // Rᵀ·RZS must be upper triangular with a positive diagonal
    const U = matmul(transpose(R), rzs);
    expect(U[1][0]).toBeCloseTo(0, 12);
    expect(U[2][0]).toBeCloseTo(0, 12);
    expect(U[2][1]).toBeCloseTo(0, 12);
    [0, 1, 2].forEach((d) => expect(U[d][d]).toBeGreaterThan(0));
    expect(Z[0][3]).toBe(0);
  });

  it('diagonal=True resamples onto RAS-aligned axes (diag(pixdim) in RAS)', async () => {
    const out = await new Spacing({ pixdim: [2, 2, 2], diagonal: true }).call(ramp([4, 4, 4], I4, () => 1));
    const ras = affineToRAS(geometryFromLPS(out.affine));
    expect([ras[0], ras[5], ras[10]]).toEqual([2, 2, 2]);
    expect([ras[1], ras[2], ras[4], ras[6], ras[8], ras[9]].every((v) => v === 0)).toBe(true);
  });

  it('labels default to nearest; same spacing is a no-op; min/max_pixdim skip resampling', async () => {
    const lab: MetaImage = { ...ramp([6, 6, 6], I4, (i, j) => (i + j) % 3), meta: { units: 'label' } };
    const out = await new Spacing({ pixdim: 0.7 }).call(lab);
    expect(new Set(out.data)).toEqual(new Set([0, 1, 2]));
    expect(out.meta?.applied_operations?.[0].extra.mode).toBe('nearest');
    const same = await new Spacing({ pixdim: 1 }).call(lab);
    expect(Array.from(same.data)).toEqual(Array.from(lab.data));
    expect(same.affine).toEqual(I4);
    const a12 = [1.2, 0, 0, 0, 0, 1.2, 0, 0, 0, 0, 1.2, 0, 0, 0, 0, 1];
    const kept = await new Spacing({ pixdim: 1, max_pixdim: [1.5, 1.5, 1.5] }).call(ramp([3, 3, 3], a12, () => 2));
    expect(kept.shape).toEqual([1, 3, 3, 3]);
    expect(kept.affine).toEqual(a12);
  });

  it('works on 2D images and inverts back onto the original grid', async () => {
    const two: MetaImage = { data: Float32Array.from({ length: 30 }, (_, v) => Math.floor(v / 6) * 2 + (v % 6)), shape: [1, 5, 6], affine: I4 };
    const fwd = await new Spacing({ pixdim: [0.5, 2] }).call(two);
    expect(fwd.shape).toEqual([1, 9, 4]);
    const back = await invert(fwd);
    expect(back.shape).toEqual([1, 5, 6]);
    expect(back.affine).toEqual(I4);
    // dim 1 was sampled at 0, 2, 4, 6 (6 border-clamped to 5): the ramp is linear, so the round
    // trip is exact for columns 0…4; column 5 interpolates between in(4) and the clamped in(5).
    back.data.forEach((v, n) => {
      const col = n % 6;
      expect(v).toBeCloseTo(col < 5 ? two.data[n] : (two.data[n - 1] + two.data[n]) / 2, 4);
    });
  });

  it('Spacingd: per-key modes, one output shape for keys on the same grid', async () => {
    const img = ramp([7, 7, 7], I4, (i) => i);
    const lab: MetaImage = { ...ramp([7, 7, 7], I4, (i) => (i > 3 ? 1 : 0)) };
    const d = await new Spacingd({ keys: ['image', 'label'], pixdim: 1.4, mode: ['bilinear', 'nearest'] }).call({ image: img, label: lab });
    const a = d.image as MetaImage;
    const b = d.label as MetaImage;
    expect(b.shape).toEqual(a.shape);
    expect(new Set(b.data)).toEqual(new Set([0, 1]));
    expect(a.data[1 * 25]).toBeCloseTo(1.4, 4);
  });
});
