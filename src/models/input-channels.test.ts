import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { contextSlicesOf, inputChannels, widenInputChannels } from './input-channels';
import { createNetwork, type Network } from '.';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Largest |Δ| between `narrow` on the centre `n` channels of a random input and `wide` on all `m`. */
async function centreGap(narrow: Network, wide: Network, n: number, m: number, seed: number): Promise<number> {
  const x = tf.randomUniform([2, 32, 32, m], 0, 1, 'float32', seed);
  const centre = tf.slice(x, [0, 0, 0, (m - n) / 2], [2, 32, 32, n]);
  const a = await narrow.apply(centre as tf.Tensor4D).data();
  const b = await wide.apply(x as tf.Tensor4D).data();
  tf.dispose([x, centre]);
  let worst = 0;
  for (let q = 0; q < a.length; q++) worst = Math.max(worst, Math.abs(a[q] - b[q]));
  return worst;
}

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
    expect(await centreGap(one, three, 1, 3, 5)).toBeLessThan(1e-5);
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
    // Widened again to 5 (r = 1 → 2): the 3-channel kernels stay on channels 1…3, so the 5-channel
    // network on (n2, n1, slice, n1', n2') computes what the 3-channel one does on (n1, slice, n1').
    const wider = widenInputChannels(wide, 5, 'w');
    expect(contextSlicesOf(wider, 'w')).toBe(2);
    const k5 = wider.get(key)!.data;
    for (let o = 0; o < 4; o++) for (let q = 0; q < 9; q++) {
      expect([0, 1, 2, 3, 4].map((c) => k5[(o * 5 + c) * 9 + q])).toEqual([0, 0, k1[o * 9 + q], 0, 0]);
    }
    const five = createNetwork('coplenet', { features, inChannels: 5, seed: 11 });
    five.loadStateDict(wider);
    expect(await centreGap(three, five, 3, 5, 6)).toBeLessThan(1e-5);
    one.dispose();
    three.dispose();
    five.dispose();
  });

  it('refuses what it cannot widen or read, naming the file', async () => {
    const sd = await createNetwork('coplenet', { features: [4, 8, 16, 32, 64] }).stateDict();
    expect(() => widenInputChannels(sd, 2, 'w.pt')).toThrow(/w\.pt: the widened input must have an odd number of channels/);
    expect(() => widenInputChannels(widenInputChannels(sd, 5, 'w.pt'), 3, 'w.pt')).toThrow(/w\.pt: the widened input must have an odd number of channels \(a centre slice\), at least the weights' 5, got 3/);
    const two = createNetwork('coplenet', { features: [4, 8, 16, 32, 64], inChannels: 2 });
    const twoSd = await two.stateDict();
    expect(() => widenInputChannels(twoSd, 5, 'two.pt')).toThrow(/two\.pt: weights with 2 input channels have no centre slice to widen around/);
    expect(() => contextSlicesOf(twoSd, 'two.safetensors')).toThrow(/two\.safetensors: the weights take 2 input channels/);
    expect(() => inputChannels(new Map(), 'empty.pt')).toThrow(/empty\.pt: no convolution weights found/);
    two.dispose();
  });
});
