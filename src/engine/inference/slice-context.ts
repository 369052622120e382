/**
 * Slice context for 2D networks ("2.5D" input): each axial slice goes in with its r neighbours on
 * either side as extra channels, k−r … k+r in that order, so the network can tell a blob that exists
 * on one slice only (a small lesion) from one that continues through the neighbours (a vessel seen
 * end-on) — which a single slice cannot (MODEL_CARD.md). Beyond the volume's first and last slice
 * the nearest slice is repeated (numpy 'edge'). One helper for inference, validation and training
 * patches, so the three build the same channels.
 */
import { InputError } from '../io/errors';

/** Channels of a 2D network that sees `r` neighbouring slices on each side. */
export const contextChannels = (r: number) => 2 * r + 1;

/** Context slices are a whole number 0…8 (17 input channels at most). */
export const isContextSlices = (r: unknown): r is number => Number.isInteger(r) && (r as number) >= 0 && (r as number) <= 8;

/** `r` when it is a valid number of context slices, else an InputError naming `where`. */
export function checkContextSlices(r: number, where: string): number {
  if (!isContextSlices(r)) throw new InputError(where, `context slices must be an integer in 0…8, got ${r}`);
  return r;
}

/**
 * The slices `ks` of a (d, h, w) C-order stack, each with its r neighbours on either side, as
 * (ks.length, h, w, 2r+1) channel-last data (TF.js NHWC). r = 0 copies the slices.
 */
export function stackSlices(data: ArrayLike<number>, shape: [number, number, number], ks: readonly number[], r: number): Float32Array {
  const [d, h, w] = shape;
  const hw = h * w;
  const C = contextChannels(r);
  const out = new Float32Array(ks.length * hw * C);
  ks.forEach((k, n) => {
    for (let c = 0; c < C; c++) {
      const src = Math.min(d - 1, Math.max(0, k + c - r)) * hw;
      const dst = n * hw * C + c;
      for (let p = 0; p < hw; p++) out[dst + p * C] = data[src + p];
    }
  });
  return out;
}

/** (C, n) channel-first data → (n, C) channel-last, e.g. a [C, P, P] patch to (P, P, C). */
export function channelsLast(data: ArrayLike<number>, channels: number): Float32Array {
  const n = data.length / channels;
  const out = new Float32Array(data.length);
  for (let c = 0; c < channels; c++) for (let p = 0; p < n; p++) out[p * channels + c] = data[c * n + p];
  return out;
}
