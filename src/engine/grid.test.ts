import { describe, expect, it } from 'vitest';
import { exactAxisMap, resampleToGrid } from './grid';
import { voxelIndex, worldLPS, type Volume } from './volume';

function ramp(): Volume & { data: Float32Array } {
  const dims: [number, number, number] = [4, 3, 2];
  const data = new Float32Array(24);
  for (let k = 0; k < 2; k++) for (let j = 0; j < 3; j++) for (let i = 0; i < 4; i++) data[voxelIndex(dims, i, j, k)] = 100 * k + 10 * j + i;
  return { data, dims, spacing: [1, 2, 3], origin: [5, 6, 7], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], units: 'unknown', notices: [] };
}

describe('grid mapping', () => {
  it('copies exactly onto a grid with flipped and permuted axes covering the same voxel centres', () => {
    const src = ramp();
    // dst axes: i' = -j (posterior→anterior), j' = k, k' = i; origin at the far end of j.
    const dst = {
      dims: [3, 2, 4] as [number, number, number],
      spacing: [2, 3, 1] as [number, number, number],
      origin: worldLPS(src, 0, 2, 0),
      direction: [0, -1, 0, 0, 0, 1, 1, 0, 0] as Volume['direction'],
    };
    const map = exactAxisMap(dst, src);
    expect(map).not.toBeNull();
    const out = resampleToGrid(src, dst);
    // dst voxel (a,b,c) sits at src (c, 2-a, b).
    for (let c = 0; c < 4; c++) for (let b = 0; b < 2; b++) for (let a = 0; a < 3; a++) {
      expect(out[voxelIndex(dst.dims, a, b, c)]).toBe(src.data[voxelIndex(src.dims, c, 2 - a, b)]);
    }
  });

  it('samples nearest or trilinear on a half-voxel shifted grid and fills outside', () => {
    const src = ramp();
    const dst = { ...src, origin: [5.5, 6, 7] as [number, number, number] };
    expect(exactAxisMap(dst, src)).toBeNull();
    const lin = resampleToGrid(src, dst, 'linear', -1);
    expect(lin[voxelIndex(src.dims, 0, 1, 1)]).toBeCloseTo(110.5, 5);
    // The last column lies half a voxel past the source: still inside the voxel's extent, clamped.
    expect(lin[voxelIndex(src.dims, 3, 0, 0)]).toBeCloseTo(3, 5);
    const far = resampleToGrid(src, { ...src, origin: [50, 6, 7] }, 'nearest', -1);
    expect(Array.from(far).every((x) => x === -1)).toBe(true);
  });
});
