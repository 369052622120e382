/**
 * One strided-copy kernel for every pure-array spatial op (flip, transpose, pad, crop): each
 * output spatial axis d reads source axis `perm[d]` at index `maps[d][o]` (−1 = outside → `fill`).
 * Channels are copied through. The last axis is copied in runs (TypedArray.set when contiguous).
 */
import type { VoxelArray } from '../volume';
import { newArrayLike, product } from './image';

export function reindex(
  src: VoxelArray,
  shape: readonly number[],
  perm: readonly number[],
  maps: readonly Int32Array[],
  fill = 0,
): { data: VoxelArray; shape: number[] } {
  const C = shape[0];
  const inSp = shape.slice(1);
  const n = inSp.length;
  const outSp = maps.map((m) => m.length);
  const outShape = [C, ...outSp];
  const out = newArrayLike(src, product(outShape));
  if (out.length === 0) return { data: out, shape: outShape };
  if (fill !== 0) out.fill(fill);

  const inStride = new Array<number>(n);
  let s = 1;
  for (let d = n - 1; d >= 0; d--) {
    inStride[d] = s;
    s *= inSp[d];
  }
  const chanStride = s;
  const stride = perm.map((p) => inStride[p]);

  // Runs along the last output axis: [outStart, length, srcStart or −1, contiguous].
  const last = maps[n - 1];
  const ls = stride[n - 1];
  const runs: [number, number, number, boolean][] = [];
  for (let t = 0; t < last.length; ) {
    const start = t;
    const a = last[t];
    if (a < 0) {
      while (t < last.length && last[t] < 0) t++;
      runs.push([start, t - start, -1, false]);
    } else {
      t++;
      while (t < last.length && last[t] === last[t - 1] + 1) t++;
      runs.push([start, t - start, a, ls === 1]);
    }
  }

  const rowLen = outSp[n - 1];
  const rows = product(outSp.slice(0, n - 1));
  const idx = new Array<number>(Math.max(n - 1, 0)).fill(0);
  let o = 0;
  for (let c = 0; c < C; c++) {
    idx.fill(0);
    for (let r = 0; r < rows; r++, o += rowLen) {
      let base = c * chanStride;
      let outside = false;
      for (let d = 0; d < n - 1; d++) {
        const m = maps[d][idx[d]];
        if (m < 0) outside = true;
        base += m * stride[d];
      }
      if (!outside) {
        for (const [os, len, ss, contiguous] of runs) {
          if (ss < 0) continue;
          const from = base + ss * ls;
          if (contiguous) out.set(src.subarray(from, from + len), o + os);
          else for (let t = 0; t < len; t++) out[o + os + t] = src[base + last[os + t] * ls];
        }
      }
      for (let d = n - 2; d >= 0; d--) {
        if (++idx[d] < outSp[d]) break;
        idx[d] = 0;
      }
    }
  }
  return { data: out, shape: outShape };
}

/** Index map for one axis: o → o + start, −1 where it falls outside [0, size). */
export function shiftMap(outLen: number, start: number, size: number): Int32Array {
  const m = new Int32Array(outLen);
  for (let o = 0; o < outLen; o++) {
    const i = o + start;
    m[o] = i >= 0 && i < size ? i : -1;
  }
  return m;
}

export function identityMap(n: number): Int32Array {
  return shiftMap(n, 0, n);
}

export function flipMap(n: number): Int32Array {
  const m = new Int32Array(n);
  for (let o = 0; o < n; o++) m[o] = n - 1 - o;
  return m;
}

/** Pad modes, numpy names (torch aliases accepted by the transforms). */
export type PadMode = 'constant' | 'edge' | 'reflect' | 'symmetric' | 'wrap';

/** Source index for a padded position `i` (may be < 0 or ≥ n) under numpy.pad semantics; −1 = constant. */
export function padIndex(i: number, n: number, mode: PadMode): number {
  if (i >= 0 && i < n) return i;
  if (mode === 'constant' || n === 0) return -1;
  switch (mode) {
    case 'edge':
      return i < 0 ? 0 : n - 1;
    case 'wrap':
      return ((i % n) + n) % n;
    case 'reflect': {
      if (n === 1) return 0;
      const p = 2 * (n - 1);
      const m = ((i % p) + p) % p;
      return m < n ? m : p - m;
    }
    case 'symmetric': {
      const p = 2 * n;
      const m = ((i % p) + p) % p;
      return m < n ? m : p - 1 - m;
    }
  }
}

/** Index map for one axis of a crop/pad: output o reads source o + start, padded by `mode`. */
export function padMap(outLen: number, start: number, size: number, mode: PadMode): Int32Array {
  const m = new Int32Array(outLen);
  for (let o = 0; o < outLen; o++) m[o] = padIndex(o + start, size, mode);
  return m;
}
