import { describe, expect, it } from 'vitest';
import { InputError } from '../io/errors';
import { Rng } from '../random';
import type { MetaImage } from './image';
import { RandCropByPosNegLabel, RandCropByPosNegLabeld, correctCropCenters, mapBinaryToIndices, posNegCropCenters } from './randcrop';

const I4 = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
const img = (values: ArrayLike<number>, shape: number[]): MetaImage => ({ data: Float32Array.from(values), shape, affine: I4 });

describe('correctCropCenters (MONAI correct_crop_centers)', () => {
  it('clamps to [⌊s/2⌋, uint16(D + 1 − s/2) − 1]', () => {
    // D=10, s=5: lo 2, hi trunc(8.5) = 8 → [2, 7]
    expect([-3, 0, 5, 9].map((c) => correctCropCenters([c], [5], [10])[0])).toEqual([2, 2, 5, 7]);
    // s=4: hi = 9 → max 8 (crop [6, 10))
    expect(correctCropCenters([9], [4], [10])).toEqual([8]);
    // s = D: only the middle
    expect(correctCropCenters([0], [10], [10])).toEqual([5]);
    expect(correctCropCenters([9, 0], [4, 3], [10, 6])).toEqual([8, 1]);
    expect(correctCropCenters([3], -1, [10])).toEqual([5]); // non-positive size = whole axis
  });

  it('reproduces the uint16 truncation: D + 1 − s/2 wraps modulo 65536, and lo == hi gets hi + 1', () => {
    // D=65540, s=2: 65540 → uint16 4 → centres in [1, 3]
    expect(correctCropCenters([40000], [2], [65540])).toEqual([3]);
    expect(correctCropCenters([0], [2], [65540])).toEqual([1]);
    // D=65537, s=2: hi = uint16(65537) = 1 = lo → hi = 2 → the only centre is 1
    expect(correctCropCenters([40000], [2], [65537])).toEqual([1]);
  });

  it('an ROI larger than the image is an error unless allow_smaller', () => {
    expect(() => correctCropCenters([2], [8], [5])).toThrow(/larger than the image/);
    expect(correctCropCenters([4], [8], [5], true)).toEqual([2]); // s → 5: lo 2, hi trunc(3.5) = 3
  });
});

describe('foreground / background indices', () => {
  it('drops channel 0 of a one-hot label and limits background to image > threshold', () => {
    // one-hot 2×(2×2): ch0 = background, ch1 = organ at voxel 3
    const label = img([1, 1, 1, 0, 0, 0, 0, 1], [2, 2, 2]);
    const { fg, bg } = mapBinaryToIndices(label);
    expect(Array.from(fg)).toEqual([3]);
    expect(Array.from(bg)).toEqual([0, 1, 2]);
    const image = img([5, -1, 5, 5], [1, 2, 2]);
    expect(Array.from(mapBinaryToIndices(label, image, 0).bg)).toEqual([0, 2]);
  });

  it('draws foreground centres with probability pos/(pos+neg)', () => {
    const R = new Rng(4);
    const fg = [0];
    const bg = [99];
    const centers = posNegCropCenters(R, [1], 4000, 0.25, [100], fg, bg, false);
    const nFg = centers.filter((c) => c[0] === 0).length;
    expect(Math.abs(nFg / 4000 - 0.25)).toBeLessThan(0.03);
    expect(posNegCropCenters(R, [1], 5, 0.5, [100], [], bg, false).every((c) => c[0] === 99)).toBe(true);
    expect(() => posNegCropCenters(R, [1], 1, 0.5, [100], [], [], false)).toThrow(/no sampling location/);
  });
});

describe('RandCropByPosNegLabel(d)', () => {
  // 10×10 label with one foreground voxel at (7, 2); image value = 10·i + j.
  const label = img(Array.from({ length: 100 }, (_, v) => (v === 72 ? 1 : 0)), [1, 10, 10]);
  const image = img(Array.from({ length: 100 }, (_, v) => v), [1, 10, 10]);

  it('returns num_samples crops with the same box for every key', () => {
    const t = new RandCropByPosNegLabeld({ keys: ['image', 'label'], label_key: 'label', spatial_size: [4, 4], pos: 1, neg: 0, num_samples: 3 }).setRandomState(1);
    const out = t.call({ image, label, case: 'x' });
    expect(out).toHaveLength(3);
    for (const d of out) {
      const im = d.image as MetaImage;
      const lab = d.label as MetaImage;
      expect(im.shape).toEqual([1, 4, 4]);
      // centre (7, 2) → start (5, 0)
      expect(Array.from(im.data.subarray(0, 4))).toEqual([50, 51, 52, 53]);
      expect(lab.data[2 * 4 + 2]).toBe(1);
      expect(im.meta?.crop_center).toEqual([7, 2]);
      expect(d.case).toBe('x');
      expect(im.affine[3]).toBe(5);
    }
  });

  it('neg-only sampling centres every crop on background; the array version takes the label separately', () => {
    const t = new RandCropByPosNegLabel({ spatial_size: [3, 3], pos: 0, neg: 1, num_samples: 20 }).setRandomState(2);
    const crops = t.call(image, label);
    expect(crops).toHaveLength(20);
    for (const c of crops) {
      const [ci, cj] = c.meta?.crop_center as number[];
      expect(ci * 10 + cj).not.toBe(72);
      expect(c.data[4]).toBe(ci * 10 + cj); // the middle of a 3×3 crop is its centre
    }
  });

  it('rejects bad arguments and an ROI larger than the image as InputErrors', () => {
    expect(() => new RandCropByPosNegLabel({ spatial_size: [3], pos: 0, neg: 0 })).toThrow(/both be 0/);
    expect(() => new RandCropByPosNegLabeld({ keys: 'a', spatial_size: 3 } as never)).toThrow(/label_key/);
    expect(() => new RandCropByPosNegLabel({ spatial_size: [20, 20] }).call(image, label)).toThrow(InputError);
    const small = new RandCropByPosNegLabel({ spatial_size: [20, 4], allow_smaller: true, pos: 1, neg: 0 }).call(image, label);
    expect(small[0].shape).toEqual([1, 10, 4]);
  });
});
