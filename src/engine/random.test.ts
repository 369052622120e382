import { describe, expect, it } from 'vitest';
import { Rng } from './random';

describe('Rng', () => {
  it('repeats the same stream for the same seed and differs for another', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const sa = Array.from({ length: 20 }, () => a.nextUint32());
    const sb = Array.from({ length: 20 }, () => b.nextUint32());
    const sc = Array.from({ length: 20 }, () => c.nextUint32());
    expect(sa).toEqual(sb);
    expect(sa).not.toEqual(sc);
  });

  it('uniform/int/normal have the right ranges and moments', () => {
    const r = new Rng(7);
    const n = 200_000;
    let s = 0;
    let s2 = 0;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < n; i++) {
      const u = r.uniform(-2, 3);
      lo = Math.min(lo, u);
      hi = Math.max(hi, u);
      s += u;
    }
    expect(lo).toBeGreaterThanOrEqual(-2);
    expect(hi).toBeLessThan(3);
    expect(s / n).toBeCloseTo(0.5, 1); // mean of U(−2,3); sd of the mean ≈ 0.003
    const counts = new Array(5).fill(0);
    for (let i = 0; i < n; i++) counts[r.int(5)]++;
    counts.forEach((c) => expect(Math.abs(c / n - 0.2)).toBeLessThan(0.005));
    s = 0;
    for (let i = 0; i < n; i++) {
      const z = r.normal(1, 2);
      s += z;
      s2 += z * z;
    }
    const mean = s / n;
    expect(mean).toBeCloseTo(1, 1);
    expect(Math.sqrt(s2 / n - mean * mean)).toBeCloseTo(2, 1);
    expect(r.uniform(0.3, 0.3)).toBe(0.3);
  });

  it('spawned children are reproducible and independent of later parent draws', () => {
    const p1 = new Rng(1);
    const child1 = p1.spawn();
    const p2 = new Rng(1);
    const child2 = p2.spawn();
    p2.random();
    expect(child1.random()).toBe(child2.random());
    expect(() => new Rng(1).int(0)).toThrow();
  });
});
