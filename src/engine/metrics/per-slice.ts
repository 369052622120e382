/** Dice of two masks per axial slice (along k): where along the scan two observers disagree. */
import type { Vec3, VoxelArray } from '../volume';

/** Dice per slice k; NaN where both masks are empty on that slice. */
export function perSliceDice(a: VoxelArray, b: VoxelArray, dims: Vec3): Float64Array {
  const [nx, ny, nz] = dims;
  const plane = nx * ny;
  const out = new Float64Array(nz);
  for (let k = 0; k < nz; k++) {
    let sa = 0;
    let sb = 0;
    let both = 0;
    for (let p = k * plane, end = p + plane; p < end; p++) {
      const x = a[p] !== 0;
      const y = b[p] !== 0;
      if (x) sa++;
      if (y) sb++;
      if (x && y) both++;
    }
    out[k] = sa + sb === 0 ? NaN : (2 * both) / (sa + sb);
  }
  return out;
}
