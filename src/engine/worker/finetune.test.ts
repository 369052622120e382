import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateCase } from '../synth/dataset';
import { MemoryCheckpointStore } from '../training/checkpoint';
import type { PreparedCase } from '../training/data';
import { readWeights, writeSafetensors } from '../weights';
import { CopleNet } from '../../models';
import { currentModel, loadModel, startBackend } from './compute';
import { applyFineTuned, fineTunedWeights, hasCheckpoint, setCheckpointStore, splitSlabs, startFineTune } from './finetune';

describe('fine-tuning in the worker', () => {
  beforeAll(async () => {
    await startBackend(['cpu']);
    setCheckpointStore(new MemoryCheckpointStore());
    const net = new CopleNet({ features: [4, 8, 16, 32, 64], seed: 3 });
    await loadModel('coplenet', { name: 'tiny.safetensors', bytes: writeSafetensors(await net.stateDict()) });
    net.dispose();
  });

  it('holds out the upper slab of slices for validation', () => {
    const c: PreparedCase = { id: 'c', shape: [10, 2, 3], image: new Float32Array(60).map((_, n) => n), label: new Uint8Array(60), crop: { start: [0, 0, 0], end: [3, 2, 10], lungVoxels: 0 } as PreparedCase['crop'] };
    const { train, validation } = splitSlabs(c, 0.2);
    expect(train.shape).toEqual([8, 2, 3]);
    expect(validation!.shape).toEqual([2, 2, 3]);
    expect(validation!.image[0]).toBe(48);
    expect(splitSlabs(c, 0).validation).toBeNull();
  });

  it('trains on an observer of a phantom, checkpoints, exports a .pt and applies the result', async () => {
    const phantom = generateCase({ size: [64, 64, 12], spacing: [5, 5, 10] }, 7);
    const steps: number[] = [];
    const summary = await startFineTune(
      {
        scanKey: 'phantom7',
        volume: phantom.scan,
        observers: phantom.observers.map((o) => ({ name: o.name, mask: o.mask.data as Uint8Array })),
        labels: 'staple',
        loss: { kind: 'nrdice', gamma: 1.5 },
        optimizer: 'adam',
        learningRate: 1e-3,
        steps: 3,
        batchSize: 2,
        patchSize: 32,
        batchNorm: 'train',
        freezeEncoder: false,
        selfEnsembling: true,
        validateEvery: 0,
        checkpointEvery: 0,
        validationFraction: 0.25,
      },
      false,
      (info) => steps.push(info.step),
    );
    expect(steps).toEqual([1, 2, 3]);
    expect(summary).toMatchObject({ state: 'finished', steps: 3 });
    expect(summary.diceAfter).toBeGreaterThanOrEqual(0);
    expect(await hasCheckpoint('phantom7')).toBe(3);
    const pt = readWeights(await fineTunedWeights('pt'), 'fine-tuned.pt');
    expect(pt.format).toBe('torch-zip');
    expect(pt.stateDict.size).toBe(215);
    const before = tf.memory().numTensors;
    await applyFineTuned();
    expect(currentModel()!.weights).toBe('fine-tuned (step 3)');
    // The trainer's networks and optimizer are gone; only the applied model's tensors remain.
    expect(tf.memory().numTensors).toBeLessThan(before);
  });
});
