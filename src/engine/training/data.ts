/**
 * Training data for the slice-wise networks (COPLE-Net, 2D U-Net): labelled CT volumes →
 * preprocessed axial slices → seeded batches of augmented 2D patches, plus held-out validation slices.
 *
 * Preprocessing is the inference path's (spec §2.2): volumes in LPS voxel order (array axes L, P, S,
 * so an axial slice has rows along P and columns along L — MONAI's "SPL" layout without the channel),
 * lung crop (`findLungCrop`), ScaleIntensityRange(−1400, 100 → 0, 1, clip). Patches follow MONAI's
 * RandCropByPosNegLabel (a centre on a lesion voxel with probability pos/(pos + neg), else on a
 * background voxel of the lung box; §5.6), then dictionary augmentations from `../transforms`.
 * Two optional departures from MONAI, both off by default: positive centres drawn lesion by lesion
 * (each connected lesion equally likely, so small lesions are not drowned by large ones' voxels), and
 * a share of negative centres drawn from "hard negative" voxels a case may carry (e.g. the phantoms'
 * lung vessels, which an undertrained net mistakes for small lesions).
 *
 * Every batch is a pure function of (seed, step): each sample draws from its own generator seeded by
 * `deriveSeed(seed, 'patch' | 'augment', step, b)`, so a resumed run sees exactly the batches an
 * uninterrupted one would have, with no generator state to save.
 */
import { InputError } from '../io/errors';
import { findLungCrop, type LungCrop, type LungCropOptions } from '../inference/lung-crop';
import { channelsLast, checkContextSlices, contextChannels, stackSlices } from '../inference/slice-context';
import { connectedComponents } from '../labels/components';
import { majorityVote, staple } from '../metrics';
import { Rng } from '../random';
import { deriveSeed } from '../synth/seeds';
import {
  Compose,
  Orientation,
  Rand2DElasticd,
  RandFlipd,
  RandGaussianNoised,
  RandRotate90d,
  RandScaleIntensityd,
  RandomizableTransform,
  ScaleIntensityRange,
  cropPad,
  imageToVolume,
  mapBinaryToIndices,
  mapKeys,
  posNegCropCenters,
  presentKeys,
  volumeToImage,
  type Dict,
  type DictTransform,
  type MetaImage,
  type Transform,
} from '../transforms';
import { axisCodes, type Vec3, type Volume } from '../volume';

/** The intensity window COPLE-Net was trained with (HL README, issue #6): [−1400, 100] HU → [0, 1]. */
export const INTENSITY_WINDOW = { a_min: -1400, a_max: 100, b_min: 0, b_max: 1, clip: true } as const;

const IDENTITY4 = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];

/** One training volume with the one label the network learns from. */
export interface TrainingCase {
  id: string;
  /** CT in HU. */
  image: Volume;
  /** Lesion mask on the image grid (nonzero = lesion). */
  label: Uint8Array;
  /** Precomputed lung crop of `image` (else `findLungCrop` runs). */
  lungCrop?: LungCrop;
  /** Voxels to sample as hard negatives (nonzero), on the image grid. */
  hardNegatives?: Uint8Array;
}

/** A scan with whatever labels exist for it: the truth (phantoms) and/or observers' masks. */
export interface AnnotatedScan {
  id: string;
  image: Volume;
  truth?: Uint8Array;
  observers?: { name: string; mask: Uint8Array }[];
  lungCrop?: LungCrop;
  /** Voxels likely to be mistaken for lesions (see `PatchOptions.hardNegativeRatio`). */
  hardNegatives?: Uint8Array;
}

/**
 * Which label to learn from: the truth, one observer, every observer as its own sample, the STAPLE
 * consensus, or the majority vote (ties → background).
 */
export type LabelSource =
  | { kind: 'truth' }
  | { kind: 'observer'; name: string }
  | { kind: 'each-observer' }
  | { kind: 'staple' }
  | { kind: 'majority' };

/** 'truth' | 'observer:<name>' | 'each-observer' | 'staple' | 'majority' (CLI and worker messages). */
export function parseLabelSource(text: string): LabelSource {
  if (text === 'truth' || text === 'each-observer' || text === 'staple' || text === 'majority') return { kind: text };
  if (text.startsWith('observer:') && text.length > 'observer:'.length) return { kind: 'observer', name: text.slice('observer:'.length) };
  throw new InputError('labels', `unknown label source "${text}" (truth, observer:<name>, each-observer, staple or majority)`);
}

/** The training cases that `source` makes of the scans; observers' derived cases share their scan's image and lung crop. */
export function casesFromScans(scans: readonly AnnotatedScan[], source: LabelSource, cropOptions: LungCropOptions = {}): TrainingCase[] {
  const out: TrainingCase[] = [];
  for (const s of scans) {
    const n = s.image.data.length;
    const check = (mask: Uint8Array, what: string) => {
      if (mask.length !== n) throw new InputError(s.id, `${what} has ${mask.length} voxels, the image ${n}`);
      return mask;
    };
    const observers = s.observers ?? [];
    const needObservers = () => {
      if (!observers.length) throw new InputError(s.id, `label source "${source.kind}" needs observers' masks, the scan has none`);
      return observers.map((o) => check(o.mask, `observer ${o.name}`));
    };
    const lungCrop = s.lungCrop ?? findLungCrop(s.image, cropOptions);
    const hardNegatives = s.hardNegatives && check(s.hardNegatives, 'hard-negative mask');
    const make = (id: string, label: Uint8Array): TrainingCase => ({ id, image: s.image, label, lungCrop, ...(hardNegatives && { hardNegatives }) });
    switch (source.kind) {
      case 'truth':
        if (!s.truth) throw new InputError(s.id, 'label source "truth" needs the true mask, the scan has none');
        out.push(make(s.id, check(s.truth, 'truth')));
        break;
      case 'observer': {
        const o = observers.find((x) => x.name === source.name);
        if (!o) throw new InputError(s.id, `no observer "${source.name}" (have: ${observers.map((x) => x.name).join(', ') || 'none'})`);
        out.push(make(s.id, check(o.mask, `observer ${o.name}`)));
        break;
      }
      case 'each-observer':
        needObservers();
        for (const o of observers) out.push(make(`${s.id}/${o.name}`, o.mask));
        break;
      case 'staple':
        out.push(make(s.id, staple(needObservers()).consensus));
        break;
      case 'majority':
        out.push(make(s.id, majorityVote(needObservers())));
        break;
    }
  }
  return out;
}

/** A case after preprocessing: lung-cropped, scaled, in LPS voxel order. */
export interface PreparedCase {
  id: string;
  /** [depth, height, width] = [k, j, i] extents of the crop; memory is C order (i fastest, as the Volume). */
  shape: Vec3;
  /** Intensities in [0, 1]. */
  image: Float32Array;
  /** 0/1. */
  label: Uint8Array;
  /** 0/1 hard-negative voxels, when the case has them. */
  hard?: Uint8Array;
  /** The lung box on the (LPS-ordered) volume, [i, j, k]. */
  crop: LungCrop;
}

/** Reorders a volume's voxels to LPS axis order (a pure permutation/flip, MONAI Orientation) unless it already is. */
function toLPS(vol: Volume): Volume {
  if (axisCodes(vol) === 'LPS') return vol;
  return imageToVolume(new Orientation({ axcodes: 'LPS' }).call(volumeToImage(vol)), vol);
}

/** Inference preprocessing of one case; `imageCache` shares the work between cases of one image. */
export function prepareCase(c: TrainingCase, imageCache?: WeakMap<Volume, { image: Float32Array; crop: LungCrop; shape: Vec3 }>): PreparedCase {
  if (c.label.length !== c.image.data.length) throw new InputError(c.id, `label has ${c.label.length} voxels, the image ${c.image.data.length}`);
  if (c.image.units === 'label') throw new InputError(c.id, 'the image is a label map, expected CT in HU');
  const reoriented = axisCodes(c.image) !== 'LPS';
  let cached = imageCache?.get(c.image);
  if (!cached) {
    const vol = toLPS(c.image);
    // A crop found on the original grid does not apply to a reoriented one.
    const crop = c.lungCrop && !reoriented ? c.lungCrop : findLungCrop(vol);
    const shape = [crop.end[2] - crop.start[2], crop.end[1] - crop.start[1], crop.end[0] - crop.start[0]] as Vec3;
    const cropped = cropBox(asImage(vol.data, vol.dims), crop);
    const scaled = new ScaleIntensityRange(INTENSITY_WINDOW).call(cropped).data as Float32Array;
    cached = { image: scaled, crop, shape };
    imageCache?.set(c.image, cached);
  }
  const crop = cached.crop;
  const binaryCrop = (mask: Uint8Array): Uint8Array => {
    const lps = toLPS({ ...c.image, data: mask, units: 'label' });
    const cropped = cropBox(asImage(lps.data, lps.dims), crop).data;
    const binary = new Uint8Array(cropped.length);
    for (let n = 0; n < binary.length; n++) binary[n] = cropped[n] !== 0 ? 1 : 0;
    return binary;
  };
  if (c.hardNegatives && c.hardNegatives.length !== c.label.length) throw new InputError(c.id, `hard-negative mask has ${c.hardNegatives.length} voxels, the image ${c.label.length}`);
  const hard = c.hardNegatives && binaryCrop(c.hardNegatives);
  return { id: c.id, shape: cached.shape, image: cached.image, label: binaryCrop(c.label), ...(hard && { hard }), crop };
}

/** Preprocesses many cases, sharing the image work between cases of one scan. */
export function prepareCases(cases: readonly TrainingCase[]): PreparedCase[] {
  const cache = new WeakMap<Volume, { image: Float32Array; crop: LungCrop; shape: Vec3 }>();
  return cases.map((c) => prepareCase(c, cache));
}

/** A Volume's voxels as a MetaImage of shape [1, k, j, i] (C order = the Volume's own order; the affine is unused). */
function asImage(data: MetaImage['data'], dims: Vec3): MetaImage {
  return { data, shape: [1, dims[2], dims[1], dims[0]], affine: IDENTITY4 };
}

function cropBox(img: MetaImage, crop: LungCrop): MetaImage {
  return cropPad(img, [crop.start[2], crop.start[1], crop.start[0]], [crop.end[2], crop.end[1], crop.end[0]]);
}

// ---------------------------------------------------------------------------------------------
// Augmentation

/** RandShiftIntensity(d) (MONAI): v + offset, offset ~ U(−o, o), with probability `prob`. Not in ../transforms yet. */
class RandShiftIntensityd extends RandomizableTransform implements DictTransform {
  readonly name = 'RandShiftIntensityd';
  constructor(
    private readonly keys: string[],
    private readonly offset: number,
    private readonly prob: number,
  ) {
    super();
  }
  call(d: Dict): Dict {
    const present = presentKeys(this.name, d, this.keys, false);
    if (!this.drawDo(this.prob)) return { ...d };
    const o = this.R.uniform(-this.offset, this.offset);
    return mapKeys(this.name, d, present, false, (img) => ({ ...img, data: Float32Array.from(img.data, (v) => v + o) }));
  }
}

export interface AugmentOptions {
  /** Probability of a flip along each in-plane axis (independently). Default 0.5. */
  flipProb?: number;
  /** Probability of a quarter turn by 1–3 (uniform). Default 0.5. */
  rot90Prob?: number;
  /** v·(1 + f), f ~ U(−scale, scale), with probability 0.5. Default 0.1; 0 = off. */
  intensityScale?: number;
  /** v + o, o ~ U(−shift, shift), with probability 0.5. Default 0.05; 0 = off. */
  intensityShift?: number;
  /** Additive Gaussian noise, σ ~ U(0, noiseStd), with probability 0.3. Default 0.02; 0 = off. */
  noiseStd?: number;
  /** Rand2DElastic (bilinear image, nearest label): control-point spacing px, magnitude px, probability. Default off. */
  elastic?: { spacing: number; magnitude: [number, number]; prob: number } | null;
}

/** The per-sample augmentation pipeline on {image, label} 2D patches ([1, H, W]). */
export function augmentation(o: AugmentOptions = {}): Compose {
  const keys = ['image', 'label'];
  const ts: Transform<any, any>[] = [
    new RandFlipd({ keys, prob: o.flipProb ?? 0.5, spatial_axis: 0 }),
    new RandFlipd({ keys, prob: o.flipProb ?? 0.5, spatial_axis: 1 }),
    new RandRotate90d({ keys, prob: o.rot90Prob ?? 0.5, max_k: 3 }),
  ];
  if (o.elastic) {
    ts.push(new Rand2DElasticd({ keys, spacing: o.elastic.spacing, magnitude_range: o.elastic.magnitude, prob: o.elastic.prob, mode: ['bilinear', 'nearest'], padding_mode: 'border' }));
  }
  if ((o.intensityScale ?? 0.1) > 0) ts.push(new RandScaleIntensityd({ keys: 'image', factors: o.intensityScale ?? 0.1, prob: 0.5 }));
  if ((o.intensityShift ?? 0.05) > 0) ts.push(new RandShiftIntensityd(['image'], o.intensityShift ?? 0.05, 0.5));
  if ((o.noiseStd ?? 0.02) > 0) ts.push(new RandGaussianNoised({ keys: 'image', prob: 0.3, std: o.noiseStd ?? 0.02 }));
  return new Compose(ts);
}

// ---------------------------------------------------------------------------------------------
// Patches

export interface PatchOptions {
  /** Square patch side, a multiple of the network's size divisor (16 for COPLE-Net). Default 96. */
  patchSize?: number;
  batchSize?: number;
  /** RandCropByPosNegLabel ratio pos/(pos + neg). Defaults 1 and 1. */
  pos?: number;
  neg?: number;
  /** Augmentation settings, or false for none. */
  augment?: AugmentOptions | false;
  seed?: number;
  /** 'voxel' (MONAI: any lesion voxel) or 'lesion' (a connected lesion first, each equally likely). Default 'voxel'. */
  positives?: 'voxel' | 'lesion';
  /** Share of negative centres drawn from a case's hard-negative voxels (when it has any). Default 0. */
  hardNegativeRatio?: number;
  /** Neighbouring slices on each side given as extra image channels (slice-context.ts). Default 0. */
  contextSlices?: number;
}

/** A batch of patches: images (B, P, P, C) float32 and labels (B, P, P) 0/1, both C order. */
export interface PatchBatch {
  images: Float32Array;
  labels: Uint8Array;
  batchSize: number;
  patchSize: number;
  /** C: 1, or 2r+1 with r context slices on each side. */
  channels: number;
}

interface SamplingCase {
  id: string;
  shape: Vec3;
  image: MetaImage;
  label: MetaImage;
  fg: Int32Array;
  bg: Int32Array;
  /** Positive voxels grouped by connected lesion (26-connected, 3D); only with positives 'lesion'. */
  lesions: Int32Array[];
  /** Hard-negative voxels that are not lesion. */
  hard: Int32Array;
}

/** Seeded batches of 2D patches from prepared cases (see the file header). */
export class PatchSampler {
  readonly patchSize: number;
  readonly batchSize: number;
  readonly posRatio: number;
  readonly seed: number;
  readonly positives: 'voxel' | 'lesion';
  readonly hardNegativeRatio: number;
  readonly contextSlices: number;
  private readonly cases: SamplingCase[];
  private readonly augment: Compose | null;

  constructor(cases: readonly PreparedCase[], opts: PatchOptions = {}) {
    this.patchSize = opts.patchSize ?? 96;
    this.batchSize = opts.batchSize ?? 4;
    this.seed = (opts.seed ?? 0) >>> 0;
    const pos = opts.pos ?? 1;
    const neg = opts.neg ?? 1;
    if (!(pos >= 0 && neg >= 0 && pos + neg > 0)) throw new InputError('patch sampler', `pos and neg must be ≥ 0 and not both 0, got ${pos}, ${neg}`);
    if (!(Number.isInteger(this.patchSize) && this.patchSize >= 1)) throw new InputError('patch sampler', `patch size must be a positive integer, got ${this.patchSize}`);
    if (!(Number.isInteger(this.batchSize) && this.batchSize >= 1)) throw new InputError('patch sampler', `batch size must be a positive integer, got ${this.batchSize}`);
    if (!cases.length) throw new InputError('patch sampler', 'no training cases');
    this.posRatio = pos / (pos + neg);
    this.positives = opts.positives ?? 'voxel';
    this.hardNegativeRatio = opts.hardNegativeRatio ?? 0;
    this.contextSlices = checkContextSlices(opts.contextSlices ?? 0, 'patch sampler');
    if (this.positives !== 'voxel' && this.positives !== 'lesion') throw new InputError('patch sampler', `positives must be 'voxel' or 'lesion', got "${String(this.positives)}"`);
    if (!(this.hardNegativeRatio >= 0 && this.hardNegativeRatio <= 1)) throw new InputError('patch sampler', `hard-negative ratio must be in 0…1, got ${this.hardNegativeRatio}`);
    this.augment = opts.augment === false ? null : augmentation(opts.augment);
    this.cases = cases.map((c) => this.samplingCase(c));
  }

  /** Pads a case in-plane (edge values, centred) to at least the patch size, and indexes its voxels. */
  private samplingCase(c: PreparedCase): SamplingCase {
    const [d, h, w] = c.shape;
    if (d < 1 || h < 1 || w < 1) throw new InputError(c.id, `empty crop [${c.shape.join(', ')}]`);
    const P = this.patchSize;
    const ph = Math.max(P - h, 0);
    const pw = Math.max(P - w, 0);
    const start = [0, -Math.floor(ph / 2), -Math.floor(pw / 2)];
    const end = [d, h + ph - Math.floor(ph / 2), w + pw - Math.floor(pw / 2)];
    const image = cropPad(asImage(c.image, [w, h, d]), start, end, 'edge');
    const label = cropPad(asImage(c.label, [w, h, d]), start, end, 'constant', 0);
    const { fg, bg } = mapBinaryToIndices(label);
    const dims: Vec3 = [w + pw, h + ph, d];
    const lesions = this.positives === 'lesion' ? lesionIndices(label.data, dims) : [];
    let hard = new Int32Array(0);
    if (c.hard && this.hardNegativeRatio > 0) {
      const mask = cropPad(asImage(c.hard, [w, h, d]), start, end, 'constant', 0).data;
      hard = bg.filter((n) => mask[n] !== 0);
    }
    return { id: c.id, shape: [d, h + ph, w + pw], image, label, fg, bg, lesions, hard };
  }

  /** The batch of update number `step` (0-based). Same (cases, options, step) → same bytes. */
  async batch(step: number): Promise<PatchBatch> {
    const P = this.patchSize;
    const B = this.batchSize;
    const C = contextChannels(this.contextSlices);
    const images = new Float32Array(B * P * P * C);
    const labels = new Uint8Array(B * P * P);
    for (let b = 0; b < B; b++) {
      const { image, label } = await this.sample(step, b);
      images.set(C === 1 ? image.data : channelsLast(image.data, C), b * P * P * C);
      for (let n = 0; n < P * P; n++) labels[b * P * P + n] = label.data[n] > 0.5 ? 1 : 0;
    }
    return { images, labels, batchSize: B, patchSize: P, channels: C };
  }

  /** A patch centre: MONAI's RandCropByPosNegLabel draw, with the lists narrowed by the optional modes. */
  private centre(R: Rng, c: SamplingCase): Vec3[] {
    let { fg, bg } = c;
    // The default draws exactly MONAI's sequence (no extra random numbers), so seeded runs stay as they were.
    if (this.positives === 'lesion' && c.lesions.length) fg = c.lesions[R.int(c.lesions.length)];
    if (this.hardNegativeRatio > 0 && c.hard.length && R.random() < this.hardNegativeRatio) bg = c.hard;
    return posNegCropCenters(R, [1, this.patchSize, this.patchSize], 1, this.posRatio, c.shape, fg, bg, false) as Vec3[];
  }

  /**
   * Sample `b` of batch `step`: case, centre, crop, augmentation. The image is [C, P, P]: the centre
   * slice and its context slices as channels (edge slices repeated), augmented together.
   */
  async sample(step: number, b: number): Promise<{ caseId: string; centre: Vec3; image: MetaImage; label: MetaImage }> {
    const R = new Rng(deriveSeed(this.seed, 'patch', step, b));
    const c = this.cases[R.int(this.cases.length)];
    const P = this.patchSize;
    const r = this.contextSlices;
    const [centre] = this.centre(R, c);
    const start = [centre[0], centre[1] - Math.floor(P / 2), centre[2] - Math.floor(P / 2)];
    const end = [start[0] + 1, start[1] + P, start[2] + P];
    const flat = (img: MetaImage, context: number): MetaImage => {
      // In-plane the window lies inside the (padded) case, so 'edge' only acts on the context slices.
      const out = cropPad(img, [start[0] - context, start[1], start[2]], [end[0] + context, end[1], end[2]], 'edge');
      return { ...out, shape: [contextChannels(context), P, P] };
    };
    let d: Dict = { image: flat(c.image, r), label: flat(c.label, 0) };
    if (this.augment) {
      this.augment.setRandomState(deriveSeed(this.seed, 'augment', step, b));
      d = (await this.augment.call(d)) as Dict;
    }
    return { caseId: c.id, centre, image: d.image as MetaImage, label: d.label as MetaImage };
  }
}

/** Voxel indices of each 26-connected component of a 0/1 mask (dims x-fastest). */
function lesionIndices(mask: MetaImage['data'], dims: Vec3): Int32Array[] {
  const { labels, sizes } = connectedComponents(mask, dims, 3);
  const out = sizes.map((n) => new Int32Array(n));
  const fill = new Int32Array(sizes.length);
  for (let p = 0; p < labels.length; p++) if (labels[p] > 0) out[labels[p]][fill[labels[p]]++] = p;
  return out.slice(1);
}

// ---------------------------------------------------------------------------------------------
// Validation

/** Whole axial slices of one held-out case, padded for the network; Dice is taken on the unpadded part. */
export interface ValidationSlices {
  id: string;
  /** (count, height, width, channels) padded slices (with their context slices as channels). */
  images: Float32Array;
  channels: number;
  /** (count, rows, cols) labels, unpadded. */
  labels: Uint8Array;
  count: number;
  /** Padded size. */
  height: number;
  width: number;
  /** Unpadded size and where it sits in the padded slice. */
  rows: number;
  cols: number;
  top: number;
  left: number;
}

export interface ValidationOptions {
  /** At most this many slices per case, evenly spaced over the lung crop's slices. Default all. */
  maxSlicesPerCase?: number;
  /** Pad height and width up to a multiple of this (the inference pipeline's DivisiblePadd: 32). Default 32. */
  divisor?: number;
  /** Neighbouring slices on each side as extra channels, as the network was trained (slice-context.ts). Default 0. */
  contextSlices?: number;
}

/** Validation slices of held-out cases, padded symmetrically by reflection to `divisor` (as the default inference pipeline). */
export function validationSlices(cases: readonly PreparedCase[], opts: ValidationOptions = {}): ValidationSlices[] {
  const divisor = opts.divisor ?? 32;
  const r = checkContextSlices(opts.contextSlices ?? 0, 'validation slices');
  return cases.map((c) => {
    const [d, h, w] = c.shape;
    const count = Math.min(d, opts.maxSlicesPerCase ?? d);
    const ks = Array.from({ length: count }, (_, n) => (count === 1 ? Math.floor(d / 2) : Math.round((n * (d - 1)) / (count - 1))));
    const H = Math.ceil(h / divisor) * divisor;
    const W = Math.ceil(w / divisor) * divisor;
    const top = Math.floor((H - h) / 2);
    const left = Math.floor((W - w) / 2);
    const labels = new Uint8Array(count * h * w);
    // Every slice padded in-plane by reflection (as DivisiblePadd), then the chosen ones stacked with their context.
    const padded = cropPad(asImage(c.image, [w, h, d]), [0, -top, -left], [d, H - top, W - left], 'reflect').data;
    const images = stackSlices(padded, [d, H, W], ks, r);
    ks.forEach((k, n) => labels.set(c.label.subarray(k * h * w, (k + 1) * h * w), n * h * w));
    return { id: c.id, images, channels: contextChannels(r), labels, count, height: H, width: W, rows: h, cols: w, top, left };
  });
}
