/**
 * Voxel-overlap metrics from the counts of a mask pair (MONAI HEAD `DiceMetric` / `MeanIoU`, spec §5.10).
 *
 * Empty ground truth: MONAI's default `ignore_empty=True` gives NaN for Dice and IoU (and its mean
 * reduction then skips the case). With `ignoreEmpty: false` they are 1 when the prediction is empty
 * too and 0 otherwise, as MONAI does. An empty prediction with non-empty GT gives 0.
 */
import type { Vec3 } from '../volume';
import type { PairScan } from './mask';

export interface OverlapOptions {
  /** MONAI's `ignore_empty` (default true): Dice/IoU are NaN when the ground truth is empty. */
  ignoreEmpty?: boolean;
}

export interface OverlapMetrics {
  dice: number;
  iou: number;
  /** TP / |GT| (NaN when GT is empty). */
  sensitivity: number;
  /** TP / |pred| (NaN when pred is empty). */
  precision: number;
  volumePredMl: number;
  volumeGtMl: number;
  /** (|pred| − |GT|) / |GT| (NaN when GT is empty). */
  relativeVolumeDifference: number;
  voxelsPred: number;
  voxelsGt: number;
  voxelsIntersection: number;
}

export function overlapMetrics(counts: Omit<PairScan, 'union'>, spacing: Vec3, options: OverlapOptions = {}): OverlapMetrics {
  const { voxelsPred: p, voxelsGt: g, voxelsBoth: tp } = counts;
  const ignoreEmpty = options.ignoreEmpty ?? true;
  const emptyGt = ignoreEmpty ? NaN : p === 0 ? 1 : 0;
  const voxelMm3 = spacing[0] * spacing[1] * spacing[2];
  return {
    dice: g === 0 ? emptyGt : (2 * tp) / (p + g),
    iou: g === 0 ? emptyGt : tp / (p + g - tp),
    sensitivity: g === 0 ? NaN : tp / g,
    precision: p === 0 ? NaN : tp / p,
    volumePredMl: (p * voxelMm3) / 1000,
    volumeGtMl: (g * voxelMm3) / 1000,
    relativeVolumeDifference: g === 0 ? NaN : (p - g) / g,
    voxelsPred: p,
    voxelsGt: g,
    voxelsIntersection: tp,
  };
}
