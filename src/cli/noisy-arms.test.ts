import { describe, expect, it } from 'vitest';
import { ARM_IDS, armConfig, observerFor, parseArms, type ArmSettings } from './noisy-arms';

const S: ArmSettings = { features: [8, 16, 32, 64, 128], patch: 64, batch: 4, steps: 400, seed: 7, lr: 0.002, gamma: 1.5, nrdiceForm: 'pymic', lambda: 0.1, rampup: 0.4 };

describe('noisy-label experiment arms', () => {
  it('give each arm its documented loss, labels and self-ensembling', () => {
    const [a, b, c, d] = ARM_IDS.map((id) => armConfig(id, S));
    expect([a.labels, b.labels, c.labels, d.labels]).toEqual(['observers', 'observers', 'observers', 'truth']);
    expect(a.config.loss).toEqual({ kind: 'dice', batch: true });
    expect(d.config.loss).toEqual({ kind: 'dice', batch: true });
    expect(b.config.loss).toEqual({ kind: 'nrdice', gamma: 1.5, form: 'pymic' });
    expect(c.config.loss).toEqual(b.config.loss);
    expect([a, b, d].map((x) => x.config.selfEnsembling)).toEqual([null, null, null]);
    // Ramp-up over 40 % of 400 steps.
    expect(c.config.selfEnsembling).toEqual({ alpha: 0.99, adaptiveTeacher: true, adaptiveStudent: true, consistency: { lambda: 0.1, rampupStart: 0, rampupEnd: 160 } });
    expect([a, b, c, d].map((x) => x.selfEnsembling)).toEqual([false, false, true, false]);
    expect([b.loss, c.loss]).toEqual(['NR-Dice (γ 1.5, PyMIC form)', 'NR-Dice (γ 1.5, PyMIC form) + adaptive self-ensembling']);
    expect(armConfig('b', { ...S, gamma: 2, nrdiceForm: 'paper' })).toMatchObject({ loss: 'NR-Dice (γ 2, paper form)', config: { loss: { kind: 'nrdice', gamma: 2, form: 'paper' } } });
  });

  it('share everything else: network, initialisation, optimizer, schedule, steps, patches and seed', () => {
    const rest = ARM_IDS.map((id) => {
      const { loss: _loss, selfEnsembling: _se, ...shared } = armConfig(id, S).config;
      return shared;
    });
    for (const r of rest.slice(1)) expect(r).toEqual(rest[0]);
    expect(rest[0]).toEqual({
      model: { kind: 'coplenet', features: [8, 16, 32, 64, 128], seed: 7 },
      optimizer: { kind: 'adam', schedule: { kind: 'cosine', lr: 0.002, totalSteps: 400, minLr: 0.00004 } },
      steps: 400,
      patches: { patchSize: 64, batchSize: 4, pos: 1, neg: 1 },
      seed: 7,
    });
  });

  it('parse --arms into a-to-d order and reject unknown or repeated arms', () => {
    expect(parseArms('d, a,C')).toEqual(['a', 'c', 'd']);
    expect(parseArms('b')).toEqual(['b']);
    expect(() => parseArms('a,e')).toThrow('--arms: expected a comma-separated subset of a,b,c,d, got "a,e"');
    expect(() => parseArms('')).toThrow(/expected a comma-separated subset/);
    expect(() => parseArms('a,b,a')).toThrow('--arms: an arm is listed twice in "a,b,a"');
  });

  it('let the observers take turns, one annotation per training scan', () => {
    const names = ['fast_nonexpert', 'over_segmenter'];
    expect([0, 1, 2, 3, 4].map((n) => observerFor(n, names))).toEqual(['fast_nonexpert', 'over_segmenter', 'fast_nonexpert', 'over_segmenter', 'fast_nonexpert']);
    expect(observerFor(5, ['solo'])).toBe('solo');
    expect(() => observerFor(0, [])).toThrow(/at least one observer/);
  });
});
