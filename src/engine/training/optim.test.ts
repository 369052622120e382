import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { nrDiceLoss } from './losses';
import { TensorLeakGuard, accumulateGradients, createOptimizer, learningRateAt } from './optim';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('learning-rate schedules', () => {
  it('constant, step, cosine, poly at given steps', () => {
    expect(learningRateAt(123, { kind: 'constant', lr: 3e-4 })).toBe(3e-4);
    const step = { kind: 'step', lr: 1, stepSize: 2, gamma: 0.1 } as const;
    expect([0, 1, 2, 3, 4].map((s) => learningRateAt(s, step))).toEqual([1, 1, 0.1, 0.1, 1 * 0.1 ** 2]);
    const cos = { kind: 'cosine', lr: 1, totalSteps: 10 } as const;
    expect(learningRateAt(0, cos)).toBe(1);
    expect(learningRateAt(5, cos)).toBeCloseTo(0.5, 12);
    expect(learningRateAt(10, cos)).toBeCloseTo(0, 12);
    expect(learningRateAt(20, cos)).toBeCloseTo(0, 12);
    expect(learningRateAt(5, { ...cos, minLr: 0.1 })).toBeCloseTo(0.55, 12);
    const poly = { kind: 'poly', lr: 1, totalSteps: 10 } as const;
    expect(learningRateAt(5, poly)).toBeCloseTo(0.5 ** 0.9, 12);
    expect(learningRateAt(10, poly)).toBe(0);
    expect(learningRateAt(5, { ...poly, power: 1, minLr: 0.2 })).toBeCloseTo(0.6, 12);
  });
});

describe('scheduled optimizers', () => {
  const schedule = { kind: 'step', lr: 1, stepSize: 2, gamma: 0.1 } as const;
  /** Applies 5 updates of d(sum w)/dw = 1 and returns w after each. */
  const run = (opts: Parameters<typeof createOptimizer>[0], w0 = 0) => {
    const w = tf.variable(tf.scalar(w0));
    const opt = createOptimizer(opts);
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) {
      expect(opt.learningRate).toBe(learningRateAt(i, opts.schedule));
      tf.dispose(opt.minimize(() => tf.sum(w), [w]));
      seen.push(w.dataSync()[0]);
    }
    expect(opt.step).toBe(5);
    opt.dispose();
    w.dispose();
    return seen;
  };

  it('SGD (momentum 0): the step size follows the schedule', () => {
    const w = run({ kind: 'sgd', momentum: 0, schedule });
    [-1, -2, -2.1, -2.2, -2.21].forEach((v, i) => expect(w[i]).toBeCloseTo(v, 5));
  });

  it('SGD momentum 0.9: velocity accumulates, the new learning rate applies to it', () => {
    // v: 1, 1.9, 2.71, 3.439, 4.0951; lr: 1, 1, 0.1, 0.1, 0.01.
    const w = run({ kind: 'sgd', momentum: 0.9, schedule });
    [-1, -2.9, -3.171, -3.5149, -3.555851].forEach((v, i) => expect(w[i]).toBeCloseTo(v, 5));
  });

  it('Adam: a constant gradient moves by ≈ lr per step, so the schedule is visible', () => {
    const w = run({ kind: 'adam', schedule });
    [-1, -2, -2.1, -2.2, -2.21].forEach((v, i) => expect(w[i]).toBeCloseTo(v, 4)); // float32 bias correction
  });

  it('weight decay adds weightDecay · θ to the gradient', () => {
    const w = tf.variable(tf.scalar(1));
    const opt = createOptimizer({ kind: 'sgd', momentum: 0, weightDecay: 0.5, schedule: { kind: 'constant', lr: 0.1 } });
    tf.dispose(opt.minimize(() => tf.mul(tf.sum(w), 0), [w]));
    expect(w.dataSync()[0]).toBeCloseTo(0.95, 6);
    tf.dispose(opt.minimize(() => tf.mul(tf.sum(w), 0), [w]));
    expect(w.dataSync()[0]).toBeCloseTo(0.9025, 6);
    opt.dispose();
  });
});

describe('gradient accumulation', () => {
  it('4 micro-batches of 2 equal one batch of 8 for a linear model (mean and sum losses)', () => {
    const x = tf.randomNormal([8, 3], 0, 1, 'float32', 1);
    const y = tf.randomNormal([8, 1], 0, 1, 'float32', 2);
    const w = tf.variable(tf.randomNormal([3, 1], 0, 1, 'float32', 3));
    const b = tf.variable(tf.scalar(0.3));
    const residual = (xs: tf.Tensor, ys: tf.Tensor) => tf.square(tf.sub(tf.add(tf.matMul(xs as tf.Tensor2D, w), b), ys));
    const part = (t: tf.Tensor, i: number) => tf.slice(t, [2 * i, 0], [2, -1]);
    for (const reduce of ['mean', 'sum'] as const) {
      const r = (t: tf.Tensor) => (reduce === 'mean' ? tf.mean(t) : tf.sum(t)) as tf.Scalar;
      const full = tf.variableGrads(() => r(residual(x, y)), [w, b]);
      const before = tf.memory().numTensors;
      const acc = accumulateGradients(4, (i) => r(residual(part(x, i), part(y, i))), { varList: [w, b], average: reduce === 'mean' });
      expect(tf.memory().numTensors).toBe(before + 3); // two gradients + the loss, nothing else
      for (const v of [w, b]) {
        const a = acc.grads[v.name].dataSync();
        const e = full.grads[v.name].dataSync();
        for (let i = 0; i < e.length; i++) expect(Math.abs(a[i] - e[i])).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(e[i])));
      }
      expect(acc.loss.dataSync()[0]).toBeCloseTo(full.value.dataSync()[0], 4);
      tf.dispose([...Object.values(acc.grads), acc.loss, ...Object.values(full.grads), full.value]);
    }
    expect(() => accumulateGradients(0, () => tf.scalar(0))).toThrow(/positive integer/);
  });
});

describe('tensor leak guard', () => {
  it('numTensors is identical after steps 2..5 of a tiny conv net with Adam; a leaking step is caught', () => {
    const x = tf.randomNormal([2, 8, 8, 1], 0, 1, 'float32', 5);
    const target = tf.oneHot(tf.cast(tf.greater(tf.reshape(x, [2, 8, 8]), 0), 'int32'), 2);
    const w1 = tf.variable(tf.randomNormal([3, 3, 1, 4], 0, 0.5, 'float32', 6)) as tf.Variable<tf.Rank.R4>;
    const w2 = tf.variable(tf.randomNormal([3, 3, 4, 2], 0, 0.5, 'float32', 7)) as tf.Variable<tf.Rank.R4>;
    const net = (input: tf.Tensor) => tf.conv2d(tf.leakyRelu(tf.conv2d(input as tf.Tensor4D, w1, 1, 'same'), 0.01) as tf.Tensor4D, w2, 1, 'same');
    const opt = createOptimizer({ kind: 'adam', schedule: { kind: 'cosine', lr: 0.05, totalSteps: 5 } });
    const guard = new TensorLeakGuard();
    const counts: number[] = [];
    const losses: number[] = [];
    for (let step = 1; step <= 5; step++) {
      const loss = opt.minimize(() => nrDiceLoss(net(x), target), [w1, w2]);
      losses.push(loss.dataSync()[0]);
      loss.dispose();
      if (step >= 2) counts.push(guard.check());
    }
    expect(counts).toHaveLength(4);
    expect(new Set(counts).size).toBe(1);
    expect(losses[4]).toBeLessThan(losses[0]);
    const leaked = tf.scalar(1); // a step that forgets a tensor
    expect(() => guard.check('leaky step')).toThrow(/leaky step: 1 tensors leaked/);
    leaked.dispose();
    expect(guard.check()).toBe(counts[0]);
    opt.dispose();
  });
});
