import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients'; // training code gets these from engine/training/gradients
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy, readShared, sharedPath } from '../../tests/shared';
import { arrayBytes, type StateDict } from '../engine/weights/tensor';
import { readTorchCheckpoint } from '../engine/weights/torch-checkpoint';
import { CopleNet } from './coplenet';
import { StateDictMismatchError, toChannelsLast } from './network';

const SMALL = [8, 16, 32, 64, 128];
let fixture: StateDict;
let input: tf.Tensor; // NDHWC (1, 2, 64, 96, 1)

beforeAll(async () => {
  await tf.setBackend('cpu');
  fixture = readTorchCheckpoint(readShared('fixtures/monai/coplenet/weights.pt'), 'weights.pt').stateDict;
  const npy = readNpy(readShared('fixtures/monai/coplenet/input.npy'));
  input = toChannelsLast(tf.tensor(npy.data as Float32Array, npy.shape));
});

function smallNet(): CopleNet {
  const net = new CopleNet({ features: SMALL, seed: 1 });
  net.loadStateDict(fixture, { source: 'weights.pt' });
  return net;
}

describe('CopleNet structure (spec §1.4, §1.5, Appendix A)', () => {
  it('default config: 10,521,666 trainable parameters, per-module counts, 215 keys with the MONAI 0.2.0 names and shapes', () => {
    const net = new CopleNet();
    expect(net.parameterCount()).toBe(10_521_666);
    const perModule = Object.fromEntries(net.namedChildren().map(([n, m]) => [n, m.parameterCount()]));
    expect(perModule).toEqual({
      in_conv: 10_768, down1: 78_304, down2: 312_256, down3: 1_247_104, down4: 4_984_576,
      bridge0: 560, bridge1: 2_144, bridge2: 8_384, bridge3: 33_152,
      up1: 1_312_768, up2: 328_704, up3: 82_432, up4: 20_736, aspp: 2_099_200, out_conv: 578,
    });
    const lines = readFileSync(sharedPath('spec/coplenet_monai020_state_dict_keys.txt'), 'utf8').trim().split('\n');
    const specKeys = lines.map((l) => {
      const [, key, shape] = /^(\S+) \(([^)]*)\)$/.exec(l.trim())!;
      return [key, shape.split(',').map((s) => s.trim()).filter(Boolean).map(Number)];
    });
    expect([...net.expectedStateDict()].map(([k, e]) => [k, e.shape])).toEqual(specKeys);
    expect([...net.namedParameters()].filter(([k]) => k.endsWith('norm.weight')).length).toBe(23);
    net.dispose();
  });

  it('bilinear=false (transposed-conv upsampling): 10,782,786 parameters', () => {
    const net = new CopleNet({ bilinear: false });
    expect(net.parameterCount()).toBe(10_782_786);
    expect(net.expectedStateDict().get('up1.up.upsample.weight')!.shape).toEqual([512, 128, 2, 2]);
    net.dispose();
  });

  it('rejects feature lists that break the residual adds, and sizes not divisible by 16', () => {
    expect(() => new CopleNet({ features: [8, 16, 32, 64, 100] })).toThrow('features must double');
    const net = new CopleNet({ features: SMALL });
    expect(() => net.apply(tf.zeros([1, 40, 48, 1]))).toThrow('divisible by 16, got 40x48');
    net.dispose();
  });
});

describe('CopleNet weights', () => {
  it('stateDict() returns exactly the loaded PyTorch tensors (layout conversion is lossless)', async () => {
    const net = smallNet();
    const back = await net.stateDict();
    expect([...back.keys()]).toEqual([...fixture.keys()]);
    for (const [k, t] of fixture) {
      const b = back.get(k)!;
      expect(b.shape, k).toEqual(t.shape);
      expect(Buffer.compare(arrayBytes(b.data), arrayBytes(t.data)), k).toBe(0);
    }
    net.dispose();
  });

  it('a state dict for other widths fails with a report naming the mis-shaped keys', () => {
    const net = new CopleNet({ features: [16, 32, 64, 128, 256] });
    let err: unknown;
    try {
      net.loadStateDict(fixture, { source: 'weights.pt' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StateDictMismatchError);
    const report = (err as StateDictMismatchError).report;
    expect(report.missing).toEqual([]);
    expect(report.unexpected).toEqual([]);
    expect(report.wrongShape[0]).toEqual({ key: 'in_conv.conv_conv_se.0.conv.weight', expected: [16, 1, 3, 3], actual: [8, 1, 3, 3] });
    expect((err as Error).message).toMatch(/^weights\.pt: weights do not fit CopleNet: wrong shape: in_conv\.conv_conv_se\.0\.conv\.weight \[8,1,3,3\] \(expected \[16,1,3,3\]\)/);
    net.dispose();
  });

  it('loads current-MONAI key names without the ASPP bias (zeros, with notices)', async () => {
    const renamed: StateDict = new Map();
    for (const [k, t] of fixture) {
      if (k === 'aspp.conv_k1.conv.bias') continue;
      renamed.set(k.replace('.norm.', '.adn.N.').replace('.up.upsample.0.', '.up.preconv.'), t);
    }
    const net = new CopleNet({ features: SMALL });
    const { notices } = net.loadStateDict(renamed);
    expect(notices).toHaveLength(2);
    const sd = await net.stateDict();
    expect(sd.get('aspp.conv_k1.conv.bias')!.data).toEqual(new Float32Array(128));
    expect(sd.get('up2.up.upsample.0.weight')!.data).toEqual(fixture.get('up2.up.upsample.0.weight')!.data);
    net.dispose();
  });
});

describe('CopleNet forward modes', () => {
  it('runs a 5D input as N·D independent slices', () => {
    const net = smallNet();
    const crop = tf.slice(input, [0, 0, 16, 16, 0], [1, 2, 32, 64, 1]);
    const vol = net.apply(crop);
    expect(vol.shape).toEqual([1, 2, 32, 64, 2]);
    const slices = net.apply(tf.reshape(crop, [2, 32, 64, 1]));
    expect(Array.from(vol.dataSync())).toEqual(Array.from(slices.dataSync()));
    net.dispose();
  });

  it('training mode: batch statistics, running stats updated by momentum 0.1, dropout active, gradients reach every parameter', () => {
    const net = smallNet();
    const x = tf.slice(tf.reshape(input, [2, 64, 96, 1]), [0, 16, 32, 0], [2, 32, 48, 1]);
    const sd0 = new Map([...net.namedParameters()].map(([k, p]) => [k, Array.from(p.variable.dataSync())]));
    // Expected running mean of the first BN: 0.9 * old + 0.1 * batch mean of the first conv's output.
    const w = tf.transpose(tf.tensor(fixture.get('in_conv.conv_conv_se.0.conv.weight')!.data as Float32Array, [8, 1, 3, 3]), [2, 3, 1, 0]) as tf.Tensor4D;
    const conv = tf.add(tf.conv2d(x as tf.Tensor4D, w, 1, 'same'), tf.tensor(fixture.get('in_conv.conv_conv_se.0.conv.bias')!.data as Float32Array));
    const batchMean = Array.from(tf.mean(conv, [0, 1, 2]).dataSync());
    const evalOut = Array.from(net.apply(x).dataSync());

    const t1 = Array.from(net.apply(x, { training: true }).dataSync());
    const t2 = Array.from(net.apply(x, { training: true }).dataSync());
    expect(t1).not.toEqual(evalOut);
    expect(t1).not.toEqual(t2); // dropout (p = 0.3-0.5 in the deep stages) draws new masks
    const rm = net.getModule('in_conv.conv_conv_se.0.norm') as unknown as { runningMean: tf.Variable; numBatchesTracked: tf.Variable };
    const old = sd0.get('in_conv.conv_conv_se.0.norm.running_mean')!;
    const once = old.map((v, i) => 0.9 * v + 0.1 * batchMean[i]);
    Array.from(rm.runningMean.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(0.9 * once[i] + 0.1 * batchMean[i], 5));
    expect(Array.from(rm.numBatchesTracked.dataSync())).toEqual([4323]);
    // Trainable weights are untouched by a forward pass; the eval output now uses the new statistics.
    expect(Array.from(net.getModule('out_conv.conv').namedParameters().next().value![1].variable.dataSync())).toEqual(sd0.get('out_conv.conv.weight'));
    expect(Array.from(net.apply(x).dataSync())).not.toEqual(evalOut);

    const { grads } = tf.variableGrads(() => tf.mean(net.apply(x, { training: true })) as tf.Scalar, net.trainableVariables());
    expect(Object.keys(grads).length).toBe(146);
    for (const g of Object.values(grads)) expect(Number.isFinite(tf.sum(tf.abs(g)).dataSync()[0])).toBe(true);
    net.dispose();
  });
});
