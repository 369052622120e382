import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { readShared } from '../../../tests/shared';
import { UNetPipe } from '../../models/unetpipe';
import { profileLayers } from './profile';

const meta = JSON.parse(new TextDecoder().decode(readShared('fixtures/lamp/meta.json'))) as {
  gpipe: { profile: { layer: string; param_bytes: number }[] };
};

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('profileLayers', () => {
  it('bytes of every output, input, stashed skip and parameter of a 32³ UNetPipe (n_feat 2)', async () => {
    const net = new UNetPipe({ nFeat: 2, outChannels: 2, seed: 1 });
    const tensors = tf.memory().numTensors;
    const p = await profileLayers(net, [1, 32, 32, 32, 1], { runs: 1 });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(p).toMatchObject({ network: 'UNetPipe', batch: 1, inputBytes: 32 ** 3 * 4, training: false });
    const L = p.layers;
    expect(L.map((l) => l.name)).toEqual(net.layers.map((l) => l.name));
    for (const l of L) expect(l.outputBytes, l.name).toBe(4 * l.outputShape.reduce((a, b) => a * b, 1));
    for (let i = 1; i < L.length; i++) expect(L[i].inputBytes).toBe(L[i - 1].outputBytes);
    expect(L[0].outputShape).toEqual([1, 16, 16, 16, 2]);
    expect(L[29].outputShape).toEqual([1, 32, 32, 32, 2]);
    // Skips: 16³·2, 8³·4, 4³·8, 2³·16 floats, alive from their Stash to their PopCat.
    expect([3, 5, 7, 9].map((i) => L[i].stashedBytes)).toEqual([32768, 8192, 2048, 512]);
    expect(L.map((l) => l.stashAliveBytes)).toEqual([0, 0, 0, 32768, 32768, 40960, 40960, 43008, 43008, 43520, 43520, 43520, 43008, 43008, 43008, 43008, 40960, 40960, 40960, 40960, 32768, 32768, 32768, 32768, 0, 0, 0, 0, 0, 0]);
    // What each layer keeps alive: a LeakyReLU its output, a Stash nothing, a PopCat the concatenation.
    expect(L[2].latentBytes).toBe(32768);
    expect(L[3].latentBytes).toBe(0);
    expect(L[24].latentBytes).toBe(L[24].outputBytes);
    expect(L[24].outputBytes).toBe(16 ** 3 * 4 * 4);
    // The stride-2 encoder conv pads 32³ to 34³ explicitly: its largest tensor.
    expect(L[0].largestTensorBytes).toBe(34 ** 3 * 4);
    for (const l of L) {
      expect(l.peakBytes).toBeGreaterThanOrEqual(l.latentBytes);
      expect(l.largestTensorBytes).toBeGreaterThanOrEqual(l.outputBytes);
      expect(l.forwardMs).toBeGreaterThanOrEqual(0);
      expect(l.trainMs).toBeUndefined();
      expect(l.trainPeakBytes).toBeUndefined();
    }
    expect(L[1]).toMatchObject({ paramBytes: 2 * 2 * 4, bufferBytes: (2 * 2 + 1) * 4 });
    net.dispose();
  });

  it('parameter bytes per layer equal torchgpipe profile of the fixture (n_feat 8, 3 classes)', async () => {
    const net = new UNetPipe({ nFeat: 8, outChannels: 3, seed: 2 });
    const p = await profileLayers(net, [1, 32, 32, 32, 1], { runs: 0 });
    expect(p.layers.map((l) => [l.name, l.paramBytes])).toEqual(meta.gpipe.profile.map((l) => [l.layer, l.param_bytes]));
    net.dispose();
  });

  it('training mode times forward + backward and leaves the BatchNorm statistics as they were', async () => {
    const net = new UNetPipe({ nFeat: 2, outChannels: 2, seed: 3 });
    const before = await net.stateDict();
    const tensors = tf.memory().numTensors;
    const p = await profileLayers(net, [2, 32, 32, 32, 1], { training: true, runs: 1 });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(p.batch).toBe(2);
    expect(p.layers.every((l) => l.trainMs !== undefined && l.trainMs >= 0)).toBe(true);
    // Forward + backward holds at least the forward's tape, and for the output convolution more (its gradients).
    for (const l of p.layers) expect(l.trainPeakBytes!, l.name).toBeGreaterThanOrEqual(l.latentBytes);
    expect(p.layers[29].trainPeakBytes!).toBeGreaterThan(p.layers[29].latentBytes + p.layers[29].inputBytes);
    const after = await net.stateDict();
    for (const [key, t] of before) expect(Array.from(after.get(key)!.data as Float32Array, Number), key).toEqual(Array.from(t.data as Float32Array, Number));
    net.dispose();
  });
});
