import { describe, expect, it } from 'vitest';
import { readShared } from '../../../tests/shared';
import { readNifti } from '../io/nifti';
import { connectedComponents } from '../labels/components';
import { invert, volumeToImage, type MetaImage } from '../transforms';
import type { Vec3, Volume } from '../volume';
import { findLungCrop, LungCropd, lungCropOfImage } from './lung-crop';

function chest(): Volume {
  // 40×30×10 at 2 mm: air outside, a body box, two lungs (air boxes) inside.
  const dims: [number, number, number] = [40, 30, 10];
  const data = new Int16Array(40 * 30 * 10).fill(-1000);
  const box = (i0: number, i1: number, j0: number, j1: number, k0: number, k1: number, hu: number) => {
    for (let k = k0; k < k1; k++) for (let j = j0; j < j1; j++) for (let i = i0; i < i1; i++) data[i + 40 * (j + 30 * k)] = hu;
  };
  box(4, 36, 5, 25, 0, 10, 40);
  box(8, 17, 9, 21, 2, 8, -850);
  box(22, 32, 9, 21, 1, 7, -850);
  box(19, 20, 22, 23, 3, 4, -900); // a tiny gas bubble: not lung
  return { data, dims, spacing: [2, 2, 2], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], units: 'HU', notices: [] };
}

/** The same voxels stored with the axes permuted: new axis a reads old axis perm[a]. */
function permuted(v: Volume, perm: Vec3): Volume {
  const dims = perm.map((a) => v.dims[a]) as Vec3;
  const data = new Int16Array(v.data.length);
  const old = [0, 0, 0];
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++)
      for (let i = 0; i < dims[0]; i++) {
        [i, j, k].forEach((x, a) => (old[perm[a]] = x));
        data[i + dims[0] * (j + dims[1] * k)] = v.data[old[0] + v.dims[0] * (old[1] + v.dims[1] * old[2])];
      }
  const direction = perm.flatMap((a) => v.direction.slice(3 * a, 3 * a + 3)) as Volume['direction'];
  return { ...v, data, dims, spacing: perm.map((a) => v.spacing[a]) as Vec3, direction };
}

describe('lung cropping', () => {
  it('finds both lungs and pads the box by the margin in mm', () => {
    const crop = findLungCrop(chest(), { marginMm: 4 });
    expect(crop.region).toBe('lungs');
    expect(crop.lungVoxels).toBe(9 * 12 * 6 + 10 * 12 * 6);
    expect(crop.start).toEqual([6, 7, 0]);
    expect(crop.end).toEqual([34, 23, 10]);
    expect(crop.notice).toBeUndefined();
  });

  it('finds the axial plane from the direction cosines (slices stacked along i)', () => {
    // Axes (k, i, j): the superior axis is now the volume's i axis.
    const crop = findLungCrop(permuted(chest(), [2, 0, 1]), { marginMm: 4 });
    expect(crop.region).toBe('lungs');
    expect(crop.start).toEqual([0, 6, 7]);
    expect(crop.end).toEqual([10, 34, 23]);
  });

  it('falls back to the body, with a notice, when the inner air is too small to be lungs', () => {
    const v = chest();
    for (let n = 0; n < v.data.length; n++) if (v.data[n] === -850) v.data[n] = 40;
    const crop = findLungCrop(v, { marginMm: 4 });
    expect(crop.region).toBe('body');
    expect(crop.lungVoxels).toBe(0);
    // Body box i 4..35, j 5..24, all k; plus 2 voxels.
    expect(crop.start).toEqual([2, 3, 0]);
    expect(crop.end).toEqual([38, 27, 10]);
    expect(crop.notice).toMatch(/No lungs found \(the air inside the body \(0 mL\) is 0% of it.*whole body/);
  });

  it('returns the whole volume when there is neither lung nor body', () => {
    const v = chest();
    v.data.fill(-1000);
    const crop = findLungCrop(v);
    expect(crop).toMatchObject({ start: [0, 0, 0], end: [40, 30, 10], region: 'volume', lungVoxels: 0 });
    expect(crop.notice).toMatch(/No lungs and no body/);
  });

  it('searches a subsampled grid for fine voxels and still covers the lungs', () => {
    // The chest at 0.5 mm: 4× finer along every axis (stride 5 for the 2.5 mm search grid).
    const c = chest();
    const f = 4;
    const dims = c.dims.map((n) => n * f) as Vec3;
    const data = new Int16Array(dims[0] * dims[1] * dims[2]);
    for (let k = 0; k < dims[2]; k++)
      for (let j = 0; j < dims[1]; j++)
        for (let i = 0; i < dims[0]; i++) data[i + dims[0] * (j + dims[1] * k)] = c.data[Math.floor(i / f) + 40 * (Math.floor(j / f) + 30 * Math.floor(k / f))];
    const crop = findLungCrop({ ...c, data, dims, spacing: [0.5, 0.5, 0.5] }, { marginMm: 4 });
    expect(crop.region).toBe('lungs');
    // Exact lung box (fine voxels): i 32..127, j 36..83, k 4..31; margin 8 voxels; search slack ≤ 4 voxels.
    const exact = { start: [32 - 8, 36 - 8, 4 - 8], end: [128 + 8, 84 + 8, 32 + 8] };
    for (let a = 0; a < 3; a++) {
      expect(crop.start[a]).toBeLessThanOrEqual(Math.max(0, exact.start[a]));
      expect(crop.start[a]).toBeGreaterThanOrEqual(Math.max(0, exact.start[a] - 4));
      expect(crop.end[a]).toBeGreaterThanOrEqual(Math.min(dims[a], exact.end[a]));
      expect(crop.end[a]).toBeLessThanOrEqual(Math.min(dims[a], exact.end[a] + 4));
    }
    expect(Math.abs(crop.lungVoxels - 1368 * 64) / (1368 * 64)).toBeLessThan(0.1);
  });

  it('falls back to the body on a real abdominal CT, whose bowel gas is not lung', async () => {
    const v = await readNifti({ name: 'example_ct_sm.nii.gz', bytes: readShared('data/real/totalsegmentator/example_ct_sm.nii.gz') });
    const crop = findLungCrop(v);
    expect(crop.region).toBe('body');
    expect(crop.notice).toMatch(/No lungs found \(the air inside the body \(\d+ mL\) is \d+% of it/);
    // The body box lies inside the volume and leaves the air around the body out in-plane.
    for (let a = 0; a < 3; a++) {
      expect(crop.start[a]).toBeGreaterThanOrEqual(0);
      expect(crop.end[a]).toBeLessThanOrEqual(v.dims[a]);
    }
    expect((crop.end[0] - crop.start[0]) * (crop.end[1] - crop.start[1])).toBeLessThan(v.dims[0] * v.dims[1]);
  });

  it('LungCropd crops every key to the box found on the image, stores it, and inverts', async () => {
    const v = chest();
    const img = volumeToImage(v);
    const label: MetaImage = { ...volumeToImage({ ...v, data: Uint8Array.from(v.data, (x) => (x === -850 ? 1 : 0)), units: 'label' }) };
    const out = new LungCropd({ keys: ['image', 'label'], margin_mm: 4 }).call({ image: img, label });
    const crop = out.lung_crop as ReturnType<typeof findLungCrop>;
    expect(crop).toEqual(findLungCrop(v, { marginMm: 4 }));
    expect(crop).toEqual(lungCropOfImage(img, { marginMm: 4 }));
    const cropped = out.image as MetaImage;
    expect(cropped.shape).toEqual([1, 28, 16, 10]);
    expect((out.label as MetaImage).shape).toEqual([1, 28, 16, 10]);
    // Voxel (i, j, k) of the crop is voxel (i + 6, j + 7, k) of the volume (C-order [X, Y, Z]).
    expect(cropped.data[(3 * 16 + 5) * 10 + 4]).toBe(v.data[9 + 40 * (12 + 30 * 4)]);
    const back = await invert(cropped);
    expect(back.shape).toEqual(img.shape);
    expect(back.affine).toEqual(img.affine);
    expect(back.data[(9 * 30 + 12) * 10 + 4]).toBe(img.data[(9 * 30 + 12) * 10 + 4]);
    expect(back.data[0]).toBe(0); // outside the crop
  });

  it('LungCropd checks its arguments', () => {
    expect(() => new LungCropd({ margin_mm: -1 })).toThrow(/margin_mm/);
    expect(() => new LungCropd({ margin: 3 } as never)).toThrow(/unknown argument "margin"/);
  });

  it('labels 6-connected components with sizes, boxes and border contact', () => {
    const mask = new Uint8Array(27);
    mask[0] = 1; // corner
    mask[13] = 1; // centre
    mask[14] = 1; // centre's +k neighbour in C order = +i here
    const cc = connectedComponents(mask, [3, 3, 3]);
    expect(cc.count).toBe(2);
    expect(cc.sizes.slice(1)).toEqual([1, 2]);
    expect(cc.touchesBorder.slice(1)).toEqual([true, true]);
    expect(cc.boxes[2]).toEqual([1, 1, 1, 2, 1, 1]);
  });
});
