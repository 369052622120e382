/**
 * MONAI's GaussianFilter as used by Rand3DElastic: a separable 1-D kernel per axis, zero 'same'
 * padding, tail = int(max(σ·truncated, 0.5) + 0.5). Kernels: 'erf' (MONAI HEAD default,
 * 0.5·(erf(t(x+½)) − erf(t(x−½))), t = 1/(σ√2), not renormalised) or 'sampled' (MONAI 0.2.0:
 * exp(−x²/2σ²) normalised to sum 1). The convolution runs on tfjs (conv2d along one axis at a
 * time), chunked so that no tensor exceeds `maxTensorBytes`.
 */
import * as tf from '@tensorflow/tfjs-core';

export type GaussianApprox = 'erf' | 'sampled';

/** erf to ~1e-15 (JavaScript has no Math.erf): Taylor series near 0, continued fraction beyond. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  let r: number;
  if (ax < 2.5) {
    // erf(x) = 2/√π Σ (−1)^n x^(2n+1) / (n! (2n+1))
    let term = ax;
    let sum = ax;
    const x2 = ax * ax;
    for (let n = 1; n < 100; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    // erfc(x) = exp(−x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + 2/(x + …))))) (Lentz)
    let f = ax;
    let C = ax;
    let D = 0;
    for (let n = 1; n < 200; n++) {
      const an = n / 2;
      D = ax + an * D;
      D = D === 0 ? 1e-300 : 1 / D;
      C = ax + an / C;
      const delta = C * D;
      f *= delta;
      if (Math.abs(delta - 1) < 1e-16) break;
    }
    r = 1 - Math.exp(-ax * ax) / (Math.sqrt(Math.PI) * f);
  }
  return x < 0 ? -r : r;
}

/** The 1-D kernel, length 2·tail + 1, centre at index tail. */
export function gaussianKernel1d(sigma: number, truncated = 3, approx: GaussianApprox = 'erf'): Float64Array {
  if (!(sigma > 0)) throw new Error(`Gaussian sigma must be positive, got ${sigma}`);
  const tail = Math.floor(Math.max(sigma * truncated, 0.5) + 0.5);
  const k = new Float64Array(2 * tail + 1);
  if (approx === 'erf') {
    const t = 0.70710678 / sigma;
    for (let i = 0; i < k.length; i++) {
      const x = i - tail;
      k[i] = Math.max(0.5 * (erf(t * (x + 0.5)) - erf(t * (x - 0.5))), 0);
    }
  } else {
    let s = 0;
    for (let i = 0; i < k.length; i++) {
      const x = i - tail;
      k[i] = Math.exp((-0.5 / (sigma * sigma)) * x * x);
      s += k[i];
    }
    for (let i = 0; i < k.length; i++) k[i] /= s;
  }
  return k;
}

/**
 * Smooths each channel of a C-order field `[C, ...spatial]` (2 or 3 spatial dims) in place of a
 * copy, axis by axis. Taps farther than n−1 from the centre only ever meet zero padding, so the
 * kernel is cut to that radius first (same result, far less work for σ ≫ size).
 */
export async function gaussianSmooth(
  field: Float32Array,
  shape: readonly number[],
  sigma: number,
  opts: { truncated?: number; approx?: GaussianApprox; maxTensorBytes?: number } = {},
): Promise<Float32Array> {
  const kernel = gaussianKernel1d(sigma, opts.truncated ?? 3, opts.approx ?? 'erf');
  const tail = (kernel.length - 1) / 2;
  const budget = Math.max(1, Math.floor((opts.maxTensorBytes ?? 64 * 1024 * 1024) / 4));
  let cur: Float32Array = Float32Array.from(field);
  const sp = shape.slice(1);
  for (let axis = 0; axis < sp.length; axis++) {
    const n = sp[axis];
    if (n === 0) continue;
    const r = Math.min(tail, n - 1);
    const k = Float32Array.from(kernel.subarray(tail - r, tail + r + 1));
    // View as [outer, n, inner]; the channel axis folds into `outer`.
    const outer = shape[0] * sp.slice(0, axis).reduce((a, b) => a * b, 1);
    const inner = sp.slice(axis + 1).reduce((a, b) => a * b, 1);
    cur = await convAxis(cur, outer, n, inner, k, budget);
  }
  return cur;
}

/** Zero-padded 'same' convolution along the middle axis of [outer, n, inner], chunked. */
async function convAxis(src: Float32Array, outer: number, n: number, inner: number, k: Float32Array, budget: number): Promise<Float32Array> {
  const out = new Float32Array(src.length);
  const filter = tf.tensor4d(k, [k.length, 1, 1, 1]);
  try {
    // Chunk over `outer` rows when possible (contiguous), else over `inner` columns.
    const rowsPer = Math.max(1, Math.floor(budget / (n * inner)));
    if (rowsPer >= 1 && n * inner <= budget) {
      for (let o0 = 0; o0 < outer; o0 += rowsPer) {
        const o1 = Math.min(outer, o0 + rowsPer);
        const part = src.subarray(o0 * n * inner, o1 * n * inner);
        const res = await run(part, [o1 - o0, n, inner, 1], filter);
        out.set(res, o0 * n * inner);
      }
    } else {
      const colsPer = Math.max(1, Math.floor(budget / n));
      for (let o = 0; o < outer; o++) {
        for (let c0 = 0; c0 < inner; c0 += colsPer) {
          const c1 = Math.min(inner, c0 + colsPer);
          const w = c1 - c0;
          const part = new Float32Array(n * w);
          for (let i = 0; i < n; i++) part.set(src.subarray((o * n + i) * inner + c0, (o * n + i) * inner + c1), i * w);
          const res = await run(part, [1, n, w, 1], filter);
          for (let i = 0; i < n; i++) out.set(res.subarray(i * w, (i + 1) * w), (o * n + i) * inner + c0);
        }
      }
    }
  } finally {
    filter.dispose();
  }
  return out;
}

async function run(part: Float32Array, shape: [number, number, number, number], filter: tf.Tensor4D): Promise<Float32Array> {
  const y = tf.tidy(() => tf.conv2d(tf.tensor4d(part, shape), filter, 1, 'same'));
  try {
    return (await y.data()) as Float32Array;
  } finally {
    y.dispose();
  }
}
