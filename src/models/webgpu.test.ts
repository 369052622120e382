/**
 * The 3D paths (conv3d, max-pool 3D, transposed conv as matMul + transposes, trilinear gathers,
 * BatchNorm on 5D) give the same numbers on WebGPU as on the cpu backend. Tiny shapes: SwiftShader.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { useWebGPU } from '../../tests/webgpu';
import { Conv } from './blocks/layers';
import { SeedSource } from './blocks/module';
import { UNet3D } from './unet3d';

describe('3D layers on WebGPU match the cpu backend', () => {
  it('stride-2 conv3d with PyTorch padding (the LAMP encoder convolution)', async () => {
    await tf.setBackend('cpu');
    const conv = new Conv({ dims: 3, inChannels: 2, outChannels: 3, kernelSize: 3, stride: 2, seed: new SeedSource(1) });
    const w = conv.weight.dataSync().slice();
    const b = conv.bias!.dataSync().slice();
    const x = tf.randomNormal([1, 6, 8, 10, 2], 0, 1, 'float32', 2);
    const xData = x.dataSync().slice();
    const ref = conv.forward(x).dataSync().slice();
    await useWebGPU();
    const gpuConv = new Conv({ dims: 3, inChannels: 2, outChannels: 3, kernelSize: 3, stride: 2 });
    gpuConv.weight.assign(tf.tensor(w, gpuConv.weight.shape));
    gpuConv.bias!.assign(tf.tensor(b, [3]));
    const y = gpuConv.forward(tf.tensor(xData, [1, 6, 8, 10, 2]));
    expect(y.shape).toEqual([1, 3, 4, 5, 3]);
    const got = (await y.data()) as Float32Array;
    expect(Math.max(...Array.from(got, (v, i) => Math.abs(v - ref[i])))).toBeLessThan(1e-4);
  });
});

describe('UNet3D on WebGPU matches the cpu backend', () => {
  it('deconv and trilinear upsampling', async () => {
    await tf.setBackend('cpu');
    const x = tf.randomNormal([1, 8, 8, 16, 1], 0, 1, 'float32', 3);
    const xData = x.dataSync().slice();
    const cases: { upsample: 'deconv' | 'linear'; weights: Awaited<ReturnType<UNet3D['stateDict']>>; out: Float32Array }[] = [];
    for (const upsample of ['deconv', 'linear'] as const) {
      const net = new UNet3D({ features: [2, 4, 8], upsample, seed: 5 });
      cases.push({ upsample, weights: await net.stateDict(), out: net.apply(x).dataSync() as Float32Array });
      net.dispose();
    }
    await useWebGPU();
    for (const c of cases) {
      const net = new UNet3D({ features: [2, 4, 8], upsample: c.upsample });
      net.loadStateDict(c.weights);
      const y = (await net.apply(tf.tensor(xData, [1, 8, 8, 16, 1])).data()) as Float32Array;
      let maxErr = 0;
      y.forEach((v, i) => (maxErr = Math.max(maxErr, Math.abs(v - c.out[i]))));
      expect(y.length).toBe(c.out.length);
      expect(maxErr, c.upsample).toBeLessThan(1e-4);
      net.dispose();
    }
  });
});
