/** Test data for the training tests: a trivially learnable prepared case. */
import { Rng } from '../random';
import type { PreparedCase } from './data';

/** Bright squares (0.7, the label) on a darker noisy background (0.3, σ 0.03): label = image > 0.5 exactly. */
export function squaresCase(id: string, seed: number, d = 3, h = 48, w = 48): PreparedCase {
  const R = new Rng(seed);
  const image = new Float32Array(d * h * w);
  const label = new Uint8Array(d * h * w);
  for (let n = 0; n < image.length; n++) image[n] = 0.3 + R.normal(0, 0.03);
  for (let k = 0; k < d; k++) {
    for (let s = 0; s < 3; s++) {
      const side = 5 + R.int(8);
      const j0 = R.int(h - side);
      const i0 = R.int(w - side);
      for (let j = j0; j < j0 + side; j++)
        for (let i = i0; i < i0 + side; i++) {
          const n = (k * h + j) * w + i;
          image[n] = 0.7 + R.normal(0, 0.03);
          label[n] = 1;
        }
    }
  }
  return { id, shape: [d, h, w], image, label, crop: { start: [0, 0, 0], end: [w, h, d], region: 'volume', lungVoxels: 0 } };
}
