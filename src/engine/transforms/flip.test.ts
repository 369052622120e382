import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Flip, RandFlip, RandFlipd, RandRotate90, RandRotate90d, Rotate90 } from './flip';
import type { MetaImage } from './image';
import { invert } from './invert';
import { fromMat4, matvec } from './matrix';

/** 2×3×4 volume whose value encodes its index (100i + 10j + k), oblique-ish affine. */
function cube(): MetaImage {
  const data = new Float32Array(24);
  for (let v = 0; v < 24; v++) data[v] = 100 * Math.floor(v / 12) + 10 * (Math.floor(v / 4) % 3) + (v % 4);
  return { data, shape: [1, 2, 3, 4], affine: [0.5, 0.1, 0, 3, 0, 2, 0.2, -1, 0.3, 0, 1.5, 7, 0, 0, 0, 1] };
}

/** Every output voxel must sit at the same world position as the input voxel its value came from. */
function expectWorldPreserved(before: MetaImage, after: MetaImage): void {
  const A = fromMat4(before.affine);
  const B = fromMat4(after.affine);
  const [, n0, n1, n2] = after.shape;
  for (let i = 0; i < n0; i++) for (let j = 0; j < n1; j++) for (let k = 0; k < n2; k++) {
    const v = after.data[(i * n1 + j) * n2 + k];
    const src = [Math.floor(v / 100), Math.floor(v / 10) % 10, v % 10, 1];
    const p = matvec(B, [i, j, k, 1]);
    const q = matvec(A, src);
    for (let d = 0; d < 3; d++) expect(p[d]).toBeCloseTo(q[d], 10);
  }
}

const numpy = (expr: string): number[][] =>
  JSON.parse(execFileSync('/usr/bin/python3', ['-c', `import json, numpy as np\na = (100*np.arange(2)[:,None,None] + 10*np.arange(3)[None,:,None] + np.arange(4)[None,None,:]).astype(float)\nprint(json.dumps([x.ravel().tolist() for x in ${expr}]))`]).toString());

describe('Flip / Rotate90', () => {
  it('match numpy.flip and numpy.rot90 element by element, and keep every value at its world position', () => {
    const cases: [number, [number, number]][] = [
      [1, [0, 1]],
      [2, [0, 1]],
      [3, [0, 1]],
      [1, [1, 2]],
      [3, [0, 2]],
      [-1, [2, 0]],
    ];
    const ref = numpy(`[np.rot90(a, k, axes) for k, axes in ${JSON.stringify(cases)}] + [np.flip(a, 1), np.flip(a, (0, 2)), np.flip(a)]`);
    cases.forEach(([k, axes], n) => {
      const out = new Rotate90({ k, spatial_axes: axes }).call(cube());
      expect(Array.from(out.data), `rot90 k=${k} axes=${axes}`).toEqual(ref[n]);
      expectWorldPreserved(cube(), out);
    });
    [[1], [0, 2], null].forEach((axis, n) => {
      const out = new Flip({ spatial_axis: axis }).call(cube());
      expect(Array.from(out.data)).toEqual(ref[cases.length + n]);
      expectWorldPreserved(cube(), out);
    });
    expect(Array.from(new Flip({ spatial_axis: -1 }).call(cube()).data)).toEqual(Array.from(new Flip({ spatial_axis: 2 }).call(cube()).data));
  });

  it('invert() undoes flips and rotations exactly', async () => {
    const x = new Flip({ spatial_axis: 0 }).call(new Rotate90({ k: 3, spatial_axes: [1, 2] }).call(cube()));
    const back = await invert(x);
    expect(Array.from(back.data)).toEqual(Array.from(cube().data));
    expect(back.shape).toEqual([1, 2, 3, 4]);
    expect(back.affine).toEqual(cube().affine);
  });
});

describe('RandFlip / RandRotate90', () => {
  it('prob 1 always applies, prob 0 never; k is drawn from 1..max_k', () => {
    const flipped = new RandFlip({ prob: 1, spatial_axis: 0 }).call(cube());
    expect(Array.from(flipped.data)).toEqual(Array.from(new Flip({ spatial_axis: 0 }).call(cube()).data));
    const x = cube();
    expect(new RandFlip({ prob: 0 }).call(x)).toBe(x);
    const rot = [1, 2, 3].map((k) => Array.from(new Rotate90({ k, spatial_axes: [1, 2] }).call(cube()).data).join());
    const t = new RandRotate90({ prob: 1, max_k: 3, spatial_axes: [1, 2] }).setRandomState(5);
    const seen = new Set<string>();
    for (let n = 0; n < 40; n++) seen.add(Array.from(t.call(cube()).data).join());
    expect(seen).toEqual(new Set(rot));
    const once = new RandRotate90({ prob: 1, max_k: 1, spatial_axes: [1, 2] }).setRandomState(6);
    for (let n = 0; n < 5; n++) expect(Array.from(once.call(cube()).data).join()).toBe(rot[0]);
  });

  it('dictionary versions apply one draw to every key', () => {
    const lab: MetaImage = { ...cube(), data: cube().data.map((v) => v + 1000) };
    for (let seed = 0; seed < 6; seed++) {
      const d = new RandFlipd({ keys: ['image', 'label'], prob: 0.5 }).setRandomState(seed).call({ image: cube(), label: lab });
      const r = new RandRotate90d({ keys: ['image', 'label'], prob: 0.5 }).setRandomState(seed).call(d);
      const a = (r.image as MetaImage).data;
      const b = (r.label as MetaImage).data;
      a.forEach((v, i) => expect(b[i]).toBe(v + 1000));
    }
  });
});
