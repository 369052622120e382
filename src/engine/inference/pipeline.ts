/**
 * Inference pipelines as declarative JSON, stored with a model like the inference section of a
 * MONAI bundle: preprocessing transforms (MONAI names and arguments, plus our `LungCropd`),
 * how the network is run, and postprocessing (Activationsd → Invertd → AsDiscreted, then optionally
 * component filters on the discrete mask: MONAI's RemoveSmallObjectsd and our KeepConfidentComponentsd).
 *
 * The COPLE-Net pipeline follows MONAI research-contributions `run_inference.py` (spec §2) and
 * adds the preprocessing its README leaves to the user (§2.2, pitfall 6):
 * 1. `LungCropd` (ours, not MONAI): the lungs' box + 10 mm; first, because it thresholds HU.
 * 2. `ScaleIntensityRanged` [−1400, 100] HU → [0, 1], clipped (the authors' window 1500/−650).
 * 3. `Orientationd("SPL")`: slices along S, in-plane P × L, as the demo (pitfall 7).
 * 4. `DivisiblePadd(k = [1, 32, 32], mode "reflect")`: H and W to a multiple of 32 (§1.6, pitfall 8),
 *    symmetric like the demo's sliding-window pad. Reflect is the authors' own PyMIC padding; the
 *    MONAI demo pads circularly — set `mode: "circular"` to reproduce it exactly (pitfall 9).
 * Then each slice runs through the 2D network ("slices"), which is what the demo's
 * sliding_window_inference with roi (20, H, W) and overlap 0 amounts to (§2.3).
 */
import { InputError } from '../io/errors';
import { buildTransform, Compose, type TransformSpec } from '../transforms/compose';
import { isMetaImage, type Dict, type MetaImage } from '../transforms/image';
import { fromMat4, inv, matvec } from '../transforms/matrix';
import type { Transform } from '../transforms/base';
import { affineLPS, axisCodes, type Vec3, type Volume } from '../volume';
import type { Connectivity } from '../labels/components';
import { volumeToImage } from '../transforms/image';
import { axialSliceAxis, LungCropd } from './lung-crop';
import { isContextSlices } from './slice-context';
import { isMinProbability } from './peak-cut';
import type { BlendMode, SlidingPadMode } from './sliding-window';

export interface SlidingWindowSettings {
  kind: 'sliding_window';
  /** MONAI roi_size; components ≤ 0 take the image size. */
  roi_size: number[];
  /** Windows per batch; omitted = derived from memory. */
  sw_batch_size?: number;
  overlap?: number;
  mode?: BlendMode;
  sigma_scale?: number;
  padding_mode?: SlidingPadMode;
  cval?: number;
  /** Average the logits over flips of the last two spatial axes (4 passes; flip-tta.ts). */
  flip_tta?: boolean;
}

/** 2D networks: batches of slices along the first spatial axis (the plane of the last two). */
export interface SliceSettings {
  kind: 'slices';
  /** Average the logits over the in-plane flips of each slice (4 passes; flip-tta.ts). */
  flip_tta?: boolean;
  /**
   * Neighbouring slices on each side given as extra channels ("2.5D", slice-context.ts); the
   * network then has 2·context_slices + 1 input channels. Default 0 (MONAI: one slice, one channel).
   */
  context_slices?: number;
}

export interface InferencePipeline {
  name: string;
  description?: string;
  /** Dictionary transforms on `{ image }`; the image starts as the volume, [1, X, Y, Z], in HU. */
  preprocessing: TransformSpec[];
  inference: SliceSettings | SlidingWindowSettings;
  /**
   * Activationsd {softmax | sigmoid}, Invertd {}, AsDiscreted {argmax | threshold}, in this order, keys ["pred"];
   * then any RemoveSmallObjectsd {min_size, connectivity?, by_measure?, pixdim?, independent_channels?}
   * and KeepConfidentComponentsd {min_probability, connectivity?} (ours), in any order.
   */
  postprocessing: TransformSpec[];
}

export const DEFAULT_COPLENET_PIPELINE: InferencePipeline = {
  name: 'coplenet-lesion',
  description:
    'COPLE-Net lesion segmentation (MONAI research-contributions run_inference.py) with automatic lung crop, HU window [-1400, 100] -> [0, 1], SPL orientation and in-plane reflect padding to a multiple of 32; slice by slice.',
  preprocessing: [
    { name: 'LungCropd', args: { keys: ['image'], margin_mm: 10, threshold_hu: -320 } },
    { name: 'ScaleIntensityRanged', args: { keys: ['image'], a_min: -1400, a_max: 100, b_min: 0, b_max: 1, clip: true } },
    { name: 'Orientationd', args: { keys: ['image'], axcodes: 'SPL' } },
    { name: 'DivisiblePadd', args: { keys: ['image'], k: [1, 32, 32], mode: 'reflect' } },
  ],
  inference: { kind: 'slices' },
  postprocessing: [
    { name: 'Activationsd', args: { keys: ['pred'], softmax: true } },
    { name: 'Invertd', args: { keys: ['pred'], transform: 'preprocessing', orig_keys: ['image'], nearest_interp: false } },
    { name: 'AsDiscreted', args: { keys: ['pred'], argmax: true } },
  ],
};

/** The same preprocessing for a 3D network: overlapping 96³ windows blended with gaussian weights. */
export const DEFAULT_UNET3D_PIPELINE: InferencePipeline = {
  ...DEFAULT_COPLENET_PIPELINE,
  name: 'unet3d-lesion',
  description: 'The COPLE-Net preprocessing with a 3D network run by sliding_window_inference (96³ windows, overlap 0.25, gaussian blending).',
  preprocessing: DEFAULT_COPLENET_PIPELINE.preprocessing.map((s) => (s.name === 'DivisiblePadd' ? { ...s, args: { ...s.args, k: [16, 16, 16] } } : s)),
  inference: { kind: 'sliding_window', roi_size: [96, 96, 96], overlap: 0.25, mode: 'gaussian', padding_mode: 'constant', cval: 0 },
};

/** Our own pipeline steps (not MONAI); everything else is looked up in the MONAI transform table. */
const OWN_TRANSFORMS: Record<string, new (args: any) => Transform<any, any>> = { LungCropd };

export interface Postprocessing {
  activation: 'softmax' | 'sigmoid';
  /** null: argmax over channels; a number: channel 0 ≥ threshold. */
  threshold: number | null;
  /** MONAI Invertd `nearest_interp`: undo resampling of the probabilities with nearest neighbour. */
  nearestInterp: boolean;
  /** RemoveSmallObjectsd and KeepConfidentComponentsd steps, applied in order to the mask on the scan's grid. */
  componentFilters: ComponentFilter[];
}

export type ComponentFilter = ({ name: 'RemoveSmallObjectsd' } & RemoveSmallObjectsStep) | ({ name: 'KeepConfidentComponentsd' } & KeepConfidentStep);

/** MONAI RemoveSmallObjectsd's arguments, checked (defaults filled in as MONAI's). */
export interface RemoveSmallObjectsStep {
  /** Voxels, or mm³ when `byMeasure`. */
  minSize: number;
  connectivity: Connectivity;
  byMeasure: boolean;
  /** Explicit voxel size in mm for `byMeasure`; null = the scan's spacing. */
  pixdim: Vec3 | null;
  independentChannels: boolean;
}

/**
 * KeepConfidentComponentsd (ours, not MONAI): lesion components (all labels together) whose peak
 * lesion probability stays under `min_probability` become background — hysteresis thresholding
 * with the discrete mask as the low threshold (labels/components.ts `keepConfidentComponents`).
 */
export interface KeepConfidentStep {
  minProbability: number;
  connectivity: Connectivity;
}

const DISCRETE_STEPS = ['Activationsd', 'Invertd', 'AsDiscreted'];
const FILTER_STEPS = ['RemoveSmallObjectsd', 'KeepConfidentComponentsd'];

const fail = (where: string, msg: string): never => {
  throw new InputError(where, msg);
};

function argsOf(step: TransformSpec, allowed: string[], where: string): Record<string, unknown> {
  const args = step.args ?? {};
  const extra = Object.keys(args).filter((k) => !allowed.includes(k));
  if (extra.length) fail(where, `${step.name}: unknown argument(s) ${extra.join(', ')} (allowed: ${allowed.join(', ')})`);
  const keys = args.keys;
  if (keys !== undefined && !(keys === 'pred' || (Array.isArray(keys) && keys.length === 1 && keys[0] === 'pred'))) fail(where, `${step.name}: keys must be ["pred"]`);
  return args;
}

/** Checks the postprocessing steps and returns what they ask for. */
export function parsePostprocessing(steps: unknown, where = 'pipeline'): Postprocessing {
  if (!Array.isArray(steps)) return fail(where, '"postprocessing" must be an array of {"name", "args"} steps');
  const names = steps.map((s) => (s as TransformSpec)?.name);
  const misplaced = names.findIndex((n) => FILTER_STEPS.includes(n));
  if (misplaced >= 0 && misplaced < DISCRETE_STEPS.length) fail(where, `${names[misplaced]} must come after AsDiscreted: it removes components of the discrete mask`);
  if (names.slice(0, 3).join(',') !== DISCRETE_STEPS.join(',') || names.slice(3).some((n) => !FILTER_STEPS.includes(n))) {
    fail(where, `postprocessing must be Activationsd, Invertd, AsDiscreted in this order, then optionally RemoveSmallObjectsd / KeepConfidentComponentsd, got ${names.join(', ') || 'nothing'}`);
  }
  const [act, invert, disc, ...filters] = steps as TransformSpec[];
  const a = argsOf(act, ['keys', 'softmax', 'sigmoid'], where);
  if (!!a.softmax === !!a.sigmoid) fail(where, 'Activationsd needs exactly one of softmax: true or sigmoid: true');
  const i = argsOf(invert, ['keys', 'transform', 'orig_keys', 'nearest_interp'], where);
  if (i.transform !== undefined && i.transform !== 'preprocessing') fail(where, 'Invertd: transform must be "preprocessing"');
  if (i.orig_keys !== undefined && !(i.orig_keys === 'image' || (Array.isArray(i.orig_keys) && i.orig_keys.length === 1 && i.orig_keys[0] === 'image'))) {
    fail(where, 'Invertd: orig_keys must be ["image"]');
  }
  const d = argsOf(disc, ['keys', 'argmax', 'threshold'], where);
  if ((d.argmax === true) === (d.threshold !== undefined && d.threshold !== null)) fail(where, 'AsDiscreted needs exactly one of argmax: true or a threshold');
  if (d.threshold !== undefined && d.threshold !== null && typeof d.threshold !== 'number') fail(where, 'AsDiscreted: threshold must be a number');
  return {
    activation: a.softmax ? 'softmax' : 'sigmoid',
    threshold: d.argmax === true ? null : (d.threshold as number),
    nearestInterp: i.nearest_interp === true,
    componentFilters: filters.map((step): ComponentFilter =>
      step.name === 'RemoveSmallObjectsd' ? { name: step.name, ...parseRemoveSmallObjects(step, where) } : { name: 'KeepConfidentComponentsd', ...parseKeepConfident(step, where) },
    ),
  };
}

function parseConnectivity(value: unknown, step: string, where: string): Connectivity {
  const connectivity = value ?? 1;
  if (!(connectivity === 1 || connectivity === 2 || connectivity === 3)) fail(where, `${step}: connectivity must be 1, 2 or 3 (orthogonal hops in 3D), got ${JSON.stringify(value)}`);
  return connectivity as Connectivity;
}

function parseKeepConfident(step: TransformSpec, where: string): KeepConfidentStep {
  const r = argsOf(step, ['keys', 'min_probability', 'connectivity'], where);
  const p = r.min_probability;
  if (!isMinProbability(p)) fail(where, `KeepConfidentComponentsd: min_probability must be a number in (0, 1], got ${JSON.stringify(p)}`);
  return { minProbability: p as number, connectivity: parseConnectivity(r.connectivity, 'KeepConfidentComponentsd', where) };
}

/** RemoveSmallObjectsd's arguments; defaults as MONAI's (min_size 64, connectivity 1, independent channels). */
function parseRemoveSmallObjects(step: TransformSpec, where: string): RemoveSmallObjectsStep {
  const r = argsOf(step, ['keys', 'min_size', 'connectivity', 'by_measure', 'pixdim', 'independent_channels'], where);
  const minSize = r.min_size ?? 64;
  if (typeof minSize !== 'number' || !Number.isFinite(minSize) || minSize < 0) fail(where, `RemoveSmallObjectsd: min_size must be a number ≥ 0, got ${JSON.stringify(r.min_size)}`);
  const connectivity = parseConnectivity(r.connectivity, 'RemoveSmallObjectsd', where);
  for (const flag of ['by_measure', 'independent_channels']) {
    if (r[flag] !== undefined && typeof r[flag] !== 'boolean') fail(where, `RemoveSmallObjectsd: ${flag} must be true or false`);
  }
  // MONAI takes one number for every axis, or one per axis.
  const p = typeof r.pixdim === 'number' ? [r.pixdim, r.pixdim, r.pixdim] : r.pixdim;
  if (p !== undefined && p !== null && !(Array.isArray(p) && p.length === 3 && p.every((x) => typeof x === 'number' && Number.isFinite(x) && x > 0))) {
    fail(where, 'RemoveSmallObjectsd: pixdim must be a positive number or 3 positive numbers (mm)');
  }
  if (p != null && r.by_measure !== true) fail(where, 'RemoveSmallObjectsd: pixdim is only used with by_measure: true');
  return {
    minSize: minSize as number,
    connectivity,
    byMeasure: r.by_measure === true,
    pixdim: p != null ? (p as Vec3) : null,
    independentChannels: r.independent_channels !== false,
  };
}

/**
 * The pipeline with one more KeepConfidentComponentsd: lesion components whose peak probability
 * stays under `minProbability` become background (face connectivity).
 */
export function withConfidentComponents(pipeline: InferencePipeline, minProbability: number): InferencePipeline {
  const step: TransformSpec = { name: 'KeepConfidentComponentsd', args: { keys: ['pred'], min_probability: minProbability, connectivity: 1 } };
  return { ...pipeline, postprocessing: [...pipeline.postprocessing, step] };
}

/**
 * The pipeline with one more RemoveSmallObjectsd: lesion components under `minMl` mL (face
 * connectivity, by measure on the scan's spacing) become background. The mL → mm³ product is
 * rounded to 12 digits so 0.7 mL reads 700, not 700.0000000000001, in the JSON.
 */
export function withSmallLesionRemoval(pipeline: InferencePipeline, minMl: number): InferencePipeline {
  const step: TransformSpec = { name: 'RemoveSmallObjectsd', args: { keys: ['pred'], min_size: Number((minMl * 1000).toPrecision(12)), connectivity: 1, by_measure: true } };
  return { ...pipeline, postprocessing: [...pipeline.postprocessing, step] };
}

/** The pipeline for a slice-wise network that sees `r` neighbouring slices on each side (`context_slices`). */
export function withSliceContext(pipeline: InferencePipeline, r: number): InferencePipeline {
  if (pipeline.inference.kind !== 'slices') throw new InputError(pipeline.name, 'context slices need "slices" inference');
  const { context_slices: _, ...rest } = pipeline.inference;
  return { ...pipeline, inference: r > 0 ? { ...rest, context_slices: r } : rest };
}

/** The pipeline with its logits averaged over in-plane flips for this run (`flip_tta`). */
export function withFlipTta(pipeline: InferencePipeline): InferencePipeline {
  return { ...pipeline, inference: { ...pipeline.inference, flip_tta: true } };
}

/** Validates a pipeline (e.g. read from a model's JSON); errors name `where` and the step. */
export function parsePipeline(json: unknown, where = 'pipeline'): InferencePipeline {
  const p = json as InferencePipeline;
  if (!p || typeof p !== 'object' || Array.isArray(p)) return fail(where, 'a pipeline must be an object {name, preprocessing, inference, postprocessing}');
  const extra = Object.keys(p).filter((k) => !['name', 'description', 'preprocessing', 'inference', 'postprocessing'].includes(k));
  if (extra.length) fail(where, `unknown pipeline field(s) ${extra.join(', ')}`);
  if (typeof p.name !== 'string') fail(where, '"name" must be a string');
  buildPreprocessing(p, where);
  const inf = p.inference as unknown as Record<string, unknown>;
  if (!inf || typeof inf !== 'object') fail(where, '"inference" must be {"kind": "slices"} or {"kind": "sliding_window", "roi_size": [...]}');
  if (inf.kind === 'sliding_window') {
    const roi = inf.roi_size;
    if (!Array.isArray(roi) || !roi.every((r) => Number.isInteger(r))) fail(where, 'sliding_window: roi_size must be a list of integers');
    const sw = inf.sw_batch_size;
    if (sw !== undefined && !(Number.isInteger(sw) && (sw as number) >= 1)) fail(where, 'sliding_window: sw_batch_size must be a positive integer');
    const o = inf.overlap;
    if (o !== undefined && !(typeof o === 'number' && o >= 0 && o < 1)) fail(where, 'sliding_window: overlap must be in [0, 1)');
    if (inf.mode !== undefined && !['constant', 'gaussian'].includes(inf.mode as string)) fail(where, 'sliding_window: mode must be constant or gaussian');
    if (inf.padding_mode !== undefined && !['constant', 'reflect', 'replicate', 'circular'].includes(inf.padding_mode as string)) {
      fail(where, 'sliding_window: padding_mode must be constant, reflect, replicate or circular');
    }
    const known = ['kind', 'roi_size', 'sw_batch_size', 'overlap', 'mode', 'sigma_scale', 'padding_mode', 'cval', 'flip_tta'];
    const bad = Object.keys(inf).filter((k) => !known.includes(k));
    if (bad.length) fail(where, `sliding_window: unknown setting(s) ${bad.join(', ')}`);
  } else if (inf.kind !== 'slices' || Object.keys(inf).some((k) => !['kind', 'flip_tta', 'context_slices'].includes(k))) {
    fail(where, '"inference" must be {"kind": "slices"} or {"kind": "sliding_window", "roi_size": [...]}');
  } else if (inf.context_slices !== undefined && !isContextSlices(inf.context_slices)) {
    fail(where, 'slices: context_slices must be an integer in 0…8');
  }
  if (inf.flip_tta !== undefined && typeof inf.flip_tta !== 'boolean') fail(where, 'inference: flip_tta must be true or false');
  parsePostprocessing(p.postprocessing, where);
  return p;
}

/** The preprocessing as a Compose of MONAI transforms and our LungCropd. */
export function buildPreprocessing(p: Pick<InferencePipeline, 'preprocessing'>, where = 'pipeline'): Compose {
  if (!Array.isArray(p.preprocessing)) return fail(where, '"preprocessing" must be an array of {"name", "args"} steps');
  return new Compose(
    p.preprocessing.map((step, n) => {
      const s = step as TransformSpec;
      const own = s && typeof s === 'object' && Object.prototype.hasOwnProperty.call(OWN_TRANSFORMS, s.name) ? OWN_TRANSFORMS[s.name] : undefined;
      try {
        if (!own) return buildTransform(s, where);
        const extra = Object.keys(s).filter((k) => k !== 'name' && k !== 'args');
        if (extra.length) fail(where, `step "${s.name}" has unknown field(s) ${extra.join(', ')}`);
        return new own(s.args ?? {});
      } catch (e) {
        if (e instanceof InputError) throw new InputError(where, `preprocessing step ${n + 1}: ${e.reason}`);
        throw e;
      }
    }),
  );
}

/** Runs the preprocessing transforms one by one; `each` sees every intermediate dictionary. */
export async function runPreprocessing(volume: Volume, pre: Compose, each?: (name: string, d: Dict) => void, where = 'pipeline'): Promise<Dict> {
  let d: Dict = { image: volumeToImage(volume) };
  each?.('input', d);
  for (const t of pre.transforms) {
    const out = await t.call(d);
    if (Array.isArray(out) || !out || typeof out !== 'object') fail(where, `${t.name} returned several samples; inference pipelines need one image`);
    d = out as Dict;
    if (!isMetaImage(d.image)) fail(where, `${t.name} left no "image"`);
    each?.(t.name, d);
  }
  return d;
}

export interface PreviewStep {
  /** 'input', then each preprocessing step's transform name. */
  name: string;
  /** The axial slice through the chosen plane, rows × cols, row-major; null when the step cropped it away. */
  data: Float32Array | null;
  /** [rows, cols] of the slice: rows along the in-plane axis closest to A–P, columns closest to L–R. */
  dims: [number, number];
  /** Index of the slice along the image's superior–inferior axis, or null. */
  sliceIndex: number | null;
  /** Where rows and columns point (nibabel letters in our LPS frame), e.g. "PL" after SPL. */
  axes: string;
  /** The image's spatial shape after the step. */
  shape: number[];
}

/**
 * Each preprocessing step's output for one axial slice of the volume (`sliceIndex` along the
 * volume's superior–inferior axis), for a UI panel that shows what the network will see.
 * The plane is followed through crops and reorientations by its world position.
 */
export async function previewPipelineSteps(volume: Volume, pipeline: Pick<InferencePipeline, 'preprocessing'>, sliceIndex: number): Promise<PreviewStep[]> {
  const zAxis = axialSliceAxis(volume.direction);
  if (!(Number.isInteger(sliceIndex) && sliceIndex >= 0 && sliceIndex < volume.dims[zAxis])) {
    throw new InputError(volume.source?.name ?? 'volume', `slice ${sliceIndex} is outside 0..${volume.dims[zAxis] - 1}`);
  }
  const centre = volume.dims.map((n, a) => (a === zAxis ? sliceIndex : (n - 1) / 2));
  const world = matvec(fromMat4(affineLPS(volume)), [...centre, 1]);
  const steps: PreviewStep[] = [];
  await runPreprocessing(volume, buildPreprocessing(pipeline), (name, d) => steps.push(planeOf(name, d.image as MetaImage, world)));
  return steps;
}

function planeOf(name: string, img: MetaImage, world: number[]): PreviewStep {
  const shape = img.shape.slice(1);
  const cols3 = [0, 1, 2].map((c) => [img.affine[c], img.affine[4 + c], img.affine[8 + c]]);
  const direction = cols3.flatMap((c) => c.map((x) => x / Math.hypot(...c)));
  const z = axialSliceAxis(direction);
  // Rows run along the axis closest to anterior–posterior, columns along left–right, at every step.
  const [a0, a1] = [0, 1, 2].filter((a) => a !== z);
  const [r, c] = Math.abs(direction[3 * a0 + 1]) >= Math.abs(direction[3 * a1 + 1]) ? [a0, a1] : [a1, a0];
  const codes = axisCodes({ direction: direction as Volume['direction'] });
  const idx = matvec(inv(fromMat4(img.affine)), world);
  const s = Math.round(idx[z]);
  const base = { name, dims: [shape[r], shape[c]] as [number, number], axes: codes[r] + codes[c], shape };
  if (!(s >= 0 && s < shape[z])) return { ...base, data: null, sliceIndex: null };
  const strides = [shape[1] * shape[2], shape[2], 1];
  const out = new Float32Array(shape[r] * shape[c]);
  for (let y = 0; y < shape[r]; y++) {
    for (let x = 0; x < shape[c]; x++) out[y * shape[c] + x] = img.data[s * strides[z] + y * strides[r] + x * strides[c]];
  }
  return { ...base, data: out, sliceIndex: s };
}
