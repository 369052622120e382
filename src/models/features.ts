import { InputError } from '../engine/io/errors';
import type { StateDict } from '../engine/weights/tensor';

/** Feature widths of a 5-level network from its weights: the first convolution's width, doubled per level. */
export function inferFeatures(sd: StateDict, file: string): number[] {
  const first = [...sd.values()].find((t) => t.shape.length >= 4);
  if (!first) throw new InputError(file, 'no convolution weights found to infer --features from');
  return [0, 1, 2, 3, 4].map((i) => first.shape[0] * 2 ** i);
}
