/**
 * The two exact (interpolation-free) spatial ops every other transform is built from, each
 * returning a new MetaImage with its affine updated as MONAI does (`affine @ index map`):
 * - `permuteFlip`: output axis j reads input axis perm[j], reversed where flips[j];
 * - `cropPad`: the box [start, end) per axis, parts outside the image padded by `mode`
 *   (crop first, then pad the crop — MONAI's CropForeground.crop_pad order).
 */
import type { Mat4 } from '../volume';
import { composeAffine, spatialShape, type MetaImage } from './image';
import type { Matrix } from './matrix';
import { flipMap, identityMap, padIndex, reindex, type PadMode } from './ndarray';

export function permuteFlip(img: MetaImage, perm: readonly number[], flips: readonly boolean[]): MetaImage {
  const sp = spatialShape(img);
  const sr = sp.length;
  const identity = perm.every((a, j) => a === j) && !flips.some(Boolean);
  const out = identity
    ? { data: img.data, shape: img.shape.slice() }
    : reindex(img.data, img.shape, perm, perm.map((a, j) => (flips[j] ? flipMap(sp[a]) : identityMap(sp[a]))));
  const m: Matrix = Array.from({ length: sr + 1 }, () => new Array<number>(sr + 1).fill(0));
  m[sr][sr] = 1;
  perm.forEach((a, j) => {
    m[a][j] = flips[j] ? -1 : 1;
    m[a][sr] = flips[j] ? sp[a] - 1 : 0;
  });
  return { ...img, data: out.data, shape: out.shape, affine: composeAffine(img.affine, m) };
}

/** Inverse of `permuteFlip(perm, flips)` on an image of the permuted shape. */
export function unpermuteFlip(img: MetaImage, perm: readonly number[], flips: readonly boolean[], origAffine: Mat4): MetaImage {
  const permInv = new Array<number>(perm.length);
  const flipsInv = new Array<boolean>(perm.length);
  perm.forEach((a, j) => {
    permInv[a] = j;
    flipsInv[a] = flips[j];
  });
  return { ...permuteFlip(img, permInv, flipsInv), affine: origAffine.slice() };
}

/** Box [start, end) (may reach outside the image); outside parts padded by `mode` (value for constant). */
export function cropPad(img: MetaImage, start: readonly number[], end: readonly number[], mode: PadMode = 'constant', value = 0): MetaImage {
  const sp = spatialShape(img);
  const sr = sp.length;
  const maps = sp.map((n, d) => {
    const len = Math.max(end[d] - start[d], 0);
    const c0 = Math.min(Math.max(start[d], 0), n); // the in-bounds crop
    const c1 = Math.max(Math.min(end[d], n), c0);
    const before = Math.max(-start[d], 0);
    const m = new Int32Array(len);
    for (let o = 0; o < len; o++) {
      const i = padIndex(o - before, c1 - c0, mode);
      m[o] = i < 0 ? -1 : i + c0;
    }
    return m;
  });
  const out = reindex(img.data, img.shape, Array.from({ length: sr }, (_, d) => d), maps, mode === 'constant' ? value : 0);
  const t: Matrix = Array.from({ length: sr + 1 }, (_, r) => Array.from({ length: sr + 1 }, (_, c) => (r === c ? 1 : 0)));
  start.forEach((s, d) => (t[d][sr] = s));
  return { ...img, data: out.data, shape: out.shape, affine: composeAffine(img.affine, t) };
}

/** Normalises MONAI/torch pad-mode names to numpy's. */
export function padMode(mode: string): PadMode {
  switch (mode) {
    case 'replicate':
      return 'edge';
    case 'circular':
      return 'wrap';
    case 'constant':
    case 'edge':
    case 'reflect':
    case 'symmetric':
    case 'wrap':
      return mode;
    default:
      throw new Error(`unknown pad mode "${mode}"`);
  }
}
