/**
 * Automatic lung cropping for COPLE-Net, which expects lung-cropped input (the authors cropped by
 * hand; MONAI's demo leaves it to the user, spec §2.2 and pitfall 6). Lungs = air-like voxels (HU
 * below a threshold) not connected to the air around the body in the axial plane, keeping the two
 * largest such components; the crop is their bounding box plus a margin in mm.
 *
 * Inner air that is a small part of the body (bowel gas and lung bases in an abdominal CT) is not
 * taken for lungs: the crop then falls back to the body (the largest soft-tissue component), with
 * a notice, so an out-of-domain scan is still segmented everywhere rather than in a gas pocket.
 *
 * Components are found on a grid subsampled to about `stepMm`, which keeps the label buffers of a
 * 512×512×300 CT small; the box is mapped back conservatively (±(step−1) voxels) before the margin.
 */
import { InputError } from '../io/errors';
import { connectedComponents } from '../labels/components';
import { keyList, parseArgs, type Spec } from '../transforms/args';
import { imageAt, mapKeys, type DictTransform } from '../transforms/base';
import { boxTransform } from '../transforms/croppad';
import { whereOf, type Dict, type MetaImage } from '../transforms/image';
import type { Vec3, Volume } from '../volume';

export interface LungCropOptions {
  /** Voxels below this HU count as air-like (lung parenchyma is about −850; GGO up to about −300). */
  thresholdHU?: number;
  /** Margin around the lungs' bounding box, mm. */
  marginMm?: number;
  /** The second lung is ignored when smaller than this fraction of the first (bowel gas, noise). */
  minFraction?: number;
  /** Lungs must make up at least this fraction of lungs + body voxels; else the body is cropped. */
  minLungFraction?: number;
  /** Voxels above this HU are body (soft tissue, bone) for the fallback crop. */
  bodyHU?: number;
  /** Components are searched on a grid subsampled to about this voxel size, mm. */
  stepMm?: number;
}

export interface LungCrop {
  /** Inclusive voxel box [i0, j0, k0] .. exclusive [i1, j1, k1]. */
  start: [number, number, number];
  end: [number, number, number];
  /** What the box surrounds: the lungs; the body (no lungs found); the whole volume (no body either). */
  region: 'lungs' | 'body' | 'volume';
  /** Voxels of the lungs found (on the original grid, estimated from the subsampled one); 0 when none. */
  lungVoxels: number;
  /** For the user when the box is not around the lungs. */
  notice?: string;
}

/** A scalar grid with i fastest (the Volume layout). */
interface Grid {
  data: ArrayLike<number>;
  dims: Vec3;
  spacing: Vec3;
}

/** The axis closest to superior–inferior, from direction cosines in LPS ([i, j, k] vectors). */
export function axialSliceAxis(direction: readonly number[]): 0 | 1 | 2 {
  const z = [0, 1, 2].map((a) => Math.abs(direction[3 * a + 2]));
  return (z[0] >= z[1] && z[0] >= z[2] ? 0 : z[1] >= z[2] ? 1 : 2) as 0 | 1 | 2;
}

export function findLungCrop(v: Volume, opts: LungCropOptions = {}): LungCrop {
  return findLungBox(v, axialSliceAxis(v.direction), opts);
}

/** Lung box of a grid whose slices are stacked along `sliceAxis` (the other two axes are in-plane). */
export function findLungBox(g: Grid, sliceAxis: 0 | 1 | 2, opts: LungCropOptions = {}): LungCrop {
  const threshold = opts.thresholdHU ?? -320;
  const margin = opts.marginMm ?? 10;
  const minFraction = opts.minFraction ?? 0.1;
  const minLungFraction = opts.minLungFraction ?? 0.1;
  const bodyHU = opts.bodyHU ?? -500;
  const step = g.spacing.map((s) => Math.max(1, Math.floor((opts.stepMm ?? 2.5) / s))) as Vec3;
  const coarse = g.dims.map((n, a) => Math.ceil(n / step[a])) as Vec3;
  const [cx, cy] = coarse;
  const sample = (test: (v: number) => boolean): Uint8Array => {
    const m = new Uint8Array(coarse[0] * coarse[1] * coarse[2]);
    const [nx, ny] = g.dims;
    for (let k = 0; k < coarse[2]; k++) {
      for (let j = 0; j < cy; j++) {
        const src = nx * (j * step[1] + ny * k * step[2]);
        const dst = cx * (j + cy * k);
        for (let i = 0; i < cx; i++) m[dst + i] = test(g.data[src + i * step[0]]) ? 1 : 0;
      }
    }
    return m;
  };
  const voxelsPerSample = step[0] * step[1] * step[2];
  const toBox = (lo: number[], hi: number[]) => {
    const start = [0, 1, 2].map((a) => Math.max(0, lo[a] * step[a] - (step[a] - 1) - Math.ceil(margin / g.spacing[a]))) as Vec3;
    const end = [0, 1, 2].map((a) => Math.min(g.dims[a], hi[a] * step[a] + step[a] + Math.ceil(margin / g.spacing[a]))) as Vec3;
    return { start, end };
  };

  const air = connectedComponents(sample((v) => v < threshold), coarse);
  const inPlane = [0, 1, 2].filter((a) => a !== sliceAxis);
  // Inner air: components that do not touch the in-plane border (outside air and the table do).
  const inner: number[] = [];
  for (let id = 1; id <= air.count; id++) {
    const b = air.boxes[id];
    if (!inPlane.some((a) => b[a] === 0 || b[a + 3] === coarse[a] - 1)) inner.push(id);
  }
  inner.sort((a, b) => air.sizes[b] - air.sizes[a]);
  // Two lungs, or one when they touch; anything much smaller than the largest is not lung.
  const kept = inner.slice(0, 2).filter((id) => air.sizes[id] >= minFraction * air.sizes[inner[0]]);
  const lungSamples = kept.reduce((s, id) => s + air.sizes[id], 0);

  const body = connectedComponents(sample((v) => v > bodyHU), coarse);
  let bodyId = 0;
  for (let id = 1; id <= body.count; id++) if (bodyId === 0 || body.sizes[id] > body.sizes[bodyId]) bodyId = id;
  const bodySamples = bodyId ? body.sizes[bodyId] : 0;

  if (kept.length && lungSamples >= minLungFraction * (lungSamples + bodySamples)) {
    const lo = [Infinity, Infinity, Infinity];
    const hi = [-Infinity, -Infinity, -Infinity];
    for (const id of kept) {
      const b = air.boxes[id];
      for (let a = 0; a < 3; a++) {
        lo[a] = Math.min(lo[a], b[a]);
        hi[a] = Math.max(hi[a], b[a + 3]);
      }
    }
    return { ...toBox(lo, hi), region: 'lungs', lungVoxels: lungSamples * voxelsPerSample };
  }

  const mlPerSample = (voxelsPerSample * g.spacing[0] * g.spacing[1] * g.spacing[2]) / 1000;
  const why = kept.length
    ? `the air inside the body (${Math.round(lungSamples * mlPerSample)} mL) is ${Math.round((100 * lungSamples) / (lungSamples + bodySamples))}% of it, too little for lungs`
    : 'no air inside the body';
  if (!bodyId) {
    return { start: [0, 0, 0], end: [...g.dims], region: 'volume', lungVoxels: 0, notice: `No lungs and no body found (${why}); the whole volume is segmented.` };
  }
  const b = body.boxes[bodyId];
  return {
    ...toBox(b.slice(0, 3), b.slice(3)),
    region: 'body',
    lungVoxels: 0,
    notice: `No lungs found (${why}); the whole body is segmented instead of a lung crop. COPLE-Net is meant for chest CT.`,
  };
}

// ---------------------------------------------------------------------------------------------
// LungCropd: the pipeline step. NOT a MONAI transform — our own name for the crop COPLE-Net's
// authors did by hand. Dictionary style like CropForegroundd: the box is found on `source_key`
// (which must hold HU), applied to every key, traced as a crop so `invert` undoes it, and stored
// under `crop_key` (indices along the image's spatial axes).

export interface LungCropdArgs {
  keys?: string | string[];
  source_key?: string | null;
  margin_mm?: number;
  threshold_hu?: number;
  min_lung_fraction?: number;
  crop_key?: string;
  allow_missing_keys?: boolean;
}

const LUNG_CROPD_SPEC: Spec = {
  keys: { kind: 'keys', default: ['image'] },
  source_key: { kind: 'string', nullable: true, default: null },
  margin_mm: { kind: 'number', default: 10 },
  threshold_hu: { kind: 'number', default: -320 },
  min_lung_fraction: { kind: 'number', default: 0.1 },
  crop_key: { kind: 'string', default: 'lung_crop' },
  allow_missing_keys: { kind: 'boolean', default: false },
};

/** Lung box of a 3D MetaImage [C, X, Y, Z] (channel 0), in its spatial index order. */
export function lungCropOfImage(img: MetaImage, opts: LungCropOptions = {}): LungCrop {
  if (img.shape.length !== 4) throw new InputError(whereOf(img, 'LungCropd'), `needs a 3D image [C, X, Y, Z], got [${img.shape.join(', ')}]`);
  const [, n0, n1, n2] = img.shape;
  const a = img.affine;
  const spacing = [0, 1, 2].map((c) => Math.hypot(a[c], a[4 + c], a[8 + c]));
  // C-order [X, Y, Z] is i-fastest for the reversed dims [Z, Y, X].
  const zAxis = axialSliceAxis([0, 1, 2].flatMap((c) => [a[c], a[4 + c], a[8 + c]].map((x) => x / spacing[c])));
  const rev = findLungBox(
    { data: img.data.subarray(0, n0 * n1 * n2), dims: [n2, n1, n0], spacing: [spacing[2], spacing[1], spacing[0]] },
    (2 - zAxis) as 0 | 1 | 2,
    opts,
  );
  return { ...rev, start: [rev.start[2], rev.start[1], rev.start[0]], end: [rev.end[2], rev.end[1], rev.end[0]] };
}

export class LungCropd implements DictTransform {
  readonly name = 'LungCropd';
  readonly args: Required<Omit<LungCropdArgs, 'keys'>> & { keys: string[] };
  constructor(args: LungCropdArgs = {}) {
    const a = parseArgs<Required<LungCropdArgs>>(this.name, LUNG_CROPD_SPEC, args);
    if (!(a.margin_mm >= 0)) throw new InputError(this.name, `margin_mm must not be negative, got ${a.margin_mm}`);
    this.args = { ...a, keys: keyList(a.keys) };
  }
  call(d: Dict): Dict {
    const a = this.args;
    const crop = lungCropOfImage(imageAt(this.name, d, a.source_key ?? a.keys[0]), {
      marginMm: a.margin_mm,
      thresholdHU: a.threshold_hu,
      minLungFraction: a.min_lung_fraction,
    });
    const out = mapKeys(this.name, d, a.keys, a.allow_missing_keys, (img) => boxTransform(this.name, img, crop.start, crop.end, 'constant'));
    out[a.crop_key] = crop;
    return out;
  }
}
