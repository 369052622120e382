/**
 * Held-out evaluation of a trained slice-wise network on synthetic phantoms (src/engine/synth), shared
 * by the training CLIs (train:default, experiment:noisy): the app's inference path (`segmentVolume`
 * with the default COPLE-Net pipeline, argmax) against the exact lesion masks — Dice and HD95 per case
 * (`compareMasks`), lesion detection and Dice by lesion size, and summaries over cases.
 */
import { choosePeakCut, peakCutCurve, segmentVolume, DEFAULT_COPLENET_PIPELINE, type CutScore, type InferencePipeline, type ScoredCase } from '../engine/inference';
import { connectedComponents } from '../engine/labels/components';
import { compareMasks } from '../engine/metrics';
import type { GeneratedCase } from '../engine/synth/dataset';
import type { Network } from '../models';

export const fmt = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : String(x));

/** Lesion size bins (equivalent-sphere diameter, mm) for the breakdown. */
export const SIZE_BINS: [string, number, number][] = [
  ['< 5 mm', 0, 5],
  ['5–10 mm', 5, 10],
  ['10–20 mm', 10, 20],
  ['≥ 20 mm', 20, Infinity],
];

export interface LesionResult {
  diameterMm: number;
  volumeMl: number;
  detected: boolean;
  dice: number;
}

export interface CaseResult {
  id: string;
  seed: number;
  lesions: number;
  truthMl: number;
  predMl: number;
  dice: number;
  hd95: number;
  falsePositiveComponents: number;
  perLesion: LesionResult[];
  seconds: number;
}

/**
 * Per true lesion (6-connected component of the truth; lesions that touch count as one): its size,
 * whether any predicted voxel falls on it, and its local Dice — the prediction inside the lesion's
 * box grown by 2 voxels (1 slice), minus voxels of other true lesions, against the lesion.
 */
export function lesionBreakdown(pred: Uint8Array, truth: Uint8Array, dims: [number, number, number], spacing: [number, number, number]): { lesions: LesionResult[]; falsePositives: number } {
  const cc = connectedComponents(truth, dims);
  const voxelMl = (spacing[0] * spacing[1] * spacing[2]) / 1000;
  const [nx, ny, nz] = dims;
  const lesions: LesionResult[] = [];
  for (let id = 1; id <= cc.count; id++) {
    const [i0, j0, k0, i1, j1, k1] = cc.boxes[id];
    let inter = 0;
    let predIn = 0;
    for (let k = Math.max(0, k0 - 1); k <= Math.min(nz - 1, k1 + 1); k++)
      for (let j = Math.max(0, j0 - 2); j <= Math.min(ny - 1, j1 + 2); j++)
        for (let i = Math.max(0, i0 - 2); i <= Math.min(nx - 1, i1 + 2); i++) {
          const n = i + nx * (j + ny * k);
          const l = cc.labels[n];
          if (!pred[n] || (l !== 0 && l !== id)) continue;
          predIn++;
          if (l === id) inter++;
        }
    const size = cc.sizes[id];
    const volumeMl = size * voxelMl;
    lesions.push({ diameterMm: Math.cbrt((6 * volumeMl * 1000) / Math.PI), volumeMl, detected: inter > 0, dice: (2 * inter) / (predIn + size) });
  }
  const pc = connectedComponents(pred, dims);
  let falsePositives = 0;
  for (let id = 1; id <= pc.count; id++) {
    let hit = false;
    for (let n = 0; n < pc.labels.length && !hit; n++) if (pc.labels[n] === id && truth[n]) hit = true;
    if (!hit) falsePositives++;
  }
  return { lesions, falsePositives };
}

export interface EvaluateOptions {
  /** The inference pipeline (default: the default COPLE-Net pipeline, as the app runs it). */
  pipeline?: InferencePipeline;
  /** Case ids are `<idPrefix>_000`, `<idPrefix>_001`… (default `test`). */
  idPrefix?: string;
}

/** Segments each case with `network` and scores it against its truth; logs one line per case, tagged `what`. */
export async function evaluate(network: Network, cases: GeneratedCase[], what: string, log: (line: string) => void, opts: EvaluateOptions = {}): Promise<CaseResult[]> {
  const { pipeline = DEFAULT_COPLENET_PIPELINE, idPrefix = 'test' } = opts;
  const results: CaseResult[] = [];
  for (const [n, c] of cases.entries()) {
    const t0 = performance.now();
    const { mask } = await segmentVolume(c.scan, network as Parameters<typeof segmentVolume>[1], pipeline, { batchSize: 4, keepProbabilities: false });
    const truth = c.truth.data as Uint8Array;
    const grid = { dims: c.scan.dims, spacing: c.scan.spacing };
    const m = compareMasks(mask, truth, grid);
    const { lesions, falsePositives } = lesionBreakdown(mask, truth, c.scan.dims, c.scan.spacing);
    results.push({
      id: `${idPrefix}_${String(n).padStart(3, '0')}`,
      seed: c.seed,
      lesions: lesions.length,
      truthMl: m.volumeGtMl,
      predMl: m.volumePredMl,
      dice: m.dice,
      hd95: m.hausdorff95,
      falsePositiveComponents: falsePositives,
      perLesion: lesions,
      seconds: (performance.now() - t0) / 1000,
    });
    const r = results[results.length - 1];
    log(`[${what}] ${r.id}: ${r.lesions} lesions, truth ${fmt(r.truthMl, 1)} mL, pred ${fmt(r.predMl, 1)} mL, Dice ${fmt(r.dice)}, HD95 ${fmt(r.hd95, 1)} mm, ${r.falsePositiveComponents} FP components (${fmt(r.seconds, 1)} s)`);
  }
  return results;
}

/** Dice of all test cases' voxels together (a case without lesions adds its false positives). */
export function pooledDice(rs: CaseResult[]): number {
  // Intersection volume of each case from its Dice; none where the truth or the prediction is empty (Dice NaN or 0).
  const inter = rs.reduce((s, r) => s + (r.truthMl > 0 && r.predMl > 0 ? (r.dice * (r.truthMl + r.predMl)) / 2 : 0), 0);
  const sum = rs.reduce((s, r) => s + r.truthMl + r.predMl, 0);
  return sum > 0 ? (2 * inter) / sum : 1;
}

/** Mean Dice over the cases that have lesions (Dice is undefined without any). */
/** Predicted components touching no lesion, per case (all cases, with lesions or not). */
export function falsePositivesPerCase(rs: CaseResult[]): number {
  return rs.reduce((n, r) => n + r.falsePositiveComponents, 0) / Math.max(rs.length, 1);
}

export function meanDice(rs: CaseResult[]): number {
  const withLesions = rs.filter((r) => r.truthMl > 0);
  return withLesions.reduce((s, r) => s + r.dice, 0) / Math.max(withLesions.length, 1);
}

export function binTable(rs: CaseResult[]): { bin: string; lesions: number; detected: number; meanDice: number }[] {
  const all = rs.flatMap((r) => r.perLesion);
  return SIZE_BINS.map(([bin, lo, hi]) => {
    const ls = all.filter((l) => l.diameterMm >= lo && l.diameterMm < hi);
    return { bin, lesions: ls.length, detected: ls.filter((l) => l.detected).length, meanDice: ls.reduce((s, l) => s + l.dice, 0) / Math.max(ls.length, 1) };
  });
}

/**
 * Chooses the weights' KeepConfidentComponentsd cut on phantoms: segments each once with `pipeline`
 * (which should have no component filters), scores every candidate cut (peak-cut.ts) and logs the curve.
 */
export async function tunePeakCut(network: Network, cases: GeneratedCase[], pipeline: InferencePipeline, log: (line: string) => void): Promise<{ curve: CutScore[]; cut: number | null }> {
  const scored: ScoredCase[] = [];
  for (const c of cases) {
    const { mask, probabilities } = await segmentVolume(c.scan, network as Parameters<typeof segmentVolume>[1], pipeline, { batchSize: 4 });
    scored.push({ mask, probabilities: probabilities!, truth: c.truth.data as Uint8Array, dims: c.scan.dims });
  }
  const curve = peakCutCurve(scored);
  for (const s of curve) log(`cut ${s.cut ? s.cut : 'none'}: mean Dice ${fmt(s.meanDice, 4)}, pooled Dice ${fmt(s.pooledDice, 4)}, ${fmt(s.falsePositives, 1)} false-positive components per case`);
  return { curve, cut: choosePeakCut(curve) };
}
