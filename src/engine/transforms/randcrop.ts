/**
 * RandCropByPosNegLabel(d) (§5.6): `num_samples` fixed-size crops whose centres are foreground
 * voxels with probability pos/(pos+neg), else background; centres clamped by MONAI's
 * `correct_crop_centers` rule, including its uint16 truncation. Output is a list.
 */
import { InputError } from '../io/errors';
import type { Rng } from '../random';
import { fallBack, keyList, parseArgs, type Spec } from './args';
import { RandomizableTransform, imageAt, presentKeys, type Transform } from './base';
import { checkImage, product, spatialShape, whereOf, type Dict, type MetaImage } from './image';
import { boxTransform } from './croppad';

/** numpy `.astype(np.uint16)` of a float: truncate toward zero, wrap modulo 2^16. */
function uint16(x: number): number {
  return ((Math.trunc(x) % 65536) + 65536) % 65536;
}

/**
 * MONAI correct_crop_centers: lo = floor(s/2), hi = uint16(D + 1 − s/2) (float subtraction);
 * lo == hi → hi + 1; centre clamped to [lo, hi − 1]. An ROI larger than the image is an error
 * unless `allow_smaller`, which shrinks it to the image.
 */
export function correctCropCenters(centers: number[], spatialSize: number | number[], shape: number[], allowSmaller = false): number[] {
  let size = fallBack(spatialSize, shape);
  if (size.some((s, d) => shape[d] - s < 0)) {
    if (!allowSmaller) throw new Error(`crop ROI [${size.join(', ')}] is larger than the image [${shape.join(', ')}]`);
    size = size.map((s, d) => Math.min(s, shape[d]));
  }
  return centers.map((c, d) => {
    const lo = Math.floor(size[d] / 2);
    let hi = uint16(shape[d] + 1 - size[d] / 2);
    if (lo === hi) hi = uint16(hi + 1);
    return Math.min(Math.max(c, lo), hi - 1);
  });
}

/**
 * MONAI map_binary_to_indices: flat foreground / background indices. One-hot labels (C > 1)
 * drop channel 0; fg = any channel ≠ 0; bg = ¬fg, restricted to any(image > threshold) if given.
 */
export function mapBinaryToIndices(label: MetaImage, image: MetaImage | null = null, imageThreshold = 0): { fg: Int32Array; bg: Int32Array } {
  const n = product(spatialShape(label));
  const C = label.shape[0];
  if (image && product(spatialShape(image)) !== n) throw new InputError(whereOf(image, 'RandCropByPosNegLabel'), 'image and label spatial shapes differ');
  const fgMask = new Uint8Array(n);
  for (let c = C > 1 ? 1 : 0; c < C; c++) {
    const off = c * n;
    for (let i = 0; i < n; i++) if (label.data[off + i] !== 0) fgMask[i] = 1;
  }
  let valid: Uint8Array | null = null;
  if (image) {
    valid = new Uint8Array(n);
    for (let c = 0; c < image.shape[0]; c++) {
      const off = c * n;
      for (let i = 0; i < n; i++) if (image.data[off + i] > imageThreshold) valid[i] = 1;
    }
  }
  let nf = 0;
  let nb = 0;
  for (let i = 0; i < n; i++) {
    if (fgMask[i]) nf++;
    else if (!valid || valid[i]) nb++;
  }
  const fg = new Int32Array(nf);
  const bg = new Int32Array(nb);
  nf = nb = 0;
  for (let i = 0; i < n; i++) {
    if (fgMask[i]) fg[nf++] = i;
    else if (!valid || valid[i]) bg[nb++] = i;
  }
  return { fg, bg };
}

function unravel(idx: number, shape: number[]): number[] {
  const out = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    out[d] = idx % shape[d];
    idx = Math.floor(idx / shape[d]);
  }
  return out;
}

/** MONAI generate_pos_neg_label_crop_centers, with our generator. */
export function posNegCropCenters(
  R: Rng,
  spatialSize: number | number[],
  numSamples: number,
  posRatio: number,
  shape: number[],
  fg: ArrayLike<number>,
  bg: ArrayLike<number>,
  allowSmaller: boolean,
): number[][] {
  if (fg.length === 0 && bg.length === 0) throw new Error('no sampling location available (label and image are empty)');
  if (fg.length === 0) posRatio = 0;
  else if (bg.length === 0) posRatio = 1;
  const centers: number[][] = [];
  for (let s = 0; s < numSamples; s++) {
    const list = R.random() < posRatio ? fg : bg;
    const idx = list[R.int(list.length)];
    centers.push(correctCropCenters(unravel(idx, shape), spatialSize, shape, allowSmaller));
  }
  return centers;
}

/** SpatialCrop(roi_center, roi_size): start = max(c − ⌊s/2⌋, 0), end clamped to the image. */
function cropAt(name: string, img: MetaImage, center: number[], roiSize: number[]): MetaImage {
  const sp = spatialShape(img);
  const start = center.map((c, d) => Math.max(c - Math.floor(roiSize[d] / 2), 0));
  const end = start.map((s, d) => Math.min(Math.max(s + roiSize[d], s), sp[d]));
  const out = boxTransform(name, img, start, end, 'constant');
  return { ...out, meta: { ...out.meta, crop_center: center.slice() } };
}

export interface RandCropByPosNegLabelArgs {
  spatial_size: number | number[];
  pos?: number;
  neg?: number;
  num_samples?: number;
  image_threshold?: number;
  allow_smaller?: boolean;
}

const SPEC: Spec = {
  spatial_size: { kind: 'ints', required: true },
  pos: { kind: 'number', default: 1 },
  neg: { kind: 'number', default: 1 },
  num_samples: { kind: 'int', default: 1 },
  image_threshold: { kind: 'number', default: 0 },
  allow_smaller: { kind: 'boolean', default: false },
};

function checkRatio(name: string, a: Required<RandCropByPosNegLabelArgs>): number {
  if (a.pos < 0 || a.neg < 0) throw new InputError(name, `pos and neg must be non-negative, got pos=${a.pos} neg=${a.neg}`);
  if (a.pos + a.neg === 0) throw new InputError(name, 'pos and neg cannot both be 0');
  if (a.num_samples < 1) throw new InputError(name, `num_samples must be ≥ 1, got ${a.num_samples}`);
  return a.pos / (a.pos + a.neg);
}

export class RandCropByPosNegLabel extends RandomizableTransform implements Transform<MetaImage, MetaImage[]> {
  readonly name = 'RandCropByPosNegLabel';
  readonly args: Required<RandCropByPosNegLabelArgs>;
  readonly posRatio: number;
  constructor(args: RandCropByPosNegLabelArgs) {
    super();
    this.args = parseArgs(this.name, SPEC, args);
    this.posRatio = checkRatio(this.name, this.args);
  }
  /** Crops of `img` centred by `label` (background limited to `image > image_threshold` if given). */
  call(img: MetaImage, label?: MetaImage, image?: MetaImage): MetaImage[] {
    checkImage(img, this.name);
    const lab = checkImage(label ?? img, this.name);
    const shape = spatialShape(lab);
    const { fg, bg } = mapBinaryToIndices(lab, image ? checkImage(image, this.name) : null, this.args.image_threshold);
    let centers: number[][];
    try {
      centers = posNegCropCenters(this.R, this.args.spatial_size, this.args.num_samples, this.posRatio, shape, fg, bg, this.args.allow_smaller);
    } catch (e) {
      throw new InputError(whereOf(lab, this.name), (e as Error).message);
    }
    const roi = fallBack(this.args.spatial_size, spatialShape(img));
    return centers.map((c) => cropAt(this.name, img, c, roi));
  }
}

export interface RandCropByPosNegLabeldArgs extends RandCropByPosNegLabelArgs {
  keys: string | string[];
  label_key: string;
  image_key?: string | null;
  fg_indices_key?: string | null;
  bg_indices_key?: string | null;
  allow_missing_keys?: boolean;
}

export class RandCropByPosNegLabeld extends RandomizableTransform implements Transform<Dict, Dict[]> {
  readonly name = 'RandCropByPosNegLabeld';
  readonly args: Required<RandCropByPosNegLabeldArgs> & { keys: string[] };
  readonly posRatio: number;
  constructor(args: RandCropByPosNegLabeldArgs) {
    super();
    const a = parseArgs<typeof this.args>(
      this.name,
      {
        keys: { kind: 'keys', required: true },
        label_key: { kind: 'string', required: true },
        ...SPEC,
        image_key: { kind: 'string', nullable: true, default: null },
        fg_indices_key: { kind: 'string', nullable: true, default: null },
        bg_indices_key: { kind: 'string', nullable: true, default: null },
        allow_missing_keys: { kind: 'boolean', default: false },
      },
      args,
    );
    this.args = { ...a, keys: keyList(a.keys) };
    this.posRatio = checkRatio(this.name, this.args);
  }
  call(data: Dict): Dict[] {
    const a = this.args;
    const d: Dict = { ...data };
    const popIdx = (k: string | null): ArrayLike<number> | null => {
      if (k === null || !(k in d)) return null;
      const v = d[k] as ArrayLike<number>;
      delete d[k];
      return v;
    };
    const fgGiven = popIdx(a.fg_indices_key);
    const bgGiven = popIdx(a.bg_indices_key);
    const label = imageAt(this.name, d, a.label_key);
    const shape = spatialShape(label);
    const { fg, bg } =
      fgGiven && bgGiven ? { fg: fgGiven, bg: bgGiven } : mapBinaryToIndices(label, a.image_key === null ? null : imageAt(this.name, d, a.image_key), a.image_threshold);
    let centers: number[][];
    try {
      centers = posNegCropCenters(this.R, a.spatial_size, a.num_samples, this.posRatio, shape, fg, bg, a.allow_smaller);
    } catch (e) {
      throw new InputError(whereOf(label, this.name), (e as Error).message);
    }
    const present = presentKeys(this.name, d, a.keys, a.allow_missing_keys);
    return centers.map((c) => {
      const out: Dict = { ...d };
      for (const k of present) {
        const img = imageAt(this.name, d, k);
        out[k] = cropAt(this.name, img, c, fallBack(a.spatial_size, spatialShape(img)));
      }
      return out;
    });
  }
}
