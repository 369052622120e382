/**
 * Surface distances with MONAI HEAD's semantics (`metrics/utils.py: get_mask_edges,
 * get_surface_distance`; spec §5.11):
 *  - crop to the bounding box of pred ∪ gt grown by 1 voxel;
 *  - edges = X XOR erosion(X) with the 6-neighbour cross, outside = background (so foreground on
 *    the image border and the walls of internal holes are edges);
 *  - d(P→G) = exact Euclidean distance (mm) from each edge voxel of P to the nearest edge voxel of G.
 * Hausdorff / HD95 / ASSD are then reduced from the two directed lists exactly as MONAI does,
 * including its empty-mask conventions (see `surfaceDistancesOnCrop`).
 */
import type { Vec3, VoxelArray } from '../volume';
import { squaredDistanceTransform } from './distance-transform';
import { type Grid, boxDims, cropForeground, growBox, scanPair } from './mask';

export interface SurfaceDistances {
  /** Distances (mm) from every edge voxel of pred to the nearest edge voxel of gt, in voxel order. */
  predToGt: Float64Array;
  /** Distances (mm) from every edge voxel of gt to the nearest edge voxel of pred. */
  gtToPred: Float64Array;
  edgeVoxelsPred: number;
  edgeVoxelsGt: number;
}

/** Edge voxels of a 0/1 mask: foreground with at least one 6-neighbour that is background or outside. */
export function surfaceVoxels(mask: Uint8Array, dims: Vec3): Uint8Array {
  const [nx, ny, nz] = dims;
  const slice = nx * ny;
  const edges = new Uint8Array(mask.length);
  let x = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, x++) {
        if (mask[x] === 0) continue;
        const interior =
          i > 0 && i < nx - 1 && j > 0 && j < ny - 1 && k > 0 && k < nz - 1 &&
          mask[x - 1] !== 0 && mask[x + 1] !== 0 &&
          mask[x - nx] !== 0 && mask[x + nx] !== 0 &&
          mask[x - slice] !== 0 && mask[x + slice] !== 0;
        if (!interior) edges[x] = 1;
      }
    }
  }
  return edges;
}

/** Directed surface distances of two masks on one grid (foreground = nonzero, or = `label`). */
export function surfaceDistances(pred: VoxelArray, gt: VoxelArray, grid: Grid, label?: number): SurfaceDistances {
  const scan = scanPair(pred, gt, grid, label);
  if (!scan.union) return surfaceDistancesOnCrop(new Uint8Array(0), new Uint8Array(0), [0, 0, 0], grid.spacing);
  const box = growBox(scan.union, 1, grid.dims);
  return surfaceDistancesOnCrop(cropForeground(pred, grid.dims, box, label), cropForeground(gt, grid.dims, box, label), boxDims(box), grid.spacing);
}

/**
 * Directed distances between two 0/1 masks already cropped. Empty masks follow MONAI:
 *  - both empty: both lists empty (every reduction gives NaN);
 *  - exactly one empty: both lists hold +Infinity once per edge voxel of the non-empty mask.
 */
export function surfaceDistancesOnCrop(pred: Uint8Array, gt: Uint8Array, dims: Vec3, spacing: Vec3): SurfaceDistances {
  const edgesPred = surfaceVoxels(pred, dims);
  const edgesGt = surfaceVoxels(gt, dims);
  const edgeVoxelsPred = countNonzero(edgesPred);
  const edgeVoxelsGt = countNonzero(edgesGt);
  if (edgeVoxelsPred === 0 || edgeVoxelsGt === 0) {
    const n = edgeVoxelsPred + edgeVoxelsGt;
    const inf = () => new Float64Array(n).fill(Infinity);
    return { predToGt: inf(), gtToPred: inf(), edgeVoxelsPred, edgeVoxelsGt };
  }
  const buffer = new Float64Array(edgesPred.length);
  const predToGt = sampleDistances(squaredDistanceTransform(edgesGt, dims, spacing, buffer, edgesPred), edgesPred, edgeVoxelsPred);
  const gtToPred = sampleDistances(squaredDistanceTransform(edgesPred, dims, spacing, buffer, edgesGt), edgesGt, edgeVoxelsGt);
  return { predToGt, gtToPred, edgeVoxelsPred, edgeVoxelsGt };
}

function sampleDistances(squared: Float64Array, at: Uint8Array, count: number): Float64Array {
  const out = new Float64Array(count);
  for (let x = 0, n = 0; x < at.length; x++) if (at[x] !== 0) out[n++] = Math.sqrt(squared[x]);
  return out;
}

function countNonzero(a: Uint8Array): number {
  let n = 0;
  for (let x = 0; x < a.length; x++) n += a[x];
  return n;
}

/**
 * Quantile with linear interpolation between order statistics at position q·(n−1), as
 * `torch.quantile` / `numpy.percentile` default. Empty → NaN. Two +Infinity neighbours give NaN
 * (∞ + (∞ − ∞)·w), which is what MONAI returns for HD95 when exactly one mask is empty.
 */
export function quantileLinear(values: Float64Array, q: number): number {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function maxOf(values: Float64Array): number {
  if (values.length === 0) return NaN;
  let m = -Infinity;
  for (let x = 0; x < values.length; x++) if (values[x] > m) m = values[x];
  return m;
}

function sumOf(values: Float64Array): number {
  let s = 0;
  for (let x = 0; x < values.length; x++) s += values[x];
  return s;
}

/**
 * Symmetric Hausdorff distance: max over both directions of the directed maximum, or of the
 * directed `percentile` (e.g. 95) — NOT the percentile of the pooled distances. NaN propagates.
 */
export function hausdorff(d: SurfaceDistances, percentile?: number): number {
  const reduce = (v: Float64Array) => (percentile === undefined ? maxOf(v) : quantileLinear(v, percentile / 100));
  const a = reduce(d.predToGt);
  const b = reduce(d.gtToPred);
  return Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b);
}

/** ASSD: mean of the concatenated directed lists (weighted by edge counts). */
export function averageSymmetricSurfaceDistance(d: SurfaceDistances): number {
  const n = d.predToGt.length + d.gtToPred.length;
  if (n === 0) return NaN;
  return (sumOf(d.predToGt) + sumOf(d.gtToPred)) / n;
}

/** Directed average surface distance: mean of one list (MONAI `symmetric=False` is pred → gt). */
export function averageSurfaceDistance(directed: Float64Array): number {
  return directed.length === 0 ? NaN : sumOf(directed) / directed.length;
}
