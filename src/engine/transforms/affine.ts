/**
 * RandAffine(d) and the pieces the elastic transforms share: MONAI's create_rotate / shear /
 * translate / scale, RandAffineGrid's parameter draws and its composition order
 * A = Rotate · Shear · Translate · Scale, applied to centred output coordinates; the input is
 * sampled at A·(o − (out−1)/2) + (in−1)/2.
 *
 * `align_corners` (not a MONAI argument here) picks where reflection padding folds: true = MONAI
 * 0.2.0 (the version COPLE-Net/LAMP used; default), false = MONAI HEAD. Interpolation elsewhere
 * is identical. `mode` null = bilinear, or nearest for label images.
 */
import { InputError } from '../io/errors';
import type { Rng } from '../random';
import { GRID_PAD_MODES, INTERP_MODES, fallBack, keyList, parseArgs, perKey, type Spec } from './args';
import { RandomizableTransform, mapKeysAsync, presentKeys, imageAt, type ArrayTransform, type DictTransform } from './base';
import { checkImage, composeAffine, isLabel, spatialShape, whereOf, withTrace, type Dict, type MetaImage } from './image';
import { eye, matmul, translate, type Matrix } from './matrix';
import { resample, type Coords, type GridPadMode, type InterpMode } from './resample';

/** MONAI RandRange: a number (±x for dim 0 only) or per-dim numbers / [min, max] pairs / null. */
export type RandRange = number | (number | [number, number] | null)[] | null;

export function createRotate(sr: number, radians: number[]): Matrix {
  if (radians.length === 0) throw new Error('radians must be non empty');
  if (sr === 2) {
    const [s, c] = [Math.sin(radians[0]), Math.cos(radians[0])];
    return [
      [c, -s, 0],
      [s, c, 0],
      [0, 0, 1],
    ];
  }
  if (sr !== 3) throw new Error(`unsupported spatial dims ${sr}`);
  const rot = (axis: number, t: number): Matrix => {
    const [s, c] = [Math.sin(t), Math.cos(t)];
    const m = eye(4);
    if (axis === 0) [m[1][1], m[1][2], m[2][1], m[2][2]] = [c, -s, s, c];
    if (axis === 1) [m[0][0], m[0][2], m[2][0], m[2][2]] = [c, s, -s, c];
    if (axis === 2) [m[0][0], m[0][1], m[1][0], m[1][1]] = [c, -s, s, c];
    return m;
  };
  return radians.slice(0, 3).reduce((acc, t, axis) => matmul(acc, rot(axis, t)), eye(4));
}

/** 2D: [[1, c0], [c1, 1]]; 3D: [[1, c0, c1], [c2, 1, c3], [c4, c5, 1]] (missing coefs 0). */
export function createShear(sr: number, coefs: number[]): Matrix {
  const m = eye(sr + 1);
  const c = (i: number) => coefs[i] ?? 0;
  if (sr === 2) [m[0][1], m[1][0]] = [c(0), c(1)];
  else if (sr === 3) [m[0][1], m[0][2], m[1][0], m[1][2], m[2][0], m[2][1]] = [c(0), c(1), c(2), c(3), c(4), c(5)];
  else throw new Error(`unsupported spatial dims ${sr}`);
  return m;
}

export function createTranslate(sr: number, shift: number[]): Matrix {
  return translate(Array.from({ length: sr }, (_, d) => shift[d] ?? 0));
}

export function createScale(sr: number, factors: number[]): Matrix {
  const m = eye(sr + 1);
  for (let d = 0; d < sr; d++) m[d][d] = factors[d] ?? 1;
  return m;
}

/** MONAI RandAffineGrid._get_rand_param. */
function randParams(R: Rng, range: RandRange, add = 0): number[] {
  if (range === null) return [];
  const list = Array.isArray(range) ? range : [range];
  const out: number[] = [];
  for (const f of list) {
    if (Array.isArray(f)) out.push(R.uniform(f[0], f[1]) + add);
    else if (f !== null) out.push(R.uniform(-f, f) + add);
  }
  return out;
}

export interface AffineParams {
  rotate_params: number[];
  shear_params: number[];
  translate_params: number[];
  scale_params: number[];
}

export interface AffineRanges {
  rotate_range: RandRange;
  shear_range: RandRange;
  translate_range: RandRange;
  scale_range: RandRange;
}

/** Draws rotate, shear, translate, scale in MONAI's order (scale gets +1). */
export function drawAffineParams(R: Rng, r: AffineRanges): AffineParams {
  return {
    rotate_params: randParams(R, r.rotate_range),
    shear_params: randParams(R, r.shear_range),
    translate_params: randParams(R, r.translate_range),
    scale_params: randParams(R, r.scale_range, 1),
  };
}

/** MONAI AffineGrid: I · Rotate · Shear · Translate · Scale (each only if its params are non-empty). */
export function affineFromParams(sr: number, p: AffineParams): Matrix {
  let a = eye(sr + 1);
  if (p.rotate_params.length) a = matmul(a, createRotate(sr, p.rotate_params));
  if (p.shear_params.length) a = matmul(a, createShear(sr, p.shear_params));
  if (p.translate_params.length) a = matmul(a, createTranslate(sr, p.translate_params));
  if (p.scale_params.length) a = matmul(a, createScale(sr, p.scale_params));
  return a;
}

/** Output index → input index for a centred-grid affine A (MONAI compute_w_affine). */
export function centredIndexMap(a: Matrix, inSize: number[], outSize: number[]): Matrix {
  return matmul(matmul(translate(inSize.map((n) => (n - 1) / 2)), a), translate(outSize.map((n) => -(n - 1) / 2)));
}

export interface WarpOptions {
  mode: InterpMode | null;
  padding_mode: GridPadMode;
  align_corners: boolean;
}

/** Resamples `img` with `coords`, updates the affine by `indexMap` and records an irreversible op. */
export async function warp(name: string, img: MetaImage, outSize: number[], coords: Coords, indexMap: Matrix, o: WarpOptions): Promise<MetaImage> {
  const mode: InterpMode = o.mode ?? (isLabel(img) ? 'nearest' : 'bilinear');
  const data = await resample(img, outSize, coords, { mode, padding_mode: o.padding_mode, align_corners: o.align_corners });
  return {
    ...img,
    data,
    shape: [img.shape[0], ...outSize],
    affine: composeAffine(img.affine, indexMap),
    meta: withTrace(img.meta, { name, op: 'irreversible', orig_shape: img.shape.slice(), orig_affine: img.affine.slice(), extra: {} }),
  };
}

export const RANGE_SPEC: Spec = {
  rotate_range: { kind: 'range', nullable: true, default: null },
  shear_range: { kind: 'range', nullable: true, default: null },
  translate_range: { kind: 'range', nullable: true, default: null },
  scale_range: { kind: 'range', nullable: true, default: null },
};

export interface RandAffineArgs extends Partial<AffineRanges> {
  prob?: number;
  spatial_size?: number | number[] | null;
  mode?: InterpMode | null;
  padding_mode?: GridPadMode;
  /** Accepted for MONAI compatibility; grids are never materialised here. */
  cache_grid?: boolean;
  align_corners?: boolean;
}

const SPEC: Spec = {
  prob: { kind: 'number', default: 0.1 },
  ...RANGE_SPEC,
  spatial_size: { kind: 'ints', nullable: true, default: null },
  mode: { kind: 'string', oneOf: INTERP_MODES, nullable: true, default: null },
  padding_mode: { kind: 'string', oneOf: GRID_PAD_MODES, default: 'reflection' },
  cache_grid: { kind: 'boolean', default: false },
  align_corners: { kind: 'boolean', default: true },
};

/** One RandAffine draw: null = not applied. */
function drawRandAffine(R: Rng, a: Required<RandAffineArgs>): AffineParams | null {
  return R.random() < a.prob ? drawAffineParams(R, a) : null;
}

async function randAffineApply(name: string, img: MetaImage, a: Required<RandAffineArgs>, p: AffineParams | null, o: WarpOptions): Promise<MetaImage> {
  const inSize = spatialShape(img);
  const sr = inSize.length;
  if (sr !== 2 && sr !== 3) throw new InputError(whereOf(img, name), `needs 2 or 3 spatial dims, got ${sr}`);
  const outSize = fallBack(a.spatial_size, inSize);
  if (!p && outSize.every((n, d) => n === inSize[d])) return { ...img, data: Float32Array.from(img.data) };
  const m = centredIndexMap(p ? affineFromParams(sr, p) : eye(sr + 1), inSize, outSize);
  return warp(name, img, outSize, { affine: m }, m, o);
}

export class RandAffine extends RandomizableTransform implements ArrayTransform {
  readonly name = 'RandAffine';
  readonly args: Required<RandAffineArgs>;
  /** The last draw (null when the transform was not applied). */
  lastParams: AffineParams | null = null;
  constructor(args: RandAffineArgs = {}) {
    super();
    this.args = parseArgs(this.name, SPEC, args);
  }
  call(img: MetaImage): Promise<MetaImage> {
    checkImage(img, this.name);
    this.lastParams = drawRandAffine(this.R, this.args);
    return randAffineApply(this.name, img, this.args, this.lastParams, this.args);
  }
}

export interface RandAffinedArgs extends Omit<RandAffineArgs, 'mode' | 'padding_mode'> {
  keys: string | string[];
  mode?: InterpMode | InterpMode[] | null;
  padding_mode?: GridPadMode | GridPadMode[];
  allow_missing_keys?: boolean;
}

export class RandAffined extends RandomizableTransform implements DictTransform {
  readonly name = 'RandAffined';
  readonly args: Required<RandAffinedArgs> & { keys: string[] };
  lastParams: AffineParams | null = null;
  constructor(args: RandAffinedArgs) {
    super();
    const a = parseArgs<typeof this.args>(
      this.name,
      {
        keys: { kind: 'keys', required: true },
        ...SPEC,
        mode: { kind: 'strings', oneOf: INTERP_MODES, nullable: true, default: null },
        padding_mode: { kind: 'strings', oneOf: GRID_PAD_MODES, default: 'reflection' },
        allow_missing_keys: { kind: 'boolean', default: false },
      },
      args,
    );
    this.args = { ...a, keys: keyList(a.keys) };
  }
  call(d: Dict): Promise<Dict> {
    const a = this.args;
    const present = presentKeys(this.name, d, a.keys, a.allow_missing_keys);
    if (present.length) imageAt(this.name, d, present[0]);
    const p = (this.lastParams = drawRandAffine(this.R, a as unknown as Required<RandAffineArgs>));
    return mapKeysAsync(this.name, d, present, false, (img, i) => {
      const k = a.keys.indexOf(present[i]);
      const o: WarpOptions = {
        mode: a.mode === null ? null : perKey(this.name, 'mode', a.mode, k, a.keys.length),
        padding_mode: perKey(this.name, 'padding_mode', a.padding_mode, k, a.keys.length),
        align_corners: a.align_corners,
      };
      return randAffineApply(this.name, img, a as unknown as Required<RandAffineArgs>, p, o);
    });
  }
}
