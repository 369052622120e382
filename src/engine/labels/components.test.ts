import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../volume';
import { connectedComponents, keepConfidentComponents, removeSmallObjects } from './components';

const dims: Vec3 = [6, 5, 4];
const at = (i: number, j: number, k: number) => i + dims[0] * (j + dims[1] * k);
/** A mask with `value` at the listed voxels. */
function maskOf(voxels: [number, number, number][], value = 1, into: Uint8Array = new Uint8Array(dims[0] * dims[1] * dims[2])): Uint8Array {
  for (const [i, j, k] of voxels) into[at(i, j, k)] = value;
  return into;
}
const count = (m: Uint8Array) => m.reduce((a, v) => a + (v ? 1 : 0), 0);

describe('connectedComponents', () => {
  it('joins face, edge and corner neighbours at connectivity 1, 2 and 3', () => {
    // (0,0,0)–(1,0,0) share a face; (1,0,0)–(2,1,0) an edge; (2,1,0)–(3,2,1) only a corner.
    const m = maskOf([
      [0, 0, 0],
      [1, 0, 0],
      [2, 1, 0],
      [3, 2, 1],
    ]);
    expect(connectedComponents(m, dims).sizes).toEqual([0, 2, 1, 1]);
    expect(connectedComponents(m, dims, 1).count).toBe(3);
    expect(connectedComponents(m, dims, 2).sizes).toEqual([0, 3, 1]);
    const full = connectedComponents(m, dims, 3);
    expect(full.sizes).toEqual([0, 4]);
    expect(full.boxes[1]).toEqual([0, 0, 0, 3, 2, 1]);
    expect(full.touchesBorder[1]).toBe(true);
    expect([0, 1, 2, 3].map((n) => full.labels[[at(0, 0, 0), at(1, 0, 0), at(2, 1, 0), at(3, 2, 1)][n]])).toEqual([1, 1, 1, 1]);
  });

  it('does not wrap around the grid: the last voxel of a row and the first of the next are apart', () => {
    const m = maskOf([
      [5, 0, 1],
      [0, 1, 1],
    ]);
    expect(connectedComponents(m, dims, 3).count).toBe(2);
  });
});

describe('removeSmallObjects (MONAI RemoveSmallObjects)', () => {
  const three: [number, number, number][] = [
    [1, 1, 1],
    [2, 1, 1],
    [3, 1, 1],
  ];

  it('removes a 3-voxel component at min_size 4 and keeps it at 3 (strictly smaller goes)', () => {
    const m = maskOf(three);
    const gone = removeSmallObjects(m, dims, { minSize: 4 });
    expect(count(gone.mask)).toBe(0);
    expect([gone.components, gone.voxels]).toEqual([1, 3]);
    const kept = removeSmallObjects(m, dims, { minSize: 3 });
    expect(kept.mask).toEqual(m);
    expect([kept.components, kept.voxels]).toEqual([0, 0]);
    // The input is not changed.
    expect(count(m)).toBe(3);
  });

  it('keeps a corner-diagonal pair at connectivity 3 and removes it at connectivity 1', () => {
    const m = maskOf([
      [1, 1, 1],
      [2, 2, 2],
    ]);
    expect(count(removeSmallObjects(m, dims, { minSize: 2, connectivity: 1 }).mask)).toBe(0);
    expect(count(removeSmallObjects(m, dims, { minSize: 2, connectivity: 2 }).mask)).toBe(0);
    expect(removeSmallObjects(m, dims, { minSize: 2, connectivity: 3 }).mask).toEqual(m);
    // The default is connectivity 1, as MONAI's.
    expect(count(removeSmallObjects(m, dims, { minSize: 2 }).mask)).toBe(0);
  });

  it('measures in mm³ with anisotropic spacing: 10 voxels of 2×2×5 mm = 200 mm³ go at 201 and stay at 200', () => {
    // A 5 × 2 slab in one slice: 10 voxels.
    const slab: [number, number, number][] = [];
    for (let i = 0; i < 5; i++) for (let j = 0; j < 2; j++) slab.push([i, j, 2]);
    const m = maskOf(slab);
    const spacing: Vec3 = [2, 2, 5];
    expect(count(removeSmallObjects(m, dims, { minSize: 201, spacing }).mask)).toBe(0);
    expect(removeSmallObjects(m, dims, { minSize: 200, spacing }).mask).toEqual(m);
    // The same minimum in voxels keeps it: 201 > 10 voxels only when read as mm³.
    expect(count(removeSmallObjects(m, dims, { minSize: 11 }).mask)).toBe(0);
    expect(removeSmallObjects(m, dims, { minSize: 10 }).mask).toEqual(m);
  });

  it('treats each label independently, or all nonzero voxels together when asked', () => {
    // Label 1 (3 voxels) touches label 2 (3 voxels); label 2 also has a 5-voxel component elsewhere.
    const m = maskOf(three, 1);
    maskOf(
      [
        [1, 2, 1],
        [2, 2, 1],
        [3, 2, 1],
      ],
      2,
      m,
    );
    const big: [number, number, number][] = [0, 1, 2, 3, 4].map((i) => [i, 4, 3]);
    maskOf(big, 2, m);
    const each = removeSmallObjects(m, dims, { minSize: 4 });
    expect([each.components, each.voxels]).toEqual([2, 6]);
    expect(count(each.mask)).toBe(5);
    expect(big.every(([i, j, k]) => each.mask[at(i, j, k)] === 2)).toBe(true);
    // Together the touching labels make one 6-voxel object, kept with its labels.
    const together = removeSmallObjects(m, dims, { minSize: 4, independentChannels: false });
    expect(together.mask).toEqual(m);
    // Label 1 alone survives min_size 3, the touching part of label 2 too.
    expect(removeSmallObjects(m, dims, { minSize: 3 }).mask).toEqual(m);
  });
});

describe('keepConfidentComponents (hysteresis on a score)', () => {
  it('keeps a component when any voxel reaches the score, whatever its size, and keeps its labels', () => {
    // Three objects: a 1-voxel one scored 0.99, a 4-voxel one peaking at 0.75, a 2-voxel one (labels 1 and 2) at 0.95.
    const m = maskOf([[0, 0, 0]]);
    maskOf([[3, 0, 0], [4, 0, 0], [5, 0, 0], [5, 1, 0]], 1, m);
    maskOf([[2, 3, 2]], 1, m);
    maskOf([[3, 3, 2]], 2, m);
    const score = new Float32Array(m.length).fill(0.999); // background scores never count
    for (let p = 0; p < m.length; p++) if (m[p]) score[p] = 0.6;
    score[at(0, 0, 0)] = 0.99;
    score[at(5, 1, 0)] = 0.75;
    score[at(3, 3, 2)] = 0.95;
    const r = keepConfidentComponents(m, score, dims, { minScore: 0.9 });
    expect([r.components, r.voxels]).toEqual([1, 4]);
    expect(r.mask).toEqual(maskOf([[3, 3, 2]], 2, maskOf([[0, 0, 0], [2, 3, 2]])));
    // At the peak itself the component stays (≥); just above, it goes.
    expect(count(keepConfidentComponents(m, score, dims, { minScore: 0.75 }).mask)).toBe(7);
    expect(count(keepConfidentComponents(m, score, dims, { minScore: 0.96 }).mask)).toBe(1);
    // Connectivity: the 0.99 voxel joined to the 4-voxel object by an edge carries it with 2, not with 1.
    const edge = maskOf([[1, 1, 0], [2, 2, 0]]);
    const s2 = Float32Array.from(edge, (v, p) => (p === at(1, 1, 0) ? 0.99 : v ? 0.5 : 0));
    expect(count(keepConfidentComponents(edge, s2, dims, { minScore: 0.9 }).mask)).toBe(1);
    expect(count(keepConfidentComponents(edge, s2, dims, { minScore: 0.9, connectivity: 2 }).mask)).toBe(2);
    expect(() => keepConfidentComponents(m, score.subarray(1), dims, { minScore: 0.9 })).toThrow(/scores for 119 voxels, the mask has 120/);
  });
});
