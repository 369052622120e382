import { describe, expect, it } from 'vitest';
import { affineLPS, type Volume } from '../volume';
import { imageToVolume, volumeToImage } from './image';
import { flipMap, padMap, reindex, shiftMap } from './ndarray';

function vol(): Volume {
  const dims: [number, number, number] = [3, 4, 5];
  const data = new Int16Array(60);
  for (let k = 0; k < 5; k++) for (let j = 0; j < 4; j++) for (let i = 0; i < 3; i++) data[i + 3 * (j + 4 * k)] = 100 * i + 10 * j + k;
  return { data, dims, spacing: [0.5, 0.7, 2], origin: [1, 2, 3], direction: [0, 1, 0, -1, 0, 0, 0, 0, 1], units: 'HU', notices: ['n'], source: { format: 'nifti', name: 'a.nii.gz' } };
}

describe('Volume ↔ MetaImage', () => {
  it('lays the volume out C-order as [1, nx, ny, nz] with spatial axis 0 = i', () => {
    const v = vol();
    const img = volumeToImage(v);
    expect(img.shape).toEqual([1, 3, 4, 5]);
    expect(img.data).toBeInstanceOf(Int16Array);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) for (let k = 0; k < 5; k++) expect(img.data[(i * 4 + j) * 5 + k]).toBe(100 * i + 10 * j + k);
    expect(img.affine).toEqual(affineLPS(v));
    expect(img.meta).toEqual({ units: 'HU', filename_or_obj: 'a.nii.gz' });
  });

  it('round-trips back to the same volume', () => {
    const v = vol();
    const back = imageToVolume(volumeToImage(v), v);
    expect(Array.from(back.data)).toEqual(Array.from(v.data));
    expect(back.dims).toEqual(v.dims);
    back.spacing.forEach((s, n) => expect(s).toBeCloseTo(v.spacing[n], 12));
    back.direction.forEach((s, n) => expect(s).toBeCloseTo(v.direction[n], 12));
    expect(back.origin).toEqual(v.origin);
    expect(back.units).toBe('HU');
    expect(() => imageToVolume({ data: new Float32Array(6), shape: [1, 2, 3], affine: v.direction.concat([0, 0, 0, 0, 0, 0, 1]) }, v)).toThrow(/need a 3D image/);
  });
});

describe('reindex', () => {
  it('transposes, flips and pads in one pass', () => {
    // 2×3 image [[0,1,2],[3,4,5]] → transpose → [[0,3],[1,4],[2,5]], flip axis 1 → [[3,0],[4,1],[5,2]]
    const src = Float32Array.from([0, 1, 2, 3, 4, 5]);
    const t = reindex(src, [1, 2, 3], [1, 0], [Int32Array.from([0, 1, 2]), flipMap(2)]);
    expect(t.shape).toEqual([1, 3, 2]);
    expect(Array.from(t.data)).toEqual([3, 0, 4, 1, 5, 2]);
    const p = reindex(src, [1, 2, 3], [0, 1], [shiftMap(4, -1, 2), padMap(5, -1, 3, 'edge')], 9);
    expect(Array.from(p.data)).toEqual([9, 9, 9, 9, 9, 0, 0, 1, 2, 2, 3, 3, 4, 5, 5, 9, 9, 9, 9, 9]);
  });
});
