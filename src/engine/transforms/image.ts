/**
 * The array type the transforms work on: MONAI's channel-first `MetaTensor`, as plain data.
 *
 * `shape` is `[C, ...spatial]` in MONAI axis order and memory is C-order (last axis fastest).
 * Spatial axis 0 is the Volume's i axis (as nibabel's array axis 0), so a Volume `[nx, ny, nz]`
 * becomes `[1, nx, ny, nz]`. `affine` maps the spatial index (i, j, k) to LPS world mm; a 2D
 * image `[C, H, W]` uses its first two columns (index k = 0).
 */
import { InputError } from '../io/errors';
import { affineLPS, geometryFromLPS, type IntensityUnits, type Mat4, type Vec3, type Volume, type VoxelArray } from '../volume';
import { eye, fromMat4, matmul, toMat4, type Matrix } from './matrix';

export interface MetaImage {
  data: VoxelArray;
  shape: number[];
  affine: Mat4;
  meta?: ImageMeta;
}

/** Known meta keys (MONAI names where MONAI has one); anything else passes through untouched. */
export interface ImageMeta {
  /** 'label' images default to nearest-neighbour interpolation in the spatial transforms. */
  units?: IntensityUnits;
  filename_or_obj?: string;
  /** Invertible spatial operations applied so far, oldest first (MONAI's `applied_operations`). */
  applied_operations?: TraceRecord[];
  [key: string]: unknown;
}

/**
 * What an invertible transform did, enough to undo it (see `invert.ts`). Plain JSON so it can
 * cross a worker boundary. `affine`/`shape` are the spatial affine and shape *before* the op.
 */
export interface TraceRecord {
  /** MONAI class name of the transform that made it. */
  name: string;
  /**
   * permute: axes permuted/flipped (extra: perm, flips) — Orientation, flips, rot90;
   * crop: box [start, end) taken, outside padded (extra: start, end) — pads and crops;
   * resample: regridded (extra: mode, padding_mode, align_corners) — Spacing;
   * irreversible: cannot be undone (random affine/elastic warps).
   */
  op: 'permute' | 'crop' | 'resample' | 'irreversible';
  orig_shape: number[];
  orig_affine: Mat4;
  extra: Record<string, unknown>;
}

export type Dict = Record<string, unknown>;

type TypedArrayCtor = { new (n: number): VoxelArray };

export function isMetaImage(x: unknown): x is MetaImage {
  const m = x as MetaImage | null;
  return !!m && typeof m === 'object' && ArrayBuffer.isView(m.data) && Array.isArray(m.shape) && Array.isArray(m.affine);
}

export function spatialShape(img: Pick<MetaImage, 'shape'>): number[] {
  return img.shape.slice(1);
}

export function product(xs: readonly number[]): number {
  return xs.reduce((a, b) => a * b, 1);
}

/** Where an error about this image should point: its file, else the transform's name. */
export function whereOf(img: MetaImage | undefined, fallback: string): string {
  const f = img?.meta?.filename_or_obj;
  return typeof f === 'string' && f ? f : fallback;
}

export function newArrayLike(data: VoxelArray, n: number): VoxelArray {
  return new (data.constructor as TypedArrayCtor)(n);
}

/** Checks shape/data agreement so transforms never index out of range on malformed input. */
export function checkImage(img: unknown, where: string): MetaImage {
  if (!isMetaImage(img)) throw new InputError(where, 'expected an image {data, shape, affine}');
  if (img.shape.length < 2 || img.shape.some((s) => !Number.isInteger(s) || s < 0)) {
    throw new InputError(whereOf(img, where), `bad image shape [${img.shape.join(', ')}] (need [C, ...spatial])`);
  }
  if (product(img.shape) !== img.data.length) {
    throw new InputError(whereOf(img, where), `shape [${img.shape.join(', ')}] does not match ${img.data.length} values`);
  }
  if (img.affine.length !== 16) throw new InputError(whereOf(img, where), 'affine must be a row-major 4×4 (16 numbers)');
  return img;
}

/** MONAI `to_affine_nd(sr, affine)`: the (sr+1)×(sr+1) spatial part of the 4×4 affine. */
export function spatialAffine(affine: Mat4, sr: number): Matrix {
  const a = fromMat4(affine);
  const m = eye(sr + 1);
  for (let r = 0; r < sr; r++) {
    for (let c = 0; c < sr; c++) m[r][c] = a[r][c];
    m[r][sr] = a[r][3];
  }
  return m;
}

/** Embeds an (sr+1)×(sr+1) index map into 4×4 (identity on the unused axes). */
export function embed4(m: Matrix): Matrix {
  const sr = m.length - 1;
  const out = eye(4);
  for (let r = 0; r < sr; r++) {
    for (let c = 0; c < sr; c++) out[r][c] = m[r][c];
    out[r][3] = m[r][sr];
  }
  return out;
}

/** New affine after an op whose output index maps to input index by `indexMap` ((sr+1)², out→in). */
export function composeAffine(affine: Mat4, indexMap: Matrix): Mat4 {
  return toMat4(matmul(fromMat4(affine), embed4(indexMap)));
}

/** A copy of `meta` with `record` appended to `applied_operations`. */
export function withTrace(meta: ImageMeta | undefined, record: TraceRecord): ImageMeta {
  return { ...meta, applied_operations: [...(meta?.applied_operations ?? []), record] };
}

export function isLabel(img: MetaImage): boolean {
  return img.meta?.units === 'label';
}

/**
 * Volume (i fastest) → MetaImage `[1, nx, ny, nz]` (C-order, k fastest), one pass. The loop
 * walks k in blocks so that both the reads (16 runs along i) and the writes (runs along k)
 * stay in cache — a plain triple loop is several times slower on a 512×512×300 CT.
 */
export function volumeToImage(vol: Volume): MetaImage {
  const [nx, ny, nz] = vol.dims;
  const src = vol.data;
  const out = newArrayLike(src, src.length);
  transposeXYZ(src, out, nx, ny, nz, true);
  return {
    data: out,
    shape: [1, nx, ny, nz],
    affine: affineLPS(vol),
    meta: { units: vol.units, ...(vol.source ? { filename_or_obj: vol.source.name } : {}) },
  };
}

/**
 * MetaImage `[C, nx, ny, nz]` → Volume (channel `channel`, default 0). Geometry comes from the
 * affine (which must be shear-free); `like` supplies units/notices/source. Labels stay labels.
 */
export function imageToVolume(
  img: MetaImage,
  like: Pick<Volume, 'units'> & Partial<Pick<Volume, 'notices' | 'source'>>,
  channel = 0,
): Volume {
  checkImage(img, 'imageToVolume');
  if (img.shape.length !== 4) throw new InputError(whereOf(img, 'imageToVolume'), `need a 3D image [C, X, Y, Z], got [${img.shape.join(', ')}]`);
  const [c, nx, ny, nz] = img.shape;
  if (!(channel >= 0 && channel < c)) throw new InputError(whereOf(img, 'imageToVolume'), `channel ${channel} out of range (${c} channels)`);
  const n = nx * ny * nz;
  const src = img.data.subarray(channel * n, (channel + 1) * n) as VoxelArray;
  const out = newArrayLike(src, n);
  transposeXYZ(src, out, nx, ny, nz, false);
  let geom;
  try {
    geom = geometryFromLPS(img.affine);
  } catch (e) {
    throw new InputError(whereOf(img, 'imageToVolume'), (e as Error).message);
  }
  return {
    data: out,
    dims: [nx, ny, nz] as Vec3,
    ...geom,
    units: like.units,
    notices: [...(like.notices ?? [])],
    ...(like.source ? { source: like.source } : {}),
  };
}

/** toImage: i-fastest → k-fastest; otherwise the reverse. */
function transposeXYZ(src: VoxelArray, out: VoxelArray, nx: number, ny: number, nz: number, toImage: boolean): void {
  const B = 16;
  const sxy = nx * ny;
  for (let k0 = 0; k0 < nz; k0 += B) {
    const k1 = Math.min(nz, k0 + B);
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const c = (i * ny + j) * nz;
        const v = i + nx * j;
        if (toImage) for (let k = k0; k < k1; k++) out[c + k] = src[v + sxy * k];
        else for (let k = k0; k < k1; k++) out[v + sxy * k] = src[c + k];
      }
    }
  }
}
