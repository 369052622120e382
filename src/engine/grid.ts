/**
 * Putting one volume on another's voxel grid. When both grids have the same voxel centres up to
 * axis order and flips (a DICOM series and its NIfTI conversion, a label file written in another
 * orientation) the copy is exact; otherwise voxels are sampled (nearest for labels).
 */
import { affineLPS, voxelCount, voxelIndex, type Mat4, type Vec3, type Volume, type VoxelArray } from './volume';

export type Grid = Pick<Volume, 'dims' | 'spacing' | 'origin' | 'direction'>;

/** Inverse of a voxel→LPS affine (rotation·scale + translation). */
function invertAffine(a: Mat4): Mat4 {
  const m = [a[0], a[1], a[2], a[4], a[5], a[6], a[8], a[9], a[10]];
  const det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6]);
  const inv = [
    (m[4] * m[8] - m[5] * m[7]) / det, (m[2] * m[7] - m[1] * m[8]) / det, (m[1] * m[5] - m[2] * m[4]) / det,
    (m[5] * m[6] - m[3] * m[8]) / det, (m[0] * m[8] - m[2] * m[6]) / det, (m[2] * m[3] - m[0] * m[5]) / det,
    (m[3] * m[7] - m[4] * m[6]) / det, (m[1] * m[6] - m[0] * m[7]) / det, (m[0] * m[4] - m[1] * m[3]) / det,
  ];
  const t = [a[3], a[7], a[11]];
  const out: Mat4 = [];
  for (let r = 0; r < 3; r++) {
    out.push(inv[3 * r], inv[3 * r + 1], inv[3 * r + 2], -(inv[3 * r] * t[0] + inv[3 * r + 1] * t[1] + inv[3 * r + 2] * t[2]));
  }
  out.push(0, 0, 0, 1);
  return out;
}

function multiply(a: Mat4, b: Mat4): Mat4 {
  const out: Mat4 = new Array(16).fill(0);
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) for (let k = 0; k < 4; k++) out[4 * r + c] += a[4 * r + k] * b[4 * k + c];
  return out;
}

/** Source-voxel → destination-voxel index map (row-major 4×4). */
export function indexMap(src: Grid, dst: Grid): Mat4 {
  return multiply(invertAffine(affineLPS(dst)), affineLPS(src));
}

/**
 * When every source voxel centre is a destination voxel centre (within `tolMm`), the signed axis
 * permutation that maps them: dst index = perm applied to src index. Otherwise null.
 */
export function exactAxisMap(src: Grid, dst: Grid, tolMm = 1e-3): { axis: Vec3; flip: boolean[]; offset: Vec3 } | null {
  const m = indexMap(src, dst);
  const axis: number[] = [];
  const flip: boolean[] = [];
  const offset: number[] = [];
  for (let r = 0; r < 3; r++) {
    let best = 0;
    for (let c = 1; c < 3; c++) if (Math.abs(m[4 * r + c]) > Math.abs(m[4 * r + best])) best = c;
    const coef = m[4 * r + best];
    if (Math.abs(Math.abs(coef) - 1) * src.dims[best] * dst.spacing[r] > tolMm) return null;
    for (let c = 0; c < 3; c++) if (c !== best && Math.abs(m[4 * r + c]) * src.dims[c] * dst.spacing[r] > tolMm) return null;
    const t = m[4 * r + 3];
    if (Math.abs(t - Math.round(t)) * dst.spacing[r] > tolMm) return null;
    axis.push(best);
    flip.push(coef < 0);
    offset.push(Math.round(t));
  }
  if (new Set(axis).size !== 3) return null;
  return { axis: axis as Vec3, flip, offset: offset as Vec3 };
}

/**
 * `src` on the grid `dst`. Exact copy when the voxel centres coincide up to axis order and flips;
 * otherwise nearest-neighbour (labels) or trilinear sampling. Voxels outside `src` get `fill`.
 */
export function resampleToGrid<T extends VoxelArray>(src: Volume & { data: T }, dst: Grid, mode: 'nearest' | 'linear' = 'nearest', fill = 0): T {
  const out = new (src.data.constructor as { new (n: number): T })(voxelCount(dst.dims));
  if (fill !== 0) out.fill(fill);
  const exact = exactAxisMap(dst, src);
  const [sx, sy, sz] = src.dims;
  const [dx, dy, dz] = dst.dims;
  if (exact) {
    // dst (i,j,k) → src index along each src axis r: offset_r ± dst[axis_r].
    const idx = [0, 0, 0];
    for (let k = 0; k < dz; k++) {
      for (let j = 0; j < dy; j++) {
        for (let i = 0; i < dx; i++) {
          idx[0] = i;
          idx[1] = j;
          idx[2] = k;
          const a = exact.offset[0] + (exact.flip[0] ? -1 : 1) * idx[exact.axis[0]];
          const b = exact.offset[1] + (exact.flip[1] ? -1 : 1) * idx[exact.axis[1]];
          const c = exact.offset[2] + (exact.flip[2] ? -1 : 1) * idx[exact.axis[2]];
          if (a >= 0 && a < sx && b >= 0 && b < sy && c >= 0 && c < sz) out[i + dx * (j + dy * k)] = src.data[a + sx * (b + sy * c)];
        }
      }
    }
    return out;
  }
  const m = indexMap(dst, src);
  for (let k = 0; k < dz; k++) {
    for (let j = 0; j < dy; j++) {
      for (let i = 0; i < dx; i++) {
        const x = m[0] * i + m[1] * j + m[2] * k + m[3];
        const y = m[4] * i + m[5] * j + m[6] * k + m[7];
        const z = m[8] * i + m[9] * j + m[10] * k + m[11];
        const o = i + dx * (j + dy * k);
        if (mode === 'nearest') {
          const a = Math.round(x);
          const b = Math.round(y);
          const c = Math.round(z);
          if (a >= 0 && a < sx && b >= 0 && b < sy && c >= 0 && c < sz) out[o] = src.data[voxelIndex(src.dims, a, b, c)];
        } else {
          out[o] = trilinear(src, x, y, z, fill);
        }
      }
    }
  }
  return out;
}

function trilinear(v: Volume, x: number, y: number, z: number, fill: number): number {
  const [nx, ny, nz] = v.dims;
  if (x < -0.5 || y < -0.5 || z < -0.5 || x > nx - 0.5 || y > ny - 0.5 || z > nz - 0.5) return fill;
  const cx = Math.min(Math.max(x, 0), nx - 1);
  const cy = Math.min(Math.max(y, 0), ny - 1);
  const cz = Math.min(Math.max(z, 0), nz - 1);
  const x0 = Math.min(Math.floor(cx), nx - 2 < 0 ? 0 : nx - 2);
  const y0 = Math.min(Math.floor(cy), ny - 2 < 0 ? 0 : ny - 2);
  const z0 = Math.min(Math.floor(cz), nz - 2 < 0 ? 0 : nz - 2);
  const fx = nx > 1 ? cx - x0 : 0;
  const fy = ny > 1 ? cy - y0 : 0;
  const fz = nz > 1 ? cz - z0 : 0;
  const x1 = Math.min(x0 + 1, nx - 1);
  const y1 = Math.min(y0 + 1, ny - 1);
  const z1 = Math.min(z0 + 1, nz - 1);
  const at = (a: number, b: number, c: number) => v.data[a + nx * (b + ny * c)];
  const c00 = at(x0, y0, z0) * (1 - fx) + at(x1, y0, z0) * fx;
  const c10 = at(x0, y1, z0) * (1 - fx) + at(x1, y1, z0) * fx;
  const c01 = at(x0, y0, z1) * (1 - fx) + at(x1, y0, z1) * fx;
  const c11 = at(x0, y1, z1) * (1 - fx) + at(x1, y1, z1) * fx;
  return (c00 * (1 - fy) + c10 * fy) * (1 - fz) + (c01 * (1 - fy) + c11 * fy) * fz;
}
