import { describe, expect, it } from 'vitest';
import { guessUnits, LABEL_MAX_DISTINCT, summarizeScaled, summarizeValues } from './units';

describe('summarizeValues', () => {
  it('gives min, max, mean, integrality and the distinct count of small labels, skipping NaN', () => {
    expect(summarizeValues(Uint8Array.from([0, 3, 3, 7, 0]))).toEqual({ min: 0, max: 7, mean: 2.6, integer: true, distinct: 3 });
    expect(summarizeValues(Float32Array.from([1, NaN, 2, 4]))).toEqual({ min: 1, max: 4, mean: 7 / 3, integer: true, distinct: 3 });
    expect(summarizeValues(Float32Array.from([1, 2.5]))).toEqual({ min: 1, max: 2.5, mean: 1.75, integer: false });
    expect(summarizeValues(Int16Array.from([-1024, 0, 40, 1000]))).toEqual({ min: -1024, max: 1000, mean: 4, integer: true });
  });

  it('covers arrays longer than one block', () => {
    const data = Int32Array.from({ length: 200_001 }, (_, n) => n % 5);
    data[150_000] = 999;
    const s = summarizeValues(data);
    expect([s.min, s.max, s.distinct]).toEqual([0, 999, 6]);
  });

  it('derives the summary of scaled values without another pass', () => {
    const raw = summarizeValues(Int16Array.from([0, 100, 2000]));
    expect(summarizeScaled(raw, 1, -1024, new Int16Array(0))).toEqual({ min: -1024, max: 976, mean: 700 - 1024, integer: true });
    expect(summarizeScaled(raw, -0.5, 0, new Float32Array(0))).toEqual({ min: -1000, max: 0, mean: -350, integer: false });
    // scaled values that may be labels are counted afresh
    const labels = Uint8Array.from([10, 11, 12, 11]);
    expect(summarizeScaled(summarizeValues(labels), 1, -10, Uint8Array.from([0, 1, 2, 1]))).toEqual({ min: 0, max: 2, mean: 1, integer: true, distinct: 3 });
  });
});

describe('guessUnits', () => {
  it('calls masks and TotalSegmentator maps labels', () => {
    expect(guessUnits(summarizeValues(Uint8Array.from([0, 1, 1, 0])))).toBe('label');
    expect(guessUnits({ min: 0, max: 117, mean: 7.4, integer: true, distinct: 42 })).toBe('label');
  });

  it('does not call an 8-bit grey-scale image or a float image labels', () => {
    expect(guessUnits(summarizeValues(Uint8Array.from({ length: 256 }, (_, n) => n)))).toBe('unknown');
    expect(guessUnits({ min: 0, max: 255, mean: 83, integer: true, distinct: LABEL_MAX_DISTINCT + 1 })).toBe('unknown');
    expect(guessUnits(summarizeValues(Float32Array.from([0, 0.5, 1])))).toBe('unknown');
  });

  it('calls CT ranges HU', () => {
    expect(guessUnits({ min: -1024, max: 3071, mean: -600, integer: true })).toBe('HU');
    expect(guessUnits({ min: -3024, max: 2500, mean: -1200 + 700, integer: true })).toBe('HU');
    expect(guessUnits({ min: -1000, max: 30000, mean: 200, integer: true })).toBe('HU'); // extended-scale metal
  });

  it('does not call MR, PET-like or padded ranges HU', () => {
    expect(guessUnits({ min: -610, max: 30393, mean: 8401, integer: true })).toBe('unknown'); // nibabel's anatomical.nii
    expect(guessUnits({ min: 0, max: 4000, mean: 300, integer: true })).toBe('unknown');
    expect(guessUnits({ min: -32768, max: 3000, mean: -900, integer: true })).toBe('unknown');
    expect(guessUnits({ min: -400, max: 3000, mean: 20, integer: true })).toBe('unknown');
  });
});
