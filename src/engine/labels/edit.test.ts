import { describe, expect, it } from 'vitest';
import { fillHolesInSlice, interpolateBetweenSlices } from './edit';
import type { Vec3 } from '../volume';

const idx = (dims: Vec3, i: number, j: number, k: number) => i + dims[0] * (j + dims[1] * k);

describe('label edits', () => {
  it('fills the inside of a closed outline and leaves open outlines alone', () => {
    const dims: Vec3 = [7, 7, 2];
    const mask = new Uint8Array(98);
    for (let t = 1; t <= 5; t++) {
      for (const [i, j] of [[t, 1], [t, 5], [1, t], [5, t]]) mask[idx(dims, i, j, 0)] = 1;
      // Slice 1: a U shape, open at the top.
      for (const [i, j] of [[t, 5], [1, t], [5, t]]) mask[idx(dims, i, j, 1)] = 1;
    }
    expect(fillHolesInSlice(mask, dims, 0)).toBe(9);
    expect(mask[idx(dims, 3, 3, 0)]).toBe(1);
    expect(fillHolesInSlice(mask, dims, 1)).toBe(0);
  });

  it('interpolates a disc growing between two annotated slices', () => {
    const dims: Vec3 = [21, 21, 5];
    const mask = new Uint8Array(21 * 21 * 5);
    const disc = (k: number, r: number) => {
      for (let j = 0; j < 21; j++) for (let i = 0; i < 21; i++) if ((i - 10) ** 2 + (j - 10) ** 2 <= r * r) mask[idx(dims, i, j, k)] = 1;
    };
    disc(0, 2);
    disc(4, 6);
    expect(interpolateBetweenSlices(mask, dims, [1, 1, 1])).toEqual([1, 2, 3]);
    // Radii interpolate linearly (3, 4, 5): count the row through the centre.
    for (const [k, r] of [[1, 3], [2, 4], [3, 5]]) {
      let n = 0;
      for (let i = 0; i < 21; i++) n += mask[idx(dims, i, 10, k)];
      expect(n).toBe(2 * r + 1);
    }
  });
});
