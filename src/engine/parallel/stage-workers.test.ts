/**
 * The stage-worker path without a browser: the worker API exposed with Comlink on MessagePorts, so
 * every call crosses a real structured clone with its buffers handed over, as between Web Workers.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as Comlink from 'comlink';
import { beforeAll, describe, expect, it } from 'vitest';
import { UNetPipe } from '../../models/unetpipe';
import { diceCELoss } from '../training/losses';
import { createOptimizer } from '../training/optim';
import { multiDeviceInference, multiDeviceTrainStep } from './multi-device';
import { stagesOf } from './plan';
import { readLayerWeights, stageConfigs, type StageTraining } from './stage-device';
import { toPlain } from './stage-pass';
import { stageWorkerApi } from './stage-worker-api';
import { spawnStageWorkers, type StageChannel } from './stage-workers';

const TRAINING: StageTraining = { optimizer: { kind: 'adam', schedule: { kind: 'constant', lr: 1e-3 } }, loss: { kind: 'dicece', options: { softmax: true } }, batchNorm: 'frozen' };

function portChannel(): StageChannel {
  const { port1, port2 } = new MessageChannel();
  Comlink.expose(stageWorkerApi(), port1 as unknown as Comlink.Endpoint);
  return {
    endpoint: port2 as unknown as Comlink.Endpoint,
    terminate: () => {
      port1.close();
      port2.close();
    },
    onError: () => undefined,
  };
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('stage workers over message ports', () => {
  it('a training step on 2 stage workers (M=2) equals one Adam step of the whole network; buffers are handed over', async () => {
    const whole = new UNetPipe({ nFeat: 2, outChannels: 2, seed: 5 });
    const before = tf.memory().numTensors;
    const workers = await spawnStageWorkers(await stageConfigs(whole, stagesOf([9, 21]), TRAINING), ['cpu'], portChannel);
    expect(workers.map((w) => w.backend.name)).toEqual(['cpu', 'cpu']);
    const x = tf.randomNormal([2, 32, 32, 32, 1], 0, 1, 'float32', 6);
    const y = tf.tidy(() => tf.oneHot(tf.randomUniform([2, 32, 32, 32], 0, 2, 'int32', 7) as tf.Tensor, 2));
    const step = await multiDeviceTrainStep(workers, await toPlain(x), await toPlain(y), { microBatches: 2 });

    const opt = createOptimizer(TRAINING.optimizer);
    const value = opt.minimize(() => diceCELoss(whole.apply(x, { training: false }), y, { softmax: true }));
    expect(step.loss).toBeCloseTo(value.dataSync()[0], 5);
    const want = await readLayerWeights(whole, { from: 0, to: 30 });
    const got = Object.assign({}, ...(await Promise.all(workers.map((w) => w.weights()))));
    let worst = 0;
    for (const [key, w] of Object.entries(want)) {
      let d = 0;
      let m = 0;
      for (let i = 0; i < w.data.length; i++) {
        d = Math.max(d, Math.abs(got[key].data[i] - w.data[i]));
        m = Math.max(m, Math.abs(w.data[i]));
      }
      worst = Math.max(worst, d / (m || 1));
    }
    expect(worst).toBeLessThan(1e-4);

    // Inference through the same workers equals the updated whole network.
    const ref = whole.apply(x);
    const res = await multiDeviceInference(workers, await toPlain(x), { microBatches: 2 });
    const refData = ref.dataSync();
    let diff = 0;
    for (let i = 0; i < refData.length; i++) diff = Math.max(diff, Math.abs(res.logits.data[i] - refData[i]));
    expect(res.logits.shape).toEqual([2, 32, 32, 32, 2]);
    expect(diff).toBeLessThan(1e-5);
    // An argument's buffer is transferred, not copied: the caller's array is detached.
    const input = await toPlain(x);
    await workers[0].forward(0, input, []);
    expect(input.data.byteLength).toBe(0);
    await workers[0].reset();

    for (const w of workers) await w.dispose();
    await expect(workers[1].info()).rejects.toMatchObject({ name: 'AbortError' });
    tf.dispose([x, y, value, ref]);
    opt.dispose();
    expect(tf.memory().numTensors).toBe(before);
    whole.dispose();
  });

  it('if one worker fails to start, the spawn rejects with its error and every worker is ended', async () => {
    const net = new UNetPipe({ nFeat: 2, outChannels: 2, seed: 8 });
    const configs = await stageConfigs(net, stagesOf([9, 21]));
    net.dispose();
    const before = tf.memory().numTensors;
    configs[1].weights!['decoder_4_out.bias'] = { data: new Float32Array(3), shape: [3] };
    let ended = 0;
    const counted = () => {
      const c = portChannel();
      return { ...c, terminate: () => (ended++, c.terminate()) };
    };
    await expect(spawnStageWorkers(configs, ['cpu'], counted)).rejects.toThrow('decoder_4_out.bias: shape [3] != [2]');
    expect(ended).toBe(2);
    // The failed device freed its variables; the started one went with its worker (here: still in this process).
    expect(tf.memory().numTensors - before).toBe(Object.keys(configs[0].weights!).length);
  });
});
