import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, expect, it } from 'vitest';
import { useWebGPU } from '../../../tests/webgpu';
import '@tensorflow/tfjs-backend-cpu';
import { diceCELoss, nrDiceLoss, oneHotTarget } from './losses';
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

it('a softmax Dice + CE on WebGPU from an oneHotTarget equals the cpu value; an int32 target is refused', async () => {
  const labels = Int32Array.from({ length: 2 * 8 * 8 }, (_, i) => (i % 3 === 0 ? 1 : 0));
  const lv = Float32Array.from({ length: 2 * 8 * 8 * 2 }, (_, i) => Math.sin(i));
  const loss = async (backend: string) => {
    await tf.setBackend(backend);
    const [l, y] = [tf.tensor(lv, [2, 8, 8, 2]), oneHotTarget(labels, [2, 8, 8], 2)];
    expect(y.dtype).toBe('float32');
    const v = (await diceCELoss(l, y, { softmax: true }).data())[0];
    tf.dispose([l, y]);
    return v;
  };
  const cpu = await loss('cpu');
  expect(await loss('webgpu')).toBeCloseTo(cpu, 5);
  const [l, y] = [tf.tensor(lv, [2, 8, 8, 2]), tf.oneHot(tf.tensor(labels, [2, 8, 8], 'int32'), 2)];
  expect(() => diceCELoss(l, y, { softmax: true })).toThrow(/diceLoss: the target must be float32 on WebGPU/);
  tf.dispose([l, y]);
});
