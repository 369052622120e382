/**
 * Plain-JS, voxel-by-voxel twin of `resample` (torch grid_sample semantics in index space), kept
 * as the independent reference the resampler tests compare against on every backend.
 * Float64 throughout; slow; tests only.
 */
import type { VoxelArray } from '../volume';
import type { GridPadMode, InterpMode } from './resample';

export function referenceSample(
  data: VoxelArray,
  shape: readonly number[],
  points: number[][],
  mode: InterpMode,
  pad: GridPadMode,
  alignCorners: boolean,
): Float64Array {
  const C = shape[0];
  const sp = shape.slice(1);
  const nd = sp.length;
  const V = sp.reduce((a, b) => a * b, 1);
  const out = new Float64Array(C * points.length);
  const source = (x: number, n: number): number => {
    if (pad === 'border') return Math.min(Math.max(x, 0), n - 1);
    if (pad === 'reflection') {
      const lo = alignCorners ? 0 : -0.5;
      const span = alignCorners ? n - 1 : n;
      if (span <= 0) return 0;
      const ax = Math.abs(x - lo);
      const extra = ax % span;
      const flips = Math.floor(ax / span);
      const r = flips % 2 === 0 ? extra + lo : span - extra + lo;
      return Math.min(Math.max(r, 0), n - 1);
    }
    return x;
  };
  const roundHalfEven = (x: number) => {
    const f = Math.floor(x);
    const d = x - f;
    if (d < 0.5) return f;
    if (d > 0.5) return f + 1;
    return f % 2 === 0 ? f : f + 1;
  };
  const at = (c: number, idx: number[]): number => {
    let flat = 0;
    for (let d = 0; d < nd; d++) {
      if (idx[d] < 0 || idx[d] > sp[d] - 1) return 0;
      flat = flat * sp[d] + idx[d];
    }
    return data[c * V + flat];
  };
  points.forEach((p, k) => {
    const x = p.map((v, d) => source(v, sp[d]));
    for (let c = 0; c < C; c++) {
      if (mode === 'nearest') {
        out[c * points.length + k] = at(c, x.map(roundHalfEven));
        continue;
      }
      let s = 0;
      for (let corner = 0; corner < 1 << nd; corner++) {
        let w = 1;
        const idx = x.map((v, d) => {
          const f = Math.floor(v);
          const bit = (corner >> (nd - 1 - d)) & 1;
          w *= bit ? v - f : 1 - (v - f);
          return f + bit;
        });
        s += w * at(c, idx);
      }
      out[c * points.length + k] = s;
    }
  });
  return out;
}
