/**
 * A small UNetPipe on WebGPU (SwiftShader in Node) against the cpu backend: the whole network, and
 * staged inference with the crossing skips parked in CPU memory (download and re-upload).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { useWebGPU } from '../../tests/webgpu';
import { pipelineInference } from '../engine/parallel/pipeline';
import { stagesOf } from '../engine/parallel/plan';
import { UNetPipe } from './unetpipe';

describe('UNetPipe on WebGPU matches the cpu backend', () => {
  it('n_feat 2, 32³: whole forward and staged inference with parked skips', async () => {
    await tf.setBackend('cpu');
    const ref = new UNetPipe({ nFeat: 2, outChannels: 2, seed: 9 });
    const weights = await ref.stateDict();
    const xData = tf.randomNormal([1, 32, 32, 32, 1], 0, 1, 'float32', 10).dataSync() as Float32Array;
    const want = ref.apply(tf.tensor(xData, [1, 32, 32, 32, 1])).dataSync() as Float32Array;
    ref.dispose();

    await useWebGPU();
    const net = new UNetPipe({ nFeat: 2, outChannels: 2 });
    net.loadStateDict(weights);
    const x = tf.tensor(xData, [1, 32, 32, 32, 1]);
    const whole = (await net.apply(x).data()) as Float32Array;
    const staged = await pipelineInference(net, x, { stages: stagesOf([4, 20, 6]), parkSkips: true });
    const stagedData = (await staged.data()) as Float32Array;
    const maxAbs = Math.max(...Array.from(want, Math.abs));
    let errWhole = 0;
    let errStaged = 0;
    want.forEach((v, i) => {
      errWhole = Math.max(errWhole, Math.abs(whole[i] - v));
      errStaged = Math.max(errStaged, Math.abs(stagedData[i] - v));
    });
    expect(whole.length).toBe(want.length);
    expect(errWhole / maxAbs).toBeLessThan(1e-4);
    expect(errStaged / maxAbs).toBeLessThan(1e-4);
    tf.dispose([x, staged]);
    net.dispose();
  });
});
