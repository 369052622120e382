import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { planLamp } from './lamp';

describe('LAMP plan from the UI', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('splits a UNetPipe into more stages when the budget shrinks, keeping every layer once and in order', async () => {
    const req = { nFeat: 2, outChannels: 3, size: [32, 32, 32] as [number, number, number], mode: 'inference' as const, batch: 1, microBatches: 1 };
    const roomy = await planLamp({ ...req, budgetMiB: 1024 });
    expect(roomy.plan.stages).toHaveLength(1);
    const whole = roomy.plan.stages[0].bytes;
    const tight = await planLamp({ ...req, budgetMiB: (whole * 0.6) / 2 ** 20 });
    expect(tight.plan.stages.length).toBeGreaterThan(1);
    expect(tight.plan.stages.flatMap((s) => s.layers)).toEqual(roomy.plan.stages[0].layers);
    expect(tight.plan.stages[0].from).toBe(0);
    expect(tight.plan.stages.at(-1)!.to).toBe(30);
    expect(roomy.parameters).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(0);
  });
});
