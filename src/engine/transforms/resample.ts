/**
 * The one resampler behind Spacing, RandAffine and the elastic transforms: samples a channel-first
 * image at continuous *input voxel indices* with bilinear/trilinear or nearest interpolation and
 * torch `grid_sample` padding semantics (zeros / border / reflection). Runs on the active tfjs
 * backend (WebGPU in the browser, cpu in tests).
 *
 * Why by hand: tfjs has no N-d `grid_sample`. Each output chunk gathers the 2^nd corner values
 * from the flattened input and blends them. Both the output (chunks of output voxels) and the
 * input (flat slabs) are split so that no tensor exceeds `maxTensorBytes` (64 MB by default —
 * WebGPU binds at most 128 MB per buffer, and a CT volume is often larger); for each output chunk
 * only the input slabs its coordinates can reach are uploaded (the reach is bounded on the CPU
 * from the affine corners or the grid values), and at most two slabs stay cached.
 *
 * Voxel index convention: integer indices are voxel centres. MONAI's normalised-coordinate
 * round trips cancel out, so `out(o) = in(coords(o))` exactly; `align_corners` only changes where
 * reflection folds (about 0 and n−1 when true, about −0.5 and n−0.5 when false), as in torch.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { VoxelArray } from '../volume';
import { product } from './image';
import { matvec, type Matrix } from './matrix';

export type InterpMode = 'bilinear' | 'nearest';
export type GridPadMode = 'zeros' | 'border' | 'reflection';

export interface ResampleOptions {
  /** 'bilinear' means trilinear in 3D (MONAI/torch naming). Default 'bilinear'. */
  mode?: InterpMode;
  /** Default 'border'. */
  padding_mode?: GridPadMode;
  /** Default false (torch/MONAI HEAD `Resample`). */
  align_corners?: boolean;
  /** Largest single tensor, in bytes (default 64 MB). Small values force the chunked paths. */
  maxTensorBytes?: number;
}

/**
 * Where each output voxel samples the input, in input voxel indices:
 * - `affine`: an (nd+1)×(nd+1) map from output index to input index;
 * - `grid`: a channel-first field `[nd, ...outSpatial]` of input indices (C-order).
 */
export type Coords = { affine: Matrix } | { grid: Float32Array };

export interface ImageArray {
  data: VoxelArray;
  shape: readonly number[];
}

const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
const MAX_CHUNK = 1 << 20;

export async function resample(img: ImageArray, outSpatial: readonly number[], coords: Coords, opts: ResampleOptions = {}): Promise<Float32Array> {
  const mode = opts.mode ?? 'bilinear';
  const pad = opts.padding_mode ?? 'border';
  const alignCorners = opts.align_corners ?? false;
  const C = img.shape[0];
  const inSp = img.shape.slice(1);
  const nd = inSp.length;
  if (nd !== 2 && nd !== 3) throw new Error(`resample supports 2 or 3 spatial dims, got ${nd}`);
  if (outSpatial.length !== nd) throw new Error(`output has ${outSpatial.length} spatial dims, input ${nd}`);
  const V = product(inSp);
  const Nout = product(outSpatial);
  if ('grid' in coords && coords.grid.length !== nd * Nout) throw new Error(`grid has ${coords.grid.length} values, expected ${nd}×${Nout}`);
  if ('affine' in coords && coords.affine.length !== nd + 1) throw new Error(`affine must be ${nd + 1}×${nd + 1}`);
  const out = new Float32Array(C * Nout);
  if (C === 0 || Nout === 0 || V === 0) return out;

  const budget = Math.max(1, Math.floor((opts.maxTensorBytes ?? DEFAULT_MAX_BYTES) / 4));
  const slabLen = Math.max(1, Math.floor(budget / C));
  const chunk = Math.max(1, Math.min(MAX_CHUNK, Math.floor(budget / Math.max(C, nd))));
  const inStride = strides(inSp);
  const outStride = strides(outSpatial);

  const cache = new Map<number, tf.Tensor2D>();
  const slab = (s: number): tf.Tensor2D => {
    let t = cache.get(s);
    if (t) {
      cache.delete(s);
      cache.set(s, t); // most recently used last
      return t;
    }
    if (cache.size >= 2) {
      const [oldest, old] = cache.entries().next().value as [number, tf.Tensor2D];
      old.dispose();
      cache.delete(oldest);
    }
    const start = s * slabLen;
    const len = Math.min(V, start + slabLen) - start;
    let buf: Float32Array;
    if (C === 1 && img.data instanceof Float32Array) buf = img.data.subarray(start, start + len);
    else {
      buf = new Float32Array(C * len);
      for (let c = 0; c < C; c++) buf.set(img.data.subarray(c * V + start, c * V + start + len), c * len);
    }
    t = tf.tensor2d(buf, [C, len]);
    cache.set(s, t);
    return t;
  };

  try {
    for (let a = 0; a < Nout; a += chunk) {
      const n = Math.min(Nout, a + chunk) - a;
      // Which input slabs can this chunk touch? Bound axis-0 reach on the CPU.
      const [lo, hi] = 'affine' in coords ? affineReach(coords.affine, a, n, outSpatial, outStride) : gridReach(coords.grid, a, n);
      const [i0, i1] = indexReach(lo, hi, inSp[0], pad, mode, alignCorners);
      if (i0 > i1) continue; // everything falls outside under zeros padding
      const f0 = i0 * inStride[0];
      const f1 = (i1 + 1) * inStride[0] - 1;
      const slabIds: number[] = [];
      for (let s = Math.floor(f0 / slabLen); s <= Math.floor(f1 / slabLen); s++) slabIds.push(s);

      // Per corner: flat input index (clamped into range) and weight (0 where out of bounds).
      const corners = tf.tidy(() => {
        const c = 'affine' in coords ? affineCoords(coords.affine, a, n, outSpatial, outStride) : gridCoords(coords.grid, a, n, nd, Nout);
        const axes = c.map((x, d) => cornerData(padCoord(x, inSp[d], pad, alignCorners), inSp[d], mode));
        const list: tf.Tensor1D[][] = [];
        for (let k = 0; k < (mode === 'nearest' ? 1 : 1 << nd); k++) {
          let flat: tf.Tensor1D | null = null;
          let w: tf.Tensor1D | null = null;
          for (let d = 0; d < nd; d++) {
            const bit = (k >> (nd - 1 - d)) & 1;
            const idx = axes[d][2 * bit];
            const term = inStride[d] === 1 ? idx : tf.mul(idx, tf.scalar(inStride[d], 'int32'));
            flat = flat ? tf.add(flat, term) : (term as tf.Tensor1D);
            w = w ? tf.mul(w, axes[d][2 * bit + 1]) : axes[d][2 * bit + 1];
          }
          list.push([flat!, w!]);
        }
        return list;
      }) as tf.Tensor1D[][];
      let acc: tf.Tensor2D = tf.zeros([C, n]);
      try {
        // Slabs outer, corners inner: only one or two slabs need to be on the device at a time.
        for (const s of slabIds) {
          const t = slab(s);
          const start = s * slabLen;
          const len = t.shape[1];
          // Every index the chunk can reach lies in this slab: no masking needed.
          const whole = start <= f0 && f1 < start + len;
          for (const [flat, w] of corners) {
            const prev = acc;
            acc = tf.tidy(() => {
              const local = start === 0 ? flat : tf.sub(flat, tf.scalar(start, 'int32'));
              if (whole) return tf.add(prev, tf.mul(tf.gather(t, local, 1), tf.expandDims(w, 0)));
              const inside = tf.logicalAnd(tf.greaterEqual(local, 0), tf.less(local, len));
              const g = tf.gather(t, tf.where(inside, local, tf.zerosLike(local)), 1);
              return tf.add(prev, tf.mul(g, tf.expandDims(tf.mul(w, tf.cast(inside, 'float32')), 0)));
            });
            prev.dispose();
          }
        }
        const vals = (await acc.data()) as Float32Array;
        for (let c = 0; c < C; c++) out.set(vals.subarray(c * n, (c + 1) * n), c * Nout + a);
      } finally {
        acc.dispose();
        tf.dispose(corners.flat());
      }
    }
  } finally {
    for (const t of cache.values()) t.dispose();
  }
  return out;
}

function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
}

/** Range of the axis-0 input coordinate over output voxels [a, a+n): affine image of their box. */
function affineReach(m: Matrix, a: number, n: number, outSp: readonly number[], outStride: number[]): [number, number] {
  const nd = outSp.length;
  const r0 = Math.floor(a / outStride[0]);
  const r1 = Math.floor((a + n - 1) / outStride[0]);
  let lo = Infinity;
  let hi = -Infinity;
  for (let k = 0; k < 1 << nd; k++) {
    const p = [...Array.from({ length: nd }, (_, d) => (d === 0 ? ((k & 1) ? r1 : r0) : (k >> d) & 1 ? outSp[d] - 1 : 0)), 1];
    const x = matvec(m, p)[0];
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
  }
  return [lo, hi];
}

function gridReach(grid: Float32Array, a: number, n: number): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = a; i < a + n; i++) {
    const x = grid[i];
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  if (!(lo <= hi)) return [0, Infinity]; // NaNs: be conservative
  return [lo, hi];
}

/** Input axis-0 voxel indices that corner lookups may touch, after padding. [i0 > i1] = none. */
function indexReach(lo: number, hi: number, n: number, pad: GridPadMode, mode: InterpMode, alignCorners: boolean): [number, number] {
  // The device computes coordinates in float32: widen the float64 bound so rounding cannot escape it.
  lo -= 1e-4 * (1 + Math.abs(lo));
  hi += 1e-4 * (1 + Math.abs(hi));
  const lim = alignCorners ? [0, n - 1] : [-0.5, n - 0.5];
  if (pad === 'border' || (pad === 'reflection' && lo >= lim[0] && hi <= lim[1])) {
    lo = Math.min(Math.max(lo, 0), n - 1);
    hi = Math.min(Math.max(hi, 0), n - 1);
  } else if (pad === 'reflection') {
    lo = 0;
    hi = n - 1;
  }
  const i0 = mode === 'nearest' ? Math.floor(lo + 0.5) - 1 : Math.floor(lo);
  const i1 = mode === 'nearest' ? Math.floor(hi + 0.5) + 1 : Math.floor(hi) + 1;
  if (!Number.isFinite(i0) || !Number.isFinite(i1)) return [0, n - 1];
  return [Math.max(i0, 0), Math.min(i1, n - 1)];
}

/** Input coordinates of output voxels [a, a+n) under an affine, computed on the device. */
function affineCoords(m: Matrix, a: number, n: number, outSp: readonly number[], outStride: number[]): tf.Tensor1D[] {
  const nd = outSp.length;
  const f = tf.range(a, a + n, 1, 'int32');
  const o = outSp.map((size, d) => {
    let q = outStride[d] === 1 ? f : tf.floorDiv(f, tf.scalar(outStride[d], 'int32'));
    if (d > 0) q = tf.mod(q, tf.scalar(size, 'int32'));
    return tf.cast(q, 'float32');
  });
  return Array.from({ length: nd }, (_, r) => {
    let c: tf.Tensor1D = tf.fill([n], m[r][nd], 'float32');
    for (let d = 0; d < nd; d++) if (m[r][d] !== 0) c = tf.add(c, tf.mul(o[d], tf.scalar(m[r][d])));
    return c;
  });
}

function gridCoords(grid: Float32Array, a: number, n: number, nd: number, Nout: number): tf.Tensor1D[] {
  return Array.from({ length: nd }, (_, d) => tf.tensor1d(grid.subarray(d * Nout + a, d * Nout + a + n)));
}

/** torch grid_sampler_compute_source_index, without the (cancelled) unnormalisation. */
function padCoord(x: tf.Tensor1D, n: number, pad: GridPadMode, alignCorners: boolean): tf.Tensor1D {
  if (pad === 'zeros') return x;
  if (pad === 'reflection') {
    const lo = alignCorners ? 0 : -0.5;
    const span = alignCorners ? n - 1 : n;
    if (span <= 0) return tf.zerosLike(x);
    const ax = tf.abs(tf.sub(x, lo));
    const extra = tf.mod(ax, span);
    const flips = tf.floor(tf.div(ax, span));
    const even = tf.equal(tf.mod(flips, 2), 0);
    x = tf.where(even, tf.add(extra, lo), tf.sub(span + lo, extra)) as tf.Tensor1D;
  }
  return tf.clipByValue(x, 0, n - 1);
}

/**
 * One axis: [index, weight] for each corner (indices clamped into range; weight 0 out of bounds).
 * Indices are clamped while still float32 and cast after: tfjs-wasm's ClipByValue does not clamp
 * int32 tensors (an index of n stays n), and the gather past the volume's last voxel then fails.
 */
function cornerData(x: tf.Tensor1D, n: number, mode: InterpMode): tf.Tensor1D[] {
  const inRange = (i: tf.Tensor) => tf.cast(tf.logicalAnd(tf.greaterEqual(i, 0), tf.lessEqual(i, n - 1)), 'float32');
  const clampI = (i: tf.Tensor) => tf.cast(tf.clipByValue(i, 0, n - 1), 'int32');
  if (mode === 'nearest') {
    const i = tf.round(x); // round half to even, like torch's nearbyint
    return [clampI(i), inRange(i)] as tf.Tensor1D[];
  }
  const i0 = tf.floor(x);
  const frac = tf.sub(x, i0);
  const i1 = tf.add(i0, 1);
  return [clampI(i0), tf.mul(tf.sub(1, frac), inRange(i0)), clampI(i1), tf.mul(frac, inRange(i1))] as tf.Tensor1D[];
}
