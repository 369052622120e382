import { describe, expect, it } from 'vitest';
import { compareMasks } from './compare';
import { compareObservers } from './observers';
import { perSliceDice } from './per-slice';
import type { Vec3 } from '../volume';

const dims: Vec3 = [10, 10, 4];
const box = (i0: number, i1: number, k0: number, k1: number) => {
  const m = new Uint8Array(400);
  for (let k = k0; k < k1; k++) for (let j = 2; j < 8; j++) for (let i = i0; i < i1; i++) m[i + 10 * (j + 10 * k)] = 1;
  return m;
};

describe('observer comparison', () => {
  it('computes per-slice Dice with NaN where both are empty', () => {
    const a = box(2, 8, 0, 2);
    const b = box(2, 5, 1, 3);
    const d = perSliceDice(a, b, dims);
    expect(d[0]).toBe(0); // a only
    expect(d[1]).toBeCloseTo((2 * 18) / (36 + 18), 12);
    expect(d[2]).toBe(0); // b only
    expect(Number.isNaN(d[3])).toBe(true);
  });

  it('fills the pairwise matrix both ways, and runs STAPLE and the vote on observers only', () => {
    const truth = box(2, 8, 0, 3);
    const layers = [
      { id: 'a', name: 'A', data: truth, isObserver: true },
      { id: 'b', name: 'B', data: box(2, 7, 0, 3), isObserver: true },
      { id: 'c', name: 'C', data: box(3, 8, 0, 3), isObserver: true },
      { id: 'm', name: 'model', data: box(2, 8, 0, 2), isObserver: false },
    ];
    const res = compareObservers(layers, { dims, spacing: [1, 1, 2] });
    expect(res.metrics[0][0]).toBeNull();
    // B vs reference A: B is inside A → precision 1, sensitivity 5/6.
    expect(res.metrics[0][1]!.precision).toBe(1);
    expect(res.metrics[0][1]!.sensitivity).toBeCloseTo(5 / 6, 12);
    // A vs reference B swaps them.
    expect(res.metrics[1][0]!.sensitivity).toBe(1);
    expect(res.metrics[1][0]!.precision).toBeCloseTo(5 / 6, 12);
    expect(res.metrics[0][1]!.dice).toBeCloseTo(res.metrics[1][0]!.dice, 12);
    // The swapped entry equals a direct computation with the roles exchanged.
    const direct = compareMasks(layers[0].data, layers[2].data, { dims, spacing: [1, 1, 2] }, { ignoreEmpty: false });
    for (const key of Object.keys(direct) as (keyof typeof direct)[]) expect(res.metrics[2][0]![key]).toBeCloseTo(direct[key], 10);
    expect(res.metrics[0][3]!.volumePredMl).toBeCloseTo((36 * 2 * 2) / 1000, 12);
    expect(res.staple!.ids).toEqual(['a', 'b', 'c']);
    // Majority of A, B, C: voxels marked by at least two = A's box (B ∪ C ⊆ A, B ∩ C = columns 3..6).
    expect(Array.from(res.majority!)).toEqual(Array.from(truth));
    expect(res.agreement![2 + 10 * (3 + 10 * 0)]).toBe(2);
    expect(res.agreement![4 + 10 * (3 + 10 * 0)]).toBe(3);
    expect(res.perSlice[3][2]).toBe(0);
    expect(res.perSlice[3][0]).toBe(1);
  });
});
