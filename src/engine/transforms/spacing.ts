/**
 * Spacing(d) (§5.2): resample to voxel size `pixdim`, keeping the direction (diagonal=False).
 * Output affine by MONAI's `zoom_affine` (Cholesky split of the rotation·zoom part), output
 * shape and origin by `compute_shape_offset`, then `resample` with the index map
 * inv(A_in)·A_out. Because both affines live in the same (LPS) frame the result equals MONAI's
 * on the RAS affine; only `diagonal=True` names a world frame (RAS, converted via volume.ts).
 *
 * Interpolation `mode` defaults to bilinear, except that images whose meta says units 'label'
 * default to nearest (pass `mode` explicitly to override). Computation is float32 on the device.
 */
import { InputError } from '../io/errors';
import { affineLPS, geometryFromRAS } from '../volume';
import { GRID_PAD_MODES, INTERP_MODES, expand, keyList, parseArgs, perKey, type Spec } from './args';
import { mapKeysAsync, type ArrayTransform, type DictTransform } from './base';
import { checkImage, composeAffine, isLabel, spatialAffine, spatialShape, whereOf, withTrace, type Dict, type MetaImage } from './image';
import { allclose, cholesky, eye, inv, matmul, matvec, transpose, type Matrix } from './matrix';
import { resample, type GridPadMode, type InterpMode } from './resample';

export const AFFINE_TOL = 1e-3;

/** numpy round: half to even. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** Column norms of the rotation·zoom block (MONAI affine_to_spacing). */
export function affineToSpacing(a: Matrix): number[] {
  const sr = a.length - 1;
  return Array.from({ length: sr }, (_, c) => Math.hypot(...a.slice(0, sr).map((row) => row[c])));
}

/**
 * MONAI zoom_affine(affine, scale, diagonal=False): rotation of `affine` with zooms replaced by
 * |scale| (sign from the Cholesky diagonal, always +), zero translation. Non-positive scale
 * entries keep the original spacing; zeros become 1.
 */
export function zoomAffine(affine: Matrix, scale: number[]): Matrix {
  const sr = affine.length - 1;
  const norm = affineToSpacing(affine);
  const s = norm.map((n, d) => {
    const v = d < scale.length ? scale[d] : n;
    const fb = v > 0 ? v : n;
    return fb === 0 ? 1 : fb;
  });
  const rzs = affine.slice(0, sr).map((row) => row.slice(0, sr));
  const zs = transpose(cholesky(matmul(transpose(rzs), rzs))); // upper triangular
  const rotation = matmul(rzs, inv(zs));
  const out = eye(sr + 1);
  for (let r = 0; r < sr; r++) for (let c = 0; c < sr; c++) out[r][c] = rotation[r][c] * Math.sign(zs[c][c]) * Math.abs(s[c]);
  return out;
}

/** MONAI compute_shape_offset: output shape and the world offset of the output's first voxel. */
export function computeShapeOffset(shape: number[], inAffine: Matrix, outAffine: Matrix, scaleExtent = false): { shape: number[]; offset: number[] } {
  const sr = shape.length;
  const corners: number[][] = [];
  for (let k = 0; k < 1 << sr; k++) {
    corners.push([...shape.map((n, d) => ((k >> (sr - 1 - d)) & 1 ? (scaleExtent ? n - 0.5 : n - 1) : scaleExtent ? -0.5 : 0)), 1]);
  }
  const toOut = matmul(inv(outAffine), inAffine);
  const cOut = corners.map((c) => matvec(toOut, c));
  const cWorld = corners.map((c) => matvec(inAffine, c));
  const outShape = Array.from({ length: sr }, (_, d) => {
    const v = cOut.map((c) => c[d] / c[sr]);
    const ptp = Math.max(...v) - Math.min(...v);
    return roundHalfEven(scaleExtent ? ptp : ptp + 1);
  });
  // The corner that is smallest along every output axis goes to the origin.
  let offset: number[] | null = null;
  for (let i = 0; i < cOut.length && !offset; i++) {
    const ok = Array.from({ length: sr }, (_, d) => Math.min(...cOut.map((c) => c[d] - cOut[i][d]))).every((m) => Math.abs(m) <= 1e-8);
    if (ok) offset = cWorld[i].slice(0, sr);
  }
  if (!offset) {
    // Otherwise centre-align input and output.
    const a = matvec(inAffine, [...shape.map((n) => n / 2), 1]);
    const b = matvec(outAffine, [...outShape.map((n) => n / 2), 0]);
    offset = Array.from({ length: sr }, (_, d) => a[d] - b[d]);
  }
  if (scaleExtent) {
    const inOff = [...shape.map((n, d) => 0.5 * (n / outShape[d] - 1)), 1];
    const w = matvec(inAffine, inOff);
    offset = offset.map((o, d) => Math.abs(w[d] / w[sr]) * Math.sign(o));
  }
  return { shape: outShape, offset };
}

export interface SpacingArgs {
  pixdim: number | number[];
  diagonal?: boolean;
  /** null = bilinear, or nearest for label images. */
  mode?: InterpMode | null;
  padding_mode?: GridPadMode;
  align_corners?: boolean;
  /** Accepted for MONAI compatibility; the device computes in float32. */
  dtype?: 'float64' | 'float32' | null;
  scale_extent?: boolean;
  min_pixdim?: number | number[] | null;
  max_pixdim?: number | number[] | null;
}

const SPEC: Spec = {
  pixdim: { kind: 'numbers', required: true },
  diagonal: { kind: 'boolean', default: false },
  mode: { kind: 'string', oneOf: INTERP_MODES, nullable: true, default: null },
  padding_mode: { kind: 'string', oneOf: GRID_PAD_MODES, default: 'border' },
  align_corners: { kind: 'boolean', default: false },
  dtype: { kind: 'string', oneOf: ['float64', 'float32'], nullable: true, default: 'float64' },
  scale_extent: { kind: 'boolean', default: false },
  min_pixdim: { kind: 'numbers', nullable: true, default: null },
  max_pixdim: { kind: 'numbers', nullable: true, default: null },
};

/** Target affine and shape for `img` (exported for tests and previews). */
export function spacingTarget(img: MetaImage, a: Required<SpacingArgs>): { affine: Matrix; shape: number[] } {
  const sp = spatialShape(img);
  const sr = sp.length;
  const A = spatialAffine(img.affine, sr);
  const outD = expand(a.pixdim, sr);
  const orig = affineToSpacing(A);
  const list = (v: number | number[] | null) => (v === null ? [] : Array.isArray(v) ? v : [v]);
  const mins = list(a.min_pixdim);
  const maxs = list(a.max_pixdim);
  for (let d = 0; d < sr; d++) {
    const target = outD[d];
    const mn = d < mins.length ? Math.min(mins[d], target) : target;
    const mx = d < maxs.length ? Math.max(maxs[d], target) : target;
    if (mn > mx) throw new InputError('Spacing', `min_pixdim is larger than max_pixdim at dim ${d}`);
    outD[d] = mn - AFFINE_TOL <= orig[d] && orig[d] <= mx + AFFINE_TOL ? orig[d] : target;
  }
  let outA: Matrix;
  if (a.diagonal) {
    // diag(pixdim) in MONAI's RAS world, expressed in our LPS frame.
    const s = outD.map((v, d) => (v > 0 ? v : orig[d]));
    const ras = [s[0], 0, 0, 0, 0, sr > 1 ? s[1] : 1, 0, 0, 0, 0, sr > 2 ? s[2] : 1, 0, 0, 0, 0, 1];
    outA = spatialAffine(affineLPS(geometryFromRAS(ras)), sr);
    for (let d = 0; d < sr; d++) outA[d][sr] = 0;
  } else outA = zoomAffine(A, outD);
  const { shape, offset } = computeShapeOffset(sp, A, outA, a.scale_extent);
  offset.forEach((o, d) => (outA[d][sr] = o));
  return { affine: outA, shape };
}

async function spacing(name: string, img: MetaImage, a: Required<SpacingArgs>, outputShape?: number[]): Promise<MetaImage> {
  const where = whereOf(img, name);
  const sp = spatialShape(img);
  const sr = sp.length;
  if (sr !== 2 && sr !== 3) throw new InputError(where, `Spacing needs 2 or 3 spatial dims, got ${sr}`);
  let target;
  try {
    target = spacingTarget(img, a);
  } catch (e) {
    throw e instanceof InputError ? e : new InputError(where, (e as Error).message);
  }
  const shape = outputShape ?? target.shape;
  const A = spatialAffine(img.affine, sr);
  const xform = matmul(inv(A), target.affine);
  const sameSize = shape.every((n, d) => n === sp[d]);
  const mode: InterpMode = a.mode ?? (isLabel(img) ? 'nearest' : 'bilinear');
  const record = { name, op: 'resample' as const, orig_shape: img.shape.slice(), orig_affine: img.affine.slice(), extra: { mode, padding_mode: a.padding_mode, align_corners: a.align_corners } };
  if (sameSize && (allclose(A, target.affine, AFFINE_TOL) || allclose(xform, eye(sr + 1), AFFINE_TOL))) {
    return { ...img, data: Float32Array.from(img.data), meta: withTrace(img.meta, record) };
  }
  const data = await resample(img, shape, { affine: xform }, { mode, padding_mode: a.padding_mode, align_corners: a.align_corners });
  return { ...img, data, shape: [img.shape[0], ...shape], affine: composeAffine(img.affine, xform), meta: withTrace(img.meta, record) };
}

/** Resamples `img` onto the grid of `affine`/`shape` (4×4 LPS, spatial shape); used by invert. */
export async function resampleToGrid(img: MetaImage, affine: number[], shape: number[], opts: { mode: InterpMode; padding_mode: GridPadMode; align_corners: boolean }): Promise<MetaImage> {
  const sr = shape.length;
  const xform = matmul(inv(spatialAffine(img.affine, sr)), spatialAffine(affine, sr));
  const data = await resample(img, shape, { affine: xform }, opts);
  return { ...img, data, shape: [img.shape[0], ...shape], affine: composeAffine(img.affine, xform) };
}

export class Spacing implements ArrayTransform {
  readonly name = 'Spacing';
  readonly args: Required<SpacingArgs>;
  constructor(args: SpacingArgs) {
    this.args = parseArgs(this.name, SPEC, args);
  }
  call(img: MetaImage, outputSpatialShape?: number[]): Promise<MetaImage> {
    return spacing(this.name, checkImage(img, this.name), this.args, outputSpatialShape);
  }
}

export interface SpacingdArgs extends Omit<SpacingArgs, 'mode' | 'padding_mode'> {
  keys: string | string[];
  mode?: InterpMode | InterpMode[] | null;
  padding_mode?: GridPadMode | GridPadMode[];
  ensure_same_shape?: boolean;
  allow_missing_keys?: boolean;
}

export class Spacingd implements DictTransform {
  readonly name = 'Spacingd';
  readonly args: Required<SpacingdArgs> & { keys: string[] };
  constructor(args: SpacingdArgs) {
    const a = parseArgs<typeof this.args>(
      this.name,
      {
        keys: { kind: 'keys', required: true },
        ...SPEC,
        mode: { kind: 'strings', oneOf: INTERP_MODES, nullable: true, default: null },
        padding_mode: { kind: 'strings', oneOf: GRID_PAD_MODES, default: 'border' },
        ensure_same_shape: { kind: 'boolean', default: true },
        allow_missing_keys: { kind: 'boolean', default: false },
      },
      args,
    );
    this.args = { ...a, keys: keyList(a.keys) };
  }
  call(d: Dict): Promise<Dict> {
    const a = this.args;
    // ensure_same_shape: keys with the first key's input shape and spacing get its output shape.
    let first: { shape: number[]; pixdim: number[]; out: number[] } | null = null;
    return mapKeysAsync(this.name, d, a.keys, a.allow_missing_keys, async (img, i) => {
      const mode = a.mode === null ? null : perKey(this.name, 'mode', a.mode, i, a.keys.length);
      const args = { ...a, mode, padding_mode: perKey(this.name, 'padding_mode', a.padding_mode, i, a.keys.length) };
      const sp = spatialShape(img);
      const pixdim = affineToSpacing(spatialAffine(img.affine, sp.length));
      const match = a.ensure_same_shape && first && first.shape.join() === sp.join() && pixdim.every((p, k) => Math.abs(p - first!.pixdim[k]) <= 1e-3);
      const out = await spacing(this.name, img, args, match ? first!.out : undefined);
      if (a.ensure_same_shape && !first) first = { shape: sp, pixdim, out: spatialShape(out) };
      return out;
    });
  }
}

