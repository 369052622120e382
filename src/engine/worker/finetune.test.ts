import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateCase } from '../synth/dataset';
import { MemoryCheckpointStore } from '../training/checkpoint';
import type { PreparedCase } from '../training/data';
import { readWeights, writeSafetensors } from '../weights';
import { CopleNet } from '../../models';
import type { StepInfo } from '../training/trainer';
import { widenInputChannels } from '../../models/input-channels';
import { PEAK_CUT_KEY } from '../inference/peak-cut';
import { PIXEL_SPACING_KEY } from '../inference/pixel-spacing';
import { currentModel, currentPipeline, loadModel, startBackend } from './compute';
import { applyFineTuned, cancelFineTune, fineTunedWeights, hasCheckpoint, pauseFineTune, setCheckpointStore, splitSlabs, startFineTune, type FineTuneRequest } from './finetune';

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
    expect(await hasCheckpoint('phantom7')).toEqual({ step: 3, steps: 3 });
    const pt = readWeights(await fineTunedWeights('pt'), 'fine-tuned.pt');
    expect(pt.format).toBe('torch-zip');
    expect(pt.stateDict.size).toBe(215);
    const before = tf.memory().numTensors;
    await applyFineTuned();
    expect(currentModel()!.weights).toBe('fine-tuned (step 3)');
    // The trainer's networks and optimizer are gone; only the applied model's tensors remain.
    expect(tf.memory().numTensors).toBeLessThan(before);
  });

  it('pausing resolves with the checkpoint saved; a resumed run (as after a reload) replays the saved curve first', async () => {
    const phantom = generateCase({ size: [64, 64, 12], spacing: [5, 5, 10] }, 7);
    const req: FineTuneRequest = {
      scanKey: 'phantom7-resume',
      volume: phantom.scan,
      observers: phantom.observers.map((o) => ({ name: o.name, mask: o.mask.data as Uint8Array })),
      labels: 'staple',
      loss: { kind: 'dice' },
      optimizer: 'adam',
      learningRate: 1e-3,
      steps: 4,
      batchSize: 1,
      patchSize: 32,
      batchNorm: 'train',
      freezeEncoder: false,
      selfEnsembling: false,
      validateEvery: 0,
      checkpointEvery: 0,
      validationFraction: 0,
    };
    const first: StepInfo[] = [];
    let paused: Promise<void> | null = null;
    const run = startFineTune(req, false, (info) => {
      first.push(info);
      if (info.step === 2) paused = pauseFineTune();
    });
    while (!paused) await new Promise((r) => setTimeout(r, 1));
    await paused;
    // checkpointEvery is 0: the checkpoint comes from the pause alone.
    expect(await hasCheckpoint('phantom7-resume')).toEqual({ step: 2, steps: 4 });
    await cancelFineTune();
    expect(await run).toMatchObject({ state: 'cancelled', steps: 2 });
    expect(first.map((s) => s.step)).toEqual([1, 2]);
    // No validation slab held out: no Dice to report.
    expect(Number.isNaN((await run).diceAfter)).toBe(true);

    const second: StepInfo[] = [];
    // The form after a reload shows the defaults; the saved run keeps its own target and (no) held-out slab.
    const summary = await startFineTune({ ...req, labels: 'majority', validationFraction: 0.5 }, true, (info) => second.push(info));
    expect(summary).toMatchObject({ state: 'finished', steps: 4 });
    expect(Number.isNaN(summary.diceAfter)).toBe(true);
    expect(second.map((s) => s.step)).toEqual([1, 2, 3, 4]);
    expect(second.slice(0, 2).map((s) => s.loss)).toEqual(first.map((s) => s.loss));
    expect(await hasCheckpoint('phantom7-resume')).toEqual({ step: 4, steps: 4 });
  });

  it('weights that take slice context set the pipeline’s context_slices on load, and fine-tune as a 3-channel network', async () => {
    const one = new CopleNet({ features: [4, 8, 16, 32, 64], seed: 3 });
    const oneBytes = writeSafetensors(await one.stateDict());
    // With a peak cut in its metadata: the model reports it; fine-tuned weights, differently calibrated, will not carry it.
    const wide = writeSafetensors(widenInputChannels(await one.stateDict(), 3, 'tiny'), { metadata: { [PEAK_CUT_KEY]: '0.9999' } });
    const wideSd = readWeights(wide, 'tiny').stateDict;
    const before = currentModel();
    await expect(loadModel('coplenet', { name: 'bad-cut.safetensors', bytes: writeSafetensors(wideSd, { metadata: { [PEAK_CUT_KEY]: '2' } }) })).rejects.toThrow(
      `bad-cut.safetensors: metadata "${PEAK_CUT_KEY}" must be a probability in (0, 1], got "2"`,
    );
    await expect(loadModel('coplenet', { name: 'bad-px.safetensors', bytes: writeSafetensors(wideSd, { metadata: { [PIXEL_SPACING_KEY]: '2,x' } }) })).rejects.toThrow(
      `bad-px.safetensors: metadata "${PIXEL_SPACING_KEY}" must be two positive pixel sizes in mm ("x,y"), got "2,x"`,
    );
    expect(currentModel()).toBe(before);
    one.dispose();
    const info = await loadModel('coplenet', { name: 'tiny-2.5d.safetensors', bytes: wide });
    expect(info.minPeakProbability).toBe(0.9999);
    expect(info.pixelSpacing).toBeNull();
    expect(info.contextSlices).toBe(1);
    expect(info.notices).toContain('tiny-2.5d.safetensors takes each slice with 1 neighbour on either side (3 input channels): the pipeline\'s "context_slices" is now 1');
    expect(currentPipeline().inference).toEqual({ kind: 'slices', context_slices: 1 });
    const phantom = generateCase({ size: [64, 64, 12], spacing: [5, 5, 10] }, 8);
    const summary = await startFineTune(
      {
        scanKey: 'phantom8-context',
        volume: phantom.scan,
        observers: phantom.observers.map((o) => ({ name: o.name, mask: o.mask.data as Uint8Array })),
        labels: 'majority',
        loss: { kind: 'dice' },
        optimizer: 'adam',
        learningRate: 1e-3,
        steps: 2,
        batchSize: 2,
        patchSize: 32,
        batchNorm: 'train',
        freezeEncoder: false,
        selfEnsembling: false,
        validateEvery: 0,
        checkpointEvery: 0,
        validationFraction: 0.25,
      },
      false,
      () => {},
    );
    expect(summary).toMatchObject({ state: 'finished', steps: 2 });
    expect(Number.isFinite(summary.diceAfter)).toBe(true);
    const tuned = readWeights(await fineTunedWeights('safetensors'), 'fine-tuned.safetensors').stateDict;
    expect(tuned.get('in_conv.conv_conv_se.0.conv.weight')!.shape).toEqual([4, 3, 3, 3]);
    await applyFineTuned();
    expect(currentModel()!.contextSlices).toBe(1);
    expect(currentModel()!.minPeakProbability).toBeNull();
    // One-channel weights again: the pipeline goes back to one slice.
    const back = await loadModel('coplenet', { name: 'tiny.safetensors', bytes: oneBytes });
    expect(back.notices).toContain('tiny.safetensors takes one slice at a time: the pipeline\'s "context_slices" is now 0');
    expect(back.minPeakProbability).toBeNull();
    expect(currentPipeline().inference).toEqual({ kind: 'slices' });
  });
});
