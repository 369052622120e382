import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, expect, it } from 'vitest';
import { useWebGPU } from '../../../tests/webgpu';
import { nrDiceLoss } from './losses';
import { gradError, loadLossFixture, nchw, valueClose } from './loss-fixtures.test-util';

const c = loadLossFixture().cases[0];

beforeAll(async () => {
  await useWebGPU();
});

it('NR-Dice (paper, foreground, gamma 1.5) value and gradient on the WebGPU backend match MONAI fixture case_0', async () => {
  expect(tf.getBackend()).toBe('webgpu');
  const l = nchw(c.logits, c.shape, true);
  const g = nchw(c.target_onehot, c.shape, true);
  const { value, grad: grads } = tf.valueAndGrad((x: tf.Tensor) => nrDiceLoss(x, g, { gamma: 1.5 }))(l);
  const expected = (c.values.nrdice_paper_fg as Record<string, number>)['1.5'];
  const v = (await value.data())[0];
  expect(valueClose(v, expected), `value ${v} vs ${expected}`).toBe(true);
  const ref = nchw(c['grad_nrdice_paper_fg_gamma1.5'], c.shape, true);
  const { maxErr, tol } = gradError(await grads.data(), await ref.data());
  expect(maxErr).toBeLessThanOrEqual(tol);
  tf.dispose([l, g, value, grads, ref]);
});
