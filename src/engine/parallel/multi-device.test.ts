import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { relErr } from '../../../tests/compare';
import { UNetPipe } from '../../models/unetpipe';
import { diceCELoss } from '../training/losses';
import { accumulateGradients, createOptimizer, type OptimizerOptions } from '../training/optim';
import { multiDeviceGradients, multiDeviceInference, multiDeviceTrainStep } from './multi-device';
import type { PipelineProgress } from './pipeline';
import { stagesOf, type Stage } from './plan';
import { readLayerWeights, StageDevice, stageConfigs, type StageDeviceApi, type StageTraining } from './stage-device';
import { toPlain, type PlainTensor } from './stage-pass';

const CLASSES = 3;
const WHOLE: Stage = { from: 0, to: 30 };
// K = 3 as in pipeline.test.ts: namespace 0 crosses from stage 0 to stage 2 over stage 1.
const STAGES = stagesOf([10, 14, 6]);
const ADAM: OptimizerOptions = { kind: 'adam', schedule: { kind: 'constant', lr: 1e-3 }, weightDecay: 1e-2 };
const loss = (logits: tf.Tensor, target: tf.Tensor) => diceCELoss(logits, target, { softmax: true });
const TRAINING: StageTraining = { optimizer: ADAM, loss: { kind: 'dicece', options: { softmax: true } }, batchNorm: 'frozen' };

/** A net whose BatchNorm statistics are not the identity. */
function net(seed: number, nFeat = 4): UNetPipe {
  const n = new UNetPipe({ nFeat, outChannels: CLASSES, seed });
  for (const [key, p] of n.namedParameters()) {
    if (key.endsWith('running_var')) p.variable.assign(tf.randomUniform(p.variable.shape, 0.5, 2, 'float32', seed + 1));
    if (key.endsWith('running_mean')) p.variable.assign(tf.randomNormal(p.variable.shape, 0, 0.2, 'float32', seed + 2));
  }
  return n;
}

/** Separate stage devices (own network instances and variables) holding `whole`'s weights. */
async function devicesOf(whole: UNetPipe, stages: readonly Stage[], training?: StageTraining): Promise<StageDevice[]> {
  return (await stageConfigs(whole, stages, training)).map((c) => new StageDevice(c));
}

async function batch(n: number, seed: number): Promise<{ x: tf.Tensor; y: tf.Tensor; px: PlainTensor; py: PlainTensor }> {
  const x = tf.randomNormal([n, 32, 32, 32, 1], 0, 1, 'float32', seed);
  const y = tf.tidy(() => tf.oneHot(tf.randomUniform([n, 32, 32, 32], 0, CLASSES, 'int32', seed + 1) as tf.Tensor, CLASSES));
  return { x, y, px: await toPlain(x), py: await toPlain(y) };
}

let owned: { dispose(): unknown }[] = [];
afterEach(async () => {
  for (const o of owned.splice(0)) await o.dispose();
});

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('GPipe over stage devices', () => {
  it('K=3, M=2, frozen BatchNorm: the gradients and one Adam step (with weight decay) equal unpartitioned training', async () => {
    const whole = net(10);
    const devices = await devicesOf(whole, STAGES, TRAINING);
    owned.push(whole, ...devices);
    const { x, y, px, py } = await batch(2, 20);
    const events: PipelineProgress[] = [];
    const got = await multiDeviceGradients(devices, px, py, { microBatches: 2, onProgress: (e) => events.push(e) });
    const ref = tf.variableGrads(() => loss(whole.apply(x, { training: false }), y), whole.trainableVariables());
    expect(got.loss).toBeCloseTo(ref.value.dataSync()[0], 5);
    const grads = Object.assign({}, ...(await Promise.all(devices.map((d) => d.gradients()))));
    let worst = 0;
    let count = 0;
    for (const [key, p] of whole.namedParameters()) {
      if (!p.trainable) continue;
      count++;
      worst = Math.max(worst, relErr(grads[key].data, ref.grads[p.variable.name].dataSync()));
    }
    expect(count).toBe(63);
    expect(Object.keys(grads)).toHaveLength(63);
    expect(worst).toBeLessThan(1e-4);
    expect(events.filter((e) => e.phase === 'forward').map((e) => `${e.stage}:${e.microBatch}`).sort()).toEqual(['0:0', '0:1', '1:0', '1:1']);
    expect(events.filter((e) => e.phase === 'backward')).toHaveLength(3 * 2);

    // One Adam step everywhere: each stage's optimizer vs one optimizer over the whole network.
    const w0 = (await readLayerWeights(whole, WHOLE))['decoder_4_out.weight'].data;
    await Promise.all(devices.map((d) => d.applyGradients()));
    const opt = createOptimizer(ADAM);
    opt.applyGradients(ref.grads);
    tf.dispose([...Object.values(ref.grads), ref.value]);
    const after = await readLayerWeights(whole, WHOLE);
    const staged = Object.assign({}, ...(await Promise.all(devices.map((d) => d.weights()))));
    expect(Object.keys(staged).sort()).toEqual(Object.keys(after).sort());
    for (const [key, w] of Object.entries(after)) expect(relErr(staged[key].data, w.data), key).toBeLessThan(1e-4);
    // The step moved the weights (Adam's first step ≈ lr per weight).
    expect(relErr(staged['decoder_4_out.weight'].data, w0)).toBeGreaterThan(1e-4);
    opt.dispose();
    tf.dispose([x, y]);
  });

  it('K=2, M=2, BatchNorm in training mode: gradients, loss and running statistics equal training per micro-batch', async () => {
    const whole = net(30);
    const devices = await devicesOf(whole, stagesOf([4, 26]), { ...TRAINING, batchNorm: 'train' });
    owned.push(whole, ...devices);
    const { x, y, px, py } = await batch(2, 40);
    const before = tf.memory().numTensors;
    const step = await multiDeviceTrainStep(devices, px, py, { microBatches: 2 });
    const want = accumulateGradients(2, (i) => tf.mul(loss(whole.apply(tf.slice(x, i, 1), { training: true }), tf.slice(y, i, 1)), 0.5) as tf.Scalar, {
      varList: whole.trainableVariables(),
      average: false,
    });
    expect(step.loss).toBeCloseTo(want.loss.dataSync()[0], 5);
    const opt = createOptimizer(ADAM);
    opt.applyGradients(want.grads);
    tf.dispose([...Object.values(want.grads), want.loss]);
    const after = await readLayerWeights(whole, WHOLE);
    const staged = Object.assign({}, ...(await Promise.all(devices.map((d) => d.weights()))));
    for (const key of ['encoder_0_Conv_norm.running_mean', 'decoder_3_Conv.conv.0.norm.running_var', 'decoder_4_out.weight', 'encoder_1_Down.conv.0.conv.weight']) {
      expect(relErr(staged[key].data, after[key].data), key).toBeLessThan(1e-4);
    }
    expect(Array.from(staged['encoder_1_Down.conv.0.norm.num_batches_tracked'].data)).toEqual([2]);
    opt.dispose();
    tf.dispose([x, y]);
    // Two Adam moments per trainable tensor and each device's Adam constants (β1, 1 − β1, β2, 1 − β2, ε:
    // adam.ts) are all a step leaves behind (x and y, counted in "before", are gone).
    expect(tf.memory().numTensors - before).toBe(2 * 63 + 5 * devices.length - 2);
  });

  it('inference by K=4 devices, M=2, equals the whole network', async () => {
    const whole = net(70, 2);
    const devices = await devicesOf(whole, stagesOf([3, 1, 20, 6]));
    owned.push(whole, ...devices);
    const x = tf.randomNormal([3, 32, 32, 32, 1], 0, 1, 'float32', 71);
    const ref = whole.apply(x);
    const before = tf.memory().numTensors;
    const events: string[] = [];
    const { logits: y, busyMs, wallMs } = await multiDeviceInference(devices, await toPlain(x), { microBatches: 2, onProgress: (e) => events.push(`${e.stage}:${e.microBatch}`) });
    expect(busyMs).toHaveLength(4);
    expect(Math.min(...busyMs)).toBeGreaterThan(0);
    expect(Math.max(...busyMs)).toBeLessThanOrEqual(wallMs);
    expect(y.shape).toEqual([3, 32, 32, 32, CLASSES]);
    expect(relErr(y.data, ref.dataSync())).toBeLessThan(1e-6);
    expect(events.sort()).toEqual(['0:0', '0:1', '1:0', '1:1', '2:0', '2:1', '3:0', '3:1']);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, ref]);
  });
});

/** A device whose every call takes at least `ms` and is logged as `<op> <stage>:<mb> start|end`. */
function instrumented(dev: StageDeviceApi, stage: number, log: string[], ms: number, fail?: string): StageDeviceApi {
  const wrap =
    <A extends unknown[], R>(op: string, f: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      const tag = `${op} ${stage}:${typeof a[0] === 'number' ? a[0] : '-'}`;
      log.push(`${tag} start`);
      await new Promise((r) => setTimeout(r, ms));
      if (fail === op) throw new Error(`device ${stage} lost`);
      const r = await f(...a);
      log.push(`${tag} end`);
      return r;
    };
  return {
    ...dev,
    info: () => dev.info(),
    forward: wrap('forward', dev.forward.bind(dev)),
    backward: wrap('backward', dev.backward.bind(dev)),
    lastStep: wrap('lastStep', dev.lastStep.bind(dev)),
    infer: wrap('infer', dev.infer.bind(dev)),
    reset: () => dev.reset(),
    gradients: () => dev.gradients(),
    applyGradients: () => dev.applyGradients(),
    weights: () => dev.weights(),
    memory: () => dev.memory(),
    dispose: () => dev.dispose(),
  };
}

describe('schedule, cancel and failure', () => {
  it('stages overlap: stage 1 starts micro-batch 0 before stage 0 finishes micro-batch 1', async () => {
    const whole = net(90, 2);
    const devices = await devicesOf(whole, stagesOf([12, 18]), TRAINING);
    owned.push(whole, ...devices);
    const { x, y, px, py } = await batch(3, 91);
    const log: string[] = [];
    const { busyMs, wallMs } = await multiDeviceGradients(devices.map((d, j) => instrumented(d, j, log, 30)), px, py, { microBatches: 3 });
    // Each stage waits ≥ 30 ms in each of its calls (3 forwards + 3 backwards; 3 last steps) while the
    // other works: the busy times add up to more than the wall time.
    expect(busyMs[0]).toBeGreaterThanOrEqual(6 * 29);
    expect(busyMs[1]).toBeGreaterThanOrEqual(3 * 29);
    expect(busyMs[0] + busyMs[1]).toBeGreaterThan(wallMs);
    const at = (e: string) => log.indexOf(e);
    expect(at('lastStep 1:0 start')).toBeGreaterThan(at('forward 0:0 end'));
    expect(at('lastStep 1:0 start')).toBeLessThan(at('forward 0:1 end'));
    expect(at('lastStep 1:1 start')).toBeLessThan(at('forward 0:2 end'));
    // GPipe flush: stage 0's backwards follow all its forwards, in micro-batch order.
    expect(at('backward 0:0 start')).toBeGreaterThan(at('forward 0:2 end'));
    expect(log.filter((e) => e.startsWith('backward') && e.endsWith('start'))).toEqual(['backward 0:0 start', 'backward 0:1 start', 'backward 0:2 start']);
    await Promise.all(devices.map((d) => d.reset()));
    tf.dispose([x, y]);
  });

  it('an abort mid-step rejects with its reason and leaves no tensor on any device', async () => {
    const whole = net(50, 2);
    const devices = await devicesOf(whole, STAGES, TRAINING);
    owned.push(whole, ...devices);
    const { x, y, px, py } = await batch(2, 60);
    tf.dispose([x, y]);
    const before = tf.memory().numTensors;
    const ctrl = new AbortController();
    const reason = new DOMException('user cancelled', 'AbortError');
    const run = multiDeviceTrainStep(devices, px, py, { microBatches: 2, signal: ctrl.signal, onProgress: (e) => e.phase === 'backward' && e.stage === 2 && ctrl.abort(reason) });
    await expect(run).rejects.toBe(reason);
    expect(tf.memory().numTensors).toBe(before);
    // Nothing was applied: the weights are the whole network's still.
    const w = await devices[0].weights();
    expect(relErr(w['encoder_0_Conv_conv.weight'].data, (await readLayerWeights(whole, WHOLE))['encoder_0_Conv_conv.weight'].data)).toBe(0);
  });

  it('an abort during inference rejects with its reason once the calls in flight are done, leaving no tensor', async () => {
    const whole = net(57, 2);
    const devices = await devicesOf(whole, STAGES);
    owned.push(whole, ...devices);
    const x = tf.randomNormal([2, 32, 32, 32, 1], 0, 1, 'float32', 58);
    const px = await toPlain(x);
    x.dispose();
    const before = tf.memory().numTensors;
    const ctrl = new AbortController();
    const log: string[] = [];
    const slow = devices.map((d, j) => instrumented(d, j, log, 5));
    const run = multiDeviceInference(slow, px, { microBatches: 2, signal: ctrl.signal, onProgress: (e) => e.stage === 0 && e.microBatch === 0 && ctrl.abort() });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(tf.memory().numTensors).toBe(before);
    // Stage 2 never started: the abort came after stage 0's first micro-batch.
    expect(log.filter((e) => e.startsWith('infer 2'))).toEqual([]);
    expect(log.filter((e) => e.endsWith('start')).length).toBe(log.filter((e) => e.endsWith('end')).length);
  });

  it('a failing device rejects the step with its error and everything is freed', async () => {
    const whole = net(55, 2);
    const devices = await devicesOf(whole, STAGES, TRAINING);
    owned.push(whole, ...devices);
    const { x, y, px, py } = await batch(2, 65);
    tf.dispose([x, y]);
    const before = tf.memory().numTensors;
    const log: string[] = [];
    const flaky = devices.map((d, j) => instrumented(d, j, log, 1, j === 1 ? 'backward' : undefined));
    await expect(multiDeviceTrainStep(flaky, px, py, { microBatches: 2 })).rejects.toThrow('device 1 lost');
    expect(tf.memory().numTensors).toBe(before);
    expect(log).not.toContain('backward 0:0 start');
    // Devices out of order are refused before anything runs.
    await expect(multiDeviceInference([devices[1], devices[0], devices[2]], px)).rejects.toThrow(/contiguous layer ranges/);
  });
});
