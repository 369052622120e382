import type * as tfType from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { useWebGPU } from '../../../tests/webgpu';
import { createNetwork } from '../../models';
import type { StateDict } from '../weights';
import { batchSizeFor, deviceLimits } from './batch-size';
import { DEFAULT_COPLENET_PIPELINE, withSliceContext } from './pipeline';
import { segmentVolume, type SegmentResult } from './segment';
import { slidingWindowInference } from './sliding-window';
import { tinyChest } from './test-chest';

const FEATURES = [2, 4, 8, 16, 32];
const vol = tinyChest(4);
let weights: StateDict;
let onCpu: SegmentResult;
/** A network that takes each slice with one neighbour on either side, and its cpu result. */
let weights3: StateDict;
let onCpu3: SegmentResult;
const CONTEXT = withSliceContext(DEFAULT_COPLENET_PIPELINE, 1);
let gpu: typeof tfType;

beforeAll(async () => {
  await tf.setBackend('cpu');
  const net = createNetwork('coplenet', { features: FEATURES, seed: 21 });
  weights = await net.stateDict();
  onCpu = await segmentVolume(vol, net, DEFAULT_COPLENET_PIPELINE);
  net.dispose();
  const net3 = createNetwork('coplenet', { features: FEATURES, inChannels: 3, seed: 22 });
  weights3 = await net3.stateDict();
  onCpu3 = await segmentVolume(vol, net3, CONTEXT);
  net3.dispose();
  gpu = await useWebGPU();
});

describe('inference on the WebGPU backend (SwiftShader)', () => {
  it('segments the tiny chest like the cpu backend, within the device limits, leaking nothing', async () => {
    expect(gpu.getBackend()).toBe('webgpu');
    const limits = deviceLimits();
    expect(limits!.maxStorageBufferBindingSize).toBeGreaterThan(0);
    const net = createNetwork('coplenet', { features: FEATURES });
    net.loadStateDict(weights);
    const before = gpu.memory().numTensors;
    const res = await segmentVolume(vol, net, DEFAULT_COPLENET_PIPELINE);
    expect(gpu.memory().numTensors).toBe(before);
    net.dispose();
    expect(res.batchSize).toBe(batchSizeFor(32, 32, { features: FEATURES, inChannels: 1, outChannels: 2 }, limits));
    let worst = 0;
    for (let n = 0; n < res.probabilities!.length; n++) worst = Math.max(worst, Math.abs(res.probabilities![n] - onCpu.probabilities![n]));
    expect(worst).toBeLessThan(1e-4);
    let differ = 0;
    for (let n = 0; n < res.mask.length; n++) if (res.mask[n] !== onCpu.mask[n] && Math.abs(onCpu.probabilities![n] - 0.5) > 1e-4) differ++;
    expect(differ).toBe(0);
  });

  it('runs slices with their neighbours as channels (context_slices 1) like the cpu backend', async () => {
    const net = createNetwork('coplenet', { features: FEATURES, inChannels: 3 });
    net.loadStateDict(weights3);
    const res = await segmentVolume(vol, net, CONTEXT);
    net.dispose();
    let worst = 0;
    for (let n = 0; n < res.probabilities!.length; n++) worst = Math.max(worst, Math.abs(res.probabilities![n] - onCpu3.probabilities![n]));
    expect(worst).toBeLessThan(1e-4);
  });

  it('pads by gather (reflect) and blends windows on the device', async () => {
    const x = gpu.tensor([10, 11, 12], [1, 3, 1]);
    let window: number[] = [];
    const y = await slidingWindowInference(
      x,
      6,
      1,
      (w) => {
        window = Array.from(w.dataSync());
        return gpu.mul(w, 2);
      },
      { paddingMode: 'reflect' },
    );
    expect(window).toEqual([11, 10, 11, 12, 11, 10]);
    expect(Array.from(await y.data())).toEqual([20, 22, 24]);
    gpu.dispose([x, y]);
  });
});
