/**
 * Segments a volume with a network and an inference pipeline: preprocessing (pipeline.ts), the
 * network slice by slice (2D nets) or by sliding window, activation and discretisation on the
 * backend, then `invert` of the preprocessing back onto the volume's own grid — MONAI's
 * Activationsd → Invertd → AsDiscreted. The label map is inverted with nearest neighbour, which
 * equals discretising the inverted probabilities whenever the preprocessing only permutes, flips,
 * crops and pads (the default); a resampling step (Spacingd) would make the two differ at edges.
 * Component filters (RemoveSmallObjectsd, KeepConfidentComponentsd) then act on that mask, on the
 * scan's grid, with its spacing and the lesion probabilities mapped back the same way.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../io/errors';
import { imageToVolume, invert, type MetaImage, type TraceRecord } from '../transforms';
import { fromMat4, inv, matvec } from '../transforms/matrix';
import { keepConfidentComponents, removeSmallObjects } from '../labels/components';
import { contextChannels, stackSlices } from './slice-context';
import { flipAveraged } from './flip-tta';
import { affineLPS, type Volume } from '../volume';
import type { Network } from '../../models/network';
import { batchSizeFor, deviceLimits, type NetworkShape } from './batch-size';
import type { LungCrop } from './lung-crop';
import { buildPreprocessing, parsePostprocessing, runPreprocessing, type ComponentFilter, type InferencePipeline, type Postprocessing } from './pipeline';
import { abortError, slidingWindowInference, yieldToEvents } from './sliding-window';

export interface SegmentOptions {
  /** Slices (2D) or windows (3D) per batch; default from the backend's memory limits. */
  batchSize?: number;
  onProgress?: (fraction: number, message: string) => void;
  signal?: AbortSignal;
  /** Also return the lesion probability map. Default true. */
  keepProbabilities?: boolean;
}

export interface SegmentResult {
  /** Label per voxel on the volume's grid (i fastest): 0 background, 1 lesion (argmax class). */
  mask: Uint8Array;
  /** Lesion probability on the volume's grid: p(class 1) for 2 classes, 1 − p(background) beyond, sigmoid for 1. */
  probabilities?: Float32Array;
  /** What each component filter step removed, in order: the step's name, components and their voxels. */
  removedObjects: { step: ComponentFilter['name']; components: number; voxels: number }[];
  /** The LungCropd box in the volume's voxel indices (start inclusive, end exclusive), if the pipeline crops. */
  crop: LungCrop | null;
  notices: string[];
  batchSize: number;
  timings: { preprocessMs: number; inferenceMs: number; postprocessMs: number; totalMs: number };
}

type AnyNetwork = Network & NetworkShape;

/** Progress: preprocessing 0–5 %, the network 5–95 %, mapping back 95–100 %. */
function inferenceFraction(done: number, total: number): number {
  return Math.min(0.95, 0.05 + (0.9 * done) / total);
}

/** Networks whose convolutions are 3D (UNet3D); the others run slice by slice. */
function isVolumetric(network: Network): boolean {
  return (network as unknown as { dims?: number }).dims === 3;
}

export async function segmentVolume(volume: Volume, network: AnyNetwork, pipeline: InferencePipeline, opts: SegmentOptions = {}): Promise<SegmentResult> {
  const where = volume.source?.name ?? 'volume';
  const { signal } = opts;
  const progress = opts.onProgress ?? (() => {});
  const notices: string[] = [];
  const t0 = performance.now();
  const post = parsePostprocessing(pipeline.postprocessing, pipeline.name);
  const keepProbabilities = opts.keepProbabilities ?? true;
  const pre = buildPreprocessing(pipeline, pipeline.name);
  if (signal?.aborted) throw abortError(signal);
  if (volume.units !== 'HU') notices.push(`The scan's intensities are not marked as Hounsfield units (${volume.units}); the pipeline's HU window and lung threshold assume CT.`);

  progress(0, 'Preprocessing');
  const d = await runPreprocessing(volume, pre, undefined, pipeline.name);
  const x = d.image as MetaImage;
  const ops = x.meta?.applied_operations ?? [];
  // MONAI's order is Invertd on the probabilities, then AsDiscreted. Labels mapped back by nearest
  // neighbour are the same wherever the steps only crop, pad and permute; after a resampling
  // (Spacingd) they are blocky, so a two-class argmax is then taken on the probabilities as they
  // come back (p(lesion) > 0.5 is that argmax, the two maps summing to 1).
  const argmaxOnGrid = ops.some((r) => r.op === 'resample') && post.activation === 'softmax' && post.threshold === null && network.outChannels === 2;
  // KeepConfidentComponentsd needs the probabilities on the scan's grid whether or not they are returned.
  const needProbabilities = keepProbabilities || argmaxOnGrid || post.componentFilters.some((f) => f.name === 'KeepConfidentComponentsd');
  const crop = cropInVolume(d.lung_crop as LungCrop | undefined, x, volume);
  if (crop?.notice) notices.push(crop.notice);
  // Slice context: each slice goes in with its neighbours as channels (slice-context.ts).
  const context = pipeline.inference.kind === 'slices' ? (pipeline.inference.context_slices ?? 0) : 0;
  const channels = contextChannels(context);
  if (x.shape.length !== 4 || x.shape[0] !== 1 || network.inChannels !== channels) {
    const want = context ? `a 1-channel image and a network with ${channels} input channels (the slice and ${context} neighbour${context > 1 ? 's' : ''} on each side, "context_slices": ${context})` : `[${network.inChannels}, D, H, W]`;
    throw new InputError(where, `the preprocessed image is [${x.shape.join(', ')}] and ${network.name} takes ${network.inChannels} channel${network.inChannels > 1 ? 's' : ''}; the pipeline needs ${want}`);
  }
  const [, D, H, W] = x.shape;
  const volumetric = isVolumetric(network);
  if (volumetric && pipeline.inference.kind === 'slices') throw new InputError(pipeline.name, `${network.name} is a 3D network; its pipeline needs "sliding_window" inference`);
  if (pipeline.inference.kind === 'slices' && (H % network.sizeDivisor || W % network.sizeDivisor)) {
    throw new InputError(pipeline.name, `slices are ${H}×${W} after preprocessing; ${network.name} needs multiples of ${network.sizeDivisor} (pad with DivisiblePadd)`);
  }
  const t1 = performance.now();
  if (signal?.aborted) throw abortError(signal);

  const voxels = D * H * W;
  const prob = new Float32Array(needProbabilities ? voxels : 0);
  const labels = new Uint8Array(voxels);
  let batchSize: number;
  if (pipeline.inference.kind === 'slices') {
    batchSize = opts.batchSize ?? batchSizeFor(H, W, network, deviceLimits());
    const data = x.data instanceof Float32Array ? x.data : Float32Array.from(x.data);
    const apply = pipeline.inference.flip_tta ? flipAveraged((t) => network.apply(t as tf.Tensor4D), [1, 2]) : (t: tf.Tensor) => network.apply(t as tf.Tensor4D);
    for (let s0 = 0; s0 < D; s0 += batchSize) {
      if (signal?.aborted) throw abortError(signal);
      const n = Math.min(batchSize, D - s0);
      const slices = Array.from({ length: n }, (_, q) => s0 + q);
      const input = tf.tensor4d(channels === 1 ? data.subarray(s0 * H * W, (s0 + n) * H * W) : stackSlices(data, [D, H, W], slices, context), [n, H, W, channels]);
      try {
        await readActivated(apply(input), post, s0 * H * W, labels, needProbabilities ? prob : null);
      } finally {
        input.dispose();
      }
      progress(inferenceFraction(s0 + n, D), `Slices ${s0 + n}/${D}`);
      await yieldToEvents();
    }
  } else {
    const sw = pipeline.inference;
    const roi = sw.roi_size.map((r, a) => (r > 0 ? r : [D, H, W][a]));
    batchSize = opts.batchSize ?? sw.sw_batch_size ?? (volumetric ? batchSizeFor(roi[1], roi[2], network, deviceLimits(), { depth: roi[0] }) : 1);
    const input = tf.tensor5d(x.data instanceof Float32Array ? x.data : Float32Array.from(x.data), [1, D, H, W, 1]);
    let logits: tf.Tensor;
    try {
      const apply = (w: tf.Tensor) => network.apply(w as tf.Tensor5D);
      logits = await slidingWindowInference(input, sw.roi_size, batchSize, sw.flip_tta ? flipAveraged(apply, [2, 3]) : apply, {
        overlap: sw.overlap,
        mode: sw.mode,
        sigmaScale: sw.sigma_scale,
        paddingMode: sw.padding_mode,
        cval: sw.cval,
        signal,
        onProgress: (done, total) => progress(inferenceFraction(done, total), `Windows ${done}/${total}`),
      });
    } finally {
      input.dispose();
    }
    await readActivated(logits, post, 0, labels, needProbabilities ? prob : null);
  }
  const t2 = performance.now();
  if (signal?.aborted) throw abortError(signal);

  progress(0.95, 'Mapping back to the scan');
  const onGrid = async (data: Float32Array | Uint8Array, nearest: boolean): Promise<Float32Array | Uint8Array> => {
    const img: MetaImage = { data, shape: [1, D, H, W], affine: x.affine, meta: { units: nearest ? 'label' : 'unknown' } };
    const back = await invert(img, { ops, ...(nearest || post.nearestInterp ? { mode: 'nearest' as const } : {}) });
    const v = imageToVolume(back, { units: nearest ? 'label' : 'unknown' });
    if (v.dims.some((n, a) => n !== volume.dims[a])) throw new Error(`inverse preprocessing gave dims ${v.dims.join('×')}, not the scan's ${volume.dims.join('×')}`);
    return v.data as Float32Array | Uint8Array;
  };
  const probabilities = needProbabilities ? ((await onGrid(prob, false)) as Float32Array) : undefined;
  let mask = argmaxOnGrid ? Uint8Array.from(probabilities!, (p) => (p > 0.5 ? 1 : 0)) : ((await onGrid(labels, true)) as Uint8Array);
  const removedObjects: SegmentResult['removedObjects'] = [];
  for (const step of post.componentFilters) {
    const res =
      step.name === 'RemoveSmallObjectsd'
        ? removeSmallObjects(mask, volume.dims, { minSize: step.minSize, connectivity: step.connectivity, spacing: step.byMeasure ? (step.pixdim ?? volume.spacing) : undefined, independentChannels: step.independentChannels })
        : keepConfidentComponents(mask, probabilities!, volume.dims, { minScore: step.minProbability, connectivity: step.connectivity });
    mask = res.mask;
    removedObjects.push({ step: step.name, components: res.components, voxels: res.voxels });
  }
  const t3 = performance.now();
  progress(1, 'Done');
  return {
    mask,
    removedObjects,
    ...(probabilities && keepProbabilities ? { probabilities } : {}),
    crop,
    notices,
    batchSize,
    timings: { preprocessMs: t1 - t0, inferenceMs: t2 - t1, postprocessMs: t3 - t2, totalMs: t3 - t0 },
  };
}

/**
 * Activation and discretisation on the backend, then one read-back of each into `labels` and
 * `prob` at `offset`. Disposes `logits` (channels last, any spatial rank).
 */
async function readActivated(logits: tf.Tensor, post: Postprocessing, offset: number, labels: Uint8Array, prob: Float32Array | null): Promise<void> {
  const C = logits.shape[logits.rank - 1];
  const [p, l] = tf.tidy(() => {
    if (post.activation === 'softmax' && C < 2) throw new Error('softmax needs at least two output channels');
    const act = post.activation === 'softmax' ? tf.softmax(logits, -1) : tf.sigmoid(logits);
    const last = (c: number) => tf.squeeze(tf.slice(act, [...new Array(act.rank - 1).fill(0), c], [...new Array(act.rank - 1).fill(-1), 1]), [act.rank - 1]);
    const lesion = C === 1 ? last(0) : post.activation === 'softmax' ? (C === 2 ? last(1) : tf.sub(1, last(0))) : tf.max(act, -1);
    let label: tf.Tensor;
    if (post.threshold === null) label = tf.argMax(act, -1);
    else if (C === 1) label = tf.cast(tf.greaterEqual(last(0), post.threshold), 'int32');
    else throw new Error('AsDiscreted threshold needs a single output channel; use argmax');
    return [lesion, label];
  });
  logits.dispose();
  try {
    const [pv, lv] = await Promise.all([prob ? p.data() : Promise.resolve(null), l.data()]);
    labels.set(lv as Int32Array, offset);
    if (prob && pv) prob.set(pv as Float32Array, offset);
  } finally {
    p.dispose();
    l.dispose();
  }
}

/** LungCropd's box, mapped from the image it saw into the volume's voxel indices through world space. */
function cropInVolume(found: LungCrop | undefined, x: MetaImage, volume: Volume): LungCrop | null {
  if (!found) return null;
  const rec = (x.meta?.applied_operations ?? []).find((r: TraceRecord) => r.name === 'LungCropd');
  if (!rec) return found;
  const toVoxel = inv(fromMat4(affineLPS(volume)));
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  for (const corner of [0, 1, 2, 3, 4, 5, 6, 7]) {
    const idx = [0, 1, 2].map((a) => (corner & (1 << a) ? found.end[a] - 1 : found.start[a]));
    const world = matvec(fromMat4(rec.orig_affine), [...idx, 1]);
    const v = matvec(toVoxel, world);
    for (let a = 0; a < 3; a++) {
      lo[a] = Math.min(lo[a], Math.round(v[a]));
      hi[a] = Math.max(hi[a], Math.round(v[a]));
    }
  }
  return { ...found, start: lo as LungCrop['start'], end: hi.map((h) => h + 1) as LungCrop['end'] };
}
