/**
 * Whole-volume UNetPipe inference by pipeline stages (LAMP, spec §4.2): the scan, normalised and
 * padded to a multiple of 32, goes through the plan's stages one after the other (skip tensors
 * that cross stages parked in CPU memory when the plan says so), and the argmax comes back on the
 * scan's own grid. Optionally the same input runs through the unpartitioned network as a check.
 *
 * Input: the scan's voxel axes as they are, (D, H, W) = (k, j, i) — `Volume.data` is i fastest, so
 * its buffer already is a (1, nk, nj, ni, 1) channels-last tensor; no reorientation. Intensities:
 * HU scans get the 3D pipeline's window (ScaleIntensityRanged [−1400, 100] HU → [0, 1], clipped);
 * other scans are min–max scaled to [0, 1]. Each axis is padded with zeros to a multiple of 32,
 * split before/after as MONAI's DivisiblePad (method "symmetric": before = ⌊pad/2⌋); the logits are
 * cropped back at the same offsets before the argmax.
 *
 * Planning a whole volume must not need the whole volume on the device: `profileForSize` measures
 * the layers on two smaller proxies and extrapolates linearly in the voxel count. Every layer's
 * inputs, outputs and skips hold DHW/8^level voxels, so these come out exact; kernel temporaries
 * (a padded copy with its halo, a reshaped weight: peak, latent and largest-tensor bytes) come out
 * approximately.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../io/errors';
import type { Volume } from '../volume';
import type { UNetPipe } from '../../models/unetpipe';
import { abortError, yieldToEvents } from '../inference/sliding-window';
import { unetPipeInputSize } from './input-size';
import { pipelineInference, type PipelineProgress } from './pipeline';
import { extrapolateProfile } from './capacity';
import { profileLayers, type NetworkProfile } from './profile';
import type { Stage } from './plan';

/** The 3D pipeline's HU window (ScaleIntensityRanged a_min/a_max). */
export const HU_WINDOW: [number, number] = [-1400, 100];
/** Largest proxy axis when profiling for a bigger input. */
export const PROFILE_PROXY_AXIS = 64;

export interface UNetPipeInput {
  /** Normalised, zero-padded input, (1, D, H, W, 1) channels last, C order. */
  data: Float32Array;
  /** Padded (D, H, W). */
  size: [number, number, number];
  /** Where the scan starts inside the padded input, (D, H, W) = (k, j, i). */
  offset: [number, number, number];
  /** The scan's (D, H, W) = (nk, nj, ni). */
  scanSize: [number, number, number];
  normalisation: string;
}

/** The scan normalised to [0, 1] and zero-padded to multiples of 32 (see the header). */
export function unetPipeInput(volume: Volume): UNetPipeInput {
  const [ni, nj, nk] = volume.dims;
  const scanSize: [number, number, number] = [nk, nj, ni];
  const size = unetPipeInputSize(volume.dims);
  const offset = size.map((s, a) => Math.floor((s - scanSize[a]) / 2)) as [number, number, number];
  let lo: number;
  let hi: number;
  let normalisation: string;
  if (volume.units === 'HU') {
    [lo, hi] = HU_WINDOW;
    normalisation = `HU window [${lo}, ${hi}] → [0, 1], clipped`;
  } else {
    lo = Infinity;
    hi = -Infinity;
    for (let n = 0; n < volume.data.length; n++) {
      const v = volume.data[n];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    normalisation = `min–max [${lo}, ${hi}] → [0, 1]`;
  }
  const scale = hi > lo ? 1 / (hi - lo) : 0;
  const [D, H, W] = size;
  const data = new Float32Array(D * H * W);
  for (let k = 0; k < nk; k++) {
    for (let j = 0; j < nj; j++) {
      const src = ni * (j + nj * k);
      const dst = offset[2] + W * (offset[1] + j + H * (offset[0] + k));
      for (let i = 0; i < ni; i++) data[dst + i] = Math.min(1, Math.max(0, (volume.data[src + i] - lo) * scale));
    }
  }
  return { data, size, offset, scanSize, normalisation };
}

/**
 * Inference profile for a (1, D, H, W, C) input. Inputs up to 64 per axis are measured directly;
 * larger ones are extrapolated from two proxies (each axis at most 64, then the largest halved).
 */
export async function profileForSize(net: UNetPipe, size: readonly [number, number, number], opts: { runs?: number } = {}): Promise<NetworkProfile> {
  const measure = (s: readonly number[]) => profileLayers(net, [1, ...s, net.inChannels], { runs: opts.runs ?? 0 });
  const pb = size.map((s) => Math.min(s, PROFILE_PROXY_AXIS));
  if (pb.every((s, d) => s === size[d])) return measure(size);
  const largest = pb.indexOf(Math.max(...pb));
  const pa = pb.map((s, d) => (d === largest ? s / 2 : s));
  return extrapolateProfile(await measure(pa), await measure(pb), [1, ...size, net.inChannels]);
}

export type StagedVolumeProgress = PipelineProgress | { phase: 'whole' };

export interface StagedVolumeOptions {
  /** The plan's stages ([from, to) layer ranges). */
  stages: readonly Stage[];
  /** Park crossing skips in CPU memory between stages (`plan.parkSkips`). */
  parkSkips: boolean;
  /** Also run the unpartitioned network and report max |Δlogit|. */
  compareWhole?: boolean;
  onProgress?: (p: StagedVolumeProgress) => void;
  signal?: AbortSignal;
  /**
   * Runs the stages on the (1, D, H, W, 1) input and returns the logits, e.g. on stage devices in
   * workers (multi-device.ts). Default: `pipelineInference` of `net`, the stages in turn on this backend.
   */
  runStages?: (x: tf.Tensor) => Promise<tf.Tensor>;
}

export interface StagedVolumeResult {
  /** Argmax class per voxel, on the scan's grid (i fastest). */
  mask: Uint8Array;
  classes: number;
  /** Voxels per class in the mask. */
  classVoxels: number[];
  paddedSize: [number, number, number];
  offset: [number, number, number];
  normalisation: string;
  stagedMs: number;
  wholeMs?: number;
  /** max |staged − whole| over all padded logits (with `compareWhole`). */
  maxAbsDiff?: number;
}

/** Runs the scan through `net` stage by stage (see the header); everything it allocates is freed, also on abort. */
export async function segmentVolumeStaged(net: UNetPipe, volume: Volume, opts: StagedVolumeOptions): Promise<StagedVolumeResult> {
  if (net.inChannels !== 1) throw new InputError(volume.source?.name ?? 'scan', `the network takes ${net.inChannels} input channels; a scan has 1`);
  if (net.outChannels > 255) throw new Error(`${net.outChannels} classes do not fit a label layer (at most 255)`);
  const input = unetPipeInput(volume);
  const [D, H, W] = input.size;
  const [nk, nj, ni] = input.scanSize;
  const x = tf.tensor5d(input.data, [1, D, H, W, 1]);
  let staged: tf.Tensor | null = null;
  try {
    const t0 = performance.now();
    staged = opts.runStages
      ? await opts.runStages(x)
      : await pipelineInference(net, x, { stages: opts.stages, parkSkips: opts.parkSkips, signal: opts.signal, onProgress: opts.onProgress });
    await staged.data(); // the timing includes the device's work
    const stagedMs = performance.now() - t0;
    let wholeMs: number | undefined;
    let maxAbsDiff: number | undefined;
    if (opts.compareWhole) {
      await yieldToEvents();
      if (opts.signal?.aborted) throw abortError(opts.signal);
      const t1 = performance.now();
      const whole = net.apply(x);
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(staged!, whole))));
      whole.dispose();
      maxAbsDiff = (await diff.data())[0];
      diff.dispose();
      wholeMs = performance.now() - t1;
      opts.onProgress?.({ phase: 'whole' });
    }
    const labels = tf.tidy(() => tf.argMax(tf.slice(staged!, [0, ...input.offset, 0], [1, nk, nj, ni, net.outChannels]), 4));
    const argmax = await labels.data();
    labels.dispose();
    const mask = Uint8Array.from(argmax);
    const classVoxels = new Array<number>(net.outChannels).fill(0);
    for (let n = 0; n < mask.length; n++) classVoxels[mask[n]]++;
    return {
      mask,
      classes: net.outChannels,
      classVoxels,
      paddedSize: input.size,
      offset: input.offset,
      normalisation: input.normalisation,
      stagedMs,
      ...(wholeMs !== undefined ? { wholeMs, maxAbsDiff } : {}),
    };
  } finally {
    tf.dispose([x, ...(staged ? [staged] : [])]);
  }
}
