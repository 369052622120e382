import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { contextSlicesOf, inputChannels, widenInputChannels } from './input-channels';
import { createNetwork } from '.';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('input channels of slice-wise weights', () => {
  it('a network widened from one-channel weights computes on (neighbour, slice, neighbour) what the original computes on the slice', async () => {
    const features = [4, 8, 16, 32, 64];
    const one = createNetwork('coplenet', { features, seed: 3 });
    const sd = await one.stateDict();
    expect(inputChannels(sd, 'w')).toBe(1);
    expect(contextSlicesOf(sd, 'w')).toBe(0);
    const wide = widenInputChannels(sd, 3, 'w');
    expect(inputChannels(wide, 'w')).toBe(3);
    expect(contextSlicesOf(wide, 'w')).toBe(1);
    const three = createNetwork('coplenet', { features, inChannels: 3, seed: 9 });
    three.loadStateDict(wide);
    // Random neighbours that differ from the centre slice: only the centre may matter.
    const x3 = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 5);
    const centre = tf.slice(x3, [0, 0, 0, 1], [2, 32, 32, 1]);
    const a = await one.apply(centre as tf.Tensor4D).data();
    const b = await three.apply(x3 as tf.Tensor4D).data();
    let worst = 0;
    for (let n = 0; n < a.length; n++) worst = Math.max(worst, Math.abs(a[n] - b[n]));
    expect(worst).toBeLessThan(1e-5);
    // The other tensors are shared, and the widened kernel holds the original on channel 1, zeros on 0 and 2.
    const key = 'in_conv.conv_conv_se.0.conv.weight';
    const k1 = sd.get(key)!.data;
    const k3 = wide.get(key)!.data;
    expect(wide.get(key)!.shape).toEqual([4, 3, 3, 3]);
    for (let o = 0; o < 4; o++) for (let q = 0; q < 9; q++) {
      expect(k3[(o * 3 + 1) * 9 + q]).toBe(k1[o * 9 + q]);
      expect(k3[(o * 3) * 9 + q]).toBe(0);
      expect(k3[(o * 3 + 2) * 9 + q]).toBe(0);
    }
    expect(wide.get('out_conv.conv.weight')).toBe(sd.get('out_conv.conv.weight'));
    tf.dispose([x3, centre]);
    one.dispose();
    three.dispose();
  });

  it('refuses what it cannot widen or read, naming the file', async () => {
    const sd = await createNetwork('coplenet', { features: [4, 8, 16, 32, 64] }).stateDict();
    expect(() => widenInputChannels(sd, 2, 'w.pt')).toThrow(/w\.pt: the widened input must have an odd number of channels/);
    expect(() => widenInputChannels(widenInputChannels(sd, 3, 'w.pt'), 5, 'w.pt')).toThrow(/w\.pt: only one-channel weights can be widened, these take 3 channels/);
    const two = createNetwork('coplenet', { features: [4, 8, 16, 32, 64], inChannels: 2 });
    const twoSd = await two.stateDict();
    expect(() => contextSlicesOf(twoSd, 'two.safetensors')).toThrow(/two\.safetensors: the weights take 2 input channels/);
    expect(() => inputChannels(new Map(), 'empty.pt')).toThrow(/empty\.pt: no convolution weights found/);
    two.dispose();
  });
});
