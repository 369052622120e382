/**
 * Intensity transforms (MONAI `transforms/intensity`): ScaleIntensityRange, NormalizeIntensity,
 * RandGaussianNoise, RandScaleIntensity and their dictionary versions. Plain typed-array loops;
 * statistics in float64, output float32 (MONAI's default dtype).
 */
import { InputError } from '../io/errors';
import type { Rng } from '../random';
import { keyList, parseArgs, type Spec } from './args';
import { RandomizableTransform, mapKeys, presentKeys, imageAt, type ArrayTransform, type DictTransform } from './base';
import { checkImage, whereOf, type Dict, type MetaImage } from './image';

const DTYPE = { kind: 'string', oneOf: ['float32'], default: 'float32', nullable: true } as const;
const KEYS = { keys: { kind: 'keys', required: true }, allow_missing_keys: { kind: 'boolean', default: false } } as const;

function withData(img: MetaImage, data: Float32Array): MetaImage {
  return { ...img, data };
}

// ---------------------------------------------------------------------------------------------
// ScaleIntensityRange (§5.1)

export interface ScaleIntensityRangeArgs {
  a_min: number;
  a_max: number;
  b_min?: number | null;
  b_max?: number | null;
  clip?: boolean;
  dtype?: 'float32' | null;
}

const SIR_SPEC: Spec = {
  a_min: { kind: 'number', required: true },
  a_max: { kind: 'number', required: true },
  b_min: { kind: 'number', nullable: true, default: null },
  b_max: { kind: 'number', nullable: true, default: null },
  clip: { kind: 'boolean', default: false },
  dtype: DTYPE,
};

function scaleIntensityRange(img: MetaImage, a: Required<ScaleIntensityRangeArgs>): MetaImage {
  const src = img.data;
  const out = new Float32Array(src.length);
  const { a_min, a_max, b_min, b_max, clip } = a;
  if (a_max - a_min === 0) {
    // MONAI warns and only shifts.
    const off = b_min === null ? -a_min : b_min - a_min;
    for (let i = 0; i < src.length; i++) out[i] = src[i] + off;
    return withData(img, out);
  }
  const both = b_min !== null && b_max !== null;
  const mul = both ? (b_max! - b_min!) / (a_max - a_min) : 1 / (a_max - a_min);
  const lo = clip && b_min !== null ? b_min : -Infinity;
  const hi = clip && b_max !== null ? b_max : Infinity;
  for (let i = 0; i < src.length; i++) {
    let v = both ? ((src[i] - a_min) / (a_max - a_min)) * (b_max! - b_min!) + b_min! : (src[i] - a_min) * mul;
    if (v < lo) v = lo;
    else if (v > hi) v = hi;
    out[i] = v;
  }
  return withData(img, out);
}

export class ScaleIntensityRange implements ArrayTransform {
  readonly name = 'ScaleIntensityRange';
  readonly args: Required<ScaleIntensityRangeArgs>;
  constructor(args: ScaleIntensityRangeArgs) {
    this.args = parseArgs(this.name, SIR_SPEC, args);
  }
  call(img: MetaImage): MetaImage {
    return scaleIntensityRange(checkImage(img, this.name), this.args);
  }
}

export class ScaleIntensityRanged implements DictTransform {
  readonly name = 'ScaleIntensityRanged';
  readonly args: Required<ScaleIntensityRangeArgs> & { keys: string[]; allow_missing_keys: boolean };
  constructor(args: ScaleIntensityRangeArgs & { keys: string | string[]; allow_missing_keys?: boolean }) {
    const a = parseArgs<typeof this.args>(this.name, { ...KEYS, ...SIR_SPEC }, args);
    this.args = { ...a, keys: keyList(a.keys) };
  }
  call(d: Dict): Dict {
    return mapKeys(this.name, d, this.args.keys, this.args.allow_missing_keys, (img) => scaleIntensityRange(img, this.args));
  }
}

// ---------------------------------------------------------------------------------------------
// NormalizeIntensity (§5.8)

export interface NormalizeIntensityArgs {
  subtrahend?: number | number[] | null;
  divisor?: number | number[] | null;
  nonzero?: boolean;
  channel_wise?: boolean;
  dtype?: 'float32' | null;
}

const NI_SPEC: Spec = {
  subtrahend: { kind: 'numbers', nullable: true, default: null },
  divisor: { kind: 'numbers', nullable: true, default: null },
  nonzero: { kind: 'boolean', default: false },
  channel_wise: { kind: 'boolean', default: false },
  dtype: DTYPE,
};

/** Normalises out[from, to) in place; population std, std 0 → 1, `nonzero` touches only x ≠ 0. */
function normalizeRange(out: Float32Array, from: number, to: number, nonzero: boolean, sub: number | null, div: number | null): void {
  let n = 0;
  let sum = 0;
  for (let i = from; i < to; i++) {
    const v = out[i];
    if (nonzero && v === 0) continue;
    sum += v;
    n++;
  }
  if (n === 0) return; // MONAI: no nonzero voxels → unchanged
  const mean = sub ?? sum / n;
  let std = div;
  if (std === null) {
    let ss = 0;
    const m = sum / n;
    for (let i = from; i < to; i++) {
      const v = out[i];
      if (nonzero && v === 0) continue;
      ss += (v - m) * (v - m);
    }
    std = Math.sqrt(ss / n);
  }
  if (std === 0) std = 1;
  for (let i = from; i < to; i++) {
    const v = out[i];
    if (nonzero && v === 0) continue;
    out[i] = (v - mean) / std;
  }
}

function normalizeIntensity(name: string, img: MetaImage, a: Required<NormalizeIntensityArgs>): MetaImage {
  const out = Float32Array.from(img.data);
  const C = img.shape[0];
  const per = C > 0 ? out.length / C : 0;
  const pick = (v: number | number[] | null, c: number, what: string): number | null => {
    if (v === null) return null;
    if (!Array.isArray(v)) return v;
    if (!a.channel_wise) throw new InputError(whereOf(img, name), `${what} must be a single number unless channel_wise`);
    if (v.length !== C) throw new InputError(whereOf(img, name), `image has ${C} channels but ${what} has ${v.length} values`);
    return v[c];
  };
  if (a.channel_wise) {
    for (let c = 0; c < C; c++) normalizeRange(out, c * per, (c + 1) * per, a.nonzero, pick(a.subtrahend, c, 'subtrahend'), pick(a.divisor, c, 'divisor'));
  } else {
    normalizeRange(out, 0, out.length, a.nonzero, pick(a.subtrahend, 0, 'subtrahend'), pick(a.divisor, 0, 'divisor'));
  }
  return withData(img, out);
}

export class NormalizeIntensity implements ArrayTransform {
  readonly name = 'NormalizeIntensity';
  readonly args: Required<NormalizeIntensityArgs>;
  constructor(args: NormalizeIntensityArgs = {}) {
    this.args = parseArgs(this.name, NI_SPEC, args);
  }
  call(img: MetaImage): MetaImage {
    return normalizeIntensity(this.name, checkImage(img, this.name), this.args);
  }
}

export class NormalizeIntensityd implements DictTransform {
  readonly name = 'NormalizeIntensityd';
  readonly args: Required<NormalizeIntensityArgs> & { keys: string[]; allow_missing_keys: boolean };
  constructor(args: NormalizeIntensityArgs & { keys: string | string[]; allow_missing_keys?: boolean }) {
    const a = parseArgs<typeof this.args>(this.name, { ...KEYS, ...NI_SPEC }, args);
    this.args = { ...a, keys: keyList(a.keys) };
  }
  call(d: Dict): Dict {
    return mapKeys(this.name, d, this.args.keys, this.args.allow_missing_keys, (img) => normalizeIntensity(this.name, img, this.args));
  }
}

// ---------------------------------------------------------------------------------------------
// RandGaussianNoise

export interface RandGaussianNoiseArgs {
  prob?: number;
  mean?: number;
  std?: number;
  dtype?: 'float32' | null;
  sample_std?: boolean;
}

const RGN_SPEC: Spec = {
  prob: { kind: 'number', default: 0.1 },
  mean: { kind: 'number', default: 0 },
  std: { kind: 'number', default: 0.1 },
  dtype: DTYPE,
  sample_std: { kind: 'boolean', default: true },
};

/** Draws `do`, then the std and the noise for `n` values (MONAI order); null when not applied. */
function drawNoise(args: Required<RandGaussianNoiseArgs>, R: Rng, n: number): Float32Array | null {
  if (!(R.random() < args.prob)) return null;
  const std = args.sample_std ? R.uniform(0, args.std) : args.std;
  const noise = new Float32Array(n);
  for (let i = 0; i < n; i++) noise[i] = R.normal(args.mean, std);
  return noise;
}

function addNoise(img: MetaImage, noise: Float32Array): MetaImage {
  const out = new Float32Array(img.data.length);
  for (let i = 0; i < out.length; i++) out[i] = img.data[i] + noise[i];
  return withData(img, out);
}

export class RandGaussianNoise extends RandomizableTransform implements ArrayTransform {
  readonly name = 'RandGaussianNoise';
  readonly args: Required<RandGaussianNoiseArgs>;
  constructor(args: RandGaussianNoiseArgs = {}) {
    super();
    this.args = parseArgs(this.name, RGN_SPEC, args);
  }
  call(img: MetaImage): MetaImage {
    checkImage(img, this.name);
    const noise = drawNoise(this.args, this.R, img.data.length);
    return noise ? addNoise(img, noise) : img;
  }
}

export class RandGaussianNoised extends RandomizableTransform implements DictTransform {
  readonly name = 'RandGaussianNoised';
  readonly args: Required<RandGaussianNoiseArgs> & { keys: string[]; allow_missing_keys: boolean };
  constructor(args: RandGaussianNoiseArgs & { keys: string | string[]; allow_missing_keys?: boolean }) {
    super();
    const a = parseArgs<typeof this.args>(this.name, { ...KEYS, ...RGN_SPEC }, args);
    this.args = { ...a, keys: keyList(a.keys) };
  }
  call(d: Dict): Dict {
    const present = presentKeys(this.name, d, this.args.keys, this.args.allow_missing_keys);
    if (present.length === 0) return { ...d };
    // All keys share one noise array, shaped like the first key (MONAI).
    const first = imageAt(this.name, d, present[0]);
    const noise = drawNoise(this.args, this.R, first.data.length);
    if (!noise) return { ...d };
    return mapKeys(this.name, d, present, false, (img, _i, k) => {
      if (img.data.length !== noise.length) throw new InputError(this.name, `key "${k}" differs in size from "${present[0]}"; they share one noise draw`);
      return addNoise(img, noise);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// RandScaleIntensity: v · (1 + factor)

export interface RandScaleIntensityArgs {
  factors: number | [number, number];
  prob?: number;
  channel_wise?: boolean;
  dtype?: 'float32' | null;
}

const RSI_SPEC: Spec = {
  factors: { kind: 'numbers', required: true },
  prob: { kind: 'number', default: 0.1 },
  channel_wise: { kind: 'boolean', default: false },
  dtype: DTYPE,
};

function factorRange(name: string, f: number | number[]): [number, number] {
  if (Array.isArray(f) && f.length !== 2) throw new InputError(name, `factors should be a number or pair of numbers, got ${JSON.stringify(f)}`);
  return Array.isArray(f) ? [Math.min(...f), Math.max(...f)] : [Math.min(-f, f), Math.max(-f, f)];
}

/** `do`, then one factor (or one per channel when channel_wise); null when not applied. */
function drawFactors(args: Required<RandScaleIntensityArgs>, range: [number, number], R: Rng, channels: number): number[] | null {
  if (!(R.random() < args.prob)) return null;
  const n = args.channel_wise ? channels : 1;
  return Array.from({ length: n }, () => R.uniform(range[0], range[1]));
}

function scaleBy(img: MetaImage, factors: number[] | null): MetaImage {
  if (!factors) return withData(img, Float32Array.from(img.data));
  const out = new Float32Array(img.data.length);
  const per = img.shape[0] > 0 ? out.length / img.shape[0] : 0;
  for (let i = 0; i < out.length; i++) {
    const f = factors.length === 1 ? factors[0] : factors[Math.floor(i / per)];
    out[i] = img.data[i] * (1 + f);
  }
  return withData(img, out);
}

export class RandScaleIntensity extends RandomizableTransform implements ArrayTransform {
  readonly name = 'RandScaleIntensity';
  readonly args: Required<RandScaleIntensityArgs>;
  readonly factors: [number, number];
  constructor(args: RandScaleIntensityArgs) {
    super();
    this.args = parseArgs(this.name, RSI_SPEC, args);
    this.factors = factorRange(this.name, this.args.factors);
  }
  call(img: MetaImage): MetaImage {
    checkImage(img, this.name);
    return scaleBy(img, drawFactors(this.args, this.factors, this.R, img.shape[0]));
  }
}

export class RandScaleIntensityd extends RandomizableTransform implements DictTransform {
  readonly name = 'RandScaleIntensityd';
  readonly args: Required<RandScaleIntensityArgs> & { keys: string[]; allow_missing_keys: boolean };
  readonly factors: [number, number];
  constructor(args: RandScaleIntensityArgs & { keys: string | string[]; allow_missing_keys?: boolean }) {
    super();
    const a = parseArgs<typeof this.args>(this.name, { ...KEYS, ...RSI_SPEC }, args);
    this.args = { ...a, keys: keyList(a.keys) };
    this.factors = factorRange(this.name, this.args.factors);
  }
  call(d: Dict): Dict {
    const present = presentKeys(this.name, d, this.args.keys, this.args.allow_missing_keys);
    if (present.length === 0) return { ...d };
    const f = drawFactors(this.args, this.factors, this.R, imageAt(this.name, d, present[0]).shape[0]);
    return mapKeys(this.name, d, present, false, (img) => scaleBy(img, f));
  }
}
