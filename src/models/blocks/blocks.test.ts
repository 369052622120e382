import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { SimpleASPP } from './aspp';
import { ConvBNActBlock } from './coplenet-blocks';
import { Convolution } from './convolution';
import { MaxAvgPool } from './downsample';
import { Activation, BatchNorm, Conv, ConvTranspose, Dropout } from './layers';
import { SeedSource } from './module';
import { addBias, padSpatial } from './ops';
import { ResidualSELayer } from './squeeze-excitation';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { resizeAxisAlignCorners, UpSample, upsampleLinearAlignCorners } from './upsample';

const EVAL = { training: false };
const TRAIN = { training: true };
const values = (t: tf.Tensor) => Array.from(t.dataSync());

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function expectClose(actual: number[], expected: number[], tol = 1e-5) {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => expect(Math.abs(a - expected[i]), `element ${i}: ${a} vs ${expected[i]}`).toBeLessThanOrEqual(tol));
}

describe('activations and dropout', () => {
  it('LeakyReLU uses PyTorch slope 0.01 (not TF.js 0.2)', () => {
    expect(values(new Activation('leakyrelu').forward(tf.tensor1d([-2, 0, 3])))).toEqual([Math.fround(-0.02), 0, 3]);
    expect(values(new Activation('relu').forward(tf.tensor1d([-2, 3])))).toEqual([0, 3]);
  });

  it('the Convolution block applies conv -> BN -> LeakyReLU(0.01)', () => {
    const block = new Convolution({ dims: 2, inChannels: 1, outChannels: 1, kernelSize: 1 });
    block.conv.weight.assign(tf.ones([1, 1, 1, 1]));
    block.conv.bias!.assign(tf.zeros([1]));
    const y = values(block.forward(tf.tensor4d([-2, 4], [1, 1, 2, 1]), EVAL));
    expectClose(y, [(-2 / Math.sqrt(1 + 1e-5)) * 0.01, 4 / Math.sqrt(1 + 1e-5)], 1e-6);
  });

  it('Dropout scales kept elements by 1/(1-p) in training and is the identity in eval', () => {
    const d = new Dropout(0.5);
    const x = tf.ones([4000]);
    expect(values(d.forward(x, EVAL))).toEqual(values(x));
    const y = values(d.forward(x, TRAIN));
    expect(new Set(y)).toEqual(new Set([0, 2]));
    const kept = y.filter((v) => v === 2).length / y.length;
    expect(kept).toBeGreaterThan(0.45);
    expect(kept).toBeLessThan(0.55);
  });
});

describe('BatchNorm', () => {
  it('eval: (x - running_mean) / sqrt(running_var + 1e-5) * weight + bias', () => {
    const bn = new BatchNorm(2);
    bn.weight.assign(tf.tensor1d([2, 0.5]));
    bn.bias.assign(tf.tensor1d([1, -1]));
    bn.runningMean.assign(tf.tensor1d([0.5, -1]));
    bn.runningVar.assign(tf.tensor1d([4, 0.25]));
    const y = values(bn.forward(tf.tensor4d([2.5, 1, -0.5, 0], [1, 1, 2, 2]), EVAL));
    expectClose(y, [(2 / Math.sqrt(4.00001)) * 2 + 1, (2 / Math.sqrt(0.25001)) * 0.5 - 1, (-1 / Math.sqrt(4.00001)) * 2 + 1, (1 / Math.sqrt(0.25001)) * 0.5 - 1]);
  });

  it('train: normalises with batch statistics and updates running stats with momentum 0.1 (unbiased var)', () => {
    const bn = new BatchNorm(1);
    const x = tf.tensor4d([1, 2, 3, 6], [4, 1, 1, 1]); // mean 3, biased var 3.5, unbiased 14/3
    const y = values(bn.forward(x, TRAIN));
    expectClose(y, [1, 2, 3, 6].map((v) => (v - 3) / Math.sqrt(3.5 + 1e-5)));
    expectClose(values(bn.runningMean), [0.3]);
    expectClose(values(bn.runningVar), [0.9 + 0.1 * (14 / 3)]);
    expect(values(bn.numBatchesTracked)).toEqual([1]);
    bn.forward(x, TRAIN);
    expectClose(values(bn.runningMean), [0.9 * 0.3 + 0.3]);
    expect(values(bn.numBatchesTracked)).toEqual([2]);
    bn.forward(x, EVAL); // eval leaves the statistics alone
    expect(values(bn.numBatchesTracked)).toEqual([2]);
  });
});

describe('convolutions follow PyTorch padding and layout', () => {
  it('stride-2 3x3 conv pads 1 on both sides (TF "same" would not)', () => {
    const conv = new Conv({ dims: 2, inChannels: 1, outChannels: 1, kernelSize: 3, stride: 2, bias: false });
    conv.weight.assign(tf.ones([3, 3, 1, 1]));
    const x = tf.tensor4d(Array.from({ length: 16 }, (_, i) => i), [1, 4, 4, 1]);
    expect(values(conv.forward(x))).toEqual([0 + 1 + 4 + 5, 1 + 2 + 3 + 5 + 6 + 7, 4 + 5 + 8 + 9 + 12 + 13, 5 + 6 + 7 + 9 + 10 + 11 + 13 + 14 + 15]);
  });

  it('stride-2 3x3x3 conv3d, padding 1', () => {
    const conv = new Conv({ dims: 3, inChannels: 1, outChannels: 1, kernelSize: 3, stride: 2, bias: false });
    conv.weight.assign(tf.ones([3, 3, 3, 1, 1]));
    const y = conv.forward(tf.ones([1, 4, 4, 4, 1]));
    expect(y.shape).toEqual([1, 2, 2, 2, 1]);
    expect(values(y)).toEqual([8, 12, 12, 18, 12, 18, 18, 27]);
  });

  it('dilated 3x3 conv (d=2) with same padding places the flipped kernel around an impulse', () => {
    const conv = new Conv({ dims: 2, inChannels: 1, outChannels: 1, kernelSize: 3, dilation: 2, bias: false });
    conv.weight.assign(tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [3, 3, 1, 1]));
    const x = tf.buffer([1, 5, 5, 1]);
    x.set(1, 0, 2, 2, 0);
    const y = conv.forward(x.toTensor());
    const at = (r: number, c: number) => y.dataSync()[r * 5 + c];
    // correlation: out[o] = sum_k x[o + 2(k - 1)] w[k]  ->  out[4 - 2ki][4 - 2kj] = w[ki][kj]
    expect([at(4, 4), at(4, 2), at(2, 2), at(0, 0), at(0, 4)]).toEqual([1, 2, 5, 9, 7]);
    expect(values(y).filter((v) => v !== 0).length).toBe(9);
  });

  it('dilated convs (computed via space-to-batch) equal TF.js native dilated conv2d, odd sizes too, and have gradients', () => {
    for (const [d, h, w] of [[2, 7, 9], [4, 8, 8], [6, 10, 13]]) {
      const conv = new Conv({ dims: 2, inChannels: 3, outChannels: 2, kernelSize: 3, dilation: d, seed: new SeedSource(d) });
      const x = tf.randomNormal([2, h, w, 3], 0, 1, 'float32', d);
      const ref = tf.add(tf.conv2d(x as tf.Tensor4D, conv.weight as tf.Tensor4D, 1, 'same', 'NHWC', d), conv.bias!);
      const y = conv.forward(x);
      expect(y.shape).toEqual([2, h, w, 2]);
      expectClose(values(y), values(ref), 1e-5);
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.square(conv.forward(t))))(x);
      expect(g.shape).toEqual(x.shape);
    }
  });

  it('ConvTranspose (kernel 2, stride 2) scatters each input pixel times the PyTorch kernel, no flip', () => {
    const up = new ConvTranspose({ dims: 2, inChannels: 1, outChannels: 2, scale: 2 });
    // PyTorch weight [in=1, out=2, 2, 2]: out0 [[1,2],[3,4]], out1 [[5,6],[7,8]] -> TF [kh, kw, out, in]
    up.weight.assign(tf.transpose(tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 2, 2]), [2, 3, 1, 0]));
    up.bias!.assign(tf.tensor1d([0.5, -0.5]));
    const y = up.forward(tf.tensor4d([1, 10], [1, 1, 2, 1]));
    expect(y.shape).toEqual([1, 2, 4, 2]);
    const ch = (c: number) => values(tf.squeeze(tf.slice(y, [0, 0, 0, c], [1, 2, 4, 1])));
    expect(ch(0)).toEqual([1, 2, 10, 20, 3, 4, 30, 40].map((v) => v + 0.5));
    expect(ch(1)).toEqual([5, 6, 50, 60, 7, 8, 70, 80].map((v) => v - 0.5));
  });
});

describe('ConvTranspose against TF.js native transposed convolutions', () => {
  for (const dims of [2, 3] as const) {
    it(`${dims}D, scale 2, with gradients`, () => {
      const up = new ConvTranspose({ dims, inChannels: 3, outChannels: 2, scale: 2, seed: new SeedSource(dims) });
      const shape = dims === 2 ? [2, 3, 5, 3] : [2, 3, 4, 5, 3];
      const x = tf.randomNormal(shape, 0, 1, 'float32', 9);
      const out = [2, ...shape.slice(1, -1).map((d) => 2 * d), 2];
      const ref =
        dims === 2
          ? tf.conv2dTranspose(x as tf.Tensor4D, up.weight as tf.Tensor4D, out as [number, number, number, number], 2, 'valid')
          : tf.conv3dTranspose(x as tf.Tensor5D, up.weight as tf.Tensor5D, out as [number, number, number, number, number], 2, 'valid');
      const y = up.forward(x);
      expect(y.shape).toEqual(out);
      expectClose(values(y), values(tf.add(ref, up.bias!)), 1e-5);
      expect(tf.grad((t: tf.Tensor) => tf.sum(tf.square(up.forward(t))))(x).shape).toEqual(shape);
    });
  }
});

describe('rank-5 helpers (WebGPU-safe forms)', () => {
  it('padSpatial and addBias equal tf.pad and tf.add', () => {
    const x = tf.randomNormal([2, 3, 4, 5, 2], 0, 1, 'float32', 4);
    expect(values(padSpatial(x, 2))).toEqual(values(tf.pad(x, [[0, 0], [2, 2], [2, 2], [2, 2], [0, 0]])));
    expect(padSpatial(x, 2).shape).toEqual([2, 7, 8, 9, 2]);
    const b = tf.tensor1d([0.5, -3]);
    expect(values(addBias(x, b))).toEqual(values(tf.add(x, b)));
  });
});

describe('MaxAvgPool', () => {
  it('concatenates [max, avg] of 2x2 windows along channels', () => {
    const y = new MaxAvgPool(2).forward(tf.tensor4d(Array.from({ length: 16 }, (_, i) => i), [1, 4, 4, 1]));
    expect(y.shape).toEqual([1, 2, 2, 2]);
    expect(values(y)).toEqual([5, 2.5, 7, 4.5, 13, 10.5, 15, 12.5]);
  });

  it('works in 3D and floors odd sizes', () => {
    const y = new MaxAvgPool(3).forward(tf.tensor5d([0, 1, 2, 3, 4, 5, 6, 7], [1, 2, 2, 2, 1]));
    expect(values(y)).toEqual([7, 3.5]);
    expect(new MaxAvgPool(2).forward(tf.zeros([1, 5, 7, 3])).shape).toEqual([1, 2, 3, 6]);
  });
});

describe('ResidualSELayer', () => {
  it('y = x + x * ReLU(fc2(LeakyReLU(fc1(mean(x))))), no sigmoid', () => {
    const se = new ResidualSELayer(2, 2);
    const [fc0, , fc2] = se.fc.namedChildren().map(([, m]) => m) as unknown as { weight: tf.Variable; bias: tf.Variable }[];
    fc0.weight.assign(tf.tensor2d([[1], [2]])); // PyTorch [[1, 2]] (out 1, in 2), TF layout [in, out]
    fc0.bias.assign(tf.tensor1d([0.5]));
    fc2.weight.assign(tf.tensor2d([[2, -1]])); // PyTorch [[2], [-1]]
    fc2.bias.assign(tf.tensor1d([0, 0.25]));
    // channel 0: 1, 2, 3, 6 (mean 3); channel 1: all -1 (mean -1)
    const x = tf.tensor4d([1, -1, 2, -1, 3, -1, 6, -1], [1, 2, 2, 2]);
    // h = 3*1 + (-1)*2 + 0.5 = 1.5; s = ReLU([3, -1.25]) = [3, 0]
    expect(values(se.forward(x, EVAL))).toEqual([4, -1, 8, -1, 12, -1, 24, -1]);
    // negative hidden unit: LeakyReLU slope 0.01 shows up: h = -3 -> -0.03, s = [-0.06, 0.28] -> [0, 0.28]
    fc0.bias.assign(tf.tensor1d([-4]));
    expectClose(values(se.forward(x, EVAL)), [1, -1.28, 2, -1.28, 3, -1.28, 6, -1.28]);
  });
});

describe('UpSample', () => {
  it('bilinear align_corners: 2x2 -> 4x4 of f = 2y + x is exactly linear', () => {
    const y = upsampleLinearAlignCorners(tf.tensor4d([0, 1, 2, 3], [1, 2, 2, 1]), 2);
    const expected = [0, 1, 2, 3].flatMap((i) => [0, 1, 2, 3].map((j) => (2 * i) / 3 + j / 3));
    expectClose(values(y), expected, 1e-6);
  });

  it('trilinear align_corners: 2x2x3 -> 4x4x6 of f = z + 2y + 4x', () => {
    const src = [0, 1].flatMap((z) => [0, 1].flatMap((y) => [0, 1, 2].map((x) => z + 2 * y + 4 * x)));
    const out = upsampleLinearAlignCorners(tf.tensor5d(src, [1, 2, 2, 3, 1]), 2);
    expect(out.shape).toEqual([1, 4, 4, 6, 1]);
    const expected = [0, 1, 2, 3].flatMap((z) => [0, 1, 2, 3].flatMap((y) => [0, 1, 2, 3, 4, 5].map((x) => z / 3 + (2 * y) / 3 + (4 * x * 2) / 5)));
    expectClose(values(out), expected, 1e-5);
  });

  it('bilinear gradient is correct for non-square inputs (tfjs cpu ResizeBilinearGrad mislabels its shape)', () => {
    const x = tf.tensor4d(Array.from({ length: 2 * 3 * 2 }, (_, i) => i * 0.1), [1, 2, 3, 2]);
    const w = tf.tensor4d(Array.from({ length: 4 * 6 * 2 }, (_, i) => Math.sin(i)), [1, 4, 6, 2]);
    const grad = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(upsampleLinearAlignCorners(t, 2), w)))(x);
    // reference: the same interpolation as two gathers + lerps (gradients through gather)
    const ref = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(resizeAxisAlignCorners(resizeAxisAlignCorners(t, 1, 4), 2, 6), w)))(x);
    expect(grad.shape).toEqual([1, 2, 3, 2]);
    expectClose(values(grad), values(ref), 1e-5);
  });

  it('linear mode runs the 1x1 conv before interpolating', () => {
    const up = new UpSample({ dims: 2, inChannels: 1, outChannels: 1 });
    const conv = up.getModule('upsample.0') as Conv;
    conv.weight.assign(tf.fill([1, 1, 1, 1], 2));
    conv.bias!.assign(tf.tensor1d([1]));
    const y = up.forward(tf.tensor4d([0, 1, 2, 3], [1, 2, 2, 1]), EVAL);
    expectClose(values(y), [0, 1, 2, 3].flatMap((i) => [0, 1, 2, 3].map((j) => 2 * ((2 * i) / 3 + j / 3) + 1)), 1e-5);
    expect([...up.namedParameters()].map(([k]) => k)).toEqual(['upsample.0.weight', 'upsample.0.bias']);
    expect([...new UpSample({ dims: 3, inChannels: 4, outChannels: 2, mode: 'deconv' }).namedParameters()].map(([k, p]) => [k, p.variable.shape])).toEqual([
      ['upsample.weight', [2, 2, 2, 2, 4]],
      ['upsample.bias', [2]],
    ]);
  });
});

describe('parameter counts and names of composite blocks', () => {
  it('SimpleASPP(16 -> 4 x 4): 68 + 3 x 580 + 272 + 32', () => {
    const aspp = new SimpleASPP({ dims: 2, inChannels: 16, convOutChannels: 4 });
    expect(aspp.parameterCount()).toBe(68 + 3 * 580 + 272 + 32);
    expect(aspp.forward(tf.zeros([1, 8, 8, 16]), EVAL).shape).toEqual([1, 8, 8, 16]);
    expect([...aspp.namedParameters()].map(([k]) => k).slice(0, 3)).toEqual(['convs.0.weight', 'convs.0.bias', 'convs.1.weight']);
  });

  it('ConvBNActBlock(1 -> 8): keys conv_conv_se.{0,2,3} and 80+16 + 584+16 + 36+40 parameters', () => {
    const block = new ConvBNActBlock(2, 1, 8, 0.2);
    expect(block.parameterCount()).toBe(80 + 16 + 584 + 16 + 36 + 40);
    const keys = [...block.namedParameters()].map(([k]) => k);
    expect(keys).toEqual([
      ...['0', '2'].flatMap((i) => [
        `conv_conv_se.${i}.conv.weight`,
        `conv_conv_se.${i}.conv.bias`,
        ...['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked'].map((p) => `conv_conv_se.${i}.norm.${p}`),
      ]),
      'conv_conv_se.3.fc.0.weight',
      'conv_conv_se.3.fc.0.bias',
      'conv_conv_se.3.fc.2.weight',
      'conv_conv_se.3.fc.2.bias',
    ]);
  });
});
