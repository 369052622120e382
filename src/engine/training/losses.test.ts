import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { crossEntropyLoss, diceCELoss, diceLoss, nrDiceLoss, nrDicePerSample, oneHotTarget, powAbs, type NRDiceOptions } from './losses';
import { gradError, loadLossFixture, nchw, valueClose } from './loss-fixtures.test-util';

const fixture = loadLossFixture();

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function expectClose(actual: number, expected: number, what: string): void {
  if (!valueClose(actual, expected)) throw new Error(`${what}: got ${actual}, expected ${expected}`);
}

const nrForms: Record<string, NRDiceOptions> = {
  nrdice_paper_fg: { form: 'paper', channels: 'foreground' },
  nrdice_paper_mean2ch: { form: 'paper', channels: 'mean' },
  nrdice_pymic_mean2ch: { form: 'pymic', channels: 'mean' },
};

describe.each(fixture.cases.map((c) => [c.name, c] as const))('MONAI loss fixture %s', (_name, c) => {
  // The fixture is NCHW: check both channelAxis = 1 on it and the default (channel-last) after a transpose.
  for (const layout of ['NCHW', 'NHWC'] as const) {
    const nhwc = layout === 'NHWC';
    const axis = nhwc ? {} : { channelAxis: 1 };
    const run = (f: (l: tf.Tensor, g: tf.Tensor) => tf.Tensor): number => {
      const l = nchw(c.logits, c.shape, nhwc);
      const g = nchw(c.target_onehot, c.shape, nhwc);
      const out = f(l, g);
      const v = out.dataSync()[0];
      tf.dispose([l, g, out]);
      return v;
    };

    it(`NR-Dice, all forms and gammas (${layout})`, () => {
      let checked = 0;
      for (const [key, opts] of Object.entries(nrForms)) {
        const byGamma = c.values[key] as Record<string, number>;
        for (const gamma of fixture.gammas) {
          const v = run((l, g) => nrDiceLoss(l, g, { ...opts, ...axis, gamma: Number(gamma) }));
          expectClose(v, byGamma[gamma], `${c.name} ${key} gamma ${gamma}`);
          checked++;
        }
      }
      expect(checked).toBe(9);
    });

    it(`MONAI DiceLoss(softmax=True) and DiceCELoss defaults / softmax, with their terms (${layout})`, () => {
      const v = c.values as Record<string, number>;
      expectClose(run((l, g) => diceLoss(l, g, { ...axis, softmax: true })), v.monai_diceloss_softmax, 'DiceLoss softmax');
      expectClose(run((l, g) => diceLoss(l, g, axis)), v.monai_dicece_defaults_dice_term, 'Dice term on raw logits');
      expectClose(run((l, g) => crossEntropyLoss(l, g, axis)), v.monai_dicece_defaults_ce_term, 'CE term (defaults)');
      expectClose(run((l, g) => crossEntropyLoss(l, g, axis)), v.monai_dicece_softmax_ce_term, 'CE term (softmax)');
      expectClose(run((l, g) => diceLoss(l, g, { ...axis, softmax: true })), v.monai_dicece_softmax_dice_term, 'Dice term (softmax)');
      expectClose(run((l, g) => diceCELoss(l, g, axis)), v.monai_dicece_defaults, 'DiceCELoss()');
      expectClose(run((l, g) => diceCELoss(l, g, { ...axis, softmax: true })), v.monai_dicece_softmax, 'DiceCELoss(softmax=True)');
    });

    it(`gradient of paper NR-Dice (foreground, gamma 1.5) wrt logits (${layout})`, () => {
      const l = nchw(c.logits, c.shape, nhwc);
      const g = nchw(c.target_onehot, c.shape, nhwc);
      const grad = tf.grad((x: tf.Tensor) => nrDiceLoss(x, g, { ...axis, gamma: 1.5 }))(l);
      const ref = nchw(c['grad_nrdice_paper_fg_gamma1.5'], c.shape, nhwc);
      const { maxErr, tol } = gradError(grad.dataSync(), ref.dataSync());
      expect(maxErr).toBeLessThanOrEqual(tol);
      tf.dispose([l, g, grad, ref]);
    });
  }

  it('per-sample NR-Dice equals the pooled loss of each item alone', () => {
    const l = nchw(c.logits, c.shape, true);
    const g = nchw(c.target_onehot, c.shape, true);
    const per = nrDicePerSample(l, g).arraySync() as number[];
    expect(per).toHaveLength(2);
    for (let n = 0; n < 2; n++) {
      const one = nrDiceLoss(tf.slice(l, n, 1), tf.slice(g, n, 1)).dataSync()[0];
      expect(Math.abs(per[n] - one)).toBeLessThanOrEqual(1e-6 * Math.max(1, one));
    }
    tf.dispose([l, g]);
  });
});

describe('losses: edge cases', () => {
  it('include_background=false drops channel 0 after the softmax', () => {
    // One item, two pixels, two channels; hand-computed: p1 = sigmoid(l1 - l0).
    const logits = tf.tensor4d([0, 0, 0, Math.log(3)], [1, 1, 2, 2]);
    const target = tf.tensor4d([1, 0, 0, 1], [1, 1, 2, 2]);
    const p1 = [0.5, 0.75];
    const expected = 1 - (2 * (0 * p1[0] + 1 * p1[1]) + 1e-5) / (p1[0] + p1[1] + 1 + 1e-5);
    expectClose(diceLoss(logits, target, { softmax: true, includeBackground: false }).dataSync()[0], expected, 'dice fg');
  });

  it('powAbs: gradient is 0 at d = 0 for gamma 1 and 0.5, finite elsewhere, correct value', () => {
    for (const gamma of [1, 1.5, 0.5]) {
      const d = tf.tensor1d([-0.25, 0, 0.25]);
      const v = powAbs(d, gamma).dataSync();
      expect(v[1]).toBe(0);
      expect(v[2]).toBeCloseTo(0.25 ** gamma, 6);
      const grad = tf.grad((x: tf.Tensor) => tf.sum(powAbs(x, gamma)))(d).arraySync() as number[];
      expect(grad[1]).toBe(0);
      expect(grad[2]).toBeCloseTo(gamma * 0.25 ** (gamma - 1), 5);
      expect(grad[0]).toBeCloseTo(-gamma * 0.25 ** (gamma - 1), 5);
    }
  });

  it('NR-Dice gradient wrt probabilities where p == g is 0 from the numerator (hand-computed)', () => {
    // softmax: false, foreground channel: p1 = [0, 0.7], g1 = [0, 1]. Pixel 0 has p == g exactly.
    const probs = tf.tensor4d([1, 0, 0.3, 0.7], [1, 1, 2, 2]);
    const target = tf.tensor4d([1, 0, 0, 1], [1, 1, 2, 2]);
    for (const gamma of [1, 1.5, 0.5]) {
      const grad = tf.grad((x: tf.Tensor) => nrDiceLoss(x, target, { gamma, softmax: false }))(probs).dataSync();
      const D = 0.49 + 1 + 1e-5;
      const L = 0.3 ** gamma / D;
      expect(grad[1]).toBe(0); // foreground at pixel 0: numerator subgradient 0, denominator term 2·p = 0
      expect(grad[3]).toBeCloseTo(-gamma * 0.3 ** (gamma - 1) / D - (L * 2 * 0.7) / D, 5);
      expect(grad[0]).toBe(0); // background channel is not in the 'foreground' loss
      expect(grad[2]).toBe(0);
    }
  });

  it('rejects mismatched shapes and too few dimensions', () => {
    expect(() => nrDiceLoss(tf.zeros([1, 4, 4, 2]), tf.zeros([1, 4, 4, 3]))).toThrow(/differs from target/);
    expect(() => diceLoss(tf.zeros([4, 2]), tf.zeros([4, 2]))).toThrow(/rank >= 3/);
    expect(() => nrDiceLoss(tf.zeros([1, 4, 4, 2]), tf.zeros([1, 4, 4, 2]), { gamma: 0 })).toThrow(/gamma/);
  });

  it('leaves no tensors behind', () => {
    const l = tf.randomNormal([2, 4, 4, 2]);
    const g = tf.oneHot(tf.randomUniform([2, 4, 4], 0, 2, 'int32'), 2);
    const before = tf.memory().numTensors;
    const outs = [nrDiceLoss(l, g), nrDicePerSample(l, g), diceLoss(l, g), diceCELoss(l, g, { softmax: true })];
    expect(tf.memory().numTensors).toBe(before + outs.length);
    tf.dispose(outs);
  });
});

describe('oneHotTarget', () => {
  it('is float32 (…shape, classes) with a 1 at each label; out-of-range labels give a zero row, as tf.oneHot', async () => {
    const y = oneHotTarget(Uint8Array.from([0, 2, 1, 5]), [2, 2], 3);
    expect(y.dtype).toBe('float32');
    expect(y.shape).toEqual([2, 2, 3]);
    expect(Array.from(await y.data())).toEqual([1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0]);
    y.dispose();
    expect(() => oneHotTarget([0, 1], [3], 2)).toThrow(/2 labels for shape \[3\]/);
  });
});
