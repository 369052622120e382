/**
 * The peak-probability cut of KeepConfidentComponentsd for a set of weights: a lesion component
 * stays only if its most certain voxel reaches the cut. How sure a network is of its false
 * positives depends on how it was trained, so the cut belongs to the weights: it is chosen on
 * labelled cases (`peakCutCurve` → `choosePeakCut`, e.g. `npm run eval:phantoms -- --tune-peak` on phantoms) and stored
 * in the safetensors metadata under `PEAK_CUT_KEY`, from which the app and the CLIs take it as the
 * default. Weights without one (MONAI's checkpoint) run without the filter unless the user asks.
 */
import { InputError } from '../io/errors';
import { connectedComponents, type Connectivity } from '../labels/components';
import type { Vec3 } from '../volume';

export const PEAK_CUT_KEY = 'lesion_min_peak_probability';

/** A cut (KeepConfidentComponentsd's `min_probability`): a probability in (0, 1]. */
export const isMinProbability = (p: unknown): p is number => typeof p === 'number' && p > 0 && p <= 1;

/** The weights' cut from their metadata, or null when they carry none; a bad value is refused. */
export function peakCutOf(metadata: Record<string, string>, file: string): number | null {
  const raw = metadata[PEAK_CUT_KEY];
  if (raw === undefined) return null;
  const p = Number(raw);
  if (!raw.trim() || !isMinProbability(p)) throw new InputError(file, `metadata "${PEAK_CUT_KEY}" must be a probability in (0, 1], got "${raw}"`);
  return p;
}

/** Cuts tried: 1 − 10^(−k/2) for k = 2…14, i.e. 0.9, 0.968…, 0.99, …, 0.9999999 (float32 sigmoid saturates just above). */
export const PEAK_CUT_CANDIDATES: readonly number[] = Array.from({ length: 13 }, (_, n) => Number((1 - 10 ** (-(n + 2) / 2)).toPrecision(8)));

export interface ScoredCase {
  /** The discrete lesion mask (nonzero = lesion) and the lesion probability, on one grid. */
  mask: ArrayLike<number>;
  probabilities: ArrayLike<number>;
  truth: ArrayLike<number>;
  dims: Vec3;
}

export interface CutScore {
  /** 0 = no filter. */
  cut: number;
  /** Mean Dice over the cases with lesions. */
  meanDice: number;
  /** Dice of all cases' voxels together. */
  pooledDice: number;
  /** Components left that touch no lesion, per case. */
  falsePositives: number;
}

/** Scores each cut (and none) on the cases: what KeepConfidentComponentsd with it would leave. */
export function peakCutCurve(cases: ScoredCase[], cuts: readonly number[] = PEAK_CUT_CANDIDATES, connectivity: Connectivity = 1): CutScore[] {
  // Per case, per component: its peak, its voxels, and its voxels on the truth. A cut keeps whole components.
  const parts = cases.map(({ mask, probabilities, truth, dims }) => {
    const cc = connectedComponents(mask, dims, connectivity);
    const peak = new Float64Array(cc.count + 1);
    const hits = new Float64Array(cc.count + 1);
    let truthVoxels = 0;
    for (let v = 0; v < mask.length; v++) {
      if (truth[v]) truthVoxels++;
      const id = cc.labels[v];
      if (!id) continue;
      if (probabilities[v] > peak[id]) peak[id] = probabilities[v];
      if (truth[v]) hits[id]++;
    }
    return { peak, hits, sizes: cc.sizes, truthVoxels };
  });
  return [0, ...cuts].map((cut) => {
    let diceSum = 0;
    let withLesions = 0;
    let inter = 0;
    let total = 0;
    let fps = 0;
    for (const { peak, hits, sizes, truthVoxels } of parts) {
      let tp = 0;
      let pred = 0;
      for (let id = 1; id < sizes.length; id++) {
        if (peak[id] < cut) continue;
        pred += sizes[id];
        tp += hits[id];
        if (!hits[id]) fps++;
      }
      inter += tp;
      total += pred + truthVoxels;
      if (truthVoxels) {
        diceSum += (2 * tp) / (pred + truthVoxels);
        withLesions++;
      }
    }
    return { cut, meanDice: diceSum / Math.max(withLesions, 1), pooledDice: total ? (2 * inter) / total : 1, falsePositives: fps / Math.max(cases.length, 1) };
  });
}

/**
 * The cut with the best mean Dice averaged with its two neighbours on the curve (a cut on a plateau,
 * not a lucky spike), or null when no cut beats no filter at all (`curve[0]`, cut 0).
 */
export function choosePeakCut(curve: CutScore[]): number | null {
  const cuts = curve.filter((c) => c.cut > 0);
  // Each cut with its neighbours; an end counts twice (edge replication), so it gains nothing from having one neighbour.
  const at = (n: number) => cuts[Math.min(cuts.length - 1, Math.max(0, n))].meanDice;
  const smooth = cuts.map((_, n) => (at(n - 1) + at(n) + at(n + 1)) / 3);
  let best = -1;
  for (let n = 0; n < cuts.length; n++) if (best < 0 || smooth[n] > smooth[best]) best = n;
  const none = curve.find((c) => c.cut === 0);
  if (best < 0 || (none && cuts[best].meanDice <= none.meanDice)) return null;
  return cuts[best].cut;
}
