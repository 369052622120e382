import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { majorityVote, staple } from '../metrics';
import { IDENTITY3, type Mat3, type Vec3, type Volume } from '../volume';
import { casesFromScans, parseLabelSource, PatchSampler, prepareCase, validationSlices, type AnnotatedScan, type PreparedCase } from './data';
import { squaresCase } from './data.test-util';

beforeAll(async () => {
  await tf.setBackend('cpu'); // Rand2DElastic resamples with tfjs
});

/** A CT volume (i fastest) from a function of the voxel index. */
function volume(dims: Vec3, f: (i: number, j: number, k: number) => number, direction: Mat3 = IDENTITY3): Volume {
  const data = new Int16Array(dims[0] * dims[1] * dims[2]);
  for (let k = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++) data[i + dims[0] * (j + dims[1] * k)] = f(i, j, k);
  return { data, dims, spacing: [2, 2, 5], origin: [0, 0, 0], direction, units: 'HU', notices: [] };
}

const crop = { start: [2, 1, 1] as [number, number, number], end: [10, 9, 3] as [number, number, number], region: 'lungs' as const, lungVoxels: 10 };

describe('label sources', () => {
  it('parses the CLI / message forms', () => {
    expect(parseLabelSource('truth')).toEqual({ kind: 'truth' });
    expect(parseLabelSource('observer:careful_expert')).toEqual({ kind: 'observer', name: 'careful_expert' });
    expect(parseLabelSource('each-observer')).toEqual({ kind: 'each-observer' });
    expect(parseLabelSource('staple')).toEqual({ kind: 'staple' });
    expect(parseLabelSource('majority')).toEqual({ kind: 'majority' });
    for (const bad of ['observer:', 'consensus', '']) expect(() => parseLabelSource(bad)).toThrow(/unknown label source/);
  });

  const img = volume([4, 2, 1], () => 40);
  const obs = (name: string, v: number[]) => ({ name, mask: Uint8Array.from(v) });
  const scan: AnnotatedScan = {
    id: 's',
    image: img,
    truth: Uint8Array.from([1, 1, 0, 0, 0, 0, 0, 0]),
    observers: [obs('a', [1, 1, 1, 0, 0, 0, 0, 0]), obs('b', [1, 0, 1, 0, 1, 0, 0, 0]), obs('c', [1, 1, 0, 0, 0, 1, 0, 0])],
    lungCrop: crop,
  };

  it('truth, one observer, each observer, majority vote and STAPLE', () => {
    expect(casesFromScans([scan], { kind: 'truth' }).map((c) => [c.id, Array.from(c.label)])).toEqual([['s', [1, 1, 0, 0, 0, 0, 0, 0]]]);
    expect(Array.from(casesFromScans([scan], { kind: 'observer', name: 'b' })[0].label)).toEqual([1, 0, 1, 0, 1, 0, 0, 0]);
    const each = casesFromScans([scan], { kind: 'each-observer' });
    expect(each.map((c) => c.id)).toEqual(['s/a', 's/b', 's/c']);
    expect(each.every((c) => c.image === img && c.lungCrop === crop)).toBe(true);
    // 2 of 3 votes → 1: voxels 0 (3 votes), 1 (a, c), 2 (a, b).
    expect(Array.from(casesFromScans([scan], { kind: 'majority' })[0].label)).toEqual([1, 1, 1, 0, 0, 0, 0, 0]);
    expect(Array.from(casesFromScans([scan], { kind: 'majority' })[0].label)).toEqual(Array.from(majorityVote(scan.observers!.map((o) => o.mask))));
    expect(Array.from(casesFromScans([scan], { kind: 'staple' })[0].label)).toEqual(Array.from(staple(scan.observers!.map((o) => o.mask)).consensus));
  });

  it('names the scan and the reason when a label is missing or misfits', () => {
    expect(() => casesFromScans([{ ...scan, truth: undefined }], { kind: 'truth' })).toThrow(/^s: .*needs the true mask/);
    expect(() => casesFromScans([scan], { kind: 'observer', name: 'zz' })).toThrow(/s: no observer "zz" \(have: a, b, c\)/);
    expect(() => casesFromScans([{ ...scan, observers: [] }], { kind: 'staple' })).toThrow(/needs observers' masks/);
    expect(() => casesFromScans([{ ...scan, truth: new Uint8Array(3) }], { kind: 'truth' })).toThrow(/truth has 3 voxels, the image 8/);
  });
});

describe('prepareCase', () => {
  // HU ramps along i; label 2 in one voxel (any nonzero value is lesion).
  const dims: Vec3 = [12, 10, 4];
  const hu = (i: number, j: number, k: number) => -2000 + 250 * i + j + 3 * k;
  const vol = volume(dims, hu);
  const label = new Uint8Array(12 * 10 * 4);
  label[5 + 12 * (3 + 10 * 2)] = 2;

  it('crops to the lung box and windows [−1400, 100] HU → [0, 1] (clipped), in [k, j, i] order', () => {
    const p = prepareCase({ id: 'c', image: vol, label, lungCrop: crop });
    expect(p.shape).toEqual([2, 8, 8]);
    const at = (i: number, j: number, k: number) => p.image[(k - 1) * 64 + (j - 1) * 8 + (i - 2)];
    expect(at(2, 1, 1)).toBe(0); // −1496 HU clipped
    expect(at(4, 3, 1)).toBeCloseTo((hu(4, 3, 1) + 1400) / 1500, 6);
    expect(at(9, 8, 2)).toBe(1); // 264 HU clipped
    expect(p.label.reduce((a, b) => a + b, 0)).toBe(1);
    expect(p.label[(2 - 1) * 64 + (3 - 1) * 8 + (5 - 2)]).toBe(1);
  });

  it('gives the same slices for a volume stored right-to-left and anterior-to-posterior (reoriented to LPS)', () => {
    // Body everywhere (no lungs): the crop is the whole volume both ways.
    const body = (i: number, j: number, k: number) => 20 + 7 * i + 3 * j + k;
    const lps = volume(dims, body);
    const flipped = volume(dims, (i, j, k) => body(dims[0] - 1 - i, dims[1] - 1 - j, k), [-1, 0, 0, 0, -1, 0, 0, 0, 1]);
    const flippedLabel = new Uint8Array(label.length);
    for (let k = 0; k < 4; k++) for (let j = 0; j < 10; j++) for (let i = 0; i < 12; i++) flippedLabel[i + 12 * (j + 10 * k)] = label[11 - i + 12 * (9 - j + 10 * k)];
    const a = prepareCase({ id: 'lps', image: lps, label });
    const b = prepareCase({ id: 'ras', image: flipped, label: flippedLabel });
    expect(b.shape).toEqual(a.shape);
    expect(Array.from(b.image)).toEqual(Array.from(a.image));
    expect(Array.from(b.label)).toEqual(Array.from(a.label));
  });

  it('crops a hard-negative mask like the label, carried from the scan through casesFromScans', () => {
    const hard = new Uint8Array(label.length);
    hard[6 + 12 * (4 + 10 * 1)] = 1;
    hard[0] = 1; // outside the lung box
    const [c] = casesFromScans([{ id: 'h', image: vol, truth: label, lungCrop: crop, hardNegatives: hard }], { kind: 'truth' });
    const p = prepareCase(c);
    expect(p.hard!.reduce((a, b) => a + b, 0)).toBe(1);
    expect(p.hard![(1 - 1) * 64 + (4 - 1) * 8 + (6 - 2)]).toBe(1);
    expect(prepareCase({ id: 'n', image: vol, label }).hard).toBeUndefined();
    expect(() => casesFromScans([{ id: 'h', image: vol, truth: label, hardNegatives: new Uint8Array(3) }], { kind: 'truth' })).toThrow(/h: hard-negative mask has 3 voxels/);
  });

  it('rejects label maps as images and mismatched labels', () => {
    expect(() => prepareCase({ id: 'x', image: { ...vol, units: 'label' }, label })).toThrow(/x: the image is a label map/);
    expect(() => prepareCase({ id: 'x', image: vol, label: new Uint8Array(5) })).toThrow(/x: label has 5 voxels/);
  });
});

describe('PatchSampler', () => {
  const cases = [squaresCase('a', 1), squaresCase('b', 2, 2, 40, 56)];

  it('is a pure function of (seed, step): same bytes again, other steps and seeds differ', async () => {
    const s = new PatchSampler(cases, { patchSize: 32, batchSize: 3, seed: 4 });
    const b1 = await s.batch(7);
    const b2 = await new PatchSampler(cases, { patchSize: 32, batchSize: 3, seed: 4 }).batch(7);
    expect(b1.images).toEqual(b2.images);
    expect(b1.labels).toEqual(b2.labels);
    expect(b1.images.length).toBe(3 * 32 * 32);
    expect((await s.batch(8)).images).not.toEqual(b1.images);
    expect((await new PatchSampler(cases, { patchSize: 32, batchSize: 3, seed: 5 }).batch(7)).images).not.toEqual(b1.images);
  });

  it('pos = 1, neg = 0 centres every patch on a lesion voxel; neg only on background; crops are the slice window', async () => {
    const pos = new PatchSampler(cases, { patchSize: 16, batchSize: 1, pos: 1, neg: 0, augment: false });
    const neg = new PatchSampler(cases, { patchSize: 16, batchSize: 1, pos: 0, neg: 1, augment: false });
    for (let step = 0; step < 20; step++) {
      for (const [sampler, want] of [[pos, 1], [neg, 0]] as const) {
        const { caseId, centre, image, label } = await sampler.sample(step, 0);
        const c = cases.find((x) => x.id === caseId)!;
        const [, h, w] = c.shape;
        const [k, j, i] = centre;
        // MONAI clamps centres so that the patch fits: [8, size − 8].
        expect(j).toBeGreaterThanOrEqual(8);
        expect(j).toBeLessThanOrEqual(h - 8);
        expect(i).toBeLessThanOrEqual(w - 8);
        // Patch pixel (r, q) is slice pixel (j − 8 + r, i − 8 + q).
        for (const [r, q] of [[0, 0], [8, 8], [15, 3]]) {
          const n = (k * h + j - 8 + r) * w + (i - 8 + q);
          expect(image.data[r * 16 + q]).toBe(c.image[n]);
          expect(label.data[r * 16 + q]).toBe(c.label[n]);
        }
        // The clamp moves centres off the lesion only near the border; away from it the centre voxel is the drawn one.
        if (j > 8 && j < h - 8 && i > 8 && i < w - 8) expect(label.data[8 * 16 + 8]).toBe(want);
      }
    }
  });

  it('pads cases smaller than the patch in-plane (edge values) and keeps image and label aligned through flips and rotations', async () => {
    const small = squaresCase('s', 9, 2, 20, 24);
    const s = new PatchSampler([small], { patchSize: 32, batchSize: 8, augment: { intensityScale: 0, intensityShift: 0, noiseStd: 0 }, seed: 1 });
    const plain = new PatchSampler([small], { patchSize: 32, batchSize: 8, augment: false, seed: 1 });
    const b = await s.batch(0);
    const p = await plain.batch(0);
    for (let n = 0; n < b.images.length; n++) expect(b.labels[n]).toBe(b.images[n] > 0.5 ? 1 : 0);
    expect(b.images).not.toEqual(p.images); // something was flipped or turned
    // Same multiset of values per patch: flips and quarter turns only move pixels.
    for (let q = 0; q < 8; q++) {
      const sorted = (a: Float32Array) => Array.from(a.subarray(q * 1024, (q + 1) * 1024)).sort((x, y) => x - y);
      expect(sorted(b.images)).toEqual(sorted(p.images));
    }
  });

  it('elastic deformation (optional) warps image and label together: bilinear image, nearest 0/1 label', async () => {
    const elastic = { spacing: 8, magnitude: [2, 4] as [number, number], prob: 1 };
    const off = { flipProb: 0, rot90Prob: 0, intensityScale: 0, intensityShift: 0, noiseStd: 0 };
    const s = new PatchSampler(cases, { patchSize: 32, batchSize: 4, augment: { ...off, elastic }, seed: 2 });
    const p = new PatchSampler(cases, { patchSize: 32, batchSize: 4, augment: { ...off }, seed: 2 });
    const b = await s.batch(3);
    const q = await p.batch(3);
    expect(b.images).not.toEqual(q.images);
    expect(b.labels).not.toEqual(q.labels);
    // Bilinear blurs the squares' edges only: nearly every pixel still has label = image > 0.5.
    let agree = 0;
    for (let n = 0; n < b.images.length; n++) if (b.labels[n] === (b.images[n] > 0.5 ? 1 : 0)) agree++;
    expect(agree / b.images.length).toBeGreaterThan(0.97);
  });

  /** One slice 48×48 of background 0.3 with a 20×20 lesion, a 2×2 lesion and a hard-negative line. */
  function twoLesions(): PreparedCase {
    const c = squaresCase('two', 3, 1, 48, 48);
    c.image.fill(0.3);
    c.label.fill(0);
    const hard = new Uint8Array(48 * 48);
    for (let j = 10; j < 30; j++) for (let i = 10; i < 30; i++) c.label[j * 48 + i] = 1;
    for (let j = 34; j < 36; j++) for (let i = 34; i < 36; i++) c.label[j * 48 + i] = 1;
    for (let j = 9; j < 40; j++) hard[j * 48 + 38] = 1; // a "vessel" at column 38
    for (let j = 12; j < 14; j++) hard[j * 48 + 12] = 1; // marked hard but inside the big lesion: never a negative
    return { ...c, hard };
  }
  const inSmall = (centre: number[]) => centre[1] >= 34 && centre[1] < 36 && centre[2] >= 34 && centre[2] < 36;

  it("positives 'lesion' draws each connected lesion equally often; MONAI's voxel draw favours the large one", async () => {
    const opts = { patchSize: 16, batchSize: 1, pos: 1, neg: 0, augment: false as const };
    const byLesion = new PatchSampler([twoLesions()], { ...opts, positives: 'lesion' });
    const byVoxel = new PatchSampler([twoLesions()], opts);
    let lesion = 0;
    let voxel = 0;
    for (let step = 0; step < 300; step++) {
      if (inSmall((await byLesion.sample(step, 0)).centre)) lesion++;
      if (inSmall((await byVoxel.sample(step, 0)).centre)) voxel++;
    }
    // Expected shares 1/2 and 4/404.
    expect(lesion / 300).toBeGreaterThan(0.4);
    expect(lesion / 300).toBeLessThan(0.6);
    expect(voxel / 300).toBeLessThan(0.04);
  });

  it('hardNegativeRatio draws that share of negative centres from hard-negative voxels that are not lesion', async () => {
    const opts = { patchSize: 16, batchSize: 1, pos: 0, neg: 1, augment: false as const };
    const count = async (ratio: number) => {
      const s = new PatchSampler([twoLesions()], { ...opts, hardNegativeRatio: ratio });
      let onHard = 0;
      for (let step = 0; step < 200; step++) {
        const { centre, label } = await s.sample(step, 0);
        expect(label.data[8 * 16 + 8]).toBe(0);
        if (centre[2] === 38 && centre[1] >= 9 && centre[1] < 40) onHard++;
      }
      return onHard / 200;
    };
    expect(await count(1)).toBe(1);
    const half = await count(0.5);
    expect(half).toBeGreaterThan(0.38);
    expect(half).toBeLessThan(0.62);
    // Ratio 0 (the default) ignores the mask and draws exactly MONAI's sequence.
    const plain = { ...twoLesions(), hard: undefined };
    expect((await new PatchSampler([twoLesions()], { patchSize: 16, seed: 3 }).batch(5)).images).toEqual((await new PatchSampler([plain], { patchSize: 16, seed: 3 }).batch(5)).images);
  });

  it('contextSlices: each patch carries its neighbouring slices as channels (end slices repeated), moved by the same augmentation', async () => {
    // Without augmentation the centres are those of the one-slice sampler with the same seed.
    const one = new PatchSampler(cases, { patchSize: 16, batchSize: 4, augment: false, seed: 2 });
    const three = new PatchSampler(cases, { patchSize: 16, batchSize: 4, augment: false, seed: 2, contextSlices: 1 });
    const b3 = await three.batch(5);
    expect(b3.channels).toBe(3);
    expect(b3.images.length).toBe(4 * 16 * 16 * 3);
    expect(b3.labels).toEqual((await one.batch(5)).labels);
    let ends = 0;
    for (let b = 0; b < 4; b++) {
      const { caseId, centre } = await three.sample(5, b);
      const c = cases.find((x) => x.id === caseId)!;
      const [d, h, w] = c.shape;
      const [k, j, i] = centre;
      if (k === 0 || k === d - 1) ends++;
      for (const [r, q] of [[0, 0], [8, 8], [15, 3]])
        for (let ch = 0; ch < 3; ch++) {
          const kk = Math.min(d - 1, Math.max(0, k + ch - 1));
          expect(b3.images[((b * 16 + r) * 16 + q) * 3 + ch]).toBe(c.image[(kk * h + j - 8 + r) * w + (i - 8 + q)]);
        }
    }
    expect(ends).toBeGreaterThan(0); // the cases have 2–3 slices, so end slices were drawn
    // With flips and quarter turns, the centre channel is the one-slice patch and the labels are unchanged.
    const aug = { intensityScale: 0, intensityShift: 0, noiseStd: 0 };
    const a1 = await new PatchSampler(cases, { patchSize: 16, batchSize: 4, augment: aug, seed: 2 }).batch(6);
    const a3 = await new PatchSampler(cases, { patchSize: 16, batchSize: 4, augment: aug, seed: 2, contextSlices: 1 }).batch(6);
    expect(a3.labels).toEqual(a1.labels);
    for (let n = 0; n < a1.images.length; n++) expect(a3.images[n * 3 + 1]).toBe(a1.images[n]);
    expect(() => new PatchSampler(cases, { contextSlices: 1.5 })).toThrow(/context slices must be an integer in 0…8, got 1.5/);
  });

  it('rejects bad options with an InputError', () => {
    expect(() => new PatchSampler(cases, { positives: 'blob' as 'lesion' })).toThrow(/positives must be/);
    expect(() => new PatchSampler(cases, { hardNegativeRatio: 1.5 })).toThrow(/hard-negative ratio/);
    expect(() => new PatchSampler([], {})).toThrow(/no training cases/);
    expect(() => new PatchSampler(cases, { pos: 0, neg: 0 })).toThrow(/pos and neg/);
    expect(() => new PatchSampler(cases, { patchSize: 0 })).toThrow(/patch size/);
    expect(() => new PatchSampler(cases, { batchSize: 1.5 })).toThrow(/batch size/);
  });
});

describe('validationSlices', () => {
  it('pads to the divisor by reflection (as the inference pipeline), keeps the labels unpadded, spaces slices evenly', () => {
    const c = squaresCase('v', 3, 5, 40, 50);
    const [v] = validationSlices([c], { divisor: 32, maxSlicesPerCase: 3 });
    expect([v.count, v.height, v.width, v.rows, v.cols, v.top, v.left]).toEqual([3, 64, 64, 40, 50, 12, 7]);
    const slices = [0, 2, 4];
    slices.forEach((k, n) => {
      // Interior pixel (r, q) of slice k sits at (r + top, q + left).
      for (const [r, q] of [[0, 0], [39, 49], [17, 23]]) expect(v.images[(n * 64 + r + 12) * 64 + q + 7]).toBe(c.image[(k * 40 + r) * 50 + q]);
      // numpy 'reflect': padded row top − 1 is row 1, column left − 2 is column 2.
      expect(v.images[(n * 64 + 11) * 64 + 7]).toBe(c.image[(k * 40 + 1) * 50]);
      expect(v.images[(n * 64 + 12) * 64 + 5]).toBe(c.image[(k * 40) * 50 + 2]);
      expect(Array.from(v.labels.subarray(n * 2000, (n + 1) * 2000))).toEqual(Array.from(c.label.subarray(k * 2000, (k + 1) * 2000)));
    });
  });

  it('contextSlices: each slice with its padded neighbours as channels; the centre channel is the one-slice image', () => {
    const c = squaresCase('v', 3, 5, 40, 50);
    const [one] = validationSlices([c], { divisor: 32, maxSlicesPerCase: 3 });
    const [three] = validationSlices([c], { divisor: 32, maxSlicesPerCase: 3, contextSlices: 1 });
    expect([three.channels, one.channels]).toEqual([3, 1]);
    expect(three.labels).toEqual(one.labels);
    const plane = 64 * 64;
    for (let n = 0; n < 3 * plane; n++) expect(three.images[n * 3 + 1]).toBe(one.images[n]);
    // Slices 0, 2, 4: slice 0's lower neighbour is itself, slice 4's upper one too; slice 2's are 1 and 3.
    const at = (k: number, r: number, q: number) => c.image[(k * 40 + r) * 50 + q];
    const px = (n: number, ch: number) => three.images[((n * 64 + 12 + 17) * 64 + 7 + 23) * 3 + ch];
    expect([px(0, 0), px(0, 2)]).toEqual([at(0, 17, 23), at(1, 17, 23)]);
    expect([px(1, 0), px(1, 2)]).toEqual([at(1, 17, 23), at(3, 17, 23)]);
    expect([px(2, 0), px(2, 2)]).toEqual([at(3, 17, 23), at(4, 17, 23)]);
  });
});
