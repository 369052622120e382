/**
 * Rand2DElastic(d) and Rand3DElastic(d) (§5.7).
 *
 * 3D: centred output grid p; if applied, p += GaussianSmooth_σ(U(−1,1) offsets)·magnitude, then
 * p ← A·p with A = Rotate·Shear·Translate·Scale; sample the input at p + (in−1)/2.
 * 2D: a coarse control grid (`spacing` pixels apart, two extra points per side) gets N(0,1)
 * offsets·magnitude, then A, then torch-style bicubic upsampling by `spacing`
 * (align_corners=False, A=−0.75, clamped taps) and a centre crop to the output size.
 * Not applied: a centred crop/pad to `spatial_size` (through the same sampler and padding).
 * One random draw per call serves every key of the dictionary versions.
 */
import { InputError } from '../io/errors';
import type { Rng } from '../random';
import { GRID_PAD_MODES, INTERP_MODES, fallBack, keyList, parseArgs, perKey, type Spec } from './args';
import { affineFromParams, centredIndexMap, drawAffineParams, RANGE_SPEC, warp, type AffineParams, type AffineRanges, type WarpOptions } from './affine';
import { RandomizableTransform, imageAt, mapKeysAsync, presentKeys, type ArrayTransform, type DictTransform } from './base';
import { gaussianSmooth, type GaussianApprox } from './gaussian';
import { checkImage, product, spatialShape, whereOf, type Dict, type MetaImage } from './image';
import { eye, type Matrix } from './matrix';
import type { GridPadMode, InterpMode } from './resample';

/** C-order centred coordinates of a grid: channel d holds (i_d − (n_d−1)/2)·spacing_d. */
function centredGrid(size: number[], spacing?: number[]): Float32Array {
  const n = product(size);
  const nd = size.length;
  const g = new Float32Array(nd * n);
  const idx = new Array<number>(nd).fill(0);
  for (let v = 0; v < n; v++) {
    for (let d = 0; d < nd; d++) g[d * n + v] = (idx[d] - (size[d] - 1) / 2) * (spacing ? spacing[d] : 1);
    for (let d = nd - 1; d >= 0; d--) {
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
    }
  }
  return g;
}

/** grid ← A·grid (homogeneous), then + (in−1)/2: input voxel indices. */
function applyAffineToGrid(grid: Float32Array, a: Matrix, inSize: number[]): Float32Array {
  const nd = inSize.length;
  const n = grid.length / nd;
  const out = new Float32Array(grid.length);
  const p = new Array<number>(nd);
  for (let v = 0; v < n; v++) {
    for (let d = 0; d < nd; d++) p[d] = grid[d * n + v];
    for (let r = 0; r < nd; r++) {
      let s = a[r][nd];
      for (let c = 0; c < nd; c++) s += a[r][c] * p[c];
      out[r * n + v] = s + (inSize[r] - 1) / 2;
    }
  }
  return out;
}

const COMMON_SPEC: Spec = {
  prob: { kind: 'number', default: 0.1 },
  ...RANGE_SPEC,
  spatial_size: { kind: 'ints', nullable: true, default: null },
  mode: { kind: 'string', oneOf: INTERP_MODES, nullable: true, default: null },
  padding_mode: { kind: 'string', oneOf: GRID_PAD_MODES, default: 'reflection' },
  align_corners: { kind: 'boolean', default: true },
};

interface CommonArgs extends Partial<AffineRanges> {
  magnitude_range: [number, number];
  prob?: number;
  spatial_size?: number | number[] | null;
  mode?: InterpMode | null;
  padding_mode?: GridPadMode;
  /** Reflection fold: true = MONAI 0.2.0 (default), false = MONAI HEAD. */
  align_corners?: boolean;
}

type DictOf<A> = Omit<A, 'mode' | 'padding_mode'> & {
  keys: string | string[];
  mode?: InterpMode | InterpMode[] | null;
  padding_mode?: GridPadMode | GridPadMode[];
  allow_missing_keys?: boolean;
};

function dictSpec(spec: Spec): Spec {
  return {
    keys: { kind: 'keys', required: true },
    ...spec,
    mode: { kind: 'strings', oneOf: INTERP_MODES, nullable: true, default: null },
    padding_mode: { kind: 'strings', oneOf: GRID_PAD_MODES, default: 'reflection' },
    allow_missing_keys: { kind: 'boolean', default: false },
  };
}

/** A prepared warp for one output size: how to sample every key of the same input size. */
interface Plan {
  outSize: number[];
  /** Input voxel indices `[nd, ...outSize]`, or null for the plain centred crop/pad. */
  grid: Float32Array | null;
  /** Index map used for the output affine (the affine part; the elastic part has none). */
  affine: Matrix;
}

async function applyPlan(name: string, img: MetaImage, plan: Plan, o: WarpOptions): Promise<MetaImage> {
  const inSize = spatialShape(img);
  const idx = centredIndexMap(plan.affine, inSize, plan.outSize);
  if (!plan.grid) {
    if (plan.outSize.every((n, d) => n === inSize[d])) return { ...img, data: Float32Array.from(img.data) };
    return warp(name, img, plan.outSize, { affine: idx }, idx, o);
  }
  // The grid holds centred coordinates after A; add this key's input centre.
  const n = product(plan.outSize);
  const g = new Float32Array(plan.grid.length);
  for (let d = 0; d < inSize.length; d++) {
    const c = (inSize[d] - 1) / 2;
    for (let v = 0; v < n; v++) g[d * n + v] = plan.grid[d * n + v] + c;
  }
  return warp(name, img, plan.outSize, { grid: g }, idx, o);
}

function perKeyOptions(name: string, a: { keys: string[]; mode: InterpMode | InterpMode[] | null; padding_mode: GridPadMode | GridPadMode[]; align_corners: boolean }, key: string): WarpOptions {
  const k = a.keys.indexOf(key);
  return {
    mode: a.mode === null ? null : perKey(name, 'mode', a.mode, k, a.keys.length),
    padding_mode: perKey(name, 'padding_mode', a.padding_mode, k, a.keys.length),
    align_corners: a.align_corners,
  };
}

// ---------------------------------------------------------------------------------------------
// Rand3DElastic

export interface Rand3DElasticArgs extends CommonArgs {
  sigma_range: [number, number];
  /** Gaussian kernel: 'erf' (MONAI HEAD, default) or 'sampled' (MONAI 0.2.0, normalised). */
  approx?: GaussianApprox;
}

const SPEC_3D: Spec = {
  sigma_range: { kind: 'pair', required: true },
  magnitude_range: { kind: 'pair', required: true },
  ...COMMON_SPEC,
  approx: { kind: 'string', oneOf: ['erf', 'sampled'], default: 'erf' },
};

interface Draw3D {
  offsets: Float32Array;
  magnitude: number;
  sigma: number;
  params: AffineParams;
}

function draw3D(R: Rng, a: Required<Rand3DElasticArgs>, size: number[]): Draw3D | null {
  if (!(R.random() < a.prob)) return null;
  const offsets = new Float32Array(3 * product(size));
  for (let i = 0; i < offsets.length; i++) offsets[i] = R.uniform(-1, 1);
  const magnitude = R.uniform(a.magnitude_range[0], a.magnitude_range[1]);
  const sigma = R.uniform(a.sigma_range[0], a.sigma_range[1]);
  return { offsets, magnitude, sigma, params: drawAffineParams(R, a) };
}

async function plan3D(draw: Draw3D | null, outSize: number[], a: Required<Rand3DElasticArgs>): Promise<Plan> {
  if (!draw) return { outSize, grid: null, affine: eye(4) };
  const grid = centredGrid(outSize);
  if (draw.magnitude !== 0) {
    const smooth = await gaussianSmooth(draw.offsets, [3, ...outSize], draw.sigma, { approx: a.approx });
    for (let i = 0; i < grid.length; i++) grid[i] += smooth[i] * draw.magnitude;
  }
  const affine = affineFromParams(3, draw.params);
  return { outSize, grid: applyAffineToGrid(grid, affine, [1, 1, 1]), affine };
}

function check3D(name: string, img: MetaImage): number[] {
  const sp = spatialShape(img);
  if (sp.length !== 3) throw new InputError(whereOf(img, name), `needs a 3D image [C, H, W, D], got [${img.shape.join(', ')}]`);
  return sp;
}

export class Rand3DElastic extends RandomizableTransform implements ArrayTransform {
  readonly name = 'Rand3DElastic';
  readonly args: Required<Rand3DElasticArgs>;
  constructor(args: Rand3DElasticArgs) {
    super();
    this.args = parseArgs(this.name, SPEC_3D, args);
  }
  async call(img: MetaImage): Promise<MetaImage> {
    const outSize = fallBack(this.args.spatial_size, check3D(this.name, checkImage(img, this.name)));
    const plan = await plan3D(draw3D(this.R, this.args, outSize), outSize, this.args);
    return applyPlan(this.name, img, plan, this.args);
  }
}

export class Rand3DElasticd extends RandomizableTransform implements DictTransform {
  readonly name = 'Rand3DElasticd';
  readonly args: Required<DictOf<Rand3DElasticArgs>> & { keys: string[] };
  constructor(args: DictOf<Rand3DElasticArgs>) {
    super();
    const a = parseArgs<typeof this.args>(this.name, dictSpec(SPEC_3D), args);
    this.args = { ...a, keys: keyList(a.keys) };
  }
  async call(d: Dict): Promise<Dict> {
    const a = this.args;
    const present = presentKeys(this.name, d, a.keys, a.allow_missing_keys);
    if (!present.length) return { ...d };
    const outSize = fallBack(a.spatial_size, check3D(this.name, imageAt(this.name, d, present[0])));
    const plan = await plan3D(draw3D(this.R, a as unknown as Required<Rand3DElasticArgs>, outSize), outSize, a as unknown as Required<Rand3DElasticArgs>);
    return mapKeysAsync(this.name, d, present, false, (img, i) => applyPlan(this.name, img, plan, perKeyOptions(this.name, a, present[i])));
  }
}

// ---------------------------------------------------------------------------------------------
// Rand2DElastic

export interface Rand2DElasticArgs extends CommonArgs {
  /** Distance between control points, in pixels (one number or one per axis). */
  spacing: number | [number, number];
}

const SPEC_2D: Spec = {
  spacing: { kind: 'numbers', required: true },
  magnitude_range: { kind: 'pair', required: true },
  ...COMMON_SPEC,
};

/** MONAI create_control_grid shape: two extra control points beyond each side. */
export function controlGridShape(size: number[], spacing: number[]): number[] {
  return size.map((d, i) => (d % 2 === 0 ? Math.ceil((d - 1) / (2 * spacing[i]) + 0.5) * 2 + 2 : Math.ceil((d - 1) / (2 * spacing[i])) * 2 + 3));
}

/** torch bicubic (A = −0.75) upsampling of a [C, h, w] field to [C, H, W], align_corners=False. */
export function bicubicUpsample(src: Float32Array, C: number, h: number, w: number, H: number, W: number): Float32Array {
  const A = -0.75;
  const c1 = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1;
  const c2 = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  const taps = (outN: number, inN: number) =>
    Array.from({ length: outN }, (_, o) => {
      const real = (inN / outN) * (o + 0.5) - 0.5;
      const i0 = Math.floor(real);
      const t = real - i0;
      const w4 = [c2(t + 1), c1(t), c1(1 - t), c2(2 - t)];
      const idx = [-1, 0, 1, 2].map((k) => Math.min(Math.max(i0 + k, 0), inN - 1));
      return { w4, idx };
    });
  const ty = taps(H, h);
  const tx = taps(W, w);
  const out = new Float32Array(C * H * W);
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < H; y++) {
      const { w4: wy, idx: iy } = ty[y];
      for (let x = 0; x < W; x++) {
        const { w4: wx, idx: ix } = tx[x];
        let s = 0;
        for (let a = 0; a < 4; a++) {
          const row = (c * h + iy[a]) * w;
          s += wy[a] * (wx[0] * src[row + ix[0]] + wx[1] * src[row + ix[1]] + wx[2] * src[row + ix[2]] + wx[3] * src[row + ix[3]]);
        }
        out[(c * H + y) * W + x] = s;
      }
    }
  }
  return out;
}

interface Draw2D {
  offsets: Float32Array;
  magnitude: number;
  params: AffineParams;
  controlShape: number[];
}

function spacing2(a: { spacing: number | number[] }): number[] {
  return Array.isArray(a.spacing) ? [a.spacing[0], a.spacing[1] ?? a.spacing[0]] : [a.spacing, a.spacing];
}

function draw2D(R: Rng, a: Required<Rand2DElasticArgs>, size: number[]): Draw2D | null {
  if (!(R.random() < a.prob)) return null;
  const controlShape = controlGridShape(size, spacing2(a));
  const offsets = new Float32Array(2 * product(controlShape));
  for (let i = 0; i < offsets.length; i++) offsets[i] = R.normal();
  const magnitude = R.uniform(a.magnitude_range[0], a.magnitude_range[1]);
  return { offsets, magnitude, params: drawAffineParams(R, a), controlShape };
}

function plan2D(draw: Draw2D | null, outSize: number[], a: Required<Rand2DElasticArgs>): Plan {
  if (!draw) return { outSize, grid: null, affine: eye(3) };
  const sp = spacing2(a);
  const [g0, g1] = draw.controlShape;
  const n = g0 * g1;
  const control = centredGrid(draw.controlShape, sp);
  for (let i = 0; i < 2 * n; i++) control[i] += draw.magnitude * draw.offsets[i];
  const affine = affineFromParams(2, draw.params);
  const moved = applyAffineToGrid(control, affine, [1, 1]);
  const H = Math.floor(g0 * sp[0]);
  const W = Math.floor(g1 * sp[1]);
  const up = bicubicUpsample(moved, 2, g0, g1, H, W);
  // CenterSpatialCrop: start = ⌊H/2⌋ − ⌊roi/2⌋ (clamped at 0).
  const s0 = Math.max(Math.floor(H / 2) - Math.floor(outSize[0] / 2), 0);
  const s1 = Math.max(Math.floor(W / 2) - Math.floor(outSize[1] / 2), 0);
  const N = outSize[0] * outSize[1];
  const grid = new Float32Array(2 * N);
  for (let c = 0; c < 2; c++) {
    for (let y = 0; y < outSize[0]; y++) {
      for (let x = 0; x < outSize[1]; x++) grid[c * N + y * outSize[1] + x] = up[(c * H + y + s0) * W + x + s1];
    }
  }
  return { outSize, grid, affine };
}

function check2D(name: string, img: MetaImage): number[] {
  const sp = spatialShape(img);
  if (sp.length !== 2) throw new InputError(whereOf(img, name), `needs a 2D image [C, H, W], got [${img.shape.join(', ')}]`);
  return sp;
}

export class Rand2DElastic extends RandomizableTransform implements ArrayTransform {
  readonly name = 'Rand2DElastic';
  readonly args: Required<Rand2DElasticArgs>;
  constructor(args: Rand2DElasticArgs) {
    super();
    this.args = parseArgs(this.name, SPEC_2D, args);
  }
  call(img: MetaImage): Promise<MetaImage> {
    const outSize = fallBack(this.args.spatial_size, check2D(this.name, checkImage(img, this.name)));
    return applyPlan(this.name, img, plan2D(draw2D(this.R, this.args, outSize), outSize, this.args), this.args);
  }
}

export class Rand2DElasticd extends RandomizableTransform implements DictTransform {
  readonly name = 'Rand2DElasticd';
  readonly args: Required<DictOf<Rand2DElasticArgs>> & { keys: string[] };
  constructor(args: DictOf<Rand2DElasticArgs>) {
    super();
    const a = parseArgs<typeof this.args>(this.name, dictSpec(SPEC_2D), args);
    this.args = { ...a, keys: keyList(a.keys) };
  }
  call(d: Dict): Promise<Dict> {
    const a = this.args;
    const present = presentKeys(this.name, d, a.keys, a.allow_missing_keys);
    if (!present.length) return Promise.resolve({ ...d });
    const outSize = fallBack(a.spatial_size, check2D(this.name, imageAt(this.name, d, present[0])));
    const args2 = a as unknown as Required<Rand2DElasticArgs>;
    const plan = plan2D(draw2D(this.R, args2, outSize), outSize, args2);
    return mapKeysAsync(this.name, d, present, false, (img, i) => applyPlan(this.name, img, plan, perKeyOptions(this.name, a, present[i])));
  }
}
