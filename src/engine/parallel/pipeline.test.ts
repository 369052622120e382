import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { relErr } from '../../../tests/compare';
import { UNetPipe } from '../../models/unetpipe';
import { diceCELoss } from '../training/losses';
import { accumulateGradients, createOptimizer } from '../training/optim';
import { chunkSizes, pipelineGradients, pipelineInference, pipelineTrainStep, type PipelineProgress } from './pipeline';
import { stagesOf } from './plan';

// K = 3: stage 1 starts right after encoder_3_skip, so the skip it pops at decoder_0_skip is its own
// input tensor; namespace 0 crosses from stage 0 to stage 2 over stage 1; 1 and 2 cross 0 -> 1.
const STAGES = stagesOf([10, 14, 6]);
const CLASSES = 3;

/** Two nets with the same weights, and a BatchNorm state that is not the identity. */
async function twinNets(seed: number): Promise<[UNetPipe, UNetPipe]> {
  const a = new UNetPipe({ nFeat: 4, outChannels: CLASSES, seed });
  for (const [key, p] of a.namedParameters()) {
    if (key.endsWith('running_var')) p.variable.assign(tf.randomUniform(p.variable.shape, 0.5, 2, 'float32', seed + 1));
    if (key.endsWith('running_mean')) p.variable.assign(tf.randomNormal(p.variable.shape, 0, 0.2, 'float32', seed + 2));
  }
  const b = new UNetPipe({ nFeat: 4, outChannels: CLASSES });
  b.loadStateDict(await a.stateDict());
  return [a, b];
}

function batch(n: number, seed: number): { x: tf.Tensor; y: tf.Tensor } {
  const x = tf.randomNormal([n, 32, 32, 32, 1], 0, 1, 'float32', seed);
  const labels = tf.randomUniform([n, 32, 32, 32], 0, CLASSES, 'int32', seed + 1);
  const y = tf.oneHot(labels as tf.Tensor, CLASSES);
  labels.dispose();
  return { x, y };
}

const loss = (logits: tf.Tensor, target: tf.Tensor) => diceCELoss(logits, target, { softmax: true });

function gradsByKey(net: UNetPipe, grads: tf.NamedTensorMap): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [key, p] of net.namedParameters()) if (p.trainable) out.set(key, grads[p.variable.name].dataSync() as Float32Array);
  return out;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('chunkSizes', () => {
  it('follows torch.chunk', () => {
    expect(chunkSizes(4, 2)).toEqual([2, 2]);
    expect(chunkSizes(5, 2)).toEqual([3, 2]);
    expect(chunkSizes(5, 4)).toEqual([2, 2, 1]);
    expect(chunkSizes(2, 3)).toEqual([1, 1]);
    expect(() => chunkSizes(2, 0)).toThrow(/positive integer/);
  });
});

describe('pipeline training (GPipe, checkpointing)', () => {
  it('frozen BatchNorm: K=3, M=2 gives the whole-batch gradients and the same weights after one Adam step', async () => {
    const [pipe, whole] = await twinNets(10);
    const { x, y } = batch(2, 20);
    const events: PipelineProgress[] = [];
    const before = tf.memory().numTensors;
    const got = await pipelineGradients(pipe, x, y, { stages: STAGES, microBatches: 2, loss, batchNorm: 'frozen', onProgress: (e) => events.push(e) });
    const ref = tf.variableGrads(() => loss(whole.apply(x, { training: false }), y), whole.trainableVariables());
    const refLoss = ref.value.dataSync()[0];
    expect(got.loss).toBeCloseTo(refLoss, 5);
    const a = gradsByKey(pipe, got.grads);
    const b = gradsByKey(whole, ref.grads);
    expect(a.size).toBe(63); // every trainable tensor gets a gradient (nFeat 4: same keys as the spec list)
    let worst = 0;
    for (const [key, g] of b) worst = Math.max(worst, relErr(a.get(key)!, g));
    expect(worst).toBeLessThan(1e-4);
    expect(events.filter((e) => e.phase === 'forward')).toHaveLength(2 * 2); // stages 0, 1 of each micro-batch
    expect(events.filter((e) => e.phase === 'backward').map((e) => `${e.microBatch}:${e.stage}`)).toEqual(['0:2', '0:1', '0:0', '1:2', '1:1', '1:0']);
    tf.dispose([...Object.values(got.grads), ...Object.values(ref.grads), ref.value]);
    expect(tf.memory().numTensors).toBe(before);

    // One Adam step each: the pipeline's and the whole-batch update agree.
    const optA = createOptimizer({ kind: 'adam', schedule: { kind: 'constant', lr: 1e-3 } });
    const optB = createOptimizer({ kind: 'adam', schedule: { kind: 'constant', lr: 1e-3 } });
    const w0 = (await whole.stateDict()).get('decoder_4_out.weight')!.data as Float32Array;
    const step = await pipelineTrainStep(pipe, optA, x, y, { stages: STAGES, microBatches: 2, loss, batchNorm: 'frozen' });
    expect(step.loss).toBeCloseTo(refLoss, 5);
    optB.minimize(() => loss(whole.apply(x, { training: false }), y)).dispose();
    const wa = await pipe.stateDict();
    const wb = await whole.stateDict();
    for (const [key, t] of wb) if (t.dtype === 'float32') expect(relErr(wa.get(key)!.data as Float32Array, t.data as Float32Array), key).toBeLessThan(1e-4);
    // Adam's first step moves each weight by ≈ lr.
    const w1 = wa.get('decoder_4_out.weight')!.data as Float32Array;
    expect(Math.max(...Array.from(w1, (v, i) => Math.abs(v - w0[i])))).toBeCloseTo(1e-3, 6);
    tf.dispose([x, y]);
    [optA, optB].forEach((o) => o.dispose());
    [pipe, whole].forEach((n) => n.dispose());
  });

  it('training BatchNorm: equals unpartitioned training per micro-batch, running statistics updated once per micro-batch', async () => {
    const [pipe, ref] = await twinNets(30);
    const { x, y } = batch(2, 40);
    const got = await pipelineGradients(pipe, x, y, { stages: stagesOf([4, 20, 6]), microBatches: 2, loss, batchNorm: 'train' });
    const want = accumulateGradients(2, (i) => loss(ref.apply(tf.slice(x, i, 1), { training: true }), tf.slice(y, i, 1)), { varList: ref.trainableVariables() });
    expect(got.loss).toBeCloseTo(want.loss.dataSync()[0], 5);
    const a = gradsByKey(pipe, got.grads);
    const b = gradsByKey(ref, want.grads);
    let worst = 0;
    for (const [key, g] of b) worst = Math.max(worst, relErr(a.get(key)!, g));
    expect(worst).toBeLessThan(1e-4);
    const sa = await pipe.stateDict();
    const sb = await ref.stateDict();
    for (const key of ['encoder_0_Conv_norm.running_mean', 'decoder_3_Conv.conv.0.norm.running_var', 'decoder_3_Conv.conv.0.norm.num_batches_tracked']) {
      const u = Array.from(sa.get(key)!.data as Float32Array, Number);
      const v = Array.from(sb.get(key)!.data as Float32Array, Number);
      expect(relErr(u, v), key).toBeLessThan(1e-5);
    }
    expect(Number(sa.get('encoder_1_Down.conv.0.norm.num_batches_tracked')!.data[0])).toBe(2);
    tf.dispose([...Object.values(got.grads), ...Object.values(want.grads), want.loss, x, y]);
    [pipe, ref].forEach((n) => n.dispose());
  });

  it('an abort between stages rejects and frees every tensor', async () => {
    const [net, other] = await twinNets(50);
    other.dispose();
    const { x, y } = batch(2, 60);
    const before = tf.memory().numTensors;
    const ctrl = new AbortController();
    const run = pipelineGradients(net, x, y, {
      stages: STAGES,
      microBatches: 2,
      loss,
      batchNorm: 'frozen',
      signal: ctrl.signal,
      onProgress: (e) => e.phase === 'backward' && e.stage === 1 && ctrl.abort(),
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, y]);
    net.dispose();
  });

  it('rejects stages that do not cover the network', async () => {
    const net = new UNetPipe({ nFeat: 2, outChannels: 2, seed: 1 });
    const x = tf.zeros([1, 32, 32, 32, 1]);
    await expect(pipelineGradients(net, x, x, { stages: stagesOf([10, 10]), loss, batchNorm: 'frozen' })).rejects.toThrow(/stages end at layer 20/);
    await expect(pipelineInference(net, x, { stages: [{ from: 0, to: 12 }, { from: 11, to: 30 }] })).rejects.toThrow(/contiguous/);
    x.dispose();
    net.dispose();
  });
});

describe('pipeline inference', () => {
  it.each([false, true])('stage by stage (parkSkips %s) equals the whole forward pass and leaks nothing', async (parkSkips) => {
    const net = new UNetPipe({ nFeat: 4, outChannels: CLASSES, seed: 70 });
    const x = tf.randomNormal([3, 32, 32, 32, 1], 0, 1, 'float32', 71);
    const whole = net.apply(x);
    const before = tf.memory().numTensors;
    const events: string[] = [];
    const y = await pipelineInference(net, x, { stages: stagesOf([3, 1, 20, 6]), microBatches: 2, parkSkips, onProgress: (e) => events.push(`${e.microBatch}:${e.stage}`) });
    expect(y.shape).toEqual([3, 32, 32, 32, CLASSES]);
    expect(relErr(y.dataSync(), whole.dataSync())).toBeLessThan(1e-6);
    expect(events).toEqual(['0:0', '0:1', '0:2', '0:3', '1:0', '1:1', '1:2', '1:3']);
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, whole]);
    net.dispose();
  });

  it('an abort between stages rejects and frees every tensor', async () => {
    const net = new UNetPipe({ nFeat: 2, outChannels: 2, seed: 80 });
    const x = tf.randomNormal([1, 32, 32, 32, 1], 0, 1, 'float32', 81);
    const before = tf.memory().numTensors;
    const ctrl = new AbortController();
    const run = pipelineInference(net, x, { stages: STAGES, parkSkips: true, signal: ctrl.signal, onProgress: (e) => e.stage === 1 && ctrl.abort() });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    net.dispose();
  });

  it('inference is cancelled inside a stage: the signal is read before every layer', async () => {
    const net = new UNetPipe({ nFeat: 2, outChannels: 2, seed: 82 });
    const x = tf.randomNormal([1, 32, 32, 32, 1], 0, 1, 'float32', 83);
    const before = tf.memory().numTensors;
    let reads = 0;
    // Aborted from the 5th read on: one stage holding every layer must stop at its 5th layer.
    const signal = { get aborted() { return ++reads >= 5; }, reason: new DOMException('stop', 'AbortError') } as AbortSignal;
    const progress: number[] = [];
    const run = pipelineInference(net, x, { stages: [{ from: 0, to: net.layers.length }], signal, onProgress: (e) => progress.push(e.stage) });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(reads).toBe(5);
    expect(progress).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    net.dispose();
  });
});
