/**
 * Flip / RandFlip(d) and Rotate90 / RandRotate90(d): exact axis reversals and quarter turns
 * (numpy/torch `flip`, `rot90` semantics), traced as `permute` so they can be inverted.
 */
import { InputError } from '../io/errors';
import { keyList, parseArgs, type Spec } from './args';
import { RandomizableTransform, mapKeys, presentKeys, type ArrayTransform, type DictTransform } from './base';
import { checkImage, whereOf, withTrace, type Dict, type MetaImage } from './image';
import { permuteFlip } from './spatial';

function traced(name: string, img: MetaImage, perm: number[], flips: boolean[]): MetaImage {
  const out = permuteFlip(img, perm, flips);
  return { ...out, meta: withTrace(img.meta, { name, op: 'permute', orig_shape: img.shape.slice(), orig_affine: img.affine.slice(), extra: { perm, flips } }) };
}

/** Spatial axes (negative counts from the end) → 0-based list; null = all. */
function spatialAxes(axes: number | number[] | null, sr: number, where: string): number[] {
  if (axes === null) return Array.from({ length: sr }, (_, d) => d);
  const list = Array.isArray(axes) ? axes : [axes];
  return list.map((a) => {
    const d = a < 0 ? a + sr : a;
    if (!(d >= 0 && d < sr)) throw new InputError(where, `spatial axis ${a} out of range for ${sr} spatial dims`);
    return d;
  });
}

export function flipImage(name: string, img: MetaImage, spatialAxis: number | number[] | null): MetaImage {
  const sr = img.shape.length - 1;
  const axes = spatialAxes(spatialAxis, sr, whereOf(img, name));
  const flips = Array.from({ length: sr }, (_, d) => axes.includes(d));
  return traced(name, img, Array.from({ length: sr }, (_, d) => d), flips);
}

/** torch.rot90(k, (a, b)) on the spatial axes, as a permutation with flips. */
export function rotate90Image(name: string, img: MetaImage, k: number, spatialAxes2: number[]): MetaImage {
  const sr = img.shape.length - 1;
  const [a, b] = spatialAxes(spatialAxes2, sr, whereOf(img, name));
  if (spatialAxes2.length !== 2 || a === b) throw new InputError(name, `spatial_axes must be two different axes, got ${JSON.stringify(spatialAxes2)}`);
  const kk = ((k % 4) + 4) % 4;
  const perm = Array.from({ length: sr }, (_, d) => d);
  const flips = new Array<boolean>(sr).fill(false);
  if (kk === 1) {
    // flip(b) then swap: out[a] ← in[b] reversed, out[b] ← in[a]
    perm[a] = b;
    perm[b] = a;
    flips[a] = true;
  } else if (kk === 2) {
    flips[a] = true;
    flips[b] = true;
  } else if (kk === 3) {
    // swap then flip(b): out[a] ← in[b], out[b] ← in[a] reversed
    perm[a] = b;
    perm[b] = a;
    flips[b] = true;
  }
  return traced(name, img, perm, flips);
}

const KEYS: Spec = { keys: { kind: 'keys', required: true }, allow_missing_keys: { kind: 'boolean', default: false } };

// ---------------------------------------------------------------------------------------------

export interface FlipArgs {
  spatial_axis?: number | number[] | null;
}
const FLIP_SPEC: Spec = { spatial_axis: { kind: 'ints', nullable: true, default: null } };

export class Flip implements ArrayTransform {
  readonly name = 'Flip';
  readonly args: Required<FlipArgs>;
  constructor(args: FlipArgs = {}) {
    this.args = parseArgs(this.name, FLIP_SPEC, args);
  }
  call(img: MetaImage): MetaImage {
    return flipImage(this.name, checkImage(img, this.name), this.args.spatial_axis);
  }
}

export interface RandFlipArgs extends FlipArgs {
  prob?: number;
}
const RFLIP_SPEC: Spec = { prob: { kind: 'number', default: 0.1 }, ...FLIP_SPEC };

export class RandFlip extends RandomizableTransform implements ArrayTransform {
  readonly name = 'RandFlip';
  readonly args: Required<RandFlipArgs>;
  constructor(args: RandFlipArgs = {}) {
    super();
    this.args = parseArgs(this.name, RFLIP_SPEC, args);
  }
  call(img: MetaImage): MetaImage {
    checkImage(img, this.name);
    return this.drawDo(this.args.prob) ? flipImage(this.name, img, this.args.spatial_axis) : img;
  }
}

export class RandFlipd extends RandomizableTransform implements DictTransform {
  readonly name = 'RandFlipd';
  readonly args: Required<RandFlipArgs> & { keys: string[]; allow_missing_keys: boolean };
  constructor(args: RandFlipArgs & { keys: string | string[]; allow_missing_keys?: boolean }) {
    super();
    const a = parseArgs<typeof this.args>(this.name, { ...KEYS, ...RFLIP_SPEC }, args);
    this.args = { ...a, keys: keyList(a.keys) };
  }
  call(d: Dict): Dict {
    const present = presentKeys(this.name, d, this.args.keys, this.args.allow_missing_keys);
    if (!this.drawDo(this.args.prob)) return { ...d };
    return mapKeys(this.name, d, present, false, (img) => flipImage(this.name, img, this.args.spatial_axis));
  }
}

// ---------------------------------------------------------------------------------------------

export interface Rotate90Args {
  k?: number;
  spatial_axes?: [number, number];
}
const ROT_SPEC: Spec = { k: { kind: 'int', default: 1 }, spatial_axes: { kind: 'ints', default: [0, 1] } };

export class Rotate90 implements ArrayTransform {
  readonly name = 'Rotate90';
  readonly args: Required<Rotate90Args>;
  constructor(args: Rotate90Args = {}) {
    this.args = parseArgs(this.name, ROT_SPEC, args);
  }
  call(img: MetaImage): MetaImage {
    return rotate90Image(this.name, checkImage(img, this.name), this.args.k, this.args.spatial_axes);
  }
}

export interface RandRotate90Args {
  prob?: number;
  max_k?: number;
  spatial_axes?: [number, number];
}
const RROT_SPEC: Spec = { prob: { kind: 'number', default: 0.1 }, max_k: { kind: 'int', default: 3 }, spatial_axes: { kind: 'ints', default: [0, 1] } };

export class RandRotate90 extends RandomizableTransform implements ArrayTransform {
  readonly name = 'RandRotate90';
  readonly args: Required<RandRotate90Args>;
  constructor(args: RandRotate90Args = {}) {
    super();
    this.args = parseArgs(this.name, RROT_SPEC, args);
  }
  /** MONAI: do = U < prob; if do, k = randint(max_k) + 1 (0 = not applied). */
  protected drawK(): number {
    return this.drawDo(this.args.prob) ? this.R.int(this.args.max_k) + 1 : 0;
  }
  call(img: MetaImage): MetaImage {
    checkImage(img, this.name);
    const k = this.drawK();
    return k ? rotate90Image(this.name, img, k, this.args.spatial_axes) : img;
  }
}

export class RandRotate90d extends RandomizableTransform implements DictTransform {
  readonly name = 'RandRotate90d';
  readonly args: Required<RandRotate90Args> & { keys: string[]; allow_missing_keys: boolean };
  constructor(args: RandRotate90Args & { keys: string | string[]; allow_missing_keys?: boolean }) {
    super();
    const a = parseArgs<typeof this.args>(this.name, { ...KEYS, ...RROT_SPEC }, args);
    this.args = { ...a, keys: keyList(a.keys) };
  }
  protected drawK(): number {
    return this.drawDo(this.args.prob) ? this.R.int(this.args.max_k) + 1 : 0;
  }
  call(d: Dict): Dict {
    const present = presentKeys(this.name, d, this.args.keys, this.args.allow_missing_keys);
    const k = this.drawK();
    if (!k) return { ...d };
    return mapKeys(this.name, d, present, false, (img) => rotate90Image(this.name, img, k, this.args.spatial_axes));
  }
}
