import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, expect, it } from 'vitest';
import { useWebGPU } from '../../../tests/webgpu';
import { DeviceAdam } from './adam';

beforeAll(async () => {
  await useWebGPU();
});

/** Four steps of DeviceAdam on two variables; the values after the last, and tensors made from host values per later step. */
async function steps(backend: string): Promise<{ values: number[]; writesPerStep: number[] }> {
  await tf.setBackend(backend);
  const vars = [tf.tidy(() => tf.variable(tf.reshape(tf.linspace(-1, 1, 6), [2, 3]))), tf.tidy(() => tf.variable(tf.fill([4], 0.25)))];
  const opt = new DeviceAdam(0.05);
  const b = tf.backend() as unknown as { write: (...args: unknown[]) => unknown };
  const write = b.write;
  const writesPerStep: number[] = [];
  for (let s = 0; s < 4; s++) {
    const g = tf.tidy(() => ({ [vars[0].name]: tf.sin(tf.add(vars[0], s)), [vars[1].name]: tf.cos(tf.mul(vars[1], s + 1)) }));
    let n = 0;
    // Kernel outputs are written without values; host-made tensors (uploads to come) with them.
    b.write = (...args) => (args[0] != null && n++, write.apply(b, args));
    try {
      opt.applyGradients(g);
    } finally {
      b.write = write;
    }
    if (s > 0) writesPerStep.push(n);
    tf.dispose(Object.values(g));
  }
  const values = [...(await vars[0].data()), ...(await vars[1].data())];
  opt.dispose();
  tf.dispose(vars);
  return { values, writesPerStep };
}

it('DeviceAdam on WebGPU: the same values as on cpu, two host uploads per step', async () => {
  const gpu = await steps('webgpu');
  const cpu = await steps('cpu');
  gpu.values.forEach((x, i) => expect(x).toBeCloseTo(cpu.values[i], 5));
  expect(gpu.values.some((x, i) => Math.abs(x - [-1, -0.6, -0.2, 0.2, 0.6, 1, 0.25, 0.25, 0.25, 0.25][i]) > 0.05)).toBe(true);
  expect(gpu.writesPerStep).toEqual([2, 2, 2]);
});
