import { describe, expect, it } from 'vitest';
import { connectedComponents } from '../labels/components';
import { findLungCrop } from './lung-crop';
import type { Volume } from '../volume';

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

describe('lung cropping', () => {
  it('finds both lungs and pads the box by the margin in mm', () => {
    const crop = findLungCrop(chest(), { marginMm: 4 });
    expect(crop.lungVoxels).toBe(9 * 12 * 6 + 10 * 12 * 6);
    expect(crop.start).toEqual([6, 7, 0]);
    expect(crop.end).toEqual([34, 23, 10]);
  });

  it('returns the whole volume when there is no lung', () => {
    const v = chest();
    v.data.fill(40);
    expect(findLungCrop(v)).toEqual({ start: [0, 0, 0], end: [40, 30, 10], lungVoxels: 0 });
  });

  it('labels 6-connected components with sizes, boxes and border contact', () => {
    const mask = new Uint8Array(27);
    mask[0] = 1; // corner
    mask[13] = 1; // centre
    mask[14] = 1; // centre's +i neighbour
    const cc = connectedComponents(mask, [3, 3, 3]);
    expect(cc.count).toBe(2);
    expect(cc.sizes.slice(1)).toEqual([1, 2]);
    expect(cc.touchesBorder.slice(1)).toEqual([true, true]);
    expect(cc.boxes[2]).toEqual([1, 1, 1, 2, 1, 1]);
  });
});
