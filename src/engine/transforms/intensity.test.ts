import { describe, expect, it } from 'vitest';
import { InputError } from '../io/errors';
import type { MetaImage } from './image';
import { NormalizeIntensity, NormalizeIntensityd, RandGaussianNoise, RandGaussianNoised, RandScaleIntensity, RandScaleIntensityd, ScaleIntensityRange, ScaleIntensityRanged } from './intensity';

const I4 = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
const img = (values: number[], shape = [1, values.length]): MetaImage => ({ data: Float32Array.from(values), shape, affine: I4 });

describe('ScaleIntensityRange', () => {
  it('maps [a_min, a_max] to [b_min, b_max] and clips (COPLE-Net window)', () => {
    const t = new ScaleIntensityRange({ a_min: -1400, a_max: 100, b_min: 0, b_max: 1, clip: true });
    const out = t.call(img([-2000, -1400, -650, 100, 400]));
    expect(Array.from(out.data)).toEqual([0, 0, 0.5, 1, 1]);
    expect(out.data).toBeInstanceOf(Float32Array);
  });
  it('without clip extrapolates; without b only normalises; a_min == a_max only shifts', () => {
    expect(Array.from(new ScaleIntensityRange({ a_min: 0, a_max: 10, b_min: -1, b_max: 1 }).call(img([-5, 5, 20])).data)).toEqual([-2, 0, 3]);
    expect(Array.from(new ScaleIntensityRange({ a_min: 2, a_max: 6 }).call(img([2, 4, 10])).data)).toEqual([0, 0.5, 2]);
    expect(Array.from(new ScaleIntensityRange({ a_min: 3, a_max: 3, b_min: 1 }).call(img([3, 5])).data)).toEqual([1, 3]);
    // clip with only b_min set clips below only
    expect(Array.from(new ScaleIntensityRange({ a_min: 0, a_max: 1, b_min: 0, clip: true }).call(img([-1, 5])).data)).toEqual([0, 5]);
  });
  it('dictionary version touches only its keys; bad arguments are InputErrors', () => {
    const d = new ScaleIntensityRanged({ keys: ['a'], a_min: 0, a_max: 2, b_min: 0, b_max: 1 }).call({ a: img([1]), b: img([1]) });
    expect((d.a as MetaImage).data[0]).toBe(0.5);
    expect((d.b as MetaImage).data[0]).toBe(1);
    expect(() => new ScaleIntensityRange({ a_min: 'x' as unknown as number, a_max: 1 })).toThrow(InputError);
    expect(() => new ScaleIntensityRange({ a_max: 1 } as never)).toThrow(/missing required argument "a_min"/);
    expect(() => new ScaleIntensityRanged({ keys: ['a'], a_min: 0, a_max: 1, clipp: true } as never)).toThrow(/unknown argument "clipp"/);
    expect(() => new ScaleIntensityRanged({ keys: ['c'], a_min: 0, a_max: 1 }).call({ a: img([1]) })).toThrow(/key "c" is missing/);
  });
});

describe('NormalizeIntensity', () => {
  it('uses the population std', () => {
    // mean 2.5, population variance 1.25
    const out = new NormalizeIntensity().call(img([1, 2, 3, 4]));
    const s = Math.sqrt(1.25);
    Array.from(out.data).forEach((v, i) => expect(v).toBeCloseTo((i + 1 - 2.5) / s, 6));
  });
  it('nonzero: statistics over and changes to the nonzero voxels only', () => {
    const out = new NormalizeIntensity({ nonzero: true }).call(img([0, 2, 0, 4]));
    expect(Array.from(out.data)).toEqual([0, -1, 0, 1]); // mean 3, std 1
  });
  it('std 0 becomes 1; channel_wise uses per-channel statistics; explicit subtrahend/divisor', () => {
    expect(Array.from(new NormalizeIntensity().call(img([5, 5, 5])).data)).toEqual([0, 0, 0]);
    const cw = new NormalizeIntensity({ channel_wise: true }).call(img([1, 3, 10, 30], [2, 2]));
    expect(Array.from(cw.data)).toEqual([-1, 1, -1, 1]);
    const given = new NormalizeIntensity({ channel_wise: true, subtrahend: [1, 10], divisor: [2, 5] }).call(img([1, 3, 10, 30], [2, 2]));
    expect(Array.from(given.data)).toEqual([0, 1, 0, 4]);
    expect(() => new NormalizeIntensity({ channel_wise: true, subtrahend: [1] }).call(img([1, 2], [2, 1]))).toThrow(/2 channels/);
    const d = new NormalizeIntensityd({ keys: 'x', nonzero: true }).call({ x: img([0, 2, 0, 4]) });
    expect(Array.from((d.x as MetaImage).data)).toEqual([0, -1, 0, 1]);
  });
});

describe('random intensity transforms', () => {
  it('RandGaussianNoise adds N(mean, std) noise with prob 1 and nothing with prob 0', () => {
    const n = 100_000;
    const t = new RandGaussianNoise({ prob: 1, mean: 0.5, std: 2, sample_std: false }).setRandomState(3);
    const out = t.call(img(new Array(n).fill(10)));
    let s = 0;
    let s2 = 0;
    for (const v of out.data) {
      s += v - 10;
      s2 += (v - 10) ** 2;
    }
    const mean = s / n;
    expect(mean).toBeCloseTo(0.5, 1);
    expect(Math.sqrt(s2 / n - mean * mean)).toBeCloseTo(2, 1);
    const same = img([1, 2]);
    expect(new RandGaussianNoise({ prob: 0 }).call(same)).toBe(same);
  });
  it('RandGaussianNoised shares one noise draw across keys; sample_std draws std in [0, std)', () => {
    const d = new RandGaussianNoised({ keys: ['a', 'b'], prob: 1, std: 1 }).setRandomState(9).call({ a: img([0, 0, 0]), b: img([1, 1, 1]) });
    const a = (d.a as MetaImage).data;
    const b = (d.b as MetaImage).data;
    a.forEach((v, i) => expect(b[i] - v).toBeCloseTo(1, 6));
    expect(a.some((v) => v !== 0)).toBe(true);
  });
  it('RandScaleIntensity multiplies by 1 + U(factors) (one factor, or one per channel)', () => {
    const out = new RandScaleIntensity({ factors: [0.5, 0.5], prob: 1 }).call(img([2, 4]));
    expect(Array.from(out.data)).toEqual([3, 6]);
    const cw = new RandScaleIntensity({ factors: 0.3, prob: 1, channel_wise: true }).setRandomState(1).call(img([1, 1, 1, 1], [2, 2]));
    const f0 = cw.data[0] - 1;
    const f1 = cw.data[2] - 1;
    [f0, f1].forEach((f) => expect(Math.abs(f)).toBeLessThan(0.3));
    expect(f0).not.toBe(f1);
    expect(cw.data[1]).toBe(cw.data[0]);
    const d = new RandScaleIntensityd({ keys: ['a', 'b'], factors: 0.3, prob: 1 }).setRandomState(2).call({ a: img([1]), b: img([10]) });
    expect((d.b as MetaImage).data[0]).toBeCloseTo(10 * (d.a as MetaImage).data[0], 5);
  });
});
