import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { readShared } from '../../../tests/shared';
import { InputError } from '../io/errors';
import { Rng } from '../random';
import { IDENTITY3, type Volume } from '../volume';
import { clearLampWeights, loadLampWeights, planLamp, runLamp } from './lamp';

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

describe('LAMP staged run on the scan', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
    clearLampWeights();
  });

  /** An HU scan, 24×38×3 like the smallest real series: padded to 32×64×32 (D, H, W). */
  function scan(): Volume {
    const rng = new Rng(3);
    const data = Int16Array.from({ length: 24 * 38 * 3 }, () => Math.round(rng.uniform(-1200, 300)));
    return { data, dims: [24, 38, 3], spacing: [0.7, 0.7, 2.5], origin: [0, 0, 0], direction: [...IDENTITY3], units: 'HU', notices: [], source: { format: 'test', name: 'tiny.dcm' } };
  }

  it('a tight budget gives several stages; the staged logits equal the whole network; the mask is on the scan grid', async () => {
    const req = { nFeat: 4, outChannels: 2, compareWhole: true };
    const roomy = await runLamp(scan(), { ...req, budgetMiB: 1024 });
    expect(roomy.plan.stages).toHaveLength(1);
    expect(roomy.paddedSize).toEqual([32, 64, 32]);
    const oneStage = roomy.plan.stages[0].bytes;
    const messages: string[] = [];
    const tight = await runLamp(scan(), { ...req, budgetMiB: (oneStage * 0.9) / 2 ** 20 }, (_f, m) => messages.push(m));
    const k = tight.plan.stages.length;
    expect(k).toBeGreaterThan(1);
    expect(tight.plan.crossing.length).toBeGreaterThan(0);
    expect(messages.filter((m) => m.startsWith('stage '))).toHaveLength(k);
    expect(messages.at(-1)).toBe('checked against the unpartitioned network');
    expect(tight.maxAbsDiff).toBeLessThan(1e-4);
    // Same weights (seed), same input: the same mask whatever the split.
    expect(tight.mask).toEqual(roomy.mask);
    expect(tight.mask).toHaveLength(24 * 38 * 3);
    expect(tight.backend).toBe('cpu');
    expect(tight.weights).toBe('random (seed 1)');
    expect(tf.memory().numTensors).toBe(0);
  });

  it('refuses no scan and a budget no split can meet, with the reason', async () => {
    await expect(runLamp(null, { nFeat: 2, outChannels: 2, compareWhole: false, budgetMiB: 64 })).rejects.toThrow(InputError);
    await expect(runLamp(scan(), { nFeat: 1, outChannels: 2, compareWhole: false, budgetMiB: 64 })).rejects.toThrow(/nFeat must be an integer >= 2/);
    // A refused run leaves nothing behind: the next one is not told one is already going.
    await expect(runLamp(scan(), { nFeat: 2, outChannels: 2, compareWhole: false, budgetMiB: 0.01 })).rejects.toThrow(/tiny\.dcm: too large for a 0\.01 MiB stage budget even as \d+ stages/);
    expect(tf.memory().numTensors).toBe(0);
  });

  it('stage workers: the worker count is checked, and without Web Workers (Node) the run is refused cleanly', async () => {
    const req = { nFeat: 2, outChannels: 2, compareWhole: false, budgetMiB: 1024, placement: 'workers' as const };
    await expect(runLamp(scan(), { ...req, workers: 0 })).rejects.toThrow(/LAMP: the number of stage workers must be an integer from 1 to 30, got 0/);
    await expect(runLamp(scan(), { ...req, workers: 2 })).rejects.toThrow(/stage workers need Web Workers/);
    expect(tf.memory().numTensors).toBe(0);
  });

  it('takes a UNetPipe checkpoint with flat or partitions.<j>. keys; a wrong file is refused and the loaded weights stay', async () => {
    const flat = await loadLampWeights({ name: 'weights.pt', bytes: readShared('fixtures/lamp/weights.pt') });
    expect(flat).toMatchObject({ nFeat: 8, outChannels: 3, parameters: 1432979 });
    const gpipe = await loadLampWeights({ name: 'weights_gpipe.pt', bytes: readShared('fixtures/lamp/weights_gpipe.pt') });
    expect(gpipe).toMatchObject({ nFeat: 8, outChannels: 3, parameters: 1432979 });
    expect(gpipe.notices.join(' ')).toContain('partitions');
    await expect(loadLampWeights({ name: 'coplenet.pt', bytes: readShared('fixtures/monai/coplenet/weights.pt') })).rejects.toThrow(/coplenet\.pt: not a UNetPipe state dict/);
    await expect(loadLampWeights({ name: 'junk.pt', bytes: new Uint8Array([1, 2, 3, 4, 5]) })).rejects.toThrow(InputError);
    // The run uses the checkpoint kept from before (n_feat 8, 3 classes), not the request's shape.
    const res = await runLamp(scan(), { nFeat: 2, outChannels: 2, compareWhole: true, budgetMiB: 1024 });
    expect(res.weights).toBe('weights_gpipe.pt');
    expect(res.parameters).toBe(1432979);
    expect(res.classes).toBe(3);
    expect(res.maxAbsDiff).toBeLessThan(1e-4);
    clearLampWeights();
    expect(tf.memory().numTensors).toBe(0);
  });
});
