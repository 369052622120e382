/**
 * SpatialPad(d), DivisiblePad(d) (§5.5) and CropForeground(d) (§5.4). Each records a `crop`
 * trace (the box in input coordinates) so `invert` can map a result back to the input grid.
 */
import { InputError } from '../io/errors';
import { PAD_MODES, keyList, parseArgs, perKey, type Spec } from './args';
import { imageAt, mapKeys, type ArrayTransform, type DictTransform } from './base';
import { checkImage, spatialShape, whereOf, withTrace, type Dict, type MetaImage } from './image';
import { cropPad, padMode } from './spatial';

type PadModeName = (typeof PAD_MODES)[number];

/** Applies the box as a traced crop/pad. */
export function boxTransform(name: string, img: MetaImage, start: number[], end: number[], mode: PadModeName, value = 0): MetaImage {
  const out = cropPad(img, start, end, padMode(mode), value);
  return {
    ...out,
    meta: withTrace(img.meta, { name, op: 'crop', orig_shape: img.shape.slice(), orig_affine: img.affine.slice(), extra: { start: [...start], end: [...end] } }),
  };
}

function asList(v: number | number[], n: number, what: string, name: string): number[] {
  if (!Array.isArray(v)) return new Array<number>(n).fill(v);
  if (v.length !== n) throw new InputError(name, `${what} has ${v.length} values for ${n} spatial dims`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// SpatialPad / DivisiblePad

export interface SpatialPadArgs {
  spatial_size: number | number[];
  method?: 'symmetric' | 'end';
  mode?: PadModeName;
  /** Fill for mode "constant" (np.pad `constant_values` / torch `value`). */
  value?: number;
}

const PAD_SPEC: Spec = {
  method: { kind: 'string', oneOf: ['symmetric', 'end'], default: 'symmetric' },
  mode: { kind: 'string', oneOf: PAD_MODES, default: 'constant' },
  value: { kind: 'number', default: 0 },
};
const SP_SPEC: Spec = { spatial_size: { kind: 'ints', required: true }, ...PAD_SPEC };

/** (before, after) per spatial dim for padding `shape` up to `target` (never crops). */
export function padWidths(shape: number[], target: number[], method: 'symmetric' | 'end'): [number, number][] {
  return shape.map((n, d) => {
    const w = Math.max(target[d] > 0 ? target[d] - n : 0, 0);
    return method === 'end' ? [0, w] : [Math.floor(w / 2), w - Math.floor(w / 2)];
  });
}

/** MONAI compute_divisible_spatial_size. */
export function divisibleSize(shape: number[], k: number[]): number[] {
  return shape.map((n, d) => (k[d] > 0 ? Math.ceil(n / k[d]) * k[d] : n));
}

function pad(name: string, img: MetaImage, widths: [number, number][], mode: PadModeName, value: number): MetaImage {
  const sp = spatialShape(img);
  return boxTransform(name, img, widths.map(([b]) => -b), sp.map((n, d) => n + widths[d][1]), mode, value);
}

export class SpatialPad implements ArrayTransform {
  readonly name: string = 'SpatialPad';
  readonly args: Required<SpatialPadArgs>;
  constructor(args: SpatialPadArgs) {
    this.args = parseArgs(this.name, SP_SPEC, args);
  }
  call(img: MetaImage): MetaImage {
    checkImage(img, this.name);
    const sp = spatialShape(img);
    return pad(this.name, img, padWidths(sp, asList(this.args.spatial_size, sp.length, 'spatial_size', this.name), this.args.method), this.args.mode, this.args.value);
  }
}

type DictArgs<A> = Omit<A, 'mode'> & { keys: string | string[]; mode?: PadModeName | PadModeName[]; allow_missing_keys?: boolean };
const DICT_KEYS: Spec = {
  keys: { kind: 'keys', required: true },
  allow_missing_keys: { kind: 'boolean', default: false },
  mode: { kind: 'strings', oneOf: PAD_MODES, default: 'constant' },
};

export class SpatialPadd implements DictTransform {
  readonly name = 'SpatialPadd';
  readonly args: Required<DictArgs<SpatialPadArgs>> & { keys: string[] };
  constructor(args: DictArgs<SpatialPadArgs>) {
    const a = parseArgs<typeof this.args>(this.name, { ...SP_SPEC, ...DICT_KEYS }, args);
    this.args = { ...a, keys: keyList(a.keys) };
  }
  call(d: Dict): Dict {
    const { keys, mode } = this.args;
    return mapKeys(this.name, d, keys, this.args.allow_missing_keys, (img, i) => {
      const sp = spatialShape(img);
      const w = padWidths(sp, asList(this.args.spatial_size, sp.length, 'spatial_size', this.name), this.args.method);
      return pad(this.name, img, w, perKey(this.name, 'mode', mode, i, keys.length), this.args.value);
    });
  }
}

export interface DivisiblePadArgs {
  k: number | number[];
  mode?: PadModeName;
  method?: 'symmetric' | 'end';
  value?: number;
}
const DP_SPEC: Spec = { k: { kind: 'ints', required: true }, ...PAD_SPEC };

export class DivisiblePad implements ArrayTransform {
  readonly name = 'DivisiblePad';
  readonly args: Required<DivisiblePadArgs>;
  constructor(args: DivisiblePadArgs) {
    this.args = parseArgs(this.name, DP_SPEC, args);
  }
  call(img: MetaImage): MetaImage {
    checkImage(img, this.name);
    const sp = spatialShape(img);
    const target = divisibleSize(sp, asList(this.args.k, sp.length, 'k', this.name));
    return pad(this.name, img, padWidths(sp, target, this.args.method), this.args.mode, this.args.value);
  }
}

export class DivisiblePadd implements DictTransform {
  readonly name = 'DivisiblePadd';
  readonly args: Required<DictArgs<DivisiblePadArgs>> & { keys: string[] };
  constructor(args: DictArgs<DivisiblePadArgs>) {
    const a = parseArgs<typeof this.args>(this.name, { ...DP_SPEC, ...DICT_KEYS }, args);
    this.args = { ...a, keys: keyList(a.keys) };
  }
  call(d: Dict): Dict {
    const { keys, mode } = this.args;
    return mapKeys(this.name, d, keys, this.args.allow_missing_keys, (img, i) => {
      const sp = spatialShape(img);
      const target = divisibleSize(sp, asList(this.args.k, sp.length, 'k', this.name));
      return pad(this.name, img, padWidths(sp, target, this.args.method), perKey(this.name, 'mode', mode, i, keys.length), this.args.value);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// CropForeground

export interface CropForegroundArgs {
  /** Element-wise foreground test (MONAI passes arrays; the element-wise form is what matters). */
  select_fn?: (v: number) => boolean;
  channel_indices?: number | number[] | null;
  margin?: number | number[];
  allow_smaller?: boolean;
  k_divisible?: number | number[];
  mode?: PadModeName;
  value?: number;
}

const CF_SPEC: Spec = {
  select_fn: { kind: 'function', default: (v: number) => v > 0 },
  channel_indices: { kind: 'ints', nullable: true, default: null },
  margin: { kind: 'ints', default: 0 },
  allow_smaller: { kind: 'boolean', default: false },
  k_divisible: { kind: 'ints', default: 1 },
  mode: { kind: 'string', oneOf: PAD_MODES, default: 'constant' },
  value: { kind: 'number', default: 0 },
};

/**
 * MONAI generate_spatial_bounding_box + CropForeground.compute_bounding_box: foreground
 * (select_fn over the chosen channels, OR-ed) box with margin, optional clamping, then grown to
 * a multiple of k_divisible around its centre. No foreground → all-zero box.
 */
export function foregroundBox(img: MetaImage, a: Required<CropForegroundArgs>, name = 'CropForeground'): { box_start: number[]; box_end: number[] } {
  const sp = spatialShape(img);
  const sr = sp.length;
  const C = img.shape[0];
  const chans = a.channel_indices === null ? Array.from({ length: C }, (_, c) => c) : Array.isArray(a.channel_indices) ? a.channel_indices : [a.channel_indices];
  for (const c of chans) if (!(c >= 0 && c < C)) throw new InputError(whereOf(img, name), `channel index ${c} out of range (${C} channels)`);
  const margin = asList(a.margin, sr, 'margin', name);
  if (margin.some((m) => m < 0)) throw new InputError(name, `margin must not be negative, got ${JSON.stringify(a.margin)}`);
  const lo = new Array<number>(sr).fill(Infinity);
  const hi = new Array<number>(sr).fill(-Infinity);
  const per = C > 0 ? img.data.length / C : 0;
  const rowLen = sp[sr - 1];
  const rows = rowLen > 0 ? per / rowLen : 0;
  const idx = new Array<number>(sr - 1).fill(0);
  for (let r = 0; r < rows; r++) {
    let first = -1;
    let last = -1;
    for (const c of chans) {
      const base = c * per + r * rowLen;
      for (let t = 0; t < rowLen; t++) {
        if (a.select_fn(img.data[base + t])) {
          if (first < 0 || t < first) first = t;
          break;
        }
      }
      if (first >= 0) {
        for (let t = rowLen - 1; t >= 0; t--) {
          if (a.select_fn(img.data[base + t])) {
            if (t > last) last = t;
            break;
          }
        }
      }
    }
    if (first >= 0) {
      for (let d = 0; d < sr - 1; d++) {
        if (idx[d] < lo[d]) lo[d] = idx[d];
        if (idx[d] > hi[d]) hi[d] = idx[d];
      }
      if (first < lo[sr - 1]) lo[sr - 1] = first;
      if (last > hi[sr - 1]) hi[sr - 1] = last;
    }
    for (let d = sr - 2; d >= 0; d--) {
      if (++idx[d] < sp[d]) break;
      idx[d] = 0;
    }
  }
  if (!(lo[0] <= hi[0])) return { box_start: new Array<number>(sr).fill(0), box_end: new Array<number>(sr).fill(0) };
  let start = lo.map((l, d) => l - margin[d]);
  let end = hi.map((h, d) => h + margin[d] + 1);
  if (a.allow_smaller) {
    start = start.map((s) => Math.max(s, 0));
    end = end.map((e, d) => Math.min(e, sp[d]));
  }
  const size = end.map((e, d) => e - start[d]);
  const target = divisibleSize(size, asList(a.k_divisible, sr, 'k_divisible', name));
  start = start.map((s, d) => s - Math.floor((target[d] - size[d]) / 2));
  end = start.map((s, d) => s + target[d]);
  return { box_start: start, box_end: end };
}

export class CropForeground implements ArrayTransform {
  readonly name = 'CropForeground';
  readonly args: Required<CropForegroundArgs>;
  constructor(args: CropForegroundArgs = {}) {
    this.args = parseArgs(this.name, CF_SPEC, args);
  }
  computeBoundingBox(img: MetaImage): { box_start: number[]; box_end: number[] } {
    return foregroundBox(checkImage(img, this.name), this.args, this.name);
  }
  call(img: MetaImage): MetaImage {
    const { box_start, box_end } = this.computeBoundingBox(img);
    return boxTransform(this.name, img, box_start, box_end, this.args.mode, this.args.value);
  }
}

export interface CropForegrounddArgs extends Omit<CropForegroundArgs, 'mode'> {
  keys: string | string[];
  source_key: string;
  mode?: PadModeName | PadModeName[];
  start_coord_key?: string | null;
  end_coord_key?: string | null;
  allow_missing_keys?: boolean;
}

export class CropForegroundd implements DictTransform {
  readonly name = 'CropForegroundd';
  readonly args: Required<CropForegrounddArgs> & { keys: string[] };
  constructor(args: CropForegrounddArgs) {
    const a = parseArgs<typeof this.args>(
      this.name,
      {
        ...CF_SPEC,
        ...DICT_KEYS,
        source_key: { kind: 'string', required: true },
        start_coord_key: { kind: 'string', nullable: true, default: 'foreground_start_coord' },
        end_coord_key: { kind: 'string', nullable: true, default: 'foreground_end_coord' },
      },
      args,
    );
    this.args = { ...a, keys: keyList(a.keys) };
  }
  call(d: Dict): Dict {
    const a = this.args;
    const { box_start, box_end } = foregroundBox(imageAt(this.name, d, a.source_key), { ...a, mode: 'constant' }, this.name);
    const out = mapKeys(this.name, d, a.keys, a.allow_missing_keys, (img, i) =>
      boxTransform(this.name, img, box_start, box_end, perKey(this.name, 'mode', a.mode, i, a.keys.length), a.value),
    );
    if (a.start_coord_key !== null) out[a.start_coord_key] = box_start;
    if (a.end_coord_key !== null) out[a.end_coord_key] = box_end;
    return out;
  }
}
