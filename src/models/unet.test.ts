import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients'; // training code gets these from engine/training/gradients
import { beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors, writeSafetensors } from '../engine/weights/safetensors';
import { createNetwork } from './index';
import { UNet2D } from './unet2d';
import { UNet3D } from './unet3d';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('UNet2D', () => {
  it('features (4, 8): 1,618 parameters counted by hand, BasicUNet-style names', () => {
    const net = new UNet2D({ features: [4, 8], seed: 3 });
    // conv_0: (9+1)*4 + 8, (36+1)*4 + 8; down_1: (36+1)*8 + 16, (72+1)*8 + 16;
    // upcat_1: 1x1 8->4 = 36, (72+1)*4 + 8, (36+1)*4 + 8; final_conv 1x1 4->2 = 10
    expect(net.parameterCount()).toBe(48 + 156 + 312 + 600 + 36 + 300 + 156 + 10);
    const keys = [...net.expectedStateDict().keys()];
    expect(keys.slice(0, 2)).toEqual(['conv_0.conv_0.conv.weight', 'conv_0.conv_0.conv.bias']);
    expect(keys).toContain('down_1.convs.conv_1.norm.running_var');
    expect(keys).toContain('upcat_1.upsample.upsample.0.weight');
    expect(keys.at(-1)).toBe('final_conv.bias');
    expect(net.sizeDivisor).toBe(2);
    net.dispose();
  });

  it('five levels: NHWC in, logits out; 5D input runs slice-wise', () => {
    const net = createNetwork('unet2d', { features: [4, 8, 16, 32, 64], seed: 1 });
    expect(net.apply(tf.zeros([1, 32, 32, 1])).shape).toEqual([1, 32, 32, 2]);
    const x = tf.randomUniform([1, 3, 16, 16, 1], 0, 1, 'float32', 5);
    const vol = net.apply(x);
    expect(vol.shape).toEqual([1, 3, 16, 16, 2]);
    expect(Array.from(vol.dataSync())).toEqual(Array.from(net.apply(tf.reshape(x, [3, 16, 16, 1])).dataSync()));
    expect(() => net.apply(tf.zeros([1, 24, 24, 1]))).toThrow('divisible by 16');
    net.dispose();
  });
});

describe('UNet3D', () => {
  it('features (2, 4) with transposed-conv upsampling: 1,254 parameters counted by hand', () => {
    const net = new UNet3D({ features: [2, 4] });
    // conv_0: (27+1)*2 + 4, (54+1)*2 + 4; down_1: (54+1)*4 + 8, (108+1)*4 + 8;
    // upcat_1: deconv 4*2*8 + 2 = 66, (108+1)*2 + 4, (54+1)*2 + 4; final_conv 2*2 + 2 = 6
    expect(net.parameterCount()).toBe(60 + 114 + 228 + 444 + 66 + 222 + 114 + 6);
    expect(net.expectedStateDict().get('upcat_1.upsample.upsample.weight')!.shape).toEqual([4, 2, 2, 2, 2]);
    net.dispose();
  });

  it('runs NDHWC volumes with deconv or trilinear upsampling', () => {
    for (const upsample of ['deconv', 'linear'] as const) {
      const net = new UNet3D({ features: [4, 8, 16], upsample, seed: 2 });
      expect(net.apply(tf.zeros([1, 8, 12, 16, 1])).shape).toEqual([1, 8, 12, 16, 2]);
      net.dispose();
    }
  });

  it('weights survive a safetensors round trip (same outputs from a fresh network)', async () => {
    const a = new UNet3D({ features: [2, 4], seed: 7 });
    const b = new UNet3D({ features: [2, 4], seed: 8 });
    const x = tf.randomNormal([1, 8, 8, 8, 1], 0, 1, 'float32', 1);
    const before = Array.from(b.apply(x).dataSync());
    b.loadStateDict(readSafetensors(writeSafetensors(await a.stateDict()), 'u.safetensors').stateDict);
    const after = Array.from(b.apply(x).dataSync());
    expect(after).not.toEqual(before);
    expect(after).toEqual(Array.from(a.apply(x).dataSync()));
  });

  it('trains: a few SGD steps lower the loss (gradients through conv3d, pooling, transposed conv, BN)', () => {
    const net = new UNet3D({ features: [2, 4], seed: 11 });
    const x = tf.randomNormal([2, 8, 8, 8, 1], 0, 1, 'float32', 12);
    const target = tf.concat([tf.relu(x), tf.neg(tf.relu(x))], 4);
    const opt = tf.train.sgd(0.05);
    const losses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const loss = opt.minimize(() => tf.mean(tf.square(tf.sub(net.apply(x, { training: true }), target))) as tf.Scalar, true, net.trainableVariables())!;
      losses.push(loss.dataSync()[0]);
    }
    expect(losses[5]).toBeLessThan(losses[0] * 0.9);
    net.dispose();
  });
});
