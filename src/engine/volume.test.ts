import { describe, expect, it } from 'vitest';
import { affineLPS, affineToRAS, axisCodes, geometryFromLPS, geometryFromRAS, sameGrid, voxelOfWorld, worldLPS, type Mat3, type Volume } from './volume';

const oblique = (): Omit<Volume, 'data'> => {
  const c = Math.cos(0.3);
  const s = Math.sin(0.3);
  // i axis rotated in the x-y plane, j axis flipped posterior→anterior, k superior.
  const direction: Mat3 = [c, s, 0, s, -c, 0, 0, 0, 1];
  return { dims: [4, 5, 6], spacing: [0.5, 0.8, 2.5], origin: [10, -20, 30], direction, units: 'HU', notices: [] };
};

describe('Volume geometry', () => {
  it('maps voxels to LPS world by spacing, direction and origin', () => {
    const v = oblique();
    const p = worldLPS(v, 1, 2, 3);
    const c = Math.cos(0.3);
    const s = Math.sin(0.3);
    expect(p[0]).toBeCloseTo(10 + c * 0.5 + s * 1.6, 10);
    expect(p[1]).toBeCloseTo(-20 + s * 0.5 - c * 1.6, 10);
    expect(p[2]).toBeCloseTo(30 + 7.5, 10);
    const back = voxelOfWorld(v, p);
    back.forEach((x, n) => expect(x).toBeCloseTo([1, 2, 3][n], 10));
  });

  it('converts LPS ↔ RAS by negating x and y, and round-trips the geometry', () => {
    const v = oblique();
    const lps = affineLPS(v);
    const ras = affineToRAS(v);
    for (let c = 0; c < 4; c++) {
      expect(ras[c]).toBe(-lps[c]);
      expect(ras[4 + c]).toBe(-lps[4 + c]);
      expect(ras[8 + c]).toBe(lps[8 + c]);
    }
    const g = geometryFromRAS(ras);
    g.spacing.forEach((x, n) => expect(x).toBeCloseTo(v.spacing[n], 12));
    g.origin.forEach((x, n) => expect(x).toBeCloseTo(v.origin[n], 12));
    g.direction.forEach((x, n) => expect(x).toBeCloseTo(v.direction[n], 12));
  });

  it('reports axis codes as nibabel does', () => {
    expect(axisCodes({ direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] })).toBe('LPS');
    // NIfTI RAS identity affine → in LPS the i and j axes point to -x and -y.
    expect(axisCodes(geometryFromRAS([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]))).toBe('RAS');
    expect(axisCodes(geometryFromRAS([-2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1]))).toBe('LAS');
    expect(axisCodes({ direction: [0, 0, -1, 0, 1, 0, -1, 0, 0] })).toBe('IPR');
  });

  it('refuses sheared affines and tells grids apart', () => {
    expect(() => geometryFromLPS([1, 0.5, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1])).toThrow(/shear/);
    const v = oblique();
    expect(sameGrid(v, v)).toBe(true);
    expect(sameGrid(v, { ...v, origin: [10, -20, 30.01] })).toBe(false);
    expect(sameGrid(v, { ...v, dims: [4, 5, 7] })).toBe(false);
  });
});
