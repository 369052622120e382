import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CropForeground, CropForegroundd, DivisiblePad, DivisiblePadd, SpatialPad, SpatialPadd } from './croppad';
import type { MetaImage } from './image';
import { invert } from './invert';

const I4 = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
const img = (values: number[], shape: number[], affine = I4): MetaImage => ({ data: Float32Array.from(values), shape, affine });

describe('SpatialPad / DivisiblePad', () => {
  it('pads a 1-D toy [1,2,3] by (2,3) in each mode as numpy.pad does', () => {
    const x = img([1, 2, 3], [1, 3]);
    // symmetric method: w = 5 → (2, 3)
    const want: Record<string, number[]> = {
      constant: [0, 0, 1, 2, 3, 0, 0, 0],
      edge: [1, 1, 1, 2, 3, 3, 3, 3],
      replicate: [1, 1, 1, 2, 3, 3, 3, 3],
      reflect: [3, 2, 1, 2, 3, 2, 1, 2],
      symmetric: [2, 1, 1, 2, 3, 3, 2, 1],
      wrap: [2, 3, 1, 2, 3, 1, 2, 3],
      circular: [2, 3, 1, 2, 3, 1, 2, 3],
    };
    for (const [mode, values] of Object.entries(want)) {
      const out = new SpatialPad({ spatial_size: 8, mode: mode as never }).call(x);
      expect(Array.from(out.data), mode).toEqual(values);
    }
    expect(Array.from(new SpatialPad({ spatial_size: [8], method: 'end', value: -1 }).call(x).data)).toEqual([1, 2, 3, -1, -1, -1, -1, -1]);
  });

  it('matches numpy.pad on a 2-D toy for large pads (wider than the image) in every mode', () => {
    const x = img([1, 2, 3, 4, 5, 6], [1, 2, 3]);
    const modes = ['constant', 'edge', 'reflect', 'symmetric', 'wrap'];
    const ref = JSON.parse(
      execFileSync('/usr/bin/python3', [
        '-c',
        `import json, numpy as np
a = np.arange(1, 7, dtype=np.float32).reshape(2, 3)
print(json.dumps([np.pad(a, ((3, 4), (4, 4)), mode=m).ravel().tolist() for m in ${JSON.stringify(modes)}]))`,
      ]).toString(),
    );
    modes.forEach((mode, n) => {
      const out = new SpatialPad({ spatial_size: [9, 11], mode: mode as never }).call(x);
      expect(out.shape).toEqual([1, 9, 11]);
      expect(Array.from(out.data), mode).toEqual(ref[n]);
    });
  });

  it('never crops, keeps non-positive targets, shifts the affine origin, and inverts exactly', async () => {
    const x = img([1, 2, 3, 4, 5, 6], [1, 2, 3], [2, 0, 0, 10, 0, 3, 0, 20, 0, 0, 1, 0, 0, 0, 0, 1]);
    const out = new SpatialPad({ spatial_size: [5, -1] }).call(x);
    expect(out.shape).toEqual([1, 5, 3]);
    expect(out.affine).toEqual([2, 0, 0, 8, 0, 3, 0, 20, 0, 0, 1, 0, 0, 0, 0, 1]); // one row before → origin − 2
    expect(new SpatialPad({ spatial_size: [1, 1] }).call(x).shape).toEqual([1, 2, 3]);
    const back = await invert(out);
    expect(Array.from(back.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(back.affine).toEqual(x.affine);
  });

  it('DivisiblePad pads each dim up to a multiple of k, symmetric', () => {
    const x = img(new Array(3 * 5).fill(1), [1, 3, 5]);
    const out = new DivisiblePad({ k: 4 }).call(x);
    expect(out.shape).toEqual([1, 4, 8]);
    // dim 0: 3 → 4, pad (0, 1); dim 1: 5 → 8, pad (1, 2)
    expect(Array.from(out.data.subarray(0, 8))).toEqual([0, 1, 1, 1, 1, 1, 0, 0]);
    expect(Array.from(out.data.subarray(24, 32))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(new DivisiblePad({ k: [0, 2] }).call(x).shape).toEqual([1, 3, 6]);
    const d = new DivisiblePadd({ keys: ['a', 'b'], k: 32, mode: ['constant', 'edge'] }).call({ a: x, b: x });
    expect((d.a as MetaImage).shape).toEqual([1, 32, 32]);
    expect((d.b as MetaImage).data[0]).toBe(1);
    expect((d.a as MetaImage).data[0]).toBe(0);
    const sp = new SpatialPadd({ keys: 'a', spatial_size: [4, 4] }).call({ a: img([7], [1, 1, 1]) });
    expect((sp.a as MetaImage).data[5]).toBe(7); // (1,1) after (1,2) padding per dim
  });
});

describe('CropForeground', () => {
  const doc = img([0, 0, 0, 0, 0, 0, 1, 2, 1, 0, 0, 1, 3, 2, 0, 0, 1, 2, 1, 0, 0, 0, 0, 0, 0], [1, 5, 5]);

  it('MONAI docstring example: select_fn x > 1', () => {
    const t = new CropForeground({ select_fn: (v) => v > 1 });
    const out = t.call(doc);
    expect(out.shape).toEqual([1, 3, 2]);
    expect(Array.from(out.data)).toEqual([2, 1, 3, 2, 2, 1]);
    expect(t.computeBoundingBox(doc)).toEqual({ box_start: [1, 2], box_end: [4, 4] });
  });

  it('margin beyond the image pads with zeros (allow_smaller=false), or clamps (allow_smaller=true)', () => {
    const m = new CropForeground({ margin: 2 });
    expect(m.computeBoundingBox(doc)).toEqual({ box_start: [-1, -1], box_end: [6, 6] });
    const out = m.call(doc);
    expect(out.shape).toEqual([1, 7, 7]);
    expect(out.data[8 * 1 + 0]).toBe(0); // padded row/col
    expect(out.data[2 * 7 + 2]).toBe(1); // doc[1,1]
    expect(out.affine[3]).toBe(-1); // origin moved one voxel back
    expect(new CropForeground({ margin: 2, allow_smaller: true }).computeBoundingBox(doc)).toEqual({ box_start: [0, 0], box_end: [5, 5] });
    expect(new CropForeground({ margin: [1, 0] }).computeBoundingBox(doc)).toEqual({ box_start: [0, 1], box_end: [5, 4] });
  });

  it('k_divisible grows the box around its centre; no foreground gives a zero-size crop', () => {
    // box [1, 4) (size 3): k=4 → size 4, start −= ⌊1/2⌋ = 0; k=5 → size 5, start −= ⌊2/2⌋ = 1
    expect(new CropForeground({ k_divisible: 4 }).computeBoundingBox(doc)).toEqual({ box_start: [1, 1], box_end: [5, 5] });
    expect(new CropForeground({ k_divisible: [5, 1] }).computeBoundingBox(doc)).toEqual({ box_start: [0, 1], box_end: [5, 4] });
    const none = new CropForeground().call(img([0, 0, 0, 0], [1, 2, 2]));
    expect(none.shape).toEqual([1, 0, 0]);
  });

  it('channel_indices picks the channels that define foreground; the inverse puts the crop back', async () => {
    const two = img([0, 0, 0, 5, /* ch1 */ 0, 7, 0, 0], [2, 2, 2]);
    expect(new CropForeground({ channel_indices: 1 }).computeBoundingBox(two)).toEqual({ box_start: [0, 1], box_end: [1, 2] });
    const cropped = new CropForeground({ margin: 1 }).call(doc);
    const back = await invert(cropped);
    expect(Array.from(back.data)).toEqual(Array.from(doc.data));
    expect(back.affine).toEqual(doc.affine);
  });

  it('dictionary version crops every key by the source key box and stores the box', () => {
    const lab = img(Array.from(doc.data, (v) => (v > 2 ? 1 : 0)), [1, 5, 5]);
    const d = new CropForegroundd({ keys: ['image', 'label'], source_key: 'label' }).call({ image: doc, label: lab });
    expect((d.image as MetaImage).shape).toEqual([1, 1, 1]);
    expect((d.image as MetaImage).data[0]).toBe(3);
    expect(d.foreground_start_coord).toEqual([2, 2]);
    expect(d.foreground_end_coord).toEqual([3, 3]);
  });
});
