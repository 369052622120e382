/**
 * Test-only reader for the MONAI loss reference values (fixtures/monai/losses/losses.json):
 * NCHW arrays as tfjs tensors, and the fixture tolerances.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readShared } from '../../../tests/shared';

type Nested = number | Nested[];

export interface LossCase {
  name: string;
  shape: number[];
  logits: Nested;
  target_onehot: Nested;
  probabilities: Nested;
  values: Record<string, number | Record<string, number>>;
  'grad_nrdice_paper_fg_gamma1.5': Nested;
}

export interface LossFixture {
  epsilon: number;
  gammas: string[];
  cases: LossCase[];
}

export function loadLossFixture(): LossFixture {
  return JSON.parse(new TextDecoder().decode(readShared('fixtures', 'monai', 'losses', 'losses.json'))) as LossFixture;
}

/** A nested NCHW list as a float32 tensor; `nhwc` transposes it to channel-last. */
export function nchw(a: Nested, shape: number[], nhwc = false): tf.Tensor4D {
  const t = tf.tensor4d((a as number[][][][]).flat(3), shape as [number, number, number, number]);
  if (!nhwc) return t;
  const out = tf.transpose(t, [0, 2, 3, 1]);
  t.dispose();
  return out;
}

/** Fixture tolerance for loss values: |a − b| ≤ 1e-6 + 1e-4 |b|. */
export function valueClose(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-6 + 1e-4 * Math.abs(b);
}

/** Largest |a − b| over two arrays and the fixture gradient tolerance 1e-6 + 1e-4 max|b|. */
export function gradError(a: ArrayLike<number>, b: ArrayLike<number>): { maxErr: number; tol: number } {
  let maxErr = 0;
  let maxRef = 0;
  for (let i = 0; i < b.length; i++) {
    maxErr = Math.max(maxErr, Math.abs(a[i] - b[i]));
    maxRef = Math.max(maxRef, Math.abs(b[i]));
  }
  return { maxErr, tol: 1e-6 + 1e-4 * maxRef };
}
