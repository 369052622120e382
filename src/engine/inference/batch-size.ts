/**
 * How many slices (or 3D windows) to push through a network at once. WebGPU refuses any single
 * buffer above the device's `maxBufferSize` / `maxStorageBufferBindingSize` (often 256 / 128 MiB),
 * and everything alive at once must fit the GPU (or the JS heap on CPU/WASM), so the batch is
 * the largest that keeps the biggest activation under the buffer limits and the sum of the live
 * activations under a budget.
 *
 * The estimate, per item, for an encoder–decoder whose level i has f_i channels at 1/2^i of the
 * input size: largest buffer ≈ max_i 2·f_i·voxels_i (the decoder's concatenation, 2·f_i in a U-Net),
 * live total ≈ Σ_i f_i·voxels_i (the skips) + 3 × the largest (a conv's input, output and a temporary),
 * float32 throughout.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface BufferLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

export interface BatchSizeOptions {
  /** Depth of a 3D item (a 3D window); 1 for 2D slices. */
  depth?: number;
  /** Bytes the live activations of one batch may take. Default 1 GiB with GPU limits, 512 MiB without. */
  budgetBytes?: number;
  /** Upper bound on the batch. Default 16. */
  maxBatch?: number;
}

/** The widths the estimate needs; COPLE-Net and the U-Nets expose `features`. */
export interface NetworkShape {
  readonly features?: readonly number[];
  readonly inChannels: number;
  readonly outChannels: number;
}

const DEFAULT_FEATURES = [32, 64, 128, 256, 512];
const MiB = 1024 * 1024;

/** Estimated bytes of the largest single activation and of all live activations for one item. */
export function activationBytes(sliceH: number, sliceW: number, network: NetworkShape, depth = 1): { largest: number; total: number } {
  const features = network.features?.length ? network.features : DEFAULT_FEATURES;
  const dims = depth > 1 ? 3 : 2;
  let largest = 4 * Math.max(network.inChannels, network.outChannels) * sliceH * sliceW * depth;
  let skips = 0;
  features.forEach((f, i) => {
    const voxels = (sliceH * sliceW * depth) / 2 ** (dims * i);
    largest = Math.max(largest, 4 * 2 * f * voxels);
    skips += 4 * f * voxels;
  });
  return { largest, total: skips + 3 * largest };
}

export function batchSizeFor(sliceH: number, sliceW: number, network: NetworkShape, limits: BufferLimits | null, opts: BatchSizeOptions = {}): number {
  const { largest, total } = activationBytes(sliceH, sliceW, network, opts.depth ?? 1);
  const single = limits ? Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize) : Infinity;
  const budget = opts.budgetBytes ?? (limits ? 1024 * MiB : 512 * MiB);
  const batch = Math.min(Math.floor(single / largest), Math.floor(budget / total), opts.maxBatch ?? 16);
  return Math.max(1, batch);
}

/** The active backend's buffer limits: WebGPU's device limits, else null. */
export function deviceLimits(): BufferLimits | null {
  if (tf.getBackend() !== 'webgpu') return null;
  const device = (tf.backend() as unknown as { device?: { limits?: Partial<BufferLimits> } }).device;
  const l = device?.limits;
  if (!l?.maxBufferSize || !l.maxStorageBufferBindingSize) return null;
  return { maxBufferSize: l.maxBufferSize, maxStorageBufferBindingSize: l.maxStorageBufferBindingSize };
}
