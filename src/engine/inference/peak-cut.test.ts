import { describe, expect, it } from 'vitest';
import { keepConfidentComponents } from '../labels/components';
import type { Vec3 } from '../volume';
import { choosePeakCut, PEAK_CUT_CANDIDATES, PEAK_CUT_KEY, peakCutCurve, peakCutOf, type CutScore } from './peak-cut';

const dims: Vec3 = [8, 1, 1];

describe('peak cut of KeepConfidentComponentsd', () => {
  it('reads the cut from the weights’ metadata and refuses a bad one, naming the file', () => {
    expect(peakCutOf({}, 'w.safetensors')).toBeNull();
    expect(peakCutOf({ [PEAK_CUT_KEY]: '0.99999' }, 'w.safetensors')).toBe(0.99999);
    for (const bad of ['', '0', '1.5', 'high']) expect(() => peakCutOf({ [PEAK_CUT_KEY]: bad }, 'w.safetensors')).toThrow(`w.safetensors: metadata "${PEAK_CUT_KEY}" must be a probability in (0, 1], got "${bad}"`);
  });

  it('tries 0.9 … 0.9999999 in half-decades', () => {
    expect(PEAK_CUT_CANDIDATES).toHaveLength(13);
    expect([PEAK_CUT_CANDIDATES[0], PEAK_CUT_CANDIDATES[2], PEAK_CUT_CANDIDATES[8], PEAK_CUT_CANDIDATES[12]]).toEqual([0.9, 0.99, 0.99999, 0.9999999]);
  });

  it('scores each cut as the filter would leave the masks (hand-computed)', () => {
    // Case A, lesion on voxels 0–2: predicted 0–2 (peak 0.999) and a false speck on 5 (peak 0.95).
    // Case B, lesion on voxel 7 alone: predicted 7 (peak 0.97) and a false speck on 2 (peak 0.9).
    // Case C, no lesion: a false speck on 4 (peak 0.99).
    const a = { mask: [1, 1, 1, 0, 0, 1, 0, 0], probabilities: [0.6, 0.999, 0.7, 0, 0, 0.95, 0, 0], truth: [1, 1, 1, 0, 0, 0, 0, 0], dims };
    const b = { mask: [0, 0, 1, 0, 0, 0, 0, 1], probabilities: [0, 0, 0.9, 0, 0, 0, 0, 0.97], truth: [0, 0, 0, 0, 0, 0, 0, 1], dims };
    const c = { mask: [0, 0, 0, 0, 1, 0, 0, 0], probabilities: [0, 0, 0, 0, 0.99, 0, 0, 0], truth: [0, 0, 0, 0, 0, 0, 0, 0], dims };
    const curve = peakCutCurve([a, b, c], [0.9, 0.96, 0.98, 0.995]);
    const expected: CutScore[] = [
      // none: A 2·3/(4+3) = 6/7, B 2/(2+1) = 2/3; pooled 2·4/(4+3 + 2+1 + 1) = 8/11; 3 FP in 3 cases.
      { cut: 0, meanDice: (6 / 7 + 2 / 3) / 2, pooledDice: 8 / 11, falsePositives: 1 },
      { cut: 0.9, meanDice: (6 / 7 + 2 / 3) / 2, pooledDice: 8 / 11, falsePositives: 1 },
      // 0.96: B's speck (0.9) and A's speck (0.95) go: A 1, B 1; C's 0.99 stays.
      { cut: 0.96, meanDice: 1, pooledDice: 8 / 9, falsePositives: 1 / 3 },
      // 0.98: B's lesion (0.97) goes too: A 1, B 0; pooled 2·3/(6 + 1 + 1).
      { cut: 0.98, meanDice: 0.5, pooledDice: 0.75, falsePositives: 1 / 3 },
      // 0.995: C's speck goes as well.
      { cut: 0.995, meanDice: 0.5, pooledDice: 6 / 7, falsePositives: 0 },
    ];
    expect(curve.map((s) => s.cut)).toEqual(expected.map((s) => s.cut));
    curve.forEach((s, n) => {
      expect(s.meanDice).toBeCloseTo(expected[n].meanDice, 12);
      expect(s.pooledDice).toBeCloseTo(expected[n].pooledDice, 12);
      expect(s.falsePositives).toBeCloseTo(expected[n].falsePositives, 12);
    });
    // The same as running the filter and scoring its masks.
    const kept = keepConfidentComponents(a.mask, a.probabilities, dims, { minScore: 0.96 }).mask;
    expect(Array.from(kept)).toEqual(a.truth);
  });

  it('chooses the cut on a plateau, not a lone spike, and none when no cut helps', () => {
    const at = (cut: number, meanDice: number): CutScore => ({ cut, meanDice, pooledDice: 0, falsePositives: 0 });
    // A spike at 0.99 (0.80) between 0.60s; a plateau 0.9999–0.999999 at 0.77–0.79.
    const curve = [at(0, 0.6), at(0.9, 0.6), at(0.99, 0.8), at(0.999, 0.6), at(0.9999, 0.78), at(0.99999, 0.79), at(0.999999, 0.77)];
    expect(choosePeakCut(curve)).toBe(0.99999);
    expect(choosePeakCut([at(0, 0.7), at(0.9, 0.7), at(0.99, 0.65)])).toBeNull();
    // An end counts twice with its one neighbour: (0.7 + 0.72 + 0.72) / 3 beats (0.55 + 0.7 + 0.72) / 3.
    expect(choosePeakCut([at(0, 0.5), at(0.9, 0.55), at(0.99, 0.7), at(0.999, 0.72)])).toBe(0.999);
  });
});
