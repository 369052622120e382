import { describe, expect, it } from 'vitest';
import { Rng } from '../random';
import { staple } from './staple';
import { agreementCount, majorityVote } from './vote';

/** Seeded draws in [0, 1) (the project's PRNG) so failures reproduce. */
const rng = (seed: number): (() => number) => {
  const r = new Rng(seed);
  return () => r.random();
};

/** A 24×24×16 ball as the hidden truth. */
function truthBall(): Uint8Array {
  const m = new Uint8Array(24 * 24 * 16);
  for (let k = 0, x = 0; k < 16; k++) for (let j = 0; j < 24; j++) for (let i = 0; i < 24; i++, x++) m[x] = (i - 11.5) ** 2 + (j - 12) ** 2 + ((k - 8) * 1.5) ** 2 < 64 ? 1 : 0;
  return m;
}

/** Each voxel flips independently: foreground lost with `miss`, background gained with `extra`. */
function corrupt(truth: Uint8Array, miss: number, extra: number, rand: () => number): Uint8Array {
  return truth.map((t) => (t ? (rand() < miss ? 0 : 1) : rand() < extra ? 1 : 0));
}

/** ITK STAPLEImageFilter's loops written out per voxel: the reference for the pattern histogram. */
function stapleVoxelwise(obs: Uint8Array[], tol: number) {
  const n = obs[0].length;
  const r = obs.length;
  const w = new Float64Array(n);
  for (const o of obs) for (let x = 0; x < n; x++) w[x] += o[x] / r;
  const prior = w.reduce((a, b) => a + b, 0) / n;
  let p = new Array(r).fill(-10);
  let q = new Array(r).fill(-10);
  let iterations = 0;
  for (;;) {
    iterations++;
    const np = obs.map((o) => {
      let num = 0;
      let den = 0;
      for (let x = 0; x < n; x++) {
        if (o[x]) num += w[x];
        den += w[x];
      }
      return num / den;
    });
    const nq = obs.map((o) => {
      let num = 0;
      let den = 0;
      for (let x = 0; x < n; x++) {
        if (!o[x]) num += 1 - w[x];
        den += 1 - w[x];
      }
      return num / den;
    });
    for (let x = 0; x < n; x++) {
      let a = 1;
      let b = 1;
      for (let j = 0; j < r; j++) {
        a *= obs[j][x] ? np[j] : 1 - np[j];
        b *= obs[j][x] ? 1 - nq[j] : nq[j];
      }
      w[x] = (prior * a) / (prior * a + (1 - prior) * b);
    }
    const change = Math.max(...np.map((v, j) => Math.abs(v - p[j])), ...nq.map((v, j) => Math.abs(v - q[j])));
    p = np;
    q = nq;
    if (change <= tol) break;
  }
  return { w, p, q, prior, iterations };
}

describe('STAPLE', () => {
  it('equals voxel-by-voxel (ITK-style) EM exactly: the pattern histogram changes nothing', () => {
    const rand = rng(7);
    const truth = truthBall();
    const obs = [corrupt(truth, 0.1, 0.03, rand), corrupt(truth, 0.3, 0.01, rand), corrupt(truth, 0.05, 0.1, rand)];
    const ref = stapleVoxelwise(obs, 1e-7);
    const got = staple(obs);
    expect(got.converged).toBe(true);
    expect(got.iterations).toBe(ref.iterations);
    expect(got.prior).toBeCloseTo(ref.prior, 14);
    for (let j = 0; j < 3; j++) {
      expect(got.sensitivity[j]).toBeCloseTo(ref.p[j], 10);
      expect(got.specificity[j]).toBeCloseTo(ref.q[j], 10);
    }
    let worst = 0;
    for (let x = 0; x < truth.length; x++) worst = Math.max(worst, Math.abs(got.posterior[x] - ref.w[x]));
    expect(worst).toBeLessThan(1e-6); // float32 posterior
    expect(got.patterns).toBeLessThanOrEqual(8);
  });

  it('finds the observer equal to the truth among corrupted ones', () => {
    const rand = rng(11);
    const truth = truthBall();
    const obs = [corrupt(truth, 0.2, 0.02, rand), truth, corrupt(truth, 0.1, 0.05, rand), corrupt(truth, 0.25, 0.01, rand), corrupt(truth, 0.15, 0.03, rand)];
    const s = staple(obs);
    expect(s.converged).toBe(true);
    expect(s.sensitivity[1]).toBeGreaterThan(0.999);
    expect(s.specificity[1]).toBeGreaterThan(0.999);
    // the corrupted observers' estimates land near their true rates
    expect(s.sensitivity[0]).toBeGreaterThan(0.7);
    expect(s.sensitivity[0]).toBeLessThan(0.9);
    expect(s.specificity[2]).toBeGreaterThan(0.93);
    expect(s.specificity[2]).toBeLessThan(0.97);
    const differ = s.consensus.reduce((a, v, x) => a + (v !== truth[x] ? 1 : 0), 0);
    expect(differ).toBeLessThanOrEqual(2);
  });

  it('identical observers: consensus equals them, p = q ≈ 1', () => {
    const truth = truthBall();
    const s = staple([truth, truth, truth]);
    expect(s.converged).toBe(true);
    expect([...s.consensus]).toEqual([...truth]);
    for (let j = 0; j < 3; j++) {
      expect(s.sensitivity[j]).toBeGreaterThan(1 - 1e-6);
      expect(s.specificity[j]).toBeGreaterThan(1 - 1e-6);
    }
    expect(s.patterns).toBe(2); // all-background and all-foreground only
  });

  it('an empty observer gets sensitivity 0 and specificity 1 − (its FP share = 0 → 1)', () => {
    const rand = rng(3);
    const truth = truthBall();
    const empty = new Uint8Array(truth.length);
    const s = staple([truth, corrupt(truth, 0.1, 0.01, rand), empty, corrupt(truth, 0.05, 0.02, rand)]);
    expect(s.sensitivity[2]).toBe(0);
    expect(s.specificity[2]).toBe(1);
    expect(s.sensitivity[0]).toBeGreaterThan(0.99);
    expect(s.converged).toBe(true);
  });

  it('reports non-convergence when capped, and honours a fixed prior and the consensus exclusion', () => {
    const rand = rng(5);
    const truth = truthBall();
    const obs = [corrupt(truth, 0.2, 0.05, rand), corrupt(truth, 0.3, 0.02, rand), corrupt(truth, 0.1, 0.1, rand)];
    const capped = staple(obs, { maxIterations: 2, tolerance: 0 });
    expect(capped.iterations).toBe(2);
    expect(capped.converged).toBe(false);
    expect(capped.lastChange).toBeGreaterThan(0);
    expect(staple(obs, { prior: 0.25 }).prior).toBe(0.25);
    expect(staple(obs, { confidenceWeight: 0.5 }).prior).toBeCloseTo(staple(obs).prior / 2, 15);

    const ex = staple(obs, { consensusVoxels: 'exclude' });
    const all = staple(obs);
    const count = agreementCount(obs);
    for (let x = 0; x < truth.length; x++) {
      if (count[x] === 0) expect(ex.posterior[x]).toBe(0);
      if (count[x] === 3) expect(ex.posterior[x]).toBe(1);
    }
    expect(ex.patterns).toBe(all.patterns - 2);
    // without the agreed background the specificities are much lower
    expect(ex.specificity[0]).toBeLessThan(all.specificity[0] - 0.1);
  });

  it('degenerate input: nobody marks anything', () => {
    const s = staple([new Uint8Array(10), new Uint8Array(10)]);
    expect(s.consensus.every((v) => v === 0)).toBe(true);
    expect(s.sensitivity[0]).toBeNaN();
    expect(s.specificity[0]).toBe(1);
    expect(() => staple([])).toThrow(RangeError);
    expect(() => staple([new Uint8Array(3), new Uint8Array(4)])).toThrow(RangeError);
  });

  it('label option: foreground is value = label', () => {
    const a = Uint8Array.from([0, 2, 2, 1, 0]);
    const b = Uint8Array.from([0, 2, 1, 1, 2]);
    expect([...staple([a, b, a], { label: 2 }).consensus]).toEqual([0, 1, 1, 0, 0]);
  });
});

describe('majority vote and agreement', () => {
  const a = Uint8Array.from([0, 1, 1, 0, 1, 0]);
  const b = Uint8Array.from([0, 1, 0, 1, 1, 0]);
  const c = Uint8Array.from([0, 0, 0, 1, 1, 1]);
  const d = Uint8Array.from([0, 0, 1, 0, 1, 1]);

  it('counts agreeing observers per voxel', () => {
    expect([...agreementCount([a, b, c, d])]).toEqual([0, 2, 2, 2, 4, 2]);
    expect([...agreementCount([Float32Array.from([0, 3.5, NaN]), Int16Array.from([-1, 0, 0])])]).toEqual([1, 1, 0]);
  });

  it('strict majority with an odd count, ties both ways with an even count', () => {
    expect([...majorityVote([a, b, c])]).toEqual([0, 1, 0, 1, 1, 0]);
    expect([...majorityVote([a, b, c, d])]).toEqual([0, 0, 0, 0, 1, 0]);
    expect([...majorityVote([a, b, c, d], { tie: 'foreground' })]).toEqual([0, 1, 1, 1, 1, 1]);
    expect([...majorityVote([Uint8Array.from([3, 1]), Uint8Array.from([3, 3])], { label: 3, tie: 'foreground' })]).toEqual([1, 1]);
  });
});
