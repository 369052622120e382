/**
 * Automatic lung cropping for COPLE-Net, which expects lung-cropped input (the authors cropped by
 * hand; MONAI's demo leaves it to the user). Lungs = air-like voxels (HU below a threshold) that
 * are not connected to the air around the body, keeping the largest such components; the crop is
 * their bounding box plus a margin in mm.
 */
import { connectedComponents } from '../labels/components';
import type { Volume } from '../volume';

export interface LungCropOptions {
  /** Voxels below this HU count as air-like (lung parenchyma is about −850; GGO up to about −300). */
  thresholdHU?: number;
  /** Margin around the lungs' bounding box, mm. */
  marginMm?: number;
  /** Components smaller than this fraction of the largest kept one are ignored (bowel gas, noise). */
  minFraction?: number;
}

export interface LungCrop {
  /** Inclusive voxel box [i0, j0, k0] .. exclusive [i1, j1, k1]. */
  start: [number, number, number];
  end: [number, number, number];
  /** Voxel count of the lung mask found. 0 means no lungs: the box is then the whole volume. */
  lungVoxels: number;
}

export function findLungCrop(v: Volume, opts: LungCropOptions = {}): LungCrop {
  const threshold = opts.thresholdHU ?? -320;
  const margin = opts.marginMm ?? 10;
  const minFraction = opts.minFraction ?? 0.1;
  const air = new Uint8Array(v.data.length);
  for (let n = 0; n < air.length; n++) air[n] = v.data[n] < threshold ? 1 : 0;
  const cc = connectedComponents(air, v.dims);
  // Inner air: components that do not touch the in-plane border (outside air and the table do).
  const inner: number[] = [];
  for (let id = 1; id <= cc.count; id++) {
    const [i0, j0, , i1, j1] = cc.boxes[id];
    const touchesSide = i0 === 0 || j0 === 0 || i1 === v.dims[0] - 1 || j1 === v.dims[1] - 1;
    if (!touchesSide) inner.push(id);
  }
  inner.sort((a, b) => cc.sizes[b] - cc.sizes[a]);
  // Two lungs, or one when they touch; anything much smaller than the largest is not lung.
  const kept = inner.slice(0, 2).filter((id) => cc.sizes[id] >= minFraction * cc.sizes[inner[0]]);
  if (kept.length === 0) return { start: [0, 0, 0], end: [...v.dims], lungVoxels: 0 };
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  let lungVoxels = 0;
  for (const id of kept) {
    const b = cc.boxes[id];
    for (let a = 0; a < 3; a++) {
      lo[a] = Math.min(lo[a], b[a]);
      hi[a] = Math.max(hi[a], b[a + 3]);
    }
    lungVoxels += cc.sizes[id];
  }
  const start = [0, 1, 2].map((a) => Math.max(0, lo[a] - Math.ceil(margin / v.spacing[a]))) as [number, number, number];
  const end = [0, 1, 2].map((a) => Math.min(v.dims[a], hi[a] + 1 + Math.ceil(margin / v.spacing[a]))) as [number, number, number];
  return { start, end, lungVoxels };
}
