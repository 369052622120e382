/**
 * Guessing what a file's numbers mean when the format does not say (NIfTI and NRRD never do).
 * One pass gathers a summary; the rules below turn it into 'HU', 'label' or 'unknown'.
 */
import type { IntensityUnits, VoxelArray } from '../volume';
import { forEachBlock } from './nifti-voxels';

export interface ValueSummary {
  min: number;
  max: number;
  mean: number;
  /** Every value is a whole number. */
  integer: boolean;
  /** Number of distinct values, counted only when they are whole numbers within [0, LABEL_MAX_ID]. */
  distinct?: number;
}

/** Largest id a label map may use (TotalSegmentator's 117 classes fit; 12-bit CT images do not). */
export const LABEL_MAX_ID = 1000;
/** Most distinct values of a label map; 8-bit grey-scale images usually use more of their 256 levels. */
export const LABEL_MAX_DISTINCT = 128;

/** Min, max, mean, integrality and (for small non-negative integers) the distinct count; NaN skipped. */
export function summarizeValues(data: VoxelArray): ValueSummary {
  const acc = { min: Infinity, max: -Infinity, sum: 0, n: 0, integer: true };
  const isFloat = data instanceof Float32Array || data instanceof Float64Array;
  forEachBlock(data, (block) => accumulate(acc, block, isFloat));
  const summary: ValueSummary = { min: acc.min, max: acc.max, mean: acc.n ? acc.sum / acc.n : NaN, integer: acc.integer };
  if (acc.n && acc.integer && acc.min >= 0 && acc.max <= LABEL_MAX_ID) {
    const seen = new Uint8Array(acc.max + 1);
    forEachBlock(data, (block) => {
      for (let x = 0; x < block.length; x++) if (block[x] === block[x]) seen[block[x]] = 1;
    });
    summary.distinct = seen.reduce((a, b) => a + b, 0);
  }
  return summary;
}

/** One block's share of the summary; kept in locals, as V8 loops over closure variables are slow. */
function accumulate(acc: { min: number; max: number; sum: number; n: number; integer: boolean }, block: Float64Array, checkInteger: boolean) {
  let { min, max, integer } = acc;
  let sum = 0;
  let n = 0;
  for (let x = 0; x < block.length; x++) {
    const v = block[x];
    if (v !== v) continue; // NaN
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    n++;
  }
  if (checkInteger && integer) {
    for (let x = 0; x < block.length && integer; x++) integer = block[x] === Math.round(block[x]) || block[x] !== block[x];
  }
  Object.assign(acc, { min, max, integer, sum: acc.sum + sum, n: acc.n + n });
}

/**
 * The summary of `values` = raw · slope + inter from the summary of the raw values, without another
 * pass — unless the scaled values may be a label map, whose distinct values must be counted.
 */
export function summarizeScaled(raw: ValueSummary, slope: number, inter: number, values: VoxelArray): ValueSummary {
  const ends = [raw.min * slope + inter, raw.max * slope + inter];
  const scaled: ValueSummary = {
    min: Math.min(...ends),
    max: Math.max(...ends),
    mean: raw.mean * slope + inter,
    integer: raw.integer && Number.isInteger(slope) && Number.isInteger(inter),
  };
  return scaled.integer && scaled.min >= 0 && scaled.max <= LABEL_MAX_ID ? summarizeValues(values) : scaled;
}

/**
 * - 'label': whole numbers from 0 to LABEL_MAX_ID with at most LABEL_MAX_DISTINCT distinct values
 *   (masks, TotalSegmentator maps).
 * - 'HU': a minimum between -3100 and -500 (air at -1000, scanner padding down to -3024), a maximum of
 *   at most 40000 (metal on extended-scale CT), and a mean of at most 1000 — a CT is mostly air and
 *   soft tissue, while an MR that dips below zero averages in the thousands.
 * - otherwise 'unknown'.
 */
export function guessUnits(s: ValueSummary): IntensityUnits {
  if (s.distinct !== undefined && s.distinct <= LABEL_MAX_DISTINCT) return 'label';
  if (s.min >= -3100 && s.min <= -500 && s.max <= 40000 && s.mean <= 1000) return 'HU';
  return 'unknown';
}
