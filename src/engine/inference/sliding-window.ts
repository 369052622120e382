/**
 * MONAI `sliding_window_inference` (HEAD semantics, spec §5.9) for channels-last tensors:
 * input (N, ...spatial, C) → predictions (N, ...spatial, C_out).
 *
 * - ROI components ≤ 0 or null take the image size.
 * - The image is padded only along dims where it is smaller than the ROI: (diff//2, diff − diff//2),
 *   with `paddingMode` (torch names); the padding is cropped off the result.
 * - Interval per dim: roi if roi == size, else max(int(roi·(1 − overlap)), 1).
 * - Window starts: d·interval for d = 0 … first d with d·interval + roi ≥ size, clamped to size − roi;
 *   windows enumerate the first spatial dim slowest (numpy meshgrid 'ij'), all of item 0 first.
 * - Blending: out = Σ imp·pred / Σ imp, with imp all ones ('constant') or the un-normalised separable
 *   Gaussian exp(−x²/2σ²), σ = sigmaScale·roi, clamped below at max(min, 1e-3) ('gaussian').
 *
 * Written by hand because TF.js has no inferer. Windows are cut and predicted on the backend;
 * the stitching runs on the CPU in float32 (MONAI's compute dtype), so device memory holds only
 * the padded input and one batch of windows. The predictor must keep the window's spatial size
 * (MONAI's zoomed outputs are not supported).
 */
import * as tf from '@tensorflow/tfjs-core';
import { padIndex, type PadMode } from '../transforms/ndarray';

export type BlendMode = 'constant' | 'gaussian';
/** torch `F.pad` modes, as MONAI's `padding_mode`. */
export type SlidingPadMode = 'constant' | 'reflect' | 'replicate' | 'circular';

export interface SlidingWindowOptions {
  /** Fraction of overlap between windows, per dim or one for all; 0 ≤ overlap < 1. Default 0.25. */
  overlap?: number | readonly number[];
  mode?: BlendMode;
  /** σ = sigmaScale·roi per dim for 'gaussian'. Default 0.125. */
  sigmaScale?: number | readonly number[];
  paddingMode?: SlidingPadMode;
  /** Fill value of 'constant' padding. */
  cval?: number;
  /** Called after each batch of windows. */
  onProgress?: (windowsDone: number, windowsTotal: number) => void;
  /** Checked before each batch of windows; an aborted signal rejects with its reason (an AbortError). */
  signal?: AbortSignal;
}

/** Maps a batch of windows (B, ...roi, C) to predictions (B, ...roi, C_out). Its output is disposed here. */
export type Predictor = (windows: tf.Tensor) => tf.Tensor | Promise<tf.Tensor>;

const TORCH_TO_NUMPY: Record<SlidingPadMode, PadMode> = { constant: 'constant', reflect: 'reflect', replicate: 'edge', circular: 'wrap' };

/** ROI with MONAI's `fall_back_tuple`: non-positive or null components (or a non-positive scalar) take the image size. */
export function resolveRoi(roiSize: number | readonly (number | null)[], imageSize: readonly number[]): number[] {
  const roi = typeof roiSize === 'number' ? imageSize.map(() => roiSize) : roiSize;
  if (roi.length !== imageSize.length) throw new Error(`roi_size has ${roi.length} values for ${imageSize.length} spatial dims`);
  return imageSize.map((n, d) => {
    const r = roi[d];
    if (r === null || r <= 0) return n;
    if (!Number.isInteger(r)) throw new Error(`roi_size must be integers, got ${r}`);
    return r;
  });
}

/** MONAI `_get_scan_interval`: `size` is the (padded) image size, so size ≥ roi. */
export function scanInterval(size: readonly number[], roi: readonly number[], overlap: readonly number[]): number[] {
  return size.map((n, d) => (roi[d] === n ? roi[d] : Math.max(Math.trunc(roi[d] * (1 - overlap[d])), 1)));
}

/** MONAI HEAD `dense_patch_slices` starts along one dim (size ≥ roi). */
export function windowStarts(size: number, roi: number, interval: number): number[] {
  const starts: number[] = [];
  for (let d = 0; ; d++) {
    const s = d * interval;
    starts.push(s - Math.max(s + roi - size, 0));
    if (s + roi >= size) return starts;
  }
}

/**
 * MONAI `compute_importance_map` for an ROI, C-order (last dim fastest), in float32 like torch:
 * 'constant' = ones; 'gaussian' = Π_d exp(x_d² / (−2σ_d²)), x_d ∈ {−(n−1)/2 … (n−1)/2}, clamped
 * below at max(min value, 1e-3).
 */
export function importanceMap(roi: readonly number[], mode: BlendMode = 'constant', sigmaScale: number | readonly number[] = 0.125): Float32Array {
  const n = roi.reduce((a, b) => a * b, 1);
  const map = new Float32Array(n).fill(1);
  if (mode === 'constant') return map;
  if (mode !== 'gaussian') throw new Error(`unknown blend mode "${mode as string}" (constant or gaussian)`);
  const f = Math.fround;
  const factors = roi.map((len, d) => {
    const scale = typeof sigmaScale === 'number' ? sigmaScale : sigmaScale[d];
    const denom = f(-2 * (len * scale) ** 2);
    return Float32Array.from({ length: len }, (_, i) => {
      const x = f(-(len - 1) / 2 + i);
      return f(Math.exp(f(f(x * x) / denom)));
    });
  });
  // Outer product, dim 0 first (as torch builds it: map.unsqueeze(-1) * x_d).
  let size = 1;
  for (let d = 0; d < roi.length; d++) {
    const x = factors[d];
    for (let r = size * roi[d] - 1; r >= 0; r--) map[r] = f(map[Math.floor(r / roi[d])] * x[r % roi[d]]);
    size *= roi[d];
  }
  let min = Infinity;
  for (let i = 0; i < n; i++) if (map[i] < min) min = map[i];
  const floor = f(Math.max(min, 1e-3));
  for (let i = 0; i < n; i++) if (map[i] < floor) map[i] = floor;
  return map;
}

function perDim(v: number | readonly number[], n: number, what: string): number[] {
  const a = typeof v === 'number' ? new Array<number>(n).fill(v) : [...v];
  if (a.length !== n) throw new Error(`${what} has ${a.length} values for ${n} spatial dims`);
  return a;
}

export function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted.', 'AbortError');
}

/** Lets queued events (an abort from a UI message, say) run between batches. */
export function yieldToEvents(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Pads the spatial dims of (N, ...spatial, C) by `widths` [before, after] per dim. */
function padSpatial(x: tf.Tensor, widths: [number, number][], mode: SlidingPadMode, cval: number): tf.Tensor {
  if (mode === 'constant') return tf.pad(x, [[0, 0], ...widths, [0, 0]], cval);
  const np = TORCH_TO_NUMPY[mode];
  if (!np) throw new Error(`unknown padding mode "${mode as string}" (constant, reflect, replicate or circular)`);
  return tf.tidy(() => {
    let y = x;
    widths.forEach(([before, after], d) => {
      if (before === 0 && after === 0) return;
      const n = y.shape[d + 1];
      const idx = Int32Array.from({ length: n + before + after }, (_, o) => padIndex(o - before, n, np));
      y = tf.gather(y, tf.tensor1d(idx, 'int32'), d + 1);
    });
    return y;
  });
}

export async function slidingWindowInference(
  input: tf.Tensor,
  roiSize: number | readonly (number | null)[],
  swBatchSize: number,
  predictor: Predictor,
  opts: SlidingWindowOptions = {},
): Promise<tf.Tensor> {
  if (input.rank < 3) throw new Error(`sliding window input must be (N, ...spatial, C), got shape [${input.shape.join(', ')}]`);
  if (!(Number.isInteger(swBatchSize) && swBatchSize >= 1)) throw new Error(`sw_batch_size must be a positive integer, got ${swBatchSize}`);
  const sd = input.rank - 2;
  const [batch, ...rest] = input.shape;
  const channels = rest[sd];
  const size0 = rest.slice(0, sd);
  const roi = resolveRoi(roiSize, size0);
  const overlap = perDim(opts.overlap ?? 0.25, sd, 'overlap');
  if (overlap.some((o) => !(o >= 0 && o < 1))) throw new Error(`overlap must be >= 0 and < 1, got ${overlap.join(', ')}`);
  const mode = opts.mode ?? 'constant';
  const imp = importanceMap(roi, mode, perDim(opts.sigmaScale ?? 0.125, sd, 'sigma_scale'));
  const { signal, onProgress } = opts;
  if (signal?.aborted) throw abortError(signal);

  // Pad only where the image is smaller than the ROI.
  const size = size0.map((n, d) => Math.max(n, roi[d]));
  const widths = size0.map((n, d): [number, number] => {
    const diff = size[d] - n;
    return [Math.floor(diff / 2), diff - Math.floor(diff / 2)];
  });
  const padded = widths.some(([a, b]) => a || b) ? padSpatial(input, widths, opts.paddingMode ?? 'constant', opts.cval ?? 0) : input;

  try {
    const interval = scanInterval(size, roi, overlap);
    const starts = size.map((n, d) => windowStarts(n, roi[d], interval[d]));
    const windows = cartesian(starts);
    const total = windows.length * batch;

    // Flat (channel-less) offsets of the ROI's voxels inside the padded image, C-order.
    const strides = size.map((_, d) => size.slice(d + 1).reduce((a, b) => a * b, 1));
    const roiVoxels = imp.length;
    const offsets = new Int32Array(roiVoxels);
    const pos = new Array<number>(sd).fill(0);
    for (let r = 0; r < roiVoxels; r++) {
      let o = 0;
      for (let d = 0; d < sd; d++) o += pos[d] * strides[d];
      offsets[r] = o;
      for (let d = sd - 1; d >= 0; d--) {
        if (++pos[d] < roi[d]) break;
        pos[d] = 0;
      }
    }
    const imageVoxels = size.reduce((a, b) => a * b, 1);
    const baseOf = (w: number[]) => w.reduce((acc, s, d) => acc + s * strides[d], 0);
    const count = new Float32Array(imageVoxels);
    for (const w of windows) {
      const base = baseOf(w);
      for (let r = 0; r < roiVoxels; r++) count[base + offsets[r]] += imp[r];
    }

    let out: Float32Array | null = null;
    let outChannels = 0;
    for (let first = 0; first < total; first += swBatchSize) {
      if (signal?.aborted) throw abortError(signal);
      const items = Array.from({ length: Math.min(swBatchSize, total - first) }, (_, k) => first + k);
      const cut = tf.tidy(() =>
        tf.concat(items.map((idx) => tf.slice(padded, [Math.floor(idx / windows.length), ...windows[idx % windows.length], 0], [1, ...roi, channels]))),
      );
      let pred: tf.Tensor;
      try {
        pred = await predictor(cut);
      } finally {
        cut.dispose();
      }
      let values: Float32Array;
      try {
        const expected = [items.length, ...roi];
        if (pred.rank !== sd + 2 || expected.some((n, d) => pred.shape[d] !== n)) {
          throw new Error(`predictor returned shape [${pred.shape.join(', ')}] for windows [${[...expected, channels].join(', ')}] (it must keep the window size)`);
        }
        values = (await pred.data()) as Float32Array;
        if (out === null) {
          outChannels = pred.shape[sd + 1];
          out = new Float32Array(batch * imageVoxels * outChannels);
        } else if (pred.shape[sd + 1] !== outChannels) throw new Error('predictor changed its number of output channels between batches');
      } finally {
        pred.dispose();
      }
      const C = outChannels;
      items.forEach((idx, k) => {
        const b = Math.floor(idx / windows.length);
        const base = b * imageVoxels + baseOf(windows[idx % windows.length]);
        const src = k * roiVoxels * C;
        for (let r = 0; r < roiVoxels; r++) {
          const o = (base + offsets[r]) * C;
          const w = imp[r];
          for (let c = 0; c < C; c++) out![o + c] += values[src + r * C + c] * w;
        }
      });
      onProgress?.(first + items.length, total);
      await yieldToEvents();
    }
    if (signal?.aborted) throw abortError(signal);

    // Blend, then crop the padding off.
    const C = outChannels;
    const result = new Float32Array(batch * size0.reduce((a, b) => a * b, 1) * C);
    const inner = new Array<number>(sd).fill(0);
    let o = 0;
    for (let b = 0; b < batch; b++) {
      inner.fill(0);
      for (;;) {
        let v = 0;
        for (let d = 0; d < sd; d++) v += (inner[d] + widths[d][0]) * strides[d];
        const src = (b * imageVoxels + v) * C;
        for (let c = 0; c < C; c++) result[o++] = out![src + c] / count[v];
        let d = sd - 1;
        for (; d >= 0; d--) {
          if (++inner[d] < size0[d]) break;
          inner[d] = 0;
        }
        if (d < 0) break;
      }
    }
    return tf.tensor(result, [batch, ...size0, C], 'float32');
  } finally {
    if (padded !== input) padded.dispose();
  }
}

function cartesian(lists: number[][]): number[][] {
  let out: number[][] = [[]];
  for (const l of lists) out = out.flatMap((prefix) => l.map((x) => [...prefix, x]));
  return out;
}
