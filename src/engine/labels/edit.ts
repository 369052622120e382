/**
 * Label edits the annotation tools need beyond Cornerstone3D's brushes: filling the inside of a
 * closed outline on one slice, and filling the slices between two annotated slices (shape-based
 * interpolation of signed distance maps, as 3D Slicer's "fill between slices" does).
 * Masks are Uint8Array in the Volume layout (i fastest); slices are along k.
 */
import { distanceTransform } from '../metrics/distance-transform';
import type { Vec3 } from '../volume';

/** Fills background regions of slice k that do not touch the slice border (holes inside outlines). */
export function fillHolesInSlice(mask: Uint8Array, dims: Vec3, k: number, value = 1): number {
  const [nx, ny] = dims;
  const base = k * nx * ny;
  const outside = new Uint8Array(nx * ny);
  const stack: number[] = [];
  const seed = (p: number) => {
    if (!outside[p] && mask[base + p] === 0) {
      outside[p] = 1;
      stack.push(p);
    }
  };
  for (let i = 0; i < nx; i++) {
    seed(i);
    seed(i + nx * (ny - 1));
  }
  for (let j = 0; j < ny; j++) {
    seed(nx * j);
    seed(nx - 1 + nx * j);
  }
  while (stack.length) {
    const p = stack.pop()!;
    const i = p % nx;
    const j = (p - i) / nx;
    if (i > 0) seed(p - 1);
    if (i < nx - 1) seed(p + 1);
    if (j > 0) seed(p - nx);
    if (j < ny - 1) seed(p + nx);
  }
  let filled = 0;
  for (let p = 0; p < nx * ny; p++) {
    if (!outside[p] && mask[base + p] === 0) {
      mask[base + p] = value;
      filled++;
    }
  }
  return filled;
}

/** Signed distance (mm) of slice k: negative inside the mask, positive outside. */
function signedDistance(mask: Uint8Array, dims: Vec3, spacing: Vec3, k: number): Float64Array {
  const [nx, ny] = dims;
  const slice = mask.subarray(k * nx * ny, (k + 1) * nx * ny);
  const fg = new Uint8Array(nx * ny);
  const bg = new Uint8Array(nx * ny);
  for (let p = 0; p < fg.length; p++) {
    fg[p] = slice[p] ? 1 : 0;
    bg[p] = slice[p] ? 0 : 1;
  }
  const plane: Vec3 = [nx, ny, 1];
  const toFg = distanceTransform(fg, plane, spacing);
  const toBg = distanceTransform(bg, plane, spacing);
  const out = new Float64Array(nx * ny);
  for (let p = 0; p < out.length; p++) out[p] = fg[p] ? -toBg[p] : toFg[p];
  return out;
}

/**
 * Fills every run of empty slices lying between two non-empty slices by interpolating their signed
 * distance maps linearly in k. Returns the slice indices that were filled.
 */
export function interpolateBetweenSlices(mask: Uint8Array, dims: Vec3, spacing: Vec3, value = 1): number[] {
  const [nx, ny, nz] = dims;
  const annotated: number[] = [];
  for (let k = 0; k < nz; k++) {
    const slice = mask.subarray(k * nx * ny, (k + 1) * nx * ny);
    if (slice.some((v) => v !== 0)) annotated.push(k);
  }
  const filled: number[] = [];
  for (let n = 0; n + 1 < annotated.length; n++) {
    const k0 = annotated[n];
    const k1 = annotated[n + 1];
    if (k1 - k0 < 2) continue;
    const d0 = signedDistance(mask, dims, spacing, k0);
    const d1 = signedDistance(mask, dims, spacing, k1);
    for (let k = k0 + 1; k < k1; k++) {
      const t = (k - k0) / (k1 - k0);
      const base = k * nx * ny;
      for (let p = 0; p < nx * ny; p++) if ((1 - t) * d0[p] + t * d1[p] < 0) mask[base + p] = value;
      filled.push(k);
    }
  }
  return filled;
}
