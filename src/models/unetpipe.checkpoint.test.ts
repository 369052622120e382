/**
 * UNetPipe weights through the project's torch `.pt` writer and reader: the LAMP fixture checkpoints
 * (flat keys and GPipe `partitions.<j>.` keys) survive write → read bit for bit, and the network
 * built from the round-tripped file still reproduces the fixture logits (meta.json tolerance).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy, readShared } from '../../tests/shared';
import { arrayBytes, readTorchCheckpoint, readWeights, writeTorchCheckpoint, type StateDict } from '../engine/weights';
import { toChannelsFirst, toChannelsLast } from './network';
import { UNetPipe, unetPipeOptionsFromStateDict } from './unetpipe';

const meta = JSON.parse(new TextDecoder().decode(readShared('fixtures/lamp/meta.json'))) as {
  state_dict: { key: string; shape: number[]; dtype: string }[];
  tolerance: { abs: number };
};
const input = readNpy(readShared('fixtures/lamp/input.npy'));
const logits = readNpy(readShared('fixtures/lamp/logits.npy'));
/** torchgpipe balance the fixture's weights_gpipe.pt was saved with (meta.json verification). */
const FIXTURE_BALANCE = [22, 8];

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Keys in order, then dtype, shape and raw bytes of every tensor. */
function expectSameStateDict(got: StateDict, want: StateDict): void {
  expect([...got.keys()]).toEqual([...want.keys()]);
  for (const [k, w] of want) {
    const g = got.get(k)!;
    expect(g.dtype, k).toBe(w.dtype);
    expect(g.shape, k).toEqual(w.shape);
    expect(Buffer.compare(arrayBytes(g.data), arrayBytes(w.data)), k).toBe(0);
  }
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function logitsOf(net: UNetPipe): Float32Array {
  return tf.tidy(() => toChannelsFirst(net.apply(toChannelsLast(tf.tensor(input.data as Float32Array, input.shape)))).dataSync() as Float32Array);
}

function netFrom(sd: StateDict, file: string): UNetPipe {
  const net = new UNetPipe({ ...unetPipeOptionsFromStateDict(sd, file), seed: 9 });
  net.loadStateDict(sd, { source: file });
  return net;
}

/** GPipe(model, balance).state_dict() key style: `partitions.<j>.<flat key>` by the layer's stage. */
function withPartitionKeys(sd: StateDict, net: UNetPipe, balance: readonly number[]): StateDict {
  const stageOfLayer = balance.flatMap((n, j) => Array<number>(n).fill(j));
  const layerOf = new Map(net.layers.map((l, i) => [l.name, i]));
  return new Map([...sd].map(([k, t]) => [`partitions.${stageOfLayer[layerOf.get(k.slice(0, k.indexOf('.')))!]}.${k}`, t]));
}

describe('UNetPipe .pt round trip (torch-checkpoint writer → reader)', () => {
  it.each(['weights.pt', 'weights_gpipe.pt'])('%s: every key, dtype, shape and value survives; logits within tolerance', (file) => {
    const orig = readWeights(readShared('fixtures/lamp', file), file);
    expect(orig.format).toBe('torch-zip');
    expect(orig.stateDict.size).toBe(meta.state_dict.length);
    const prefix = file === 'weights.pt' ? '' : 'partitions.';
    expect([...orig.stateDict.keys()].every((k) => k.startsWith(prefix))).toBe(true);

    const bytes = writeTorchCheckpoint(orig.stateDict, { wrapKey: null, archiveName: file.replace(/\.pt$/, '') });
    const back = readTorchCheckpoint(bytes, `roundtrip-${file}`);
    expect(back.format).toBe('zip');
    expect(back.path).toEqual([]); // bare OrderedDict, like the fixture
    expectSameStateDict(back.stateDict, orig.stateDict);
    // num_batches_tracked: 0-dim int64 stays int64
    const nbt = [...back.stateDict].filter(([k]) => k.endsWith('num_batches_tracked'));
    expect(nbt).toHaveLength(9);
    for (const [, t] of nbt) expect([t.dtype, t.shape.length, t.data instanceof BigInt64Array]).toEqual(['int64', 0, true]);

    const net = netFrom(back.stateDict, `roundtrip-${file}`);
    const err = maxAbsDiff(logitsOf(net), logits.data as Float32Array);
    expect(err).toBeLessThanOrEqual(meta.tolerance.abs);
    expect(err).toBeLessThan(1e-4); // measured ≈6e-6, as from the fixture file itself
    net.dispose();
  });

  it('a network exported with partitions.<j>. keys (balance [22, 8]) equals the fixture weights_gpipe.pt and reloads to the same logits', async () => {
    const flat = readWeights(readShared('fixtures/lamp/weights.pt'), 'weights.pt').stateDict;
    const gpipe = readWeights(readShared('fixtures/lamp/weights_gpipe.pt'), 'weights_gpipe.pt').stateDict;
    const net = netFrom(flat, 'weights.pt');
    const exported = withPartitionKeys(await net.stateDict(), net, FIXTURE_BALANCE);
    // Network.stateDict() → our key rule reproduces torchgpipe's keys, order and tensors exactly.
    expectSameStateDict(exported, gpipe);

    const back = readTorchCheckpoint(writeTorchCheckpoint(exported, { wrapKey: null, archiveName: 'weights_gpipe' }), 'ours_gpipe.pt').stateDict;
    expectSameStateDict(back, gpipe);
    const reloaded = new UNetPipe({ nFeat: 8, outChannels: 3, seed: 11 });
    expect(reloaded.loadStateDict(back, { source: 'ours_gpipe.pt' }).notices).toEqual(['prefixes stripped (partitions.<j>. / module.)']);
    expect(maxAbsDiff(logitsOf(reloaded), logitsOf(net))).toBe(0);
    net.dispose();
    reloaded.dispose();
  });

  it('another balance ([4, 7, 9, 10]) under {model_state_dict: …} still loads: the reader strips any partitions.<j>. prefix', () => {
    const flat = readWeights(readShared('fixtures/lamp/weights.pt'), 'weights.pt').stateDict;
    const probe = new UNetPipe({ nFeat: 8, outChannels: 3, seed: 12 });
    const fourStages = withPartitionKeys(flat, probe, [4, 7, 9, 10]);
    expect([...fourStages.keys()].filter((k) => k.startsWith('partitions.3.'))).toHaveLength(26); // layers 20-29: decoder_2_Conv1x1x1 (2) + decoder_2_Conv (8) + decoder_3 (2 + 2 + 8) + decoder_4 (2 + 2)
    const back = readTorchCheckpoint(writeTorchCheckpoint(fourStages), 'four.pt');
    expect(back.path).toEqual(['model_state_dict']);
    probe.loadStateDict(back.stateDict, { source: 'four.pt' });
    expect(maxAbsDiff(logitsOf(probe), logits.data as Float32Array)).toBeLessThanOrEqual(meta.tolerance.abs);
    probe.dispose();
  });
});
