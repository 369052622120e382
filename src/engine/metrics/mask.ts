/**
 * Binary masks on a voxel grid: the layout shared by every metric in this folder.
 *
 * Layout is the engine's (`volume.ts`): index = i + nx·(j + ny·k), `spacing` in mm along i, j, k.
 * A C-order array of shape [s0, s1, s2] with `spacing_mm[a]` along axis a is the same thing with
 * dims = [s2, s1, s0] and spacing = [sp2, sp1, sp0] — only the axis strides matter.
 *
 * Foreground is "value ≠ 0" (NaN counts as background), or "value = label" when a label is given,
 * so label maps never need a binary copy of the whole grid.
 */
import type { Vec3, VoxelArray } from '../volume';

export interface Grid {
  dims: Vec3;
  /** Voxel size in mm along i, j, k. Use [1, 1, 1] for voxel units (MONAI's default without `spacing`). */
  spacing: Vec3;
}

/** Half-open voxel box: lo ≤ index < hi on each axis. */
export interface Box {
  lo: Vec3;
  hi: Vec3;
}

/** Voxel counts of a pair, and the bounding box of their union (null when both are empty). */
export interface PairScan {
  voxelsPred: number;
  voxelsGt: number;
  voxelsBoth: number;
  union: Box | null;
}

export function checkGrid(grid: Grid, ...arrays: ArrayLike<number>[]): number {
  const n = grid.dims[0] * grid.dims[1] * grid.dims[2];
  if (!grid.dims.every((d) => Number.isInteger(d) && d > 0)) throw new RangeError(`invalid dims ${grid.dims.join('×')}`);
  if (!grid.spacing.every((s) => s > 0 && Number.isFinite(s))) throw new RangeError(`invalid spacing ${grid.spacing.join('×')}`);
  for (const a of arrays) {
    if (a.length !== n) throw new RangeError(`mask has ${a.length} voxels, grid ${grid.dims.join('×')} has ${n}`);
  }
  return n;
}

/** Labels are nonzero: 0 is background everywhere in this folder. */
export function checkLabel(label: number | undefined): void {
  if (label !== undefined && (label === 0 || !Number.isFinite(label))) throw new RangeError(`label must be a nonzero number, got ${label}`);
}

/** Foreground test of one value: nonzero (no label) or equal to the label. */
export function isForeground(v: number, label: number | undefined): boolean {
  return label === undefined ? v > 0 || v < 0 : v === label;
}

/** One pass over both masks: counts and the union's bounding box. */
export function scanPair(pred: VoxelArray, gt: VoxelArray, grid: Grid, label?: number): PairScan {
  checkGrid(grid, pred, gt);
  checkLabel(label);
  const [nx, ny, nz] = grid.dims;
  let voxelsPred = 0;
  let voxelsGt = 0;
  let voxelsBoth = 0;
  const lo: Vec3 = [nx, ny, nz];
  const hi: Vec3 = [0, 0, 0];
  let x = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      let rowLo = nx;
      let rowHi = -1;
      for (let i = 0; i < nx; i++, x++) {
        const u = pred[x];
        const v = gt[x];
        if (u === 0 && v === 0) continue; // background in both: most voxels, and never a label
        const p = isForeground(u, label);
        const g = isForeground(v, label);
        if (p || g) {
          if (p) voxelsPred++;
          if (g) voxelsGt++;
          if (p && g) voxelsBoth++;
          if (rowLo === nx) rowLo = i;
          rowHi = i;
        }
      }
      if (rowHi >= 0) {
        if (rowLo < lo[0]) lo[0] = rowLo;
        if (rowHi + 1 > hi[0]) hi[0] = rowHi + 1;
        if (j < lo[1]) lo[1] = j;
        if (j + 1 > hi[1]) hi[1] = j + 1;
        if (k < lo[2]) lo[2] = k;
        if (k + 1 > hi[2]) hi[2] = k + 1;
      }
    }
  }
  const union = voxelsPred + voxelsGt > 0 ? { lo, hi } : null;
  return { voxelsPred, voxelsGt, voxelsBoth, union };
}

/**
 * Grows a box by `margin` voxels, clipped to the grid. MONAI pads past the image border with
 * background instead; that changes nothing here because edge extraction treats the outside of
 * the crop as background and the nearest-edge distances do not depend on the domain's extent.
 */
export function growBox(box: Box, margin: number, dims: Vec3): Box {
  return {
    lo: box.lo.map((v) => Math.max(0, v - margin)) as Vec3,
    hi: box.hi.map((v, a) => Math.min(dims[a], v + margin)) as Vec3,
  };
}

export function boxDims(box: Box): Vec3 {
  return [box.hi[0] - box.lo[0], box.hi[1] - box.lo[1], box.hi[2] - box.lo[2]];
}

/** The foreground of `data` inside `box`, as a 0/1 Uint8Array laid out on the box's own grid. */
export function cropForeground(data: VoxelArray, dims: Vec3, box: Box, label?: number): Uint8Array {
  const [cx, cy, cz] = boxDims(box);
  const out = new Uint8Array(cx * cy * cz);
  let o = 0;
  for (let k = box.lo[2]; k < box.hi[2]; k++) {
    for (let j = box.lo[1]; j < box.hi[1]; j++) {
      const row = box.lo[0] + dims[0] * (j + dims[1] * k);
      for (let i = 0; i < cx; i++, o++) out[o] = isForeground(data[row + i], label) ? 1 : 0;
    }
  }
  return out;
}

/** Sorted distinct foreground labels (nonzero, non-NaN values) present in any of the maps. */
export function labelsPresent(...maps: VoxelArray[]): number[] {
  const seen = new Set<number>();
  for (const m of maps) {
    // Runs of one value are the common case in label maps; skip the Set lookup for them.
    let last = 0;
    for (let x = 0; x < m.length; x++) {
      const v = m[x];
      if (v === last) continue;
      last = v;
      if (v > 0 || v < 0) seen.add(v);
    }
  }
  return [...seen].sort((a, b) => a - b);
}
