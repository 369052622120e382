import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from '../tf/wasm-kernels';
import { MemoryCheckpointStore } from './checkpoint';
import { PatchSampler, validationSlices, type PatchBatch } from './data';
import { squaresCase } from './data.test-util';
import { crossEntropyLoss, diceLoss, nrDiceLoss } from './losses';
import { learningRateAt, TensorLeakGuard } from './optim';
import type { Network } from '../../models';
import { Trainer, validationDice, type TrainerConfig } from './trainer';

// wasm: deterministic like cpu, and ~3x faster for these tiny networks (cpu's Conv2DBackpropFilter dominates there).
beforeAll(async () => {
  registerWasmTrainingKernels();
  await tf.setBackend('wasm');
});

const train = [squaresCase('a', 1), squaresCase('b', 2)];
const held = [squaresCase('v', 3, 2)];
const validation = validationSlices(held, { divisor: 16 });

const config = (over: Partial<TrainerConfig> = {}): TrainerConfig => ({
  model: { kind: 'coplenet', features: [4, 8, 16, 32, 64], seed: 7 },
  loss: { kind: 'dicece' },
  optimizer: { kind: 'adam', schedule: { kind: 'constant', lr: 3e-3 } },
  steps: 8,
  patches: { patchSize: 32, batchSize: 4, augment: false },
  seed: 5,
  ...over,
});

async function weightsOf(t: Trainer): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [k, v] of await t.network.stateDict()) if (v.data instanceof Float32Array) out.set(k, v.data);
  return out;
}

function maxDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>, keys = [...a.keys()]): number {
  let m = 0;
  for (const k of keys) {
    const x = a.get(k)!;
    const y = b.get(k)!;
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  }
  return m;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('Trainer', () => {
  it('learns bright squares: the Dice+CE loss falls to under a third within 30 steps', async () => {
    const schedule = { kind: 'cosine' as const, lr: 1e-2, totalSteps: 30, minLr: 1e-4 };
    const t = await Trainer.create(config({ steps: 30, optimizer: { kind: 'adam', schedule } }), { train });
    expect(await t.run()).toBe('finished');
    const losses = t.history.map((h) => h.loss);
    expect(losses).toHaveLength(30);
    expect(mean(losses.slice(-5))).toBeLessThan(mean(losses.slice(0, 5)) / 3);
    expect(t.history.map((h) => h.lr)).toEqual(Array.from({ length: 30 }, (_, s) => learningRateAt(s, schedule)));
    expect(t.history.map((h) => h.step)).toEqual(Array.from({ length: 30 }, (_, s) => s + 1));
    t.dispose();
  });

  it('validationDice: eval-mode argmax on the padded slices, Dice on the unpadded part', async () => {
    // Stand-in networks: logits (0.5 − x, x − 0.5) threshold the intensity at 0.5, which is the label
    // exactly (squares 0.7, background 0.3, noise 0.03); the second one also marks the padding.
    const thresholdNet = { apply: (x: tf.Tensor) => tf.tidy(() => tf.concat([tf.sub(0.5, x), tf.sub(x, 0.5)], -1)) } as unknown as Network;
    const padded = validationSlices(held, { divisor: 32 });
    expect([padded[0].height, padded[0].width, padded[0].top, padded[0].left]).toEqual([64, 64, 8, 8]);
    expect(await validationDice(thresholdNet, padded)).toBe(1);
    // Predicting the label one column to the right (no padding at divisor 16): pred[i] = L[i − 1], pred[0] = 0.
    const shifted = {
      apply: (x: tf.Tensor) =>
        tf.tidy(() => {
          const logits = tf.concat([tf.sub(0.5, x), tf.sub(x, 0.5)], -1);
          return tf.slice(tf.pad(logits, [[0, 0], [0, 0], [1, 0], [0, 0]], -1), [0, 0, 0, 0], [-1, -1, x.shape[2]!, -1]);
        }),
    } as unknown as Network;
    const [h, w] = [48, 48];
    const L = held[0].label;
    let inter = 0;
    let sum = 0;
    for (let k = 0; k < 2; k++)
      for (let j = 0; j < h; j++)
        for (let i = 0; i < w; i++) {
          const n = (k * h + j) * w + i;
          const pred = i > 0 ? L[n - 1] : 0;
          inter += pred & L[n];
          sum += pred + L[n];
        }
    expect(inter).toBeGreaterThan(0);
    expect(inter).toBeLessThan(sum / 2);
    expect(await validationDice(shifted, validation)).toBeCloseTo((2 * inter) / sum, 12);
  });

  it('resumes exactly: 4 steps, checkpoint, a new trainer does steps 5–8 → the weights of 8 uninterrupted steps (dropout on)', async () => {
    const cfg = config({ steps: 8, checkpointEvery: 4 });
    const straight = await Trainer.create(cfg, { train });
    await straight.run();
    const reference = await weightsOf(straight);

    const store = new MemoryCheckpointStore();
    const first = await Trainer.create({ ...cfg, steps: 4 }, { train, store, key: 'run' });
    await first.run();
    const saved = await store.load('run');
    expect(saved!.step).toBe(4);
    first.dispose();
    // Continue the same run for 8 steps in total, as a fresh process would.
    const second = await Trainer.fromCheckpoint({ ...saved!, config: cfg }, { train, store, key: 'run' });
    expect(second.step).toBe(4);
    await second.run();
    expect(second.step).toBe(8);
    expect(maxDiff(reference, await weightsOf(second))).toBeLessThan(1e-5);
    expect(second.history.slice(0, 4)).toEqual(saved!.history);
    for (let i = 4; i < 8; i++) expect(Math.abs(second.history[i].loss - straight.history[i].loss)).toBeLessThan(1e-5);
    // Dropout (p = 0.3–0.5 in the deeper levels) is active in training mode, yet a second uninterrupted
    // run is identical: the dropout masks come from the seeded stream, not from Math.random.
    const again = await Trainer.create(cfg, { train });
    await again.run();
    expect(maxDiff(reference, await weightsOf(again))).toBe(0);
    straight.dispose();
    second.dispose();
    again.dispose();
  });

  it('keeps tf.memory().numTensors constant across steps (validation and self-ensembling included)', async () => {
    const t = await Trainer.create(
      config({ steps: 7, validateEvery: 3, selfEnsembling: { alpha: 0.9, gate: { minHistory: 2 }, consistency: { lambda: 0.5 } } }),
      { train, validation },
    );
    const guard = new TensorLeakGuard();
    const counts: number[] = [];
    await t.trainStep();
    for (let s = 1; s < 7; s++) {
      await t.trainStep();
      counts.push(guard.check(`step ${s + 1}`));
    }
    expect(new Set(counts).size).toBe(1);
    expect(t.history.filter((h) => h.valDice !== undefined).map((h) => h.step)).toEqual([3, 6, 7]); // every 3rd and the last
    t.dispose();
  });

  it('NR-Dice (paper and PyMIC forms) trains: finite losses that go down', async () => {
    for (const form of ['paper', 'pymic'] as const) {
      const t = await Trainer.create(config({ steps: 12, loss: { kind: 'nrdice', gamma: 1.5, form } }), { train });
      await t.run();
      const losses = t.history.map((h) => h.supervisedLoss);
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(mean(losses.slice(-3))).toBeLessThan(mean(losses.slice(0, 3)));
      t.dispose();
    }
  });

  it('self-ensembling: an injected all-wrong batch is flagged, the teacher skips that update, and moves on the others', async () => {
    const base = new PatchSampler(train, { patchSize: 32, batchSize: 4, augment: false, seed: 5 });
    const BAD = 10;
    // Noisy labels at one step: every label flipped, so the student's loss jumps.
    const sampler = {
      async batch(step: number): Promise<PatchBatch> {
        const b = await base.batch(step);
        if (step !== BAD) return b;
        return { ...b, labels: b.labels.map((v) => 1 - v) };
      },
    };
    const t = await Trainer.create(
      config({ steps: 12, optimizer: { kind: 'adam', schedule: { kind: 'constant', lr: 1e-2 } }, selfEnsembling: { alpha: 0.9, gate: { k: 2, window: 5, minHistory: 5 }, consistency: { lambda: 1 } } }),
      { train, sampler },
    );
    const teacherKeys = [...t.teacherNetwork!.namedParameters()].filter(([, p]) => p.variable.dtype === 'float32').map(([k]) => k);
    const snapshot = async () => {
      const out = new Map<string, Float32Array>();
      for (const [k, v] of await t.teacherNetwork!.stateDict()) if (v.data instanceof Float32Array) out.set(k, v.data);
      return out;
    };
    const moved: number[] = [];
    for (let s = 0; s < 12; s++) {
      const before = await snapshot();
      const info = await t.trainStep();
      moved.push(maxDiff(before, await snapshot(), teacherKeys));
      expect(info.teacher).toBeDefined();
      expect(info.studentMaskFraction).toBeGreaterThanOrEqual(0);
      expect(info.studentMaskFraction).toBeLessThanOrEqual(1);
    }
    const flagged = t.history.map((h, i) => (h.teacherSuppressed ? i : -1)).filter((i) => i >= 0);
    expect(flagged).toEqual([BAD]);
    expect(moved[BAD]).toBe(0);
    expect(moved.filter((_, i) => i !== BAD).every((m) => m > 0)).toBe(true);
    expect(t.history[BAD].supervisedLoss).toBeGreaterThan(2 * t.history[BAD - 1].supervisedLoss);
    t.dispose();
  });

  it('computes the configured supervised loss on the batch (dice per patch / pooled, ce, dicece, nrdice)', async () => {
    const specs: TrainerConfig['loss'][] = [
      { kind: 'dice' },
      { kind: 'dice', batch: true },
      { kind: 'ce' },
      { kind: 'dicece', lambdaDice: 0.5, lambdaCe: 2, batch: true },
      { kind: 'nrdice', gamma: 1.2, form: 'pymic' },
    ];
    const values: number[] = [];
    for (const loss of specs) {
      // Frozen BatchNorm = eval mode: no dropout, so the forward pass can be repeated outside the trainer.
      const t = await Trainer.create(config({ steps: 1, loss, batchNorm: 'frozen' }), { train });
      const b = await new PatchSampler(train, { ...config().patches, seed: 5 }).batch(0);
      const expected = tf.tidy(() => {
        const logits = t.network.apply(tf.tensor4d(b.images, [4, 32, 32, 1]));
        const y = tf.oneHot(tf.tensor3d(b.labels, [4, 32, 32], 'int32'), 2);
        const dice = { softmax: true, includeBackground: false };
        switch (loss.kind) {
          case 'dice':
            return diceLoss(logits, y, { ...dice, batch: loss.batch });
          case 'ce':
            return crossEntropyLoss(logits, y);
          case 'dicece':
            return tf.add(tf.mul(diceLoss(logits, y, { ...dice, batch: true }), 0.5), tf.mul(crossEntropyLoss(logits, y), 2));
          case 'nrdice':
            // Background and lesion averaged, as PyMIC (the trainer's default).
            return nrDiceLoss(logits, y, { gamma: 1.2, form: 'pymic', channels: 'mean' });
        }
      }).dataSync()[0];
      const info = await t.trainStep();
      expect(info.supervisedLoss).toBeCloseTo(expected, 5);
      expect(info.loss).toBe(info.supervisedLoss);
      values.push(expected);
      t.dispose();
    }
    expect(new Set(values.map((v) => v.toFixed(4))).size).toBe(specs.length); // the options really differ
  });

  it('adaptive student: the consistency term counts only samples where the teacher beats the student', async () => {
    // A teacher that equals the student scores the same: no sample passes the strict "better" test.
    const same = await Trainer.create(config({ steps: 2, selfEnsembling: { alpha: 1, consistency: { lambda: 1 } }, batchNorm: 'frozen' }), { train });
    await same.trainStep();
    expect(same.history[0].studentMaskFraction).toBe(0);
    same.dispose();
  });

  it('freezeEncoder leaves the encoder untouched; frozen BatchNorm keeps its running statistics', async () => {
    const t = await Trainer.create(config({ steps: 2, freezeEncoder: true, batchNorm: 'frozen' }), { train });
    const before = await weightsOf(t);
    await t.run();
    const after = await weightsOf(t);
    const keys = [...before.keys()];
    const encoder = keys.filter((k) => /^(in_conv|down\d)\./.test(k));
    const decoder = keys.filter((k) => /^(up\d|out_conv)\./.test(k) && !/running_/.test(k));
    expect(maxDiff(before, after, encoder)).toBe(0);
    expect(maxDiff(before, after, decoder)).toBeGreaterThan(0);
    expect(maxDiff(before, after, keys.filter((k) => /running_(mean|var)$/.test(k)))).toBe(0);
    expect(t.trainedParameterCount).toBeLessThan(t.network.parameterCount());
    t.dispose();
  });

  it('pause saves a checkpoint and waits; resume finishes; cancel stops early', async () => {
    const store = new MemoryCheckpointStore();
    let trainer: Trainer | null = null;
    const t = await Trainer.create(config({ steps: 4 }), {
      train,
      store,
      key: 'p',
      onStep: (s) => {
        if (s.step === 2) trainer!.pause();
      },
    });
    trainer = t;
    const done = t.run();
    while (t.state !== 'paused') await new Promise((r) => setTimeout(r, 5));
    expect(t.step).toBe(2);
    expect((await store.load('p'))!.step).toBe(2);
    t.resume();
    expect(await done).toBe('finished');
    expect(t.step).toBe(4);
    t.dispose();

    const c = await Trainer.create(config({ steps: 10 }), { train, onStep: (s) => s.step === 3 && c.cancel() });
    expect(await c.run()).toBe('cancelled');
    expect(c.step).toBe(3);
    expect(c.state).toBe('cancelled');
    c.dispose();
  });

  it('pause() resolves only once the checkpoint is saved, and when the run ends before it could pause', async () => {
    const store = new MemoryCheckpointStore();
    let paused: Promise<void> | null = null;
    const t = await Trainer.create(config({ steps: 3 }), { train, store, key: 'q', onStep: (s) => void (s.step === 1 && (paused = t.pause())) });
    const done = t.run();
    while (!paused) await new Promise((r) => setTimeout(r, 1));
    await paused;
    // No polling: the promise itself says the checkpoint is there.
    expect(t.state).toBe('paused');
    expect((await store.load('q'))!.step).toBe(1);
    expect((await store.load('q'))!.history.map((h) => h.step)).toEqual([1]);
    t.resume();
    expect(await done).toBe('finished');

    // Asked during the last update: nothing is left to pause, so the promise settles when the run ends.
    const last = await Trainer.create(config({ steps: 1 }), { train, onStep: () => void (paused = last.pause()) });
    paused = null;
    expect(await last.run()).toBe('finished');
    await paused;
    expect(last.state).toBe('finished');
    t.dispose();
    last.dispose();
  });

  it('rejects bad configurations with an InputError', async () => {
    await expect(Trainer.create(config({ steps: -1 }), { train })).rejects.toThrow(/steps must be a non-negative integer/);
    await expect(Trainer.create(config({ model: { kind: 'unet3d' as never } }), { train })).rejects.toThrow(/slice-wise/);
    await expect(Trainer.create(config({ loss: { kind: 'nrdice', gamma: 0 } }), { train })).rejects.toThrow(/γ must be > 0/);
    await expect(Trainer.resume({ train, store: new MemoryCheckpointStore(), key: 'none' })).rejects.toThrow(/no checkpoint/);
  });
});
