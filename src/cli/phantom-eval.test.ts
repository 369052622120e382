import { describe, expect, it } from 'vitest';
import { binTable, lesionBreakdown, meanDice, pooledDice, type CaseResult } from './phantom-eval';

const dims: [number, number, number] = [10, 10, 3];
const at = (i: number, j: number, k: number) => i + 10 * (j + 10 * k);

function mask(voxels: [number, number, number][]): Uint8Array {
  const m = new Uint8Array(300);
  for (const [i, j, k] of voxels) m[at(i, j, k)] = 1;
  return m;
}

const result = (dice: number, truthMl: number, predMl: number): CaseResult => ({ id: 'x', seed: 0, lesions: 1, truthMl, predMl, dice, hd95: NaN, falsePositiveComponents: 0, perLesion: [], seconds: 0 });

describe('phantom evaluation helpers', () => {
  it('break the truth into lesions with local Dice, detection and size, and count false-positive components', () => {
    // Lesion A: 2×2 voxels at i 1–2, j 1–2; lesion B: 2×2 at i 6–7, j 6–7 (slice 1, 1 mm voxels).
    const truth = mask([[1, 1, 1], [2, 1, 1], [1, 2, 1], [2, 2, 1], [6, 6, 1], [7, 6, 1], [6, 7, 1], [7, 7, 1]]);
    // Half of A plus one voxel beside it (one component touching A), and a stray voxel far from both.
    const pred = mask([[1, 1, 1], [2, 1, 1], [3, 1, 1], [0, 8, 0]]);
    const { lesions, falsePositives } = lesionBreakdown(pred, truth, dims, [1, 1, 1]);
    expect(falsePositives).toBe(1);
    expect(lesions).toHaveLength(2);
    // A: 3 predicted voxels in its grown box, 2 on it → 2·2 / (3 + 4).
    expect(lesions[0].detected).toBe(true);
    expect(lesions[0].dice).toBeCloseTo(4 / 7, 12);
    expect(lesions[0].volumeMl).toBeCloseTo(0.004, 12);
    expect(lesions[0].diameterMm).toBeCloseTo(Math.cbrt(24 / Math.PI), 12);
    expect(lesions[1]).toMatchObject({ detected: false, dice: 0 });
    // 2 mm voxels: 8 times the volume, twice the diameter.
    expect(lesionBreakdown(pred, truth, dims, [2, 2, 2]).lesions[0].diameterMm).toBeCloseTo(2 * Math.cbrt(24 / Math.PI), 12);
  });

  it('pool Dice over cases by volume, and average it over the cases with lesions only', () => {
    // compareMasks gives NaN Dice for a case without lesions; its false positives still count.
    const rs = [result(0.5, 2, 2), result(0, 1, 0), result(NaN, 0, 1)];
    // Intersections 1, 0, 0 mL; volumes 4 + 1 + 1 mL.
    expect(pooledDice(rs)).toBeCloseTo(2 / 6, 12);
    expect(meanDice(rs)).toBeCloseTo(0.25, 12);
    expect(pooledDice([result(0, 0, 0)])).toBe(1);
  });

  it('bin lesions by equivalent diameter', () => {
    const r = result(0.5, 1, 1);
    r.perLesion = [
      { diameterMm: 3, volumeMl: 0, detected: true, dice: 0.2 },
      { diameterMm: 4, volumeMl: 0, detected: false, dice: 0 },
      { diameterMm: 25, volumeMl: 0, detected: true, dice: 0.9 },
    ];
    const bins = binTable([r]);
    expect(bins.map((b) => [b.bin, b.lesions, b.detected])).toEqual([['< 5 mm', 2, 1], ['5–10 mm', 0, 0], ['10–20 mm', 0, 0], ['≥ 20 mm', 1, 1]]);
    expect(bins[0].meanDice).toBeCloseTo(0.1, 12);
    expect(bins[3].meanDice).toBeCloseTo(0.9, 12);
  });
});
