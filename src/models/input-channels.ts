/**
 * Input channels of a slice-wise network's weights, and the warm start of a network with slice
 * context (2·r + 1 input channels, src/engine/inference/slice-context.ts) from weights with less
 * context: the first convolution's kernels keep their slices (centre on centre) and the new outer
 * neighbours' kernels start at zero, so the widened network computes exactly what the narrower one
 * did until training gives the new neighbours weight.
 */
import { InputError } from '../engine/io/errors';
import type { StateDict, TensorData } from '../engine/weights/tensor';

/** The first convolution's weight: the first tensor of rank ≥ 4 in state-dict order (PyTorch [out, in, kh, kw]). */
export function firstConv(sd: StateDict, file: string, purpose = ''): [string, TensorData] {
  const entry = [...sd.entries()].find(([, t]) => t.shape.length >= 4);
  if (!entry) throw new InputError(file, `no convolution weights found${purpose ? ` ${purpose}` : ''}`);
  return entry;
}

/** How many input channels the weights take (the first convolution's second axis). */
export function inputChannels(sd: StateDict, file: string): number {
  return firstConv(sd, file)[1].shape[1];
}

/**
 * Neighbouring slices on each side a slice-wise network's weights take (2r + 1 input channels);
 * an even channel count has no centre slice and is refused.
 */
export function contextSlicesOf(sd: StateDict, file: string): number {
  const c = inputChannels(sd, file);
  if (c % 2 === 0) throw new InputError(file, `the weights take ${c} input channels; a slice-wise network here takes one slice, or a slice with the same number of neighbours on each side (an odd count)`);
  return (c - 1) / 2;
}

/** Weights widened to `channels` inputs (odd, ≥ theirs), their kernels on the centre channels, zeros outside. */
export function widenInputChannels(sd: StateDict, channels: number, file: string): StateDict {
  const [key, w] = firstConv(sd, file);
  const [out, inCh, ...k] = w.shape;
  if (inCh % 2 === 0) throw new InputError(file, `weights with ${inCh} input channels have no centre slice to widen around`);
  if (!(Number.isInteger(channels) && channels % 2 === 1 && channels >= inCh)) {
    throw new InputError(file, `the widened input must have an odd number of channels (a centre slice), at least the weights' ${inCh}, got ${channels}`);
  }
  const kk = k.reduce((a, b) => a * b, 1);
  const data = new Float32Array(out * channels * kk);
  const first = (channels - inCh) / 2;
  for (let o = 0; o < out; o++)
    for (let c = 0; c < inCh; c++) for (let q = 0; q < kk; q++) data[(o * channels + first + c) * kk + q] = Number(w.data[(o * inCh + c) * kk + q]);
  const widened = new Map(sd);
  widened.set(key, { dtype: 'float32', shape: [out, channels, ...k], data });
  return widened;
}
