import { describe, expect, it } from 'vitest';
import { Rng } from '../random';
import type { Vec3 } from '../volume';
import { gaussianBlur, gaussianKernel, smoothNoise } from './blur';
import { deriveSeed, normalQuantiles, poisson } from './seeds';

describe('gaussianBlur', () => {
  it('spreads an impulse into the separable product of 1D kernels, conserving the sum', () => {
    const dims: Vec3 = [15, 13, 11];
    const data = new Float32Array(15 * 13 * 11);
    const at = (i: number, j: number, k: number) => i + 15 * (j + 13 * k);
    data[at(7, 6, 5)] = 1000;
    gaussianBlur(data, dims, [0.6, 1.2, 0.9]);
    const [kx, ky, kz] = [gaussianKernel(0.6), gaussianKernel(1.2), gaussianKernel(0.9)];
    const [rx, ry, rz] = [(kx.length - 1) / 2, (ky.length - 1) / 2, (kz.length - 1) / 2];
    expect(rx).toBe(2);
    expect(ky.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 6);
    for (const [di, dj, dk] of [[0, 0, 0], [1, 0, 0], [0, 2, 0], [1, -1, 2], [-2, 3, -1]]) {
      const expected = 1000 * kx[rx + di] * ky[ry + dj] * kz[rz + dk];
      expect(data[at(7 + di, 6 + dj, 5 + dk)]).toBeCloseTo(expected, 3);
    }
    expect(data.reduce((s, v) => s + v, 0)).toBeCloseTo(1000, 1);
    // The kernel's centre weight for σ = 0.6: exp(0)/Σ exp(−t²/0.72), t = −2…2.
    const z = 1 + 2 * Math.exp(-1 / 0.72) + 2 * Math.exp(-4 / 0.72);
    expect(kx[2]).toBeCloseTo(1 / z, 6);
  });

  it('keeps a constant volume constant, edges included (clamped borders)', () => {
    const data = new Float32Array(6 * 5 * 4).fill(-850);
    gaussianBlur(data, [6, 5, 4], [0.6, 0.6, 3]);
    for (const v of data) expect(v).toBeCloseTo(-850, 3);
  });
});

describe('smoothNoise', () => {
  it('is a zero-mean, unit-variance field, smooth at its scale and reproducible', () => {
    // 64 mm across at a 3 mm scale: ~20 independent lengths per axis, so the sample mean is within ±0.2.
    const dims: Vec3 = [64, 64, 32];
    const a = smoothNoise(dims, [1, 1, 2], 3, new Rng(5));
    const b = smoothNoise(dims, [1, 1, 2], 3, new Rng(5));
    expect(b).toEqual(a);
    let s = 0;
    let s2 = 0;
    let step = 0;
    for (let x = 0; x < a.length; x++) {
      s += a[x];
      s2 += a[x] * a[x];
      if (x % 64 !== 63) step += (a[x + 1] - a[x]) ** 2;
    }
    const mean = s / a.length;
    const sd = Math.sqrt(s2 / a.length - mean * mean);
    expect(Math.abs(mean)).toBeLessThan(0.2);
    expect(sd).toBeGreaterThan(0.85);
    expect(sd).toBeLessThan(1.1);
    // Neighbours 1 mm apart differ far less than independent values would (variance 2).
    expect(step / (a.length - a.length / 64)).toBeLessThan(0.1);
  });
});

describe('seeds', () => {
  it('derives distinct, stable seeds per part', () => {
    expect(deriveSeed(1, 'case', 0)).toBe(deriveSeed(1, 'case', 0));
    const seeds = new Set([deriveSeed(1, 'case', 0), deriveSeed(1, 'case', 1), deriveSeed(2, 'case', 0), deriveSeed(1, 'noise'), deriveSeed(1, 'case0')]);
    expect(seeds.size).toBe(5);
  });

  it('normal quantile table has mean 0, sd 1 and known quantiles', () => {
    const t = normalQuantiles();
    let s = 0;
    let s2 = 0;
    for (const v of t) {
      s += v;
      s2 += v * v;
    }
    expect(s / t.length).toBeCloseTo(0, 6);
    expect(Math.sqrt(s2 / t.length)).toBeCloseTo(1, 4);
    // Φ⁻¹(0.975) = 1.959964; the table entry nearest to it: t + ½ = 0.975·65536.
    expect(t[Math.round(0.975 * 65536 - 0.5)]).toBeCloseTo(1.959964, 3);
    expect(t[0]).toBeCloseTo(-4.3249, 3);
  });

  it('poisson has the right mean', () => {
    const rng = new Rng(3);
    let s = 0;
    for (let n = 0; n < 4000; n++) s += poisson(rng, 2.5);
    expect(s / 4000).toBeGreaterThan(2.35);
    expect(s / 4000).toBeLessThan(2.65);
    expect(poisson(rng, 0)).toBe(0);
  });
});
