/**
 * Binary-mask operations the observers need: boxes, connected components, distance-based dilation
 * and erosion, signed distances. All work on the engine layout (i fastest) and on the bounding box
 * of the mask where they can, so that lesion-sized work stays lesion-sized on a 512×512×300 grid.
 * Distances come from the metrics engine's exact anisotropic EDT.
 */
import { distanceTransform } from '../metrics/distance-transform';
import type { Vec3 } from '../volume';

/** Half-open voxel box: lo ≤ index < hi on each axis. */
export interface Box {
  lo: Vec3;
  hi: Vec3;
}

export function boxDims(b: Box): Vec3 {
  return [b.hi[0] - b.lo[0], b.hi[1] - b.lo[1], b.hi[2] - b.lo[2]];
}

/** Bounding box of the nonzero voxels, or null when there are none. */
export function boundingBox(mask: Uint8Array, dims: Vec3): Box | null {
  const [nx, ny, nz] = dims;
  const lo: Vec3 = [nx, ny, nz];
  const hi: Vec3 = [0, 0, 0];
  // Lesion masks are mostly empty: rows are first tested four bytes at a time when alignment allows.
  const words = mask.byteOffset % 4 === 0 && nx % 4 === 0 ? new Uint32Array(mask.buffer, mask.byteOffset, mask.length >> 2) : null;
  for (let k = 0, x = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++, x += nx) {
      if (words) {
        let any = 0;
        for (let w = x >> 2, end = (x + nx) >> 2; w < end && !any; w++) any = words[w];
        if (!any) continue;
      }
      for (let i = 0; i < nx; i++) {
        if (!mask[x + i]) continue;
        if (i < lo[0]) lo[0] = i;
        if (i >= hi[0]) hi[0] = i + 1;
        if (j < lo[1]) lo[1] = j;
        if (j >= hi[1]) hi[1] = j + 1;
        if (k < lo[2]) lo[2] = k;
        if (k >= hi[2]) hi[2] = k + 1;
      }
    }
  }
  return hi[0] > 0 ? { lo, hi } : null;
}

/** The box grown by `margin` voxels per axis, clipped to the grid. */
export function growBox(b: Box, margin: Vec3, dims: Vec3): Box {
  return {
    lo: b.lo.map((v, a) => Math.max(0, v - margin[a])) as Vec3,
    hi: b.hi.map((v, a) => Math.min(dims[a], v + margin[a])) as Vec3,
  };
}

export function cropMask(mask: Uint8Array, dims: Vec3, b: Box): Uint8Array {
  const [cx, cy, cz] = boxDims(b);
  const out = new Uint8Array(cx * cy * cz);
  for (let k = 0; k < cz; k++) {
    for (let j = 0; j < cy; j++) {
      const src = b.lo[0] + dims[0] * (b.lo[1] + j + dims[1] * (b.lo[2] + k));
      out.set(mask.subarray(src, src + cx), cx * (j + cy * k));
    }
  }
  return out;
}

/** Writes a cropped mask back into its box (replacing what was there). */
export function pasteMask(mask: Uint8Array, dims: Vec3, b: Box, crop: Uint8Array): void {
  const [cx, cy, cz] = boxDims(b);
  for (let k = 0; k < cz; k++) {
    for (let j = 0; j < cy; j++) {
      const dst = b.lo[0] + dims[0] * (b.lo[1] + j + dims[1] * (b.lo[2] + k));
      mask.set(crop.subarray(cx * (j + cy * k), cx * (j + cy * k) + cx), dst);
    }
  }
}

export function countVoxels(mask: Uint8Array): number {
  let n = 0;
  for (let x = 0; x < mask.length; x++) if (mask[x]) n++;
  return n;
}

/**
 * Connected components of the nonzero voxels, each as the list of its voxel indices.
 * 3D grids use 26-connectivity (a lesion touching diagonally is one lesion); pass dims with nz = 1
 * for a slice (8-connectivity). Memory grows with the mask, not the grid.
 */
export function connectedComponents(mask: Uint8Array, dims: Vec3): Int32Array[] {
  const [nx, ny, nz] = dims;
  const todo = mask.slice();
  const stack = new Int32Array(countVoxels(mask));
  const out: Int32Array[] = [];
  const offsets: Vec3[] = [];
  for (let dk = -1; dk <= 1; dk++) for (let dj = -1; dj <= 1; dj++) for (let di = -1; di <= 1; di++) if (di || dj || dk) offsets.push([di, dj, dk]);
  for (let seed = 0; seed < todo.length; seed++) {
    if (!todo[seed]) continue;
    todo[seed] = 0;
    let top = 0;
    let read = 0;
    stack[top++] = seed;
    // The stack doubles as the component's voxel list: entries before `read` are done.
    while (read < top) {
      const x = stack[read++];
      const i = x % nx;
      const j = Math.floor(x / nx) % ny;
      const k = Math.floor(x / (nx * ny));
      for (const [di, dj, dk] of offsets) {
        const a = i + di;
        const b = j + dj;
        const c = k + dk;
        if (a < 0 || b < 0 || c < 0 || a >= nx || b >= ny || c >= nz) continue;
        const y = a + nx * (b + ny * c);
        if (todo[y]) {
          todo[y] = 0;
          stack[top++] = y;
        }
      }
    }
    out.push(stack.slice(0, top));
  }
  return out;
}

/**
 * Signed distance (mm) of each voxel of the box to the mask's boundary: outside voxels get the distance
 * to the nearest mask voxel (> 0), inside voxels minus the distance to the nearest background voxel
 * (< 0). So `sdf < 0` is the mask, and `sdf < r` / `sdf < −r` dilate / erode by r mm.
 * Voxels of the box beyond the mask's reach get +Infinity (empty mask) and none gets −Infinity as long
 * as the box has background somewhere.
 */
export function signedDistance(crop: Uint8Array, dims: Vec3, spacing: Vec3): Float64Array {
  const toMask = distanceTransform(crop, dims, spacing);
  const background = new Uint8Array(crop.length);
  for (let x = 0; x < crop.length; x++) background[x] = crop[x] ? 0 : 1;
  const toBackground = distanceTransform(background, dims, spacing);
  for (let x = 0; x < crop.length; x++) if (crop[x]) toMask[x] = -toBackground[x];
  return toMask;
}

/**
 * Dilates (r > 0) or erodes (r < 0) the mask by |r| mm: the voxels whose centre is within r of a mask
 * voxel, or more than |r| from the background. Exact Euclidean balls on the anisotropic grid.
 * Works on the mask's box plus a margin of r, in place.
 */
export function offsetMask(mask: Uint8Array, dims: Vec3, spacing: Vec3, radiusMm: number): void {
  const box = boundingBox(mask, dims);
  if (!box || radiusMm === 0) return;
  const margin = spacing.map((s) => Math.ceil(Math.abs(radiusMm) / s) + 1) as Vec3;
  const b = growBox(box, margin, dims);
  const crop = cropMask(mask, dims, b);
  const sdf = signedDistance(crop, boxDims(b), spacing);
  // A tiny tolerance keeps voxels at exactly r (e.g. r = one voxel spacing) in the dilated ball.
  const tol = 1e-9;
  for (let x = 0; x < crop.length; x++) {
    crop[x] = radiusMm > 0 ? (sdf[x] <= radiusMm + tol ? 1 : 0) : sdf[x] < radiusMm - tol ? 1 : 0;
  }
  pasteMask(mask, dims, b, crop);
}
