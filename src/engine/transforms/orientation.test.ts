import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { InputError } from '../io/errors';
import { affineLPS, affineToRAS, axisCodes, geometryFromLPS, type Mat3 } from '../volume';
import type { MetaImage } from './image';
import { invert } from './invert';
import { Orientation, Orientationd, axcodesToOrnt, ioOrientation } from './orientation';
import { spatialAffine } from './image';

const I4 = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];

/** 2×3×4 volume, value = 100i + 10j + k, LPS identity direction (codes "LPS"), origin (5, 6, 7). */
function lps234(): MetaImage {
  const data = new Float32Array(24);
  for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 4; k++) data[(i * 3 + j) * 4 + k] = 100 * i + 10 * j + k;
  return { data, shape: [1, 2, 3, 4], affine: [1, 0, 0, 5, 0, 1, 0, 6, 0, 0, 1, 7, 0, 0, 0, 1] };
}

describe('Orientation', () => {
  it('LPS → SPL is a pure transpose: out[s,p,l] = in[l,p,s], affine columns permuted', () => {
    const out = new Orientation({ axcodes: 'SPL' }).call(lps234());
    expect(out.shape).toEqual([1, 4, 3, 2]);
    for (let s = 0; s < 4; s++) for (let p = 0; p < 3; p++) for (let l = 0; l < 2; l++) expect(out.data[(s * 3 + p) * 2 + l]).toBe(100 * l + 10 * p + s);
    expect(out.affine).toEqual([0, 0, 1, 5, 0, 1, 0, 6, 1, 0, 0, 7, 0, 0, 0, 1]);
    expect(axisCodes(geometryFromLPS(out.affine))).toBe('SPL');
  });

  it('LPS → RAS flips the first two axes and moves the origin to the far corner', () => {
    const out = new Orientation({ axcodes: 'RAS' }).call(lps234());
    expect(out.shape).toEqual([1, 2, 3, 4]);
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 4; k++) expect(out.data[(i * 3 + j) * 4 + k]).toBe(100 * (1 - i) + 10 * (2 - j) + k);
    expect(out.affine).toEqual([-1, 0, 0, 6, 0, -1, 0, 8, 0, 0, 1, 7, 0, 0, 0, 1]);
    expect(new Orientation({ as_closest_canonical: true }).call(lps234()).affine).toEqual(out.affine);
  });

  it('round-trips back to the original data and affine through invert()', async () => {
    const src = lps234();
    const spl = new Orientation({ axcodes: 'SPL' }).call(new Orientation({ axcodes: 'RAI' }).call(src));
    expect(spl.meta?.applied_operations?.map((r) => r.name)).toEqual(['Orientation', 'Orientation']);
    const back = await invert(spl);
    expect(back.shape).toEqual(src.shape);
    expect(Array.from(back.data)).toEqual(Array.from(src.data));
    expect(back.affine).toEqual(src.affine);
    // and Orientation back to LPS gives the same array (MONAI's inverse)
    const again = new Orientation({ axcodes: 'LPS' }).call(spl);
    expect(Array.from(again.data)).toEqual(Array.from(src.data));
  });

  it('agrees with nibabel (io_orientation, ornt_transform, apply_orientation, inv_ornt_aff) on an oblique affine', () => {
    // i ≈ −y (anterior), j ≈ +z·0.9 …, k ≈ x: a rotated, non-axis-aligned direction.
    const c = Math.cos(0.35);
    const s = Math.sin(0.35);
    const direction: Mat3 = [0, -c, s, 0, s, c, 1, 0, 0];
    const geom = { spacing: [0.7, 1.3, 2.1] as [number, number, number], origin: [3, -4, 5] as [number, number, number], direction };
    const shape = [3, 4, 5];
    const data = Float32Array.from({ length: 60 }, (_, i) => (i * 37) % 61);
    const img: MetaImage = { data, shape: [1, ...shape], affine: affineLPS(geom) };
    const codesList = ['SPL', 'RAS', 'LPI', 'ASR'];
    const py = `
import json, sys, numpy as np, nibabel as nib
from nibabel import orientations as o
d = json.load(sys.stdin)
aff = np.array(d['ras']).reshape(4, 4)
arr = np.array(d['data'], dtype=np.float32).reshape(d['shape'])
res = []
for codes in d['codes']:
    t = o.ornt_transform(o.io_orientation(aff), o.axcodes2ornt(codes))
    out = o.apply_orientation(arr, t)
    res.append({'shape': list(out.shape), 'data': out.ravel().tolist(), 'ras': (aff @ o.inv_ornt_aff(t, arr.shape)).ravel().tolist()})
print(json.dumps(res))`;
    const all = JSON.parse(
      execFileSync('/usr/bin/python3', ['-c', py], { input: JSON.stringify({ ras: affineToRAS(geom), data: Array.from(data), shape, codes: codesList }) }).toString(),
    );
    codesList.forEach((codes, n) => {
      const ours = new Orientation({ axcodes: codes }).call(img);
      const res = all[n];
      expect(ours.shape.slice(1)).toEqual(res.shape);
      expect(Array.from(ours.data)).toEqual(res.data);
      affineToRAS(geometryFromLPS(ours.affine)).forEach((v, k) => expect(v).toBeCloseTo(res.ras[k], 10));
    });
  });

  it('reads axis codes in LPS: the source orientation of an LPS-identity affine is "LPS"', () => {
    expect(ioOrientation(spatialAffine(I4, 3))).toEqual(axcodesToOrnt('LPS'));
    expect(ioOrientation(spatialAffine(I4, 2))).toEqual(axcodesToOrnt('LP'));
  });

  it('works on 2D images and in the dictionary version; bad codes are InputErrors', () => {
    const two: MetaImage = { data: Float32Array.from([0, 1, 2, 3, 4, 5]), shape: [1, 2, 3], affine: I4 };
    const out = new Orientation({ axcodes: 'PL' }).call(two); // transpose
    expect(Array.from(out.data)).toEqual([0, 3, 1, 4, 2, 5]);
    const d = new Orientationd({ keys: ['a', 'b'], axcodes: 'SPL' }).call({ a: lps234(), b: lps234(), c: 1 });
    expect((d.b as MetaImage).shape).toEqual([1, 4, 3, 2]);
    expect(d.c).toBe(1);
    expect(() => new Orientation({ axcodes: 'SPX' })).toThrow(InputError);
    expect(() => new Orientation({ axcodes: 'SSL' })).toThrow(/same world axis/);
    expect(() => new Orientation({})).toThrow(/need axcodes/);
  });
});
