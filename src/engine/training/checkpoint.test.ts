import 'fake-indexeddb/auto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../weights';
import { checkKey, loadOptimizerState, MemoryCheckpointStore, saveOptimizerState, type CheckpointStore, type TrainingCheckpoint } from './checkpoint';
import { IdbCheckpointStore } from './checkpoint-idb';
import { NodeCheckpointStore } from './checkpoint-node';
import { createOptimizer, type OptimizerOptions } from './optim';

let dir = '';
beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'ckpt-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sample = (step: number, withTeacher: boolean): TrainingCheckpoint => ({
  weights: Uint8Array.from([1, 2, 3, step]),
  optimizerState: Uint8Array.from([9, 8, 7]),
  step,
  config: {
    model: { kind: 'coplenet', features: [4, 8, 16, 32, 64], seed: 1 },
    loss: { kind: 'nrdice', gamma: 1.5, form: 'paper' },
    optimizer: { kind: 'adam', schedule: { kind: 'cosine', lr: 1e-3, totalSteps: 10 } },
    steps: 10,
    patches: { patchSize: 32, batchSize: 2, augment: { flipProb: 0.5 } },
    seed: 3,
  },
  history: [{ step: 1, loss: 0.5, supervisedLoss: 0.5, lr: 1e-3, seconds: 0.1, valDice: 0.25 }],
  ...(withTeacher ? { teacher: { weights: Uint8Array.from([5, 5]), updates: step, recentLosses: [0.5, 0.25] }, dataOptions: { labels: 'staple', validationFraction: 0.2, extra: true } } : {}),
  savedAt: '2025-01-01T00:00:00.000Z',
});

async function roundTrip(store: CheckpointStore): Promise<void> {
  expect(await store.load('a')).toBeNull();
  await store.save('a', sample(3, false));
  await store.save('b-2.x', sample(5, true));
  expect(await store.list()).toEqual(['a', 'b-2.x']);
  expect(await store.load('a')).toEqual(sample(3, false));
  const b = await store.load('b-2.x');
  expect(b).toEqual(sample(5, true));
  expect(b!.weights).toBeInstanceOf(Uint8Array);
  await store.save('a', sample(4, false)); // overwrite
  expect((await store.load('a'))!.step).toBe(4);
  await store.delete('a');
  expect(await store.load('a')).toBeNull();
  expect(await store.list()).toEqual(['b-2.x']);
  await expect(store.save('../x', sample(1, false))).rejects.toThrow(/bad checkpoint key/);
}

describe('checkpoint stores', () => {
  it('memory store: save, load (copies), list, overwrite, delete', async () => {
    const store = new MemoryCheckpointStore();
    await roundTrip(store);
    const c = sample(1, false);
    await store.save('c', c);
    c.weights[0] = 99;
    expect((await store.load('c'))!.weights[0]).toBe(1);
  });

  it('node file store: the same, as files; state.json last; missing files are named', async () => {
    const store = new NodeCheckpointStore(join(dir, 'node'));
    expect(await store.list()).toEqual([]);
    await roundTrip(store);
    expect((await readdir(join(dir, 'node', 'b-2.x'))).sort()).toEqual(['optimizer.safetensors', 'state.json', 'teacher.safetensors', 'weights.safetensors']);
    await rm(join(dir, 'node', 'b-2.x', 'teacher.safetensors'));
    await expect(store.load('b-2.x')).rejects.toThrow(/teacher\.safetensors: missing from the checkpoint/);
    await writeFile(join(dir, 'node', 'b-2.x', 'state.json'), '{nope');
    await expect(store.load('b-2.x')).rejects.toThrow(/state\.json: not valid JSON/);
  });

  it('IndexedDB store (fake-indexeddb): the same', async () => {
    const store = new IdbCheckpointStore('test-checkpoints');
    await roundTrip(store);
    store.close();
  });

  it('checkKey accepts file-safe names only', () => {
    expect(checkKey('coplenet-seed1')).toBe('coplenet-seed1');
    for (const bad of ['', '.hidden', 'a/b', 'a b', 'x'.repeat(101)]) expect(() => checkKey(bad)).toThrow(/bad checkpoint key/);
  });
});

describe('optimizer state', () => {
  // Two "parameters", their state-dict keys, and a quadratic loss.
  const target = [tf.tensor1d([1, -2, 3]), tf.tensor2d([[0.5, 0.25]])];
  function setup() {
    const vars: tf.Variable[] = [tf.variable(tf.tensor1d([0, 0, 0])), tf.variable(tf.tensor2d([[1, 1]]))];
    const keys = new Map(vars.map((v, i) => [v.name, `layer.${i}.weight`]));
    const names = new Map(vars.map((v, i) => [`layer.${i}.weight`, v.name]));
    const loss = () => tf.addN(vars.map((v, i) => tf.sum(tf.square(tf.sub(v, target[i]))))) as tf.Scalar;
    return { vars, keys, names, loss };
  }

  for (const options of [
    { kind: 'adam', schedule: { kind: 'step', lr: 0.1, stepSize: 2, gamma: 0.5 } },
    { kind: 'sgd', schedule: { kind: 'constant', lr: 0.05 }, momentum: 0.9 },
  ] as OptimizerOptions[]) {
    it(`${options.kind}: slots saved under state-dict keys; a fresh optimizer on new variables continues identically`, async () => {
      const a = setup();
      const optA = createOptimizer(options);
      for (let s = 0; s < 3; s++) optA.minimize(a.loss, a.vars).dispose();
      const bytes = await saveOptimizerState(optA, a.keys);
      const { stateDict, metadata } = readSafetensors(bytes, 'state');
      expect(metadata).toEqual({ kind: options.kind, iterations: '3', step: '3' });
      expect([...stateDict.keys()]).toEqual(options.kind === 'adam' ? ['layer.0.weight/m', 'layer.1.weight/m', 'layer.0.weight/v', 'layer.1.weight/v'] : ['layer.0.weight/momentum', 'layer.1.weight/momentum']);

      const b = setup();
      b.vars.forEach((v, i) => v.assign(a.vars[i]));
      const optB = createOptimizer(options);
      const before = tf.memory().numTensors;
      await loadOptimizerState(optB, bytes, b.names);
      expect(optB.step).toBe(3);
      expect(optB.learningRate).toBe(optA.learningRate);
      expect(tf.memory().numTensors).toBe(before + stateDict.size);
      for (let s = 0; s < 2; s++) {
        optA.minimize(a.loss, a.vars).dispose();
        optB.minimize(b.loss, b.vars).dispose();
      }
      for (let i = 0; i < 2; i++) expect(Array.from(b.vars[i].dataSync())).toEqual(Array.from(a.vars[i].dataSync()));
      await expect(loadOptimizerState(createOptimizer({ ...options, kind: options.kind === 'adam' ? 'sgd' : 'adam' }), bytes, b.names)).rejects.toThrow(/saved for/);
      await expect(loadOptimizerState(createOptimizer(options), bytes, new Map())).rejects.toThrow(/fits no parameter/);
      optA.dispose();
      optB.dispose();
      tf.dispose([...a.vars, ...b.vars]);
    });
  }
});
