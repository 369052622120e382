import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { nrDiceLoss } from './losses';
import {
  AdaptiveTeacher,
  LossOutlierGate,
  adaptiveStudentMask,
  cloneAsTeacher,
  consistencyLoss,
  consistencyWeight,
  emaDecay,
  emaUpdate,
  sigmoidRampup,
  stopGradient,
} from './self-ensembling';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const values = (vs: tf.Variable[]) => vs.map((v) => v.dataSync()[0]);

describe('mean teacher EMA', () => {
  it('moves two scalar teachers towards the student over 3 steps (θ\' ← αθ\' + (1−α)θ)', () => {
    const teacher = [tf.variable(tf.scalar(0), false), tf.variable(tf.scalar(10), false)];
    const student = [tf.variable(tf.scalar(1)), tf.variable(tf.scalar(20))];
    emaUpdate(teacher, student, 0.9);
    expect(values(teacher)[0]).toBeCloseTo(0.1, 6);
    expect(values(teacher)[1]).toBeCloseTo(11, 5);
    student[0].assign(tf.scalar(2));
    emaUpdate(teacher, student, 0.9);
    expect(values(teacher)[0]).toBeCloseTo(0.29, 6);
    expect(values(teacher)[1]).toBeCloseTo(11.9, 5);
    student[1].assign(tf.scalar(0));
    emaUpdate(teacher, student, 0.9);
    expect(values(teacher)[0]).toBeCloseTo(0.461, 6);
    expect(values(teacher)[1]).toBeCloseTo(10.71, 5);
    expect(values(student)).toEqual([2, 0]); // the student is never written
  });

  it('warm-up decay min(1 − 1/(t+1), α) makes the teacher the running mean of the student', () => {
    expect([0, 1, 2, 3, 99, 100, 1000].map((t) => emaDecay(t, { warmup: true }))).toEqual([0, 0.5, 1 - 1 / 3, 0.75, 0.99, 0.99, 0.99]);
    expect(emaDecay(0)).toBe(0.99);
    const teacher = [tf.variable(tf.scalar(5), false)];
    const student = [tf.variable(tf.scalar(0))];
    [1, 3, 6].forEach((s, t) => {
      student[0].assign(tf.scalar(s));
      emaUpdate(teacher, student, emaDecay(t, { warmup: true }));
    });
    expect(values(teacher)[0]).toBeCloseTo((1 + 3 + 6) / 3, 5);
  });

  it('cloneAsTeacher makes independent, non-trainable copies (list and map); maps pair by name', () => {
    const student = { w: tf.variable(tf.tensor1d([1, 2])), b: tf.variable(tf.scalar(3)) };
    const teacher = cloneAsTeacher(student);
    expect(teacher.w.trainable).toBe(false);
    expect(Array.from(teacher.w.dataSync())).toEqual([1, 2]);
    student.w.assign(tf.tensor1d([3, 6]));
    expect(Array.from(teacher.w.dataSync())).toEqual([1, 2]);
    emaUpdate(teacher, { b: student.b, w: student.w }, 0.5);
    expect(Array.from(teacher.w.dataSync())).toEqual([2, 4]);
    expect(teacher.b.dataSync()[0]).toBe(3);
    expect(() => emaUpdate([teacher.w], [student.b], 0.5)).toThrow(/teacher variable/);
    expect(() => emaUpdate({ w: teacher.w }, student, 0.5)).toThrow(/names differ/);
  });

  it('leaks no tensors', () => {
    const teacher = [tf.variable(tf.ones([3, 3]), false)];
    const student = [tf.variable(tf.zeros([3, 3]))];
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) emaUpdate(teacher, student, 0.99);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('adaptive teacher', () => {
  it('gate: abnormal exactly when the loss exceeds mean + k·std of the window', () => {
    const gate = new LossOutlierGate({ k: 2, window: 8, minHistory: 8 });
    for (const l of [1, 1, 1, 1, 3, 3, 3]) expect(gate.observe(l)).toEqual({ abnormal: false, threshold: null });
    expect(gate.observe(100).abnormal).toBe(false); // 7 losses seen: not enough history yet
    const gate2 = new LossOutlierGate({ k: 2, window: 8, minHistory: 8 });
    for (const l of [1, 1, 1, 1, 3, 3, 3, 3]) gate2.observe(l);
    expect(gate2.threshold).toBe(4); // mean 2, population std 1
    expect(gate2.observe(4)).toEqual({ abnormal: false, threshold: 4 });
    // Window now [1,1,1,3,3,3,3,4]: mean 2.375, variance 9.875/8.
    const t = 2.375 + 2 * Math.sqrt(9.875 / 8);
    expect(gate2.threshold).toBeCloseTo(t, 12);
    expect(gate2.observe(t + 1e-9).abnormal).toBe(true);
    expect(gate2.observe(Number.NaN).abnormal).toBe(true);
    expect(gate2.observe(Number.POSITIVE_INFINITY).abnormal).toBe(true);
    // Non-finite losses are not recorded; the abnormal finite one was (window [1,1,3,3,3,3,4,t+1e-9]).
    const w = [1, 1, 3, 3, 3, 3, 4, t + 1e-9];
    const m = w.reduce((a, b) => a + b) / 8;
    expect(gate2.threshold).toBeCloseTo(m + 2 * Math.sqrt(w.reduce((a, b) => a + (b - m) ** 2, 0) / 8), 12);
  });

  it('skips (or scales) the EMA update for an abnormal batch loss', () => {
    for (const mode of ['skip', 'scale'] as const) {
      const teacher = [tf.variable(tf.scalar(0), false)];
      const student = [tf.variable(tf.scalar(1))];
      const at = new AdaptiveTeacher(teacher, student, { alpha: 0.5, k: 2, window: 4, minHistory: 4, suppression: mode, scale: 0.1 });
      const expected = [0.5, 0.75, 0.875, 0.9375];
      for (const e of expected) {
        expect(at.update(1).suppressed).toBe(false);
        expect(values(teacher)[0]).toBeCloseTo(e, 6);
      }
      const step = at.update(10); // threshold = 1 + 2·0
      expect(step.suppressed).toBe(true);
      expect(step.threshold).toBe(1);
      if (mode === 'skip') {
        expect(step.alpha).toBe(1);
        expect(values(teacher)[0]).toBeCloseTo(0.9375, 6);
      } else {
        expect(step.alpha).toBeCloseTo(0.95, 12);
        expect(values(teacher)[0]).toBeCloseTo(0.95 * 0.9375 + 0.05, 6);
      }
      expect(at.step).toBe(5);
    }
  });
});

describe('adaptive student', () => {
  // NHWC, 3 items of 2×2 pixels, 2 channels; the label has foreground in pixel 0 only.
  const label = [1, 0, 0, 0];
  const target = tf.tensor4d([0, 1, 2].flatMap(() => label.flatMap((g) => [1 - g, g])), [3, 2, 2, 2]);
  const good = label.flatMap((g) => [0, g ? 5 : -5]);
  const bad = label.flatMap((g) => [0, g ? -5 : 5]);
  const student = tf.tensor4d([...bad, ...good, ...good], [3, 2, 2, 2]);
  const teacher = tf.tensor4d([...good, ...bad, ...good], [3, 2, 2, 2]);

  it('mask is 1 only where the teacher matches the label better than the student (ties give 0)', () => {
    expect(Array.from(adaptiveStudentMask(student, teacher, target).dataSync())).toEqual([1, 0, 0]);
    expect(Array.from(adaptiveStudentMask(teacher, student, target).dataSync())).toEqual([0, 1, 0]);
  });

  it('consistency MSE of softmaxes, masked per sample, averaged over all samples (hand-computed)', () => {
    // Item 0: student p = [.5,.5], teacher [.25,.75] → MSE 0.0625. Item 1: [.75,.25] vs [.25,.75] → 0.25.
    const s = tf.tensor4d([0, 0, Math.log(3), 0], [2, 1, 1, 2]);
    const t = tf.tensor4d([0, Math.log(3), 0, Math.log(3)], [2, 1, 1, 2]);
    expect(consistencyLoss(s, t).dataSync()[0]).toBeCloseTo((0.0625 + 0.25) / 2, 6);
    expect(consistencyLoss(s, t, { mask: tf.tensor1d([1, 0]) }).dataSync()[0]).toBeCloseTo(0.0625 / 2, 6);
    expect(consistencyLoss(s, t, { mask: tf.tensor1d([0, 1]) }).dataSync()[0]).toBeCloseTo(0.25 / 2, 6);
    // NCHW input with channelAxis 1 gives the same number.
    const nchw = (x: tf.Tensor) => tf.transpose(x, [0, 3, 1, 2]);
    expect(consistencyLoss(nchw(s), nchw(t), { channelAxis: 1 }).dataSync()[0]).toBeCloseTo((0.0625 + 0.25) / 2, 6);
  });

  it('gradients: the teacher and the mask are constants; the student gets the masked consistency gradient', () => {
    const loss = (s: tf.Tensor, t: tf.Tensor) =>
      tf.add(nrDiceLoss(s, target), tf.mul(consistencyLoss(s, t, { mask: adaptiveStudentMask(s, t, target) }), 0.1)) as tf.Scalar;
    const [gs, gt] = tf.grads(loss)([student, teacher]);
    expect(Array.from(gt.dataSync()).every((v) => v === 0)).toBe(true);
    // Same as with the mask passed in as a plain constant [1, 0, 0].
    const ref = tf.grad((s: tf.Tensor) =>
      tf.add(nrDiceLoss(s, target), tf.mul(consistencyLoss(s, teacher, { mask: tf.tensor1d([1, 0, 0]) }), 0.1)) as tf.Scalar,
    )(student);
    const a = gs.dataSync();
    const b = ref.dataSync();
    for (let i = 0; i < b.length; i++) expect(a[i]).toBeCloseTo(b[i], 7);
    // Item 0 has a non-zero consistency gradient; without the term its gradient differs.
    const dice = tf.grad((s: tf.Tensor) => nrDiceLoss(s, target))(student).dataSync();
    expect(Math.max(...Array.from(a.slice(0, 8)).map((v, i) => Math.abs(v - dice[i])))).toBeGreaterThan(1e-4);
  });

  it('stopGradient is the identity forward and zero backward', () => {
    const x = tf.tensor1d([1, -2]);
    expect(Array.from(stopGradient(x).dataSync())).toEqual([1, -2]);
    expect(Array.from(tf.grad((z: tf.Tensor) => tf.sum(tf.mul(stopGradient(z), z)))(x).dataSync())).toEqual([1, -2]);
  });

  it('sigmoid ramp-up exp(−5(1−p)²) and the consistency weight', () => {
    expect(sigmoidRampup(0, 0, 100)).toBeCloseTo(Math.exp(-5), 12);
    expect(sigmoidRampup(-10, 0, 100)).toBeCloseTo(0.006737947, 9);
    expect(sigmoidRampup(50, 0, 100)).toBeCloseTo(0.2865048, 7);
    expect(sigmoidRampup(75, 50, 100)).toBeCloseTo(0.2865048, 7);
    expect(sigmoidRampup(90, 0, 100)).toBeCloseTo(Math.exp(-0.05), 12);
    expect(sigmoidRampup(100, 0, 100)).toBe(1);
    expect(sigmoidRampup(150, 0, 100)).toBe(1);
    expect(sigmoidRampup(3, 10, 10)).toBe(1);
    expect(consistencyWeight(50, { rampupEnd: 100 })).toBeCloseTo(0.02865048, 8);
    expect(consistencyWeight(7)).toBe(0.1);
  });
});
