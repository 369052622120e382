import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { DeviceAdam } from './adam';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Three variables of different shapes and deterministic gradients per step. */
const SHAPES = [[3], [2, 2], [1]];
const gradsAt = (step: number, names: string[]): tf.NamedTensorMap =>
  Object.fromEntries(names.map((n, k) => [n, tf.tensor(Array.from({ length: SHAPES[k].reduce((a, b) => a * b) }, (_, j) => Math.sin(1 + step * 3.1 + k * 1.7 + j)), SHAPES[k])]));

/** Runs `steps` updates from fixed starting values; returns the variables' values after each step. */
function run(opt: tf.Optimizer, steps: number, from = 0, vars?: tf.Variable[]): { vars: tf.Variable[]; seen: number[][] } {
  vars ??= SHAPES.map((s, k) => tf.variable(tf.fill(s, 0.5 - k), true, `adam_test_${Math.random()}`));
  const names = vars.map((v) => v.name);
  const seen: number[][] = [];
  for (let s = from; s < from + steps; s++) {
    const g = gradsAt(s, names);
    opt.applyGradients(g);
    tf.dispose(Object.values(g));
    seen.push(vars.flatMap((v) => Array.from(v.dataSync())));
  }
  return { vars, seen };
}

describe('DeviceAdam', () => {
  it('matches a hand-computed PyTorch Adam update in float64 (one scalar, three steps)', () => {
    const [lr, b1, b2, eps] = [0.1, 0.9, 0.999, 1e-8];
    const g = [1, -2, 0.5];
    let [theta, m, v] = [1, 0, 0];
    const expected = g.map((gt, i) => {
      m = b1 * m + (1 - b1) * gt;
      v = b2 * v + (1 - b2) * gt * gt;
      const t = i + 1;
      theta -= ((lr / (1 - b1 ** t)) * m) / (Math.sqrt(v) / Math.sqrt(1 - b2 ** t) + eps);
      return theta;
    });
    const w = tf.variable(tf.scalar(1));
    const opt = new DeviceAdam(lr, b1, b2, eps);
    const got = g.map((gt) => {
      const grad = tf.scalar(gt);
      opt.applyGradients({ [w.name]: grad });
      grad.dispose();
      return w.dataSync()[0];
    });
    got.forEach((x, i) => expect(x).toBeCloseTo(expected[i], 6));
    expect(opt.iterations).toBe(3);
    opt.dispose();
    w.dispose();
  });

  it('follows tfjs-core AdamOptimizer step for step (5 steps, 3 variables, lr changed midway)', () => {
    const ours = new DeviceAdam(0.01, 0.9, 0.999, 1e-8);
    const theirs = tf.train.adam(0.01, 0.9, 0.999, 1e-8);
    const a = run(ours, 2);
    const b = run(theirs, 2);
    ours.learningRate = 0.003;
    (theirs as unknown as { learningRate: number }).learningRate = 0.003;
    a.seen.push(...run(ours, 3, 2, a.vars).seen);
    b.seen.push(...run(theirs, 3, 2, b.vars).seen);
    a.seen.flat().forEach((x, i) => expect(x).toBeCloseTo(b.seen.flat()[i], 6));
    // and the update is not trivial: every value moved
    expect(a.seen[4].every((x, i) => Math.abs(x - [0.5, 0.5, 0.5, -0.5, -0.5, -0.5, -0.5, -1.5][i]) > 1e-3)).toBe(true);
    tf.dispose([...a.vars, ...b.vars]);
    ours.dispose();
    theirs.dispose();
  });

  it('makes two host tensors per step whatever the number of variables (tfjs-core Adam: six per variable)', () => {
    const engine = tf.engine() as unknown as { makeTensor: (...args: unknown[]) => tf.Tensor };
    const count = (opt: tf.Optimizer, vars: tf.Variable[]) => {
      const names = vars.map((v) => v.name);
      const warm = gradsAt(0, names);
      opt.applyGradients(warm); // slots are created at the first step
      const g = gradsAt(1, names);
      const original = engine.makeTensor;
      let n = 0;
      engine.makeTensor = (...args) => (n++, original.apply(engine, args));
      try {
        opt.applyGradients(g);
      } finally {
        engine.makeTensor = original;
      }
      tf.dispose([...Object.values(warm), ...Object.values(g)]);
      return n;
    };
    const vars = SHAPES.map((s) => tf.variable(tf.zeros(s)));
    const ours = new DeviceAdam(0.01);
    const theirs = tf.train.adam(0.01);
    expect(count(ours, vars)).toBe(2);
    expect(count(ours, vars.slice(0, 1))).toBe(2);
    expect(count(theirs, vars)).toBeGreaterThanOrEqual(6 * vars.length);
    tf.dispose(vars);
    ours.dispose();
    theirs.dispose();
  });

  it('state saved mid-run (its own or tfjs-core Adam\'s) continues exactly as the uninterrupted run', async () => {
    const straight = new DeviceAdam(0.02);
    const full = run(straight, 5);
    for (const first of [new DeviceAdam(0.02), tf.train.adam(0.02, 0.9, 0.999, 1e-8)]) {
      const head = run(first, 2);
      const saved = await first.getWeights();
      expect(saved.map((w) => w.name.replace(/.*\//, ''))).toEqual(['iter', 'm', 'm', 'm', 'v', 'v', 'v']);
      const resumed = new DeviceAdam(0.02);
      await resumed.setWeights(saved);
      expect(resumed.iterations).toBe(2);
      first.dispose(); // the restored slots are the optimizer's own copies
      const tail = run(resumed, 3, 2, head.vars);
      [...head.seen, ...tail.seen].flat().forEach((x, i) => expect(x).toBeCloseTo(full.seen.flat()[i], 6));
      resumed.dispose();
      tf.dispose(head.vars);
    }
    tf.dispose(full.vars);
    straight.dispose();
  });

  it('disposes everything it made', () => {
    const before = tf.memory().numTensors;
    const w = tf.tidy(() => tf.variable(tf.ones([4])));
    const opt = new DeviceAdam(0.1);
    for (let s = 0; s < 3; s++) {
      const g = tf.ones([4]);
      opt.applyGradients({ [w.name]: g });
      g.dispose();
    }
    opt.dispose();
    w.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
