import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy, readShared, ROOT, sharedPath } from '../../tests/shared';
import { readWeights } from '../engine/weights';
import { createNetwork, isSliceWise } from './index';
import { toChannelsFirst, toChannelsLast } from './network';
import { UNetPipe, unetPipeFilters, unetPipeOptionsFromStateDict, type SkipStash } from './unetpipe';

interface MetaLayer {
  index: number;
  name: string;
  module_class: string;
  output_shape: number[];
  params: number;
  stats: { abs_max: number };
  samples: { flat_indices_c_order: number[]; values: number[] };
}
const meta = JSON.parse(new TextDecoder().decode(readShared('fixtures/lamp/meta.json'))) as {
  model: { args: { n_feat: number; in_channels: number; out_channels: number } };
  layers: MetaLayer[];
  tolerance: { abs: number };
};
const input = readNpy(readShared('fixtures/lamp/input.npy'));
const logits = readNpy(readShared('fixtures/lamp/logits.npy'));

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** The fixture's network (n_feat 8, 3 classes) with weights.pt loaded. */
function fixtureNet(file = 'weights.pt'): { net: UNetPipe; notices: string[] } {
  const { stateDict } = readWeights(readShared('fixtures/lamp', file), file);
  const net = new UNetPipe(unetPipeOptionsFromStateDict(stateDict, file));
  return { net, notices: net.loadStateDict(stateDict, { source: file }).notices };
}

const fixtureInput = () => toChannelsLast(tf.tensor(input.data as Float32Array, input.shape));

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('UNetPipe structure', () => {
  it('encoder widths double from n_feat and cap at 1024 (spec §4.1)', () => {
    expect(unetPipeFilters(32)).toEqual([32, 64, 128, 256, 512]);
    expect(unetPipeFilters(64)).toEqual([64, 128, 256, 512, 1024]);
    expect(unetPipeFilters(128)).toEqual([128, 256, 512, 1024, 1024]);
  });

  it('n_feat 32, 10 classes: 22,906,650 parameters with exactly the spec key list', () => {
    const net = new UNetPipe({ nFeat: 32, outChannels: 10, seed: 1 });
    expect(net.parameterCount()).toBe(22_906_650);
    const spec = new TextDecoder()
      .decode(readShared('spec/lamp_unetpipe_nf32_flat_keys.txt'))
      .trim()
      .split('\n')
      .map((l) => {
        const [key, shape] = [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)];
        return `${key} [${shape.replace(/[() ]/g, '').replace(/,$/, '')}]`;
      });
    const ours = [...net.namedParameters()].filter(([, p]) => p.trainable).map(([k]) => `${k} [${net.expectedStateDict().get(k)!.shape.join(',')}]`);
    expect(ours).toEqual(spec);
    // kaiming_normal_ (fan_in, gain √2): the 3³×256→512 conv has std √(2/6912).
    // The 2³ transposed conv 512→256 uses weight.size(1) = 256 outputs: std √(2/2048).
    const std = (path: string) => tf.tidy(() => tf.sqrt(tf.moments((net.getModule(path) as unknown as { weight: tf.Variable }).weight).variance).dataSync()[0]);
    expect(std('encoder_4_Down.conv.0.conv')).toBeCloseTo(Math.sqrt(2 / 6912), 4);
    expect(std('decoder_0_Up.upsample')).toBeCloseTo(Math.sqrt(2 / 2048), 4);
    net.dispose();
  });

  it('the 30 flat layers: names, types, stash/pop namespaces, per-layer parameter counts (fixture table)', () => {
    const net = new UNetPipe({ nFeat: 8, outChannels: 3, seed: 2 });
    expect(net.layers.map((l) => l.name)).toEqual(meta.layers.map((l) => l.name));
    expect(net.layers.map((l) => l.type)).toEqual(meta.layers.map((l) => l.module_class));
    const counts = net.layers.map((_, i) => net.layerVariables(i, i + 1).reduce((n, v) => n + v.size, 0));
    expect(counts).toEqual(meta.layers.map((l) => l.params));
    const stashes = net.layers.flatMap((l, i) => (l.stashes !== undefined ? [[i, l.stashes]] : []));
    const pops = net.layers.flatMap((l, i) => (l.pops !== undefined ? [[i, l.pops]] : []));
    expect(stashes).toEqual([[3, 0], [5, 1], [7, 2], [9, 3]]);
    expect(pops).toEqual([[12, 3], [16, 2], [20, 1], [24, 0]]);
    net.dispose();
  });

  it('rejects input that is not 5D, not divisible by 32, or has the wrong channels', () => {
    const net = new UNetPipe({ nFeat: 2, outChannels: 2, seed: 3 });
    expect(() => net.apply(tf.zeros([1, 32, 32, 32]))).toThrow(/NDHWC/);
    expect(() => net.apply(tf.zeros([1, 32, 48, 32, 1]))).toThrow('UNetPipe needs D, H, W divisible by 32, got 32x48x32');
    expect(() => net.apply(tf.zeros([1, 32, 32, 32, 2]))).toThrow(/1 input channel/);
    expect(() => net.runLayers(5, 31, tf.zeros([1]), new Map())).toThrow(/outside/);
    net.dispose();
  });

  it('createNetwork builds it from n_feat = features[0]; whole volumes, not slices', () => {
    const net = createNetwork('unetpipe', { features: [4, 8, 16, 32, 64], outChannels: 3, seed: 4 }) as UNetPipe;
    expect(net).toBeInstanceOf(UNetPipe);
    expect(net.filters).toEqual([4, 8, 16, 32, 64]);
    expect(net.outChannels).toBe(3);
    expect(isSliceWise('unetpipe')).toBe(false);
    net.dispose();
  });
});

describe('UNetPipe parity with the LAMP fixture (cpu backend)', () => {
  it('reads n_feat and channels from both checkpoints', () => {
    for (const f of ['weights.pt', 'weights_gpipe.pt']) {
      const { stateDict } = readWeights(readShared('fixtures/lamp', f), f);
      expect(unetPipeOptionsFromStateDict(stateDict, f)).toEqual({ nFeat: 8, inChannels: 1, outChannels: 3 });
    }
    expect(() => unetPipeOptionsFromStateDict(new Map(), 'x.pt')).toThrow('x.pt: not a UNetPipe state dict');
  });

  it.each(['weights.pt', 'weights_gpipe.pt'])('%s reproduces logits.npy within 1e-3·max|logit|', (file) => {
    const { net, notices } = fixtureNet(file);
    expect(notices).toEqual(file === 'weights.pt' ? [] : ['prefixes stripped (partitions.<j>. / module.)']);
    const y = tf.tidy(() => toChannelsFirst(net.apply(fixtureInput())));
    expect(y.shape).toEqual(logits.shape);
    const err = maxAbsDiff(y.dataSync(), logits.data as Float32Array);
    expect(err).toBeLessThanOrEqual(meta.tolerance.abs);
    expect(err).toBeLessThan(1e-4); // measured 6.2e-6
    y.dispose();
    net.dispose();
  });

  it('every layer run one at a time matches the fixture samples, and the stash is empty at the end', () => {
    const { net } = fixtureNet();
    const stash: SkipStash = new Map();
    let x = fixtureInput();
    const kept: tf.Tensor[] = [x];
    for (const [i, ref] of meta.layers.entries()) {
      x = net.runLayers(i, i + 1, x, stash);
      kept.push(x);
      const cf = toChannelsFirst(x);
      expect(cf.shape, ref.name).toEqual(ref.output_shape);
      const data = cf.dataSync();
      const got = ref.samples.flat_indices_c_order.map((k) => data[k]);
      expect(maxAbsDiff(got, ref.samples.values), ref.name).toBeLessThan(1e-4 * Math.max(1, ref.stats.abs_max));
      cf.dispose();
      if (i === 10) expect([...stash.keys()]).toEqual([0, 1, 2, 3]);
    }
    expect(stash.size).toBe(0);
    tf.dispose(kept);
    net.dispose();
  });

  it('stages [0, 22) and [22, 30) (the fixture GPipe balance) give the whole network output', () => {
    const { net } = fixtureNet('weights_gpipe.pt');
    const stash: SkipStash = new Map();
    const whole = tf.tidy(() => net.apply(fixtureInput()));
    const staged = tf.tidy(() => {
      const a = net.runLayers(0, 22, fixtureInput(), stash);
      expect([...stash.keys()]).toEqual([0]); // namespace 0 crosses from partition 0 to partition 1
      return net.runLayers(22, 30, a, stash);
    });
    expect(stash.size).toBe(0);
    expect(maxAbsDiff(staged.dataSync(), whole.dataSync())).toBe(0);
    tf.dispose([whole, staged]);
    net.dispose();
  });
});

describe('segment --network-only --model unetpipe', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'unetpipe-'));
  it.each([
    ['weights.pt', []],
    ['weights_gpipe.pt', ['--features', '8,16,32,64,128']],
  ])('%s through the CLI matches logits.npy', (file, extra) => {
    const out = join(tmp, `${file}.npy`);
    const r = spawnSync(
      join(ROOT, 'node_modules/.bin/tsx'),
      [join(ROOT, 'src/cli/segment.ts'), '--network-only', sharedPath('fixtures/lamp/input.npy'), out, '--model', 'unetpipe', '--weights', sharedPath('fixtures/lamp', file), '--backend', 'cpu', ...extra],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({ backend: 'cpu', model: 'unetpipe', weightsFormat: 'torch-zip', input: [1, 1, 32, 32, 32], output: [1, 3, 32, 32, 32] });
    const got = readNpy(new Uint8Array(readFileSync(out)));
    expect(got.shape).toEqual([1, 3, 32, 32, 32]);
    expect(maxAbsDiff(got.data as Float32Array, logits.data as Float32Array)).toBeLessThanOrEqual(meta.tolerance.abs);
  });
});
