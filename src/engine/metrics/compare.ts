/**
 * Every metric of one mask against a reference, and per-label metrics of two label maps.
 * One pass over the full grid (counts + union box); all surface work runs on the crop.
 */
import type { VoxelArray } from '../volume';
import { type Grid, boxDims, cropForeground, growBox, labelsPresent, scanPair } from './mask';
import { type OverlapMetrics, type OverlapOptions, overlapMetrics } from './overlap';
import { averageSurfaceDistance, averageSymmetricSurfaceDistance, hausdorff, surfaceDistancesOnCrop } from './surface';

export interface CompareOptions extends OverlapOptions {
  /** Foreground = voxels equal to this label (default: every nonzero voxel). */
  label?: number;
  /** Percentile of the robust Hausdorff distance (default 95). */
  percentile?: number;
}

export interface PairMetrics extends OverlapMetrics {
  /** Symmetric Hausdorff distance (max), mm. */
  hausdorff: number;
  /** max of the two directed `percentile`-th percentiles (linear interpolation), mm. */
  hausdorff95: number;
  /** Average symmetric surface distance (mean of both directed lists together), mm. */
  assd: number;
  /** Directed average surface distance pred → reference, mm. */
  asdPredToGt: number;
  /** Directed average surface distance reference → pred, mm. */
  asdGtToPred: number;
  edgeVoxelsPred: number;
  edgeVoxelsGt: number;
}

/** Every field of `PairMetrics`, in display order. */
export const PAIR_METRIC_KEYS: readonly (keyof PairMetrics)[] = [
  'dice', 'iou', 'sensitivity', 'precision', 'volumePredMl', 'volumeGtMl', 'relativeVolumeDifference',
  'hausdorff', 'hausdorff95', 'assd', 'asdPredToGt', 'asdGtToPred',
  'voxelsPred', 'voxelsGt', 'voxelsIntersection', 'edgeVoxelsPred', 'edgeVoxelsGt',
];

/**
 * All metrics of `pred` against the reference `gt`, both on `grid`. Distances are in the units of
 * `grid.spacing` (mm; pass [1, 1, 1] for MONAI's voxel units). Empty masks follow MONAI: one empty →
 * hausdorff/assd Infinity, hausdorff95 NaN; both empty → NaN distances; Dice/IoU per `ignoreEmpty`.
 */
export function compareMasks(pred: VoxelArray, gt: VoxelArray, grid: Grid, options: CompareOptions = {}): PairMetrics {
  const scan = scanPair(pred, gt, grid, options.label);
  const overlap = overlapMetrics(scan, grid.spacing, options);
  let crop: { pred: Uint8Array; gt: Uint8Array; dims: Grid['dims'] } = { pred: new Uint8Array(0), gt: new Uint8Array(0), dims: [0, 0, 0] };
  if (scan.union) {
    const box = growBox(scan.union, 1, grid.dims);
    crop = { pred: cropForeground(pred, grid.dims, box, options.label), gt: cropForeground(gt, grid.dims, box, options.label), dims: boxDims(box) };
  }
  const d = surfaceDistancesOnCrop(crop.pred, crop.gt, crop.dims, grid.spacing);
  return {
    ...overlap,
    hausdorff: hausdorff(d),
    hausdorff95: hausdorff(d, options.percentile ?? 95),
    assd: averageSymmetricSurfaceDistance(d),
    asdPredToGt: averageSurfaceDistance(d.predToGt),
    asdGtToPred: averageSurfaceDistance(d.gtToPred),
    edgeVoxelsPred: d.edgeVoxelsPred,
    edgeVoxelsGt: d.edgeVoxelsGt,
  };
}

export interface LabelMapComparison {
  labels: number[];
  perLabel: { label: number; metrics: PairMetrics }[];
  /**
   * Mean of each metric over the labels, skipping NaN (as MONAI's `mean` reduction does, so a label
   * with empty reference drops out of the mean Dice). Infinity is kept. NaN when every label is NaN.
   */
  mean: PairMetrics;
}

/**
 * Per-label metrics of two label maps, background (0) excluded. `labels` defaults to every nonzero
 * value present in either map.
 */
export function compareLabelMaps(
  pred: VoxelArray,
  gt: VoxelArray,
  grid: Grid,
  options: Omit<CompareOptions, 'label'> & { labels?: number[] } = {},
): LabelMapComparison {
  const labels = (options.labels ?? labelsPresent(pred, gt)).filter((l) => l !== 0);
  const perLabel = labels.map((label) => ({ label, metrics: compareMasks(pred, gt, grid, { ...options, label }) }));
  return { labels, perLabel, mean: meanOverLabels(perLabel.map((p) => p.metrics)) };
}

function meanOverLabels(all: PairMetrics[]): PairMetrics {
  const mean = {} as PairMetrics;
  for (const key of PAIR_METRIC_KEYS) {
    const values = all.map((m) => m[key]).filter((v) => !Number.isNaN(v));
    mean[key] = values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
  }
  return mean;
}
