import type { StateDict } from '../engine/weights/tensor';
import { firstConv } from './input-channels';

/** Feature widths of a 5-level network from its weights: the first convolution's width, doubled per level. */
export function inferFeatures(sd: StateDict, file: string): number[] {
  const [, first] = firstConv(sd, file, 'to infer --features from');
  return [0, 1, 2, 3, 4].map((i) => first.shape[0] * 2 ** i);
}
