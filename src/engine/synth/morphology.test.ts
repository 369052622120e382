import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../volume';
import { boundingBox, connectedComponents, countVoxels, cropMask, offsetMask, pasteMask, signedDistance } from './morphology';

const idx = (d: Vec3, i: number, j: number, k: number) => i + d[0] * (j + d[1] * k);

/** Brute force: distance (mm) from voxel p to the nearest voxel with mask value `value`. */
function nearest(mask: Uint8Array, dims: Vec3, spacing: Vec3, p: Vec3, value: number): number {
  let best = Infinity;
  for (let k = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++) {
    if (mask[idx(dims, i, j, k)] !== value) continue;
    best = Math.min(best, Math.hypot((i - p[0]) * spacing[0], (j - p[1]) * spacing[1], (k - p[2]) * spacing[2]));
  }
  return best;
}

function blob(dims: Vec3): Uint8Array {
  const m = new Uint8Array(dims[0] * dims[1] * dims[2]);
  for (let k = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++) {
    // An ellipsoid plus an off-axis lump: not symmetric, so axis mix-ups show.
    const e = ((i - 9) / 5) ** 2 + ((j - 8) / 3.5) ** 2 + ((k - 5) / 2.2) ** 2 <= 1;
    const lump = (i - 13) ** 2 + (j - 11) ** 2 + ((k - 6) * 1.5) ** 2 <= 5;
    if (e || lump) m[idx(dims, i, j, k)] = 1;
  }
  return m;
}

describe('connectedComponents', () => {
  it('joins voxels touching by a corner in 3D (26-connectivity) and splits separate ones', () => {
    const dims: Vec3 = [6, 6, 6];
    const m = new Uint8Array(216);
    m[idx(dims, 1, 1, 1)] = 1;
    m[idx(dims, 2, 2, 2)] = 1; // corner neighbour of the first
    m[idx(dims, 4, 4, 4)] = 1; // two steps away: separate
    m[idx(dims, 5, 4, 4)] = 1;
    const comps = connectedComponents(m, dims).map((c) => [...c].sort((a, b) => a - b));
    expect(comps).toEqual([
      [idx(dims, 1, 1, 1), idx(dims, 2, 2, 2)],
      [idx(dims, 4, 4, 4), idx(dims, 5, 4, 4)],
    ]);
  });

  it('uses 8-connectivity on a single slice and never wraps around row ends', () => {
    const dims: Vec3 = [4, 3, 1];
    const m = new Uint8Array(12);
    m[3] = 1; // (3,0)
    m[4] = 1; // (0,1): next in memory, but across the row end
    m[9] = 1; // (1,2): diagonal to (0,1)
    const comps = connectedComponents(m, dims).map((c) => [...c].sort((a, b) => a - b));
    expect(comps).toEqual([[3], [4, 9]]);
  });
});

describe('box, crop and paste', () => {
  it('finds the bounding box and round-trips a crop', () => {
    const dims: Vec3 = [20, 18, 12];
    const m = blob(dims);
    const box = boundingBox(m, dims)!;
    // Ellipsoid: i 4…14, j 5…11, k 3…7; lump (radius √5 at 13,11,6): i ≤ 15, j ≤ 13, k 5…7.
    expect(box).toEqual({ lo: [4, 5, 3], hi: [16, 14, 8] });
    const crop = cropMask(m, dims, box);
    expect(countVoxels(crop)).toBe(countVoxels(m));
    const back = new Uint8Array(m.length);
    pasteMask(back, dims, box, crop);
    expect(back).toEqual(m);
    expect(boundingBox(new Uint8Array(8), [2, 2, 2])).toBeNull();
    // The same mask at an unaligned offset takes the byte-by-byte path.
    const shifted = new Uint8Array(m.length + 1).subarray(1);
    shifted.set(m);
    expect(boundingBox(shifted, dims)).toEqual(box);
  });
});

describe('offsetMask and signedDistance (exact Euclidean, anisotropic)', () => {
  const dims: Vec3 = [20, 18, 12];
  const spacing: Vec3 = [0.8, 1, 1.7];

  it('dilation adds exactly the voxels within r mm of the mask', () => {
    const m = blob(dims);
    const out = m.slice();
    offsetMask(out, dims, spacing, 2.1);
    for (let k = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++) {
      const expected = nearest(m, dims, spacing, [i, j, k], 1) <= 2.1 ? 1 : 0;
      expect(out[idx(dims, i, j, k)], `voxel ${i},${j},${k}`).toBe(expected);
    }
    expect(countVoxels(out)).toBeGreaterThan(countVoxels(m));
  });

  it('erosion keeps exactly the voxels farther than r mm from the background', () => {
    const m = blob(dims);
    const out = m.slice();
    offsetMask(out, dims, spacing, -1.6);
    for (let k = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++) {
      const expected = m[idx(dims, i, j, k)] && nearest(m, dims, spacing, [i, j, k], 0) > 1.6 ? 1 : 0;
      expect(out[idx(dims, i, j, k)], `voxel ${i},${j},${k}`).toBe(expected);
    }
    expect(countVoxels(out)).toBeLessThan(countVoxels(m));
    expect(countVoxels(out)).toBeGreaterThan(0);
  });

  it('signed distance is negative exactly inside', () => {
    const m = blob(dims);
    const sdf = signedDistance(m, dims, spacing);
    for (let x = 0; x < m.length; x++) expect(sdf[x] < 0).toBe(m[x] === 1);
    // A voxel next to the surface along i is one spacing away.
    const box = boundingBox(m, dims)!;
    expect(sdf[idx(dims, box.lo[0] - 1, 8, 5)]).toBeCloseTo(0.8, 12);
  });
});
