/**
 * Gaussian smoothing of float volumes, for partial-volume blur and for smooth random fields.
 *
 * Written by hand: the engine's other convolutions run on tfjs tensors, which would copy the whole
 * volume to a backend and back for what is three 1D passes; here the volume is blurred in place on
 * the CPU with a few-slice ring buffer, so a 512×512×300 scan needs no second full-size copy.
 */
import type { Rng } from '../random';
import type { Vec3 } from '../volume';
import { fillNormal } from './seeds';

/** Normalised Gaussian kernel sampled at integer offsets −R…R, R = ⌈3σ⌉. */
export function gaussianKernel(sigma: number): Float32Array {
  const r = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let t = -r; t <= r; t++) sum += k[t + r] = Math.exp((-t * t) / (2 * sigma * sigma));
  for (let t = 0; t < k.length; t++) k[t] /= sum;
  return k;
}

/** Blurs `data` (i fastest) in place with a separable Gaussian of `sigma` voxels per axis; edges are clamped. 0 skips an axis. */
export function gaussianBlur(data: Float32Array, dims: Vec3, sigma: Vec3): void {
  const [nx, ny, nz] = dims;
  if (data.length !== nx * ny * nz) throw new RangeError(`blur: ${data.length} values for dims ${dims.join('×')}`);
  if (sigma[0] > 0 && nx > 1) blurRows(data, nx, ny * nz, gaussianKernel(sigma[0]));
  if (sigma[1] > 0 && ny > 1) {
    const w = gaussianKernel(sigma[1]);
    const ring = new Float32Array(((w.length + 1) / 2) * nx);
    for (let k = 0; k < nz; k++) blurStrided(data, k * nx * ny, ny, nx, w, ring);
  }
  if (sigma[2] > 0 && nz > 1) {
    const w = gaussianKernel(sigma[2]);
    blurStrided(data, 0, nz, nx * ny, w, new Float32Array(((w.length + 1) / 2) * nx * ny));
  }
}

/** Along i: each row is copied with clamped padding, then convolved back into place. */
function blurRows(data: Float32Array, nx: number, rows: number, w: Float32Array): void {
  const r = (w.length - 1) / 2;
  const line = new Float32Array(nx + 2 * r);
  for (let row = 0, base = 0; row < rows; row++, base += nx) {
    line.set(data.subarray(base, base + nx), r);
    line.fill(data[base], 0, r);
    line.fill(data[base + nx - 1], r + nx);
    for (let i = 0; i < nx; i++) {
      let s = 0;
      for (let t = 0; t < w.length; t++) s += w[t] * line[i + t];
      data[base + i] = s;
    }
  }
}

/**
 * Along an axis whose consecutive positions are whole blocks of `stride` values (rows of a slice, or
 * slices): block p becomes Σ w_t · block(p+t). Blocks before p are already overwritten, so the last
 * R+1 originals are kept in `ring`; blocks after p are still original in place.
 */
function blurStrided(data: Float32Array, base: number, n: number, stride: number, w: Float32Array, ring: Float32Array): void {
  const r = (w.length - 1) / 2;
  const slots = r + 1;
  const acc = new Float32Array(stride);
  for (let p = 0; p < n; p++) {
    const start = base + p * stride;
    ring.set(data.subarray(start, start + stride), (p % slots) * stride);
    acc.fill(0);
    for (let t = -r; t <= r; t++) {
      const q = Math.min(n - 1, Math.max(0, p + t));
      const wt = w[t + r];
      const src = q <= p ? ring : data;
      const off = q <= p ? (q % slots) * stride : base + q * stride;
      for (let x = 0; x < stride; x++) acc[x] += wt * src[off + x];
    }
    data.set(acc, start);
  }
}

/**
 * A smooth random field on a grid: zero mean, standard deviation about 1 (a little less between coarse
 * nodes), correlated over about `scaleMm`. White noise is drawn on a coarse grid of `scaleMm` cells,
 * blurred there with σ = 1 cell, and interpolated trilinearly, so the cost does not grow with the
 * correlation length.
 */
export function smoothNoise(dims: Vec3, spacing: Vec3, scaleMm: number, rng: Rng): Float32Array {
  const pad = 4;
  const cell = spacing.map((s) => Math.max(s, scaleMm)) as Vec3;
  const cdims = dims.map((d, a) => Math.ceil(((d - 1) * spacing[a]) / cell[a]) + 2 + 2 * pad) as Vec3;
  const coarse = fillNormal(new Float32Array(cdims[0] * cdims[1] * cdims[2]), rng);
  gaussianBlur(coarse, cdims, [1, 1, 1]);

  const [nx, ny, nz] = dims;
  const out = new Float32Array(nx * ny * nz);
  // Fine index → coarse position, and the two neighbours' weights, per axis.
  const axis = (a: number) => {
    const lo = new Int32Array(dims[a]);
    const f = new Float32Array(dims[a]);
    for (let x = 0; x < dims[a]; x++) {
      const c = pad + (x * spacing[a]) / cell[a];
      lo[x] = Math.floor(c);
      f[x] = c - lo[x];
    }
    return { lo, f };
  };
  const [ax, ay, az] = [axis(0), axis(1), axis(2)];
  const cx = cdims[0];
  const cxy = cdims[0] * cdims[1];
  // Standard deviation of blurred unit white noise: √(Σw²) per axis. Dividing by it (not by the sample's
  // own spread) keeps a small grid a true sample of the same field.
  const w = gaussianKernel(1);
  const norm = 1 / Math.pow(w.reduce((s, x) => s + x * x, 0), 1.5);
  for (let k = 0, o = 0; k < nz; k++) {
    const k0 = az.lo[k] * cxy;
    const fz = az.f[k];
    for (let j = 0; j < ny; j++) {
      const j0 = ay.lo[j] * cx;
      const fy = ay.f[j];
      for (let i = 0; i < nx; i++, o++) {
        const b = k0 + j0 + ax.lo[i];
        const fx = ax.f[i];
        const c00 = coarse[b] + fx * (coarse[b + 1] - coarse[b]);
        const c10 = coarse[b + cx] + fx * (coarse[b + cx + 1] - coarse[b + cx]);
        const c01 = coarse[b + cxy] + fx * (coarse[b + cxy + 1] - coarse[b + cxy]);
        const c11 = coarse[b + cxy + cx] + fx * (coarse[b + cxy + cx + 1] - coarse[b + cxy + cx]);
        const c0 = c00 + fy * (c10 - c00);
        const v = c0 + fz * (c01 + fy * (c11 - c01) - c0);
        out[o] = v * norm;
      }
    }
  }
  return out;
}
