/**
 * Binary STAPLE (Warfield, Zou & Wells, IEEE TMI 2004): EM estimate of the hidden true
 * segmentation T and of each observer j's sensitivity p_j = P(D_j = 1 | T = 1) and specificity
 * q_j = P(D_j = 0 | T = 0), with a prior γ = P(T = 1).
 *
 * Iteration order, initialisation and stopping follow ITK's `STAPLEImageFilter`: W starts as the
 * fraction of observers voting foreground; each iteration is an M-step (p, q from W) then an E-step
 *   W = γ·Πp_j^D(1−p_j)^(1−D) / (γ·Πp_j^D(1−p_j)^(1−D) + (1−γ)·Πq_j^(1−D)(1−q_j)^D);
 * it stops when no p_j or q_j moved by more than `tolerance` (ITK: squared change ≤ 1e-14).
 * The global prior is the mean observer foreground fraction times `confidenceWeight` (as ITK).
 *
 * W depends on a voxel only through its pattern of N votes, so the EM runs on the histogram of
 * distinct patterns, not on voxels. Consensus voxels (all background / all foreground) are just two
 * patterns whose posterior is a closed-form function of p, q, γ; with `consensusVoxels: 'include'`
 * (default) the result is exactly full-image STAPLE as ITK computes it. With 'exclude' the estimate
 * (p, q and the global prior) uses only voxels where at least one observer differs — useful when a
 * huge agreed background would make every specificity ≈ 1 — and consensus voxels get posterior 0 or 1.
 */
import type { VoxelArray } from '../volume';
import { checkLabel, isForeground } from './mask';

export interface StapleOptions {
  label?: number;
  /** 'global' (default): mean observer foreground fraction × confidenceWeight; or a fixed γ in (0, 1). */
  prior?: 'global' | number;
  confidenceWeight?: number;
  consensusVoxels?: 'include' | 'exclude';
  /** Largest change of any p_j or q_j that counts as converged. Default 1e-7. */
  tolerance?: number;
  maxIterations?: number;
}

export interface StapleResult {
  /** P(T = 1 | votes) per voxel. */
  posterior: Float32Array;
  /** posterior ≥ 0.5. */
  consensus: Uint8Array;
  /** Per observer, in input order. NaN when undefined (e.g. nobody marked anything). */
  sensitivity: number[];
  specificity: number[];
  prior: number;
  iterations: number;
  converged: boolean;
  /** Largest change of any p_j or q_j in the last iteration. */
  lastChange: number;
  /** Number of distinct vote patterns the EM ran on. */
  patterns: number;
}

/** Patterns are bit codes in a dense table of 2^N entries: 20 observers → 1 Mi entries. */
const MAX_OBSERVERS = 20;

export function staple(observers: VoxelArray[], options: StapleOptions = {}): StapleResult {
  const r = observers.length;
  if (r === 0 || r > MAX_OBSERVERS) throw new RangeError(`STAPLE needs 1 to ${MAX_OBSERVERS} observers, got ${r}`);
  const n = observers[0].length;
  for (const o of observers) if (o.length !== n) throw new RangeError(`observers differ in voxel count (${o.length} vs ${n})`);
  checkLabel(options.label);
  const tolerance = options.tolerance ?? 1e-7;
  const maxIterations = options.maxIterations ?? 1000;
  const exclude = (options.consensusVoxels ?? 'include') === 'exclude';
  const allOnes = 2 ** r - 1;

  const codes = patternCodes(observers, options.label);
  const histogram = new Float64Array(2 ** r);
  for (let x = 0; x < n; x++) histogram[codes[x]]++;

  // The patterns the EM sees, with their voxel counts and vote fractions.
  const used: number[] = [];
  for (let c = 0; c <= allOnes; c++) if (histogram[c] > 0 && !(exclude && (c === 0 || c === allOnes))) used.push(c);
  const code = Uint32Array.from(used);
  const count = Float64Array.from(used, (c) => histogram[c]);
  const fraction = Float64Array.from(used, (c) => popcount(c) / r);
  let total = 0;
  let votes = 0;
  for (let u = 0; u < code.length; u++) {
    total += count[u];
    votes += count[u] * fraction[u];
  }
  const prior = options.prior === undefined || options.prior === 'global' ? (votes / total) * (options.confidenceWeight ?? 1) : options.prior;
  if (!(prior >= 0 && prior <= 1)) throw new RangeError(`STAPLE prior must be in [0, 1], got ${prior}`);

  const w = Float64Array.from(fraction); // ITK's initial W
  const p = new Array<number>(r).fill(NaN);
  const q = new Array<number>(r).fill(NaN);
  let iterations = 0;
  let converged = false;
  let lastChange = NaN;
  // With no vote for one of the classes there is nothing to estimate: W stays the vote fraction.
  const estimable = total > 0 && votes > 0 && votes < total && prior > 0 && prior < 1;
  if (estimable) {
    while (iterations < maxIterations) {
      iterations++;
      lastChange = mStep(code, count, w, r, p, q);
      eStep(code, fraction, w, r, p, q, prior);
      if (lastChange <= tolerance) {
        converged = true;
        break;
      }
    }
  } else {
    converged = true;
    if (total > 0) mStep(code, count, w, r, p, q);
  }

  // Posterior per pattern, then per voxel. Excluded consensus patterns are certain.
  const table = new Float32Array(allOnes + 1);
  for (let u = 0; u < code.length; u++) table[code[u]] = w[u];
  if (exclude) {
    table[0] = 0;
    table[allOnes] = 1;
  }
  const posterior = new Float32Array(n);
  const consensus = new Uint8Array(n);
  for (let x = 0; x < n; x++) {
    const v = table[codes[x]];
    posterior[x] = v;
    consensus[x] = v >= 0.5 ? 1 : 0;
  }
  return { posterior, consensus, sensitivity: p, specificity: q, prior, iterations, converged, lastChange, patterns: code.length };
}

/** Bit j of a voxel's code is observer j's vote. Smallest integer type that holds N bits. */
function patternCodes(observers: VoxelArray[], label: number | undefined): Uint8Array | Uint16Array | Uint32Array {
  const n = observers[0].length;
  const r = observers.length;
  const codes = r <= 8 ? new Uint8Array(n) : r <= 16 ? new Uint16Array(n) : new Uint32Array(n);
  for (let j = 0; j < r; j++) {
    const o = observers[j];
    const bit = 1 << j;
    for (let x = 0; x < n; x++) {
      const v = o[x];
      if (v !== 0 && isForeground(v, label)) codes[x] |= bit; // 0 is never foreground: skip the test
    }
  }
  return codes;
}

function popcount(c: number): number {
  let k = 0;
  for (; c; c &= c - 1) k++;
  return k;
}

/** p_j, q_j from W, in place; returns the largest change (Infinity on the first call). */
function mStep(code: Uint32Array, count: Float64Array, w: Float64Array, r: number, p: number[], q: number[]): number {
  let sumW = 0;
  let sumNotW = 0;
  for (let u = 0; u < code.length; u++) {
    sumW += count[u] * w[u];
    sumNotW += count[u] * (1 - w[u]);
  }
  let change = 0;
  for (let j = 0; j < r; j++) {
    const bit = 1 << j;
    let pNum = 0;
    let qNum = 0;
    for (let u = 0; u < code.length; u++) {
      if (code[u] & bit) pNum += count[u] * w[u];
      else qNum += count[u] * (1 - w[u]);
    }
    // A zero denominator (no weight on one class) keeps the previous estimate.
    const pj = sumW > 0 ? pNum / sumW : p[j];
    const qj = sumNotW > 0 ? qNum / sumNotW : q[j];
    change = Math.max(change, Number.isNaN(p[j]) ? Infinity : Math.abs(pj - p[j]), Number.isNaN(q[j]) ? Infinity : Math.abs(qj - q[j]));
    p[j] = pj;
    q[j] = qj;
  }
  return change;
}

/** W per pattern from p, q, γ. A pattern impossible under both classes keeps its vote fraction. */
function eStep(code: Uint32Array, fraction: Float64Array, w: Float64Array, r: number, p: number[], q: number[], prior: number): void {
  for (let u = 0; u < code.length; u++) {
    let a = prior;
    let b = 1 - prior;
    for (let j = 0; j < r; j++) {
      if (code[u] & (1 << j)) {
        a *= p[j];
        b *= 1 - q[j];
      } else {
        a *= 1 - p[j];
        b *= q[j];
      }
    }
    w[u] = a + b > 0 ? a / (a + b) : fraction[u];
  }
}
