import { describe, expect, it } from 'vitest';
import { Rng } from '../random';
import type { Vec3 } from '../volume';
import { distanceTransform, squaredDistanceTransform } from './distance-transform';

/** Seeded draws in [0, 1) (the project's PRNG) so failures reproduce. */
const rng = (seed: number): (() => number) => {
  const r = new Rng(seed);
  return () => r.random();
};

function bruteForce(features: Uint8Array, dims: Vec3, spacing: Vec3): Float64Array {
  const [nx, ny, nz] = dims;
  const sites: Vec3[] = [];
  for (let k = 0, x = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++, x++) if (features[x]) sites.push([i, j, k]);
  const out = new Float64Array(nx * ny * nz);
  for (let k = 0, x = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, x++) {
        let best = Infinity;
        for (const [a, b, c] of sites) {
          const d = ((i - a) * spacing[0]) ** 2 + ((j - b) * spacing[1]) ** 2 + ((k - c) * spacing[2]) ** 2;
          if (d < best) best = d;
        }
        out[x] = best;
      }
    }
  }
  return out;
}

describe('exact Euclidean distance transform', () => {
  it('equals brute force on random anisotropic masks (1e-9)', () => {
    const rand = rng(42);
    for (let trial = 0; trial < 40; trial++) {
      const dims: Vec3 = [1 + Math.floor(rand() * 11), 1 + Math.floor(rand() * 9), 1 + Math.floor(rand() * 8)];
      const spacing: Vec3 = [0.3 + rand() * 3, 0.3 + rand() * 3, 0.3 + rand() * 3];
      const density = [0.002, 0.02, 0.1, 0.5][trial % 4];
      const features = Uint8Array.from({ length: dims[0] * dims[1] * dims[2] }, () => (rand() < density ? 1 : 0));
      const expected = bruteForce(features, dims, spacing);
      const got = squaredDistanceTransform(features, dims, spacing);
      let worst = 0;
      for (let x = 0; x < got.length; x++) {
        if (expected[x] === Infinity) expect(got[x]).toBe(Infinity);
        else worst = Math.max(worst, Math.abs(got[x] - expected[x]));
      }
      expect(worst).toBeLessThanOrEqual(1e-9);
    }
  });

  it('with `at`, the voxels asked for are exact', () => {
    const rand = rng(9);
    const dims: Vec3 = [9, 7, 6];
    const spacing: Vec3 = [0.6, 1.7, 2.9];
    const features = Uint8Array.from({ length: 378 }, () => (rand() < 0.03 ? 1 : 0));
    const at = Uint8Array.from({ length: 378 }, () => (rand() < 0.05 ? 1 : 0));
    const expected = bruteForce(features, dims, spacing);
    const got = squaredDistanceTransform(features, dims, spacing, undefined, at);
    for (let x = 0; x < 378; x++) if (at[x]) expect(Math.abs(got[x] - expected[x])).toBeLessThanOrEqual(1e-9);
  });

  it('one site: distance is the anisotropic norm of the offset; no site: Infinity everywhere', () => {
    const dims: Vec3 = [5, 4, 3];
    const spacing: Vec3 = [0.8, 1.5, 3.0];
    const f = new Uint8Array(60);
    f[1 + 5 * (2 + 4 * 0)] = 1;
    const d = distanceTransform(f, dims, spacing);
    expect(d[4 + 5 * (0 + 4 * 2)]).toBeCloseTo(Math.hypot(3 * 0.8, 2 * 1.5, 2 * 3.0), 12);
    expect(d[1 + 5 * 2]).toBe(0);
    expect([...distanceTransform(new Uint8Array(60), dims, spacing)].every((v) => v === Infinity)).toBe(true);
  });

  it('reuses a given output buffer and rejects mismatched sizes', () => {
    const f = new Uint8Array(8);
    f[0] = 1;
    const out = new Float64Array(8);
    expect(squaredDistanceTransform(f, [2, 2, 2], [1, 1, 1], out)).toBe(out);
    expect(out[7]).toBeCloseTo(3, 12);
    expect(() => squaredDistanceTransform(f, [2, 2, 3], [1, 1, 1])).toThrow(RangeError);
  });
});
