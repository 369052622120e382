/**
 * Stage devices on WebGPU (SwiftShader in Node): a tiny UNetPipe split over two in-process stage
 * devices gives the cpu backend's whole-network logits, and leaves nothing on the device.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { useWebGPU } from '../../../tests/webgpu';
import { UNetPipe } from '../../models/unetpipe';
import { multiDeviceInference } from './multi-device';
import { stagesOf } from './plan';
import { StageDevice, stageConfigs } from './stage-device';

describe('stage devices on WebGPU', () => {
  it('n_feat 2, 32³, K=2, M=2: the logits equal the cpu backend whole network', async () => {
    await tf.setBackend('cpu');
    const ref = new UNetPipe({ nFeat: 2, outChannels: 2, seed: 11 });
    const x = tf.randomNormal([2, 32, 32, 32, 1], 0, 1, 'float32', 12);
    const want = ref.apply(x).dataSync() as Float32Array;
    const configs = await stageConfigs(ref, stagesOf([12, 18]));
    const input = { data: x.dataSync() as Float32Array, shape: x.shape };
    tf.dispose([x]);
    ref.dispose();

    await useWebGPU();
    const devices = configs.map((c) => new StageDevice(c));
    expect((await devices[1].info()).backend).toBe('webgpu');
    const before = tf.memory().numTensors;
    const { logits } = await multiDeviceInference(devices, input, { microBatches: 2 });
    expect(tf.memory().numTensors).toBe(before);
    let err = 0;
    let maxAbs = 0;
    for (let i = 0; i < want.length; i++) {
      err = Math.max(err, Math.abs(logits.data[i] - want[i]));
      maxAbs = Math.max(maxAbs, Math.abs(want[i]));
    }
    expect(logits.shape).toEqual([2, 32, 32, 32, 2]);
    expect(err / maxAbs).toBeLessThan(1e-4);
    for (const d of devices) await d.dispose();
    expect(tf.memory().numTensors).toBe(before - configs.reduce((n, c) => n + Object.keys(c.weights!).length, 0));
  });
});
