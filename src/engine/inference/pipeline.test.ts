import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { readShared } from '../../../tests/shared';
import { createNetwork, type CopleNet } from '../../models';
import { readNifti } from '../io/nifti';
import { InputError } from '../io/errors';
import type { Volume } from '../volume';
import { activationBytes, batchSizeFor } from './batch-size';
import { findLungCrop } from './lung-crop';
import { connectedComponents, keepConfidentComponents, removeSmallObjects } from '../labels/components';
import { DEFAULT_COPLENET_PIPELINE, DEFAULT_UNET3D_PIPELINE, parsePipeline, parsePostprocessing, previewPipelineSteps, withFlipTta, withConfidentComponents, withSliceContext, withSmallLesionRemoval, type InferencePipeline } from './pipeline';
import { segmentVolume } from './segment';
import { slidingWindowInference } from './sliding-window';
import { balancedCopleNet, flipJ, tinyChest } from './test-chest';

const FEATURES = [4, 8, 16, 32, 64];
const reflect = (x: number, n: number) => (x < 0 ? -x : x >= n ? 2 * (n - 1) - x : x);
const window = (hu: number) => Math.min(1, Math.max(0, (hu + 1400) / 1500));

/**
 * The COPLE-Net input built by hand for an LPS-aligned volume: crop to the lung box, window,
 * [k, j, i] (= SPL here: k→S, j→P, i→L), reflect-pad D to a multiple of kD and H, W to multiples
 * of kHW, symmetric (numpy floor(w/2) before).
 */
function handPreprocessed(v: Volume, kD = 1, kHW = 32) {
  const crop = findLungCrop(v);
  const [i0, j0, k0] = crop.start;
  const [Wc, Hc, Dc] = [0, 1, 2].map((a) => crop.end[a] - crop.start[a]);
  const [D, H, W] = [Math.ceil(Dc / kD) * kD, Math.ceil(Hc / kHW) * kHW, Math.ceil(Wc / kHW) * kHW];
  const [front, top, left] = [Math.floor((D - Dc) / 2), Math.floor((H - Hc) / 2), Math.floor((W - Wc) / 2)];
  const data = new Float32Array(D * H * W);
  for (let s = 0; s < D; s++)
    for (let r = 0; r < H; r++)
      for (let c = 0; c < W; c++) {
        const i = i0 + reflect(c - left, Wc);
        const j = j0 + reflect(r - top, Hc);
        const k = k0 + reflect(s - front, Dc);
        data[(s * H + r) * W + c] = window(v.data[i + v.dims[0] * (j + v.dims[1] * k)]);
      }
  /** Slice, row and column of voxel (i, j, k) in the padded input. */
  const at = (i: number, j: number, k: number) => ({ s: k - k0 + front, r: j - j0 + top, c: i - i0 + left });
  return { crop, data, D, H, W, at };
}

let vol: Volume;
let net: CopleNet;
let hand: ReturnType<typeof handPreprocessed>;
/** Softmax p(lesion) of the network on the hand-built slices, [D, H, W]. */
let handProb: Float32Array;

beforeAll(async () => {
  await tf.setBackend('cpu');
  vol = tinyChest();
  hand = handPreprocessed(vol);
  const x = tf.tensor4d(hand.data, [hand.D, hand.H, hand.W, 1]);
  net = await balancedCopleNet(FEATURES, x);
  const p = tf.tidy(() => tf.squeeze(tf.slice(tf.softmax(net.apply(x), -1), [0, 0, 0, 1], [-1, -1, -1, 1]), [3]));
  handProb = (await p.data()) as Float32Array;
  tf.dispose([x, p]);
});

const inCrop = (crop: { start: number[]; end: number[] }, i: number, j: number, k: number) =>
  [i, j, k].every((x, a) => x >= crop.start[a] && x < crop.end[a]);

describe('segmentVolume with the COPLE-Net pipeline', () => {
  it('gives a mask on the source grid, 0 outside the lung crop, and the network’s own slice-by-slice probabilities inside', async () => {
    const res = await segmentVolume(vol, net, DEFAULT_COPLENET_PIPELINE);
    const [nx, ny, nz] = vol.dims;
    expect(res.mask.length).toBe(nx * ny * nz);
    expect(res.probabilities!.length).toBe(nx * ny * nz);
    expect(res.crop).toEqual(hand.crop);
    expect(res.crop!.region).toBe('lungs');
    // The crop is a real crop of this phantom, in-plane and along k.
    expect(hand.crop.end[0] - hand.crop.start[0]).toBeLessThan(nx);
    expect(hand.crop.end[2] - hand.crop.start[2]).toBeLessThan(nz);
    let ones = 0;
    let worst = 0;
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++) {
          const n = i + nx * (j + ny * k);
          const m = res.mask[n];
          const p = res.probabilities![n];
          expect(m === 0 || m === 1).toBe(true);
          if (!inCrop(hand.crop, i, j, k)) {
            expect(m).toBe(0);
            expect(p).toBe(0);
            continue;
          }
          const { s, r, c } = hand.at(i, j, k);
          const ref = handProb[(s * hand.H + r) * hand.W + c];
          worst = Math.max(worst, Math.abs(p - ref));
          expect(m).toBe(ref > 0.5 ? 1 : 0);
          ones += m;
        }
    expect(worst).toBeLessThan(1e-5);
    // The bias calibration makes the random net call about half of the crop lesion.
    const cropVoxels = [0, 1, 2].reduce((acc, a) => acc * (hand.crop.end[a] - hand.crop.start[a]), 1);
    expect(ones / cropVoxels).toBeGreaterThan(0.2);
    expect(ones / cropVoxels).toBeLessThan(0.8);
    expect(res.notices).toEqual([]);
    expect(res.batchSize).toBeGreaterThanOrEqual(1);
    expect(res.timings.totalMs).toBeGreaterThan(0);
  });

  it('gives the same mask in world space for LPS- and LAS-stored copies of a scan', async () => {
    const las = flipJ(vol);
    const a = await segmentVolume(vol, net, DEFAULT_COPLENET_PIPELINE);
    const b = await segmentVolume(las, net, DEFAULT_COPLENET_PIPELINE);
    const [nx, ny, nz] = vol.dims;
    let diff = 0;
    let worst = 0;
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++) {
          const n = i + nx * (j + ny * k);
          const m = i + nx * (ny - 1 - j + ny * k);
          if (a.mask[n] !== b.mask[m]) diff++;
          worst = Math.max(worst, Math.abs(a.probabilities![n] - b.probabilities![m]));
        }
    expect(diff).toBe(0);
    expect(worst).toBeLessThan(1e-6);
    expect(b.crop!.start[1]).toBe(ny - a.crop!.end[1]);
  });

  it('reproduces the MONAI demo: circular pad by sliding_window_inference(roi (20, H, W), overlap 0) = circular DivisiblePadd + slices', async () => {
    const circular: InferencePipeline = {
      ...DEFAULT_COPLENET_PIPELINE,
      preprocessing: DEFAULT_COPLENET_PIPELINE.preprocessing.map((s) => (s.name === 'DivisiblePadd' ? { ...s, args: { ...s.args, mode: 'circular' } } : s)),
    };
    const demo: InferencePipeline = {
      ...DEFAULT_COPLENET_PIPELINE,
      preprocessing: DEFAULT_COPLENET_PIPELINE.preprocessing.filter((s) => s.name !== 'DivisiblePadd'),
      inference: { kind: 'sliding_window', roi_size: [20, hand.H, hand.W], sw_batch_size: 2, overlap: 0, mode: 'constant', padding_mode: 'circular' },
    };
    const a = await segmentVolume(vol, net, circular);
    const b = await segmentVolume(vol, net, demo);
    let worst = 0;
    for (let n = 0; n < a.probabilities!.length; n++) worst = Math.max(worst, Math.abs(a.probabilities![n] - b.probabilities![n]));
    expect(worst).toBeLessThan(1e-5);
    expect(Array.from(a.mask)).toEqual(Array.from(b.mask));
    // Reflect and circular padding differ only near the padded borders, not everywhere.
    const reflect = await segmentVolume(vol, net, DEFAULT_COPLENET_PIPELINE);
    let differ = 0;
    for (let n = 0; n < a.probabilities!.length; n++) if (Math.abs(a.probabilities![n] - reflect.probabilities![n]) > 1e-6) differ++;
    expect(differ).toBeGreaterThan(0);
  });

  it('leaves tensor count and bytes unchanged over repeated runs', async () => {
    const before = tf.memory();
    await segmentVolume(vol, net, DEFAULT_COPLENET_PIPELINE, { batchSize: 3 });
    const after1 = tf.memory();
    await segmentVolume(vol, net, DEFAULT_COPLENET_PIPELINE, { keepProbabilities: false });
    const after2 = tf.memory();
    expect([after1.numTensors, after1.numBytes]).toEqual([before.numTensors, before.numBytes]);
    expect([after2.numTensors, after2.numBytes]).toEqual([before.numTensors, before.numBytes]);
  });

  it('reports progress in batches and stops with an AbortError when cancelled, leaking nothing', async () => {
    const seen: [number, string][] = [];
    await segmentVolume(vol, net, DEFAULT_COPLENET_PIPELINE, { batchSize: 4, keepProbabilities: false, onProgress: (f, m) => seen.push([f, m]) });
    expect(seen[0]).toEqual([0, 'Preprocessing']);
    const batches = Array.from({ length: Math.ceil(hand.D / 4) }, (_, b) => `Slices ${Math.min(4 * b + 4, hand.D)}/${hand.D}`);
    expect(seen.filter(([, m]) => m.startsWith('Slices')).map(([, m]) => m)).toEqual(batches);
    expect(seen.at(-1)).toEqual([1, 'Done']);
    expect(seen.filter(([f], n) => n > 0 && f < seen[n - 1][0])).toEqual([]);

    const before = tf.memory().numTensors;
    const ctl = new AbortController();
    let calls = 0;
    const run = segmentVolume(vol, net, DEFAULT_COPLENET_PIPELINE, {
      batchSize: 2,
      signal: ctl.signal,
      onProgress: (_, m) => {
        if (m.startsWith('Slices')) {
          calls++;
          ctl.abort();
        }
      },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(calls).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('runs a 3D network by sliding window (gaussian, overlapping) exactly as on the hand-built volume', async () => {
    const net3d = createNetwork('unet3d', { features: [2, 4], seed: 2 });
    const pipe: InferencePipeline = {
      ...DEFAULT_UNET3D_PIPELINE,
      inference: { kind: 'sliding_window', roi_size: [8, 16, 16], sw_batch_size: 3, overlap: 0.25, mode: 'gaussian', padding_mode: 'constant' },
    };
    const res = await segmentVolume(vol, net3d, pipe);
    const h = handPreprocessed(vol, 16, 16);
    const x = tf.tensor5d(h.data, [1, h.D, h.H, h.W, 1]);
    const logits = await slidingWindowInference(x, [8, 16, 16], 1, (w) => net3d.apply(w), { overlap: 0.25, mode: 'gaussian' });
    const ref = (await tf.tidy(() => tf.slice(tf.softmax(logits, -1), [0, 0, 0, 0, 1], [-1, -1, -1, -1, 1])).data()) as Float32Array;
    tf.dispose([x, logits]);
    net3d.dispose();
    const [nx, ny, nz] = vol.dims;
    let worst = 0;
    let checked = 0;
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++) {
          const n = i + nx * (j + ny * k);
          if (!inCrop(h.crop, i, j, k)) {
            expect(res.mask[n]).toBe(0);
            continue;
          }
          const { s, r, c } = h.at(i, j, k);
          worst = Math.max(worst, Math.abs(res.probabilities![n] - ref[(s * h.H + r) * h.W + c]));
          checked++;
        }
    expect(checked).toBeGreaterThan(1000);
    expect(worst).toBeLessThan(1e-5);
  });

  it('refuses slices the network cannot take and 2D pipelines for 3D networks', async () => {
    const noPad: InferencePipeline = { ...DEFAULT_COPLENET_PIPELINE, preprocessing: DEFAULT_COPLENET_PIPELINE.preprocessing.filter((s) => s.name !== 'DivisiblePadd') };
    await expect(segmentVolume(vol, net, noPad)).rejects.toThrow(/needs multiples of 16 \(pad with DivisiblePadd\)/);
    const net3d = createNetwork('unet3d', { features: [2, 4], seed: 1 });
    await expect(segmentVolume(vol, net3d, DEFAULT_COPLENET_PIPELINE)).rejects.toThrow(/3D network; its pipeline needs "sliding_window"/);
    net3d.dispose();
  });
});

describe('flip_tta', () => {
  it('averages the network’s logits over the in-plane flips of each slice (hand-built slices)', async () => {
    const res = await segmentVolume(vol, net, withFlipTta(DEFAULT_COPLENET_PIPELINE));
    const x = tf.tensor4d(hand.data, [hand.D, hand.H, hand.W, 1]);
    const p = tf.tidy(() => {
      const flips = [[], [1], [2], [1, 2]].map((axes) => (axes.length ? tf.reverse(net.apply(tf.reverse(x, axes)), axes) : net.apply(x)));
      return tf.squeeze(tf.slice(tf.softmax(tf.div(tf.addN(flips), 4), -1), [0, 0, 0, 1], [-1, -1, -1, 1]), [3]);
    });
    const ref = (await p.data()) as Float32Array;
    tf.dispose([x, p]);
    const [nx, ny, nz] = vol.dims;
    let worst = 0;
    let changed = 0;
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++) {
          if (!inCrop(hand.crop, i, j, k)) continue;
          const n = i + nx * (j + ny * k);
          const { s, r, c } = hand.at(i, j, k);
          const q = (s * hand.H + r) * hand.W + c;
          worst = Math.max(worst, Math.abs(res.probabilities![n] - ref[q]));
          expect(res.mask[n]).toBe(ref[q] > 0.5 ? 1 : 0);
          if (Math.abs(ref[q] - handProb[q]) > 1e-3) changed++;
        }
    expect(worst).toBeLessThan(1e-5);
    expect(changed).toBeGreaterThan(100); // a random net is far from flip-equivariant
  });

  it('is read from the pipeline JSON (slices and sliding windows) and must be a boolean', () => {
    const p = withFlipTta(DEFAULT_COPLENET_PIPELINE);
    expect(p.inference).toEqual({ kind: 'slices', flip_tta: true });
    expect(DEFAULT_COPLENET_PIPELINE.inference).toEqual({ kind: 'slices' });
    expect(parsePipeline(JSON.parse(JSON.stringify(p)))).toEqual(p);
    expect(parsePipeline(withFlipTta(DEFAULT_UNET3D_PIPELINE)).inference).toMatchObject({ kind: 'sliding_window', flip_tta: true });
    expect(() => parsePipeline({ ...p, inference: { kind: 'slices', flip_tta: 'yes' } }, 'model.json')).toThrow(/model\.json: inference: flip_tta must be true or false/);
    expect(() => parsePipeline({ ...p, inference: { kind: 'slices', flips: true } })).toThrow(/"inference" must be/);
  });
});

describe('KeepConfidentComponentsd after AsDiscreted', () => {
  it('keeps exactly the components whose peak probability reaches min_probability, in order with RemoveSmallObjectsd', async () => {
    const base = await segmentVolume(vol, net, DEFAULT_COPLENET_PIPELINE);
    const cc = connectedComponents(base.mask, vol.dims);
    const peaks = Array.from({ length: cc.count + 1 }, () => 0);
    for (let v = 0; v < base.mask.length; v++) if (cc.labels[v]) peaks[cc.labels[v]] = Math.max(peaks[cc.labels[v]], base.probabilities![v]);
    // A cut between two components' peaks, so some go and some stay.
    const sorted = peaks.slice(1).sort((a, b) => a - b);
    expect(sorted.length).toBeGreaterThan(2);
    const mid = sorted.length >> 1;
    expect(sorted[mid]).toBeLessThan(sorted[mid + 1]);
    const cut = (sorted[mid] + sorted[mid + 1]) / 2;
    const kept = new Set(peaks.map((p, id) => (id > 0 && p >= cut ? id : 0)).filter(Boolean));
    const expected = Uint8Array.from(base.mask, (m, v) => (m && kept.has(cc.labels[v]) ? m : 0));
    const run = await segmentVolume(vol, net, withConfidentComponents(DEFAULT_COPLENET_PIPELINE, cut), { keepProbabilities: false });
    expect(run.mask).toEqual(expected);
    expect(run.probabilities).toBeUndefined();
    const gone = cc.count - kept.size;
    const goneVoxels = base.mask.reduce((a, m) => a + (m ? 1 : 0), 0) - expected.reduce((a, m) => a + (m ? 1 : 0), 0);
    expect(gone).toBe(mid + 1);
    expect(run.removedObjects).toEqual([{ step: 'KeepConfidentComponentsd', components: gone, voxels: goneVoxels }]);
    // After a size filter, each step reports what it removed from what the one before left.
    const minVoxels = Math.min(...cc.sizes.slice(1)) + 1;
    // 2 × 2 × 5 mm voxels: 20 mm³ each.
    const both = await segmentVolume(vol, net, withConfidentComponents(withSmallLesionRemoval(DEFAULT_COPLENET_PIPELINE, (minVoxels * 20) / 1000), cut));
    const small = removeSmallObjects(base.mask, vol.dims, { minSize: minVoxels });
    expect(small.components).toBeGreaterThan(0);
    expect(both.removedObjects[0]).toEqual({ step: 'RemoveSmallObjectsd', components: small.components, voxels: small.voxels });
    expect(both.mask).toEqual(keepConfidentComponents(small.mask, base.probabilities!, vol.dims, { minScore: cut }).mask);
    expect(both.probabilities).toEqual(base.probabilities);
  });

  it('round-trips through JSON with face connectivity', () => {
    const p = withConfidentComponents(DEFAULT_COPLENET_PIPELINE, 0.99999);
    expect(p.postprocessing[3]).toEqual({ name: 'KeepConfidentComponentsd', args: { keys: ['pred'], min_probability: 0.99999, connectivity: 1 } });
    expect(parsePipeline(JSON.parse(JSON.stringify(p)))).toEqual(p);
    expect(parsePostprocessing(p.postprocessing).componentFilters).toEqual([{ name: 'KeepConfidentComponentsd', minProbability: 0.99999, connectivity: 1 }]);
    const bare = [...DEFAULT_COPLENET_PIPELINE.postprocessing, { name: 'KeepConfidentComponentsd', args: { min_probability: 0.5 } }];
    expect(parsePostprocessing(bare).componentFilters).toEqual([{ name: 'KeepConfidentComponentsd', minProbability: 0.5, connectivity: 1 }]);
  });
});

describe('RemoveSmallObjectsd after AsDiscreted', () => {
  it('removes exactly the components removeSmallObjects predicts from the pipeline’s own mask, and leaves the probabilities', async () => {
    const base = await segmentVolume(vol, net, DEFAULT_COPLENET_PIPELINE);
    expect(base.removedObjects).toEqual([]);
    // A threshold between the component sizes of this mask, so some go and some stay.
    const sizes = connectedComponents(base.mask, vol.dims).sizes.slice(1).sort((a, b) => a - b);
    expect(sizes.length).toBeGreaterThan(2);
    const minVoxels = sizes[sizes.length >> 1] + 1;
    expect(minVoxels).toBeLessThanOrEqual(sizes[sizes.length - 1]);
    // 2 × 2 × 5 mm voxels: 20 mm³ each.
    const ml = (minVoxels * 20) / 1000;
    const run = await segmentVolume(vol, net, withSmallLesionRemoval(DEFAULT_COPLENET_PIPELINE, ml));
    const expected = removeSmallObjects(base.mask, vol.dims, { minSize: minVoxels });
    expect(expected.components).toBeGreaterThan(0);
    expect(run.removedObjects).toEqual([{ step: 'RemoveSmallObjectsd', components: expected.components, voxels: expected.voxels }]);
    expect(run.mask).toEqual(expected.mask);
    expect(run.mask.reduce((a, v) => a + v, 0)).toBe(base.mask.reduce((a, v) => a + v, 0) - expected.voxels);
    expect(run.probabilities).toEqual(base.probabilities);
    // An explicit pixdim replaces the scan's spacing: 1 mm³ voxels make min_size a voxel count.
    const explicit = { ...DEFAULT_COPLENET_PIPELINE, postprocessing: [...DEFAULT_COPLENET_PIPELINE.postprocessing, { name: 'RemoveSmallObjectsd', args: { keys: ['pred'], min_size: minVoxels, by_measure: true, pixdim: 1 } }] };
    expect((await segmentVolume(vol, net, explicit, { keepProbabilities: false })).mask).toEqual(expected.mask);
  });

  it('reads the step with MONAI’s defaults and round-trips through JSON; the default pipeline has none', () => {
    expect(parsePostprocessing(DEFAULT_COPLENET_PIPELINE.postprocessing).componentFilters).toEqual([]);
    const p = withSmallLesionRemoval(DEFAULT_COPLENET_PIPELINE, 0.7);
    expect(p.postprocessing[3]).toEqual({ name: 'RemoveSmallObjectsd', args: { keys: ['pred'], min_size: 700, connectivity: 1, by_measure: true } });
    expect(parsePipeline(JSON.parse(JSON.stringify(p)))).toEqual(p);
    expect(parsePostprocessing(p.postprocessing).componentFilters).toEqual([{ name: 'RemoveSmallObjectsd', minSize: 700, connectivity: 1, byMeasure: true, pixdim: null, independentChannels: true }]);
    const bare = [...DEFAULT_COPLENET_PIPELINE.postprocessing, { name: 'RemoveSmallObjectsd', args: { keys: ['pred'] } }];
    expect(parsePostprocessing(bare).componentFilters).toEqual([{ name: 'RemoveSmallObjectsd', minSize: 64, connectivity: 1, byMeasure: false, pixdim: null, independentChannels: true }]);
    // The default pipeline itself is unchanged by the helper.
    expect(DEFAULT_COPLENET_PIPELINE.postprocessing.map((s) => s.name)).toEqual(['Activationsd', 'Invertd', 'AsDiscreted']);
  });

  it('refuses bad arguments and a misplaced step with a one-line InputError naming the step', () => {
    const [act, invert, disc] = DEFAULT_COPLENET_PIPELINE.postprocessing;
    const step = (args: Record<string, unknown>) => ({ name: 'RemoveSmallObjectsd', args: { keys: ['pred'], ...args } });
    const confident = (args: Record<string, unknown>) => ({ name: 'KeepConfidentComponentsd', args: { keys: ['pred'], ...args } });
    const bad = (steps: unknown[]) => () => parsePostprocessing(steps, 'model.json');
    const cases: [unknown[], RegExp][] = [
      [[act, invert, disc, step({ min_size: -1 })], /model\.json: RemoveSmallObjectsd: min_size must be a number ≥ 0, got -1/],
      [[act, invert, disc, step({ min_size: '400' })], /RemoveSmallObjectsd: min_size must be a number/],
      [[act, invert, disc, step({ min_size: 4, connectivity: 4 })], /RemoveSmallObjectsd: connectivity must be 1, 2 or 3 .* got 4/],
      [[act, invert, disc, step({ min_size: 4, connectivity: 1.5 })], /RemoveSmallObjectsd: connectivity must be 1, 2 or 3/],
      [[act, invert, disc, step({ min_size: 4, by_measure: 'yes' })], /RemoveSmallObjectsd: by_measure must be true or false/],
      [[act, invert, disc, step({ min_size: 4, pixdim: [1, 1] , by_measure: true })], /RemoveSmallObjectsd: pixdim must be/],
      [[act, invert, disc, step({ min_size: 4, pixdim: 2 })], /RemoveSmallObjectsd: pixdim is only used with by_measure: true/],
      [[act, invert, disc, step({ min_size: 4, size: 3 })], /RemoveSmallObjectsd: unknown argument\(s\) size/],
      [[act, invert, disc, { name: 'RemoveSmallObjectsd', args: { keys: ['image'] } }], /RemoveSmallObjectsd: keys must be \["pred"\]/],
      [[act, invert, step({ min_size: 4 }), disc], /RemoveSmallObjectsd must come after AsDiscreted/],
      [[act, invert, disc, confident({ min_probability: 0 })], /KeepConfidentComponentsd: min_probability must be a number in \(0, 1\], got 0/],
      [[act, invert, disc, confident({ min_probability: 1.5 })], /KeepConfidentComponentsd: min_probability must be a number in \(0, 1\], got 1.5/],
      [[act, invert, disc, confident({})], /KeepConfidentComponentsd: min_probability must be a number in \(0, 1\], got undefined/],
      [[act, invert, disc, confident({ min_probability: 0.9, connectivity: 0 })], /KeepConfidentComponentsd: connectivity must be 1, 2 or 3 .* got 0/],
      [[act, confident({ min_probability: 0.9 }), invert, disc], /KeepConfidentComponentsd must come after AsDiscreted/],
      [[act, invert, disc, step({ min_size: 4 }), { name: 'KeepLargestConnectedComponentd' }], /then optionally RemoveSmallObjectsd \/ KeepConfidentComponentsd, got .*KeepLargestConnectedComponentd/],
    ];
    for (const [steps, message] of cases) {
      expect(bad(steps)).toThrow(InputError);
      expect(bad(steps)).toThrow(message);
      try {
        bad(steps)();
      } catch (e) {
        expect((e as Error).message).not.toContain('\n');
      }
    }
  });
});

describe('segmentVolume on a real CT', () => {
  it('segments an abdominal CT on its own grid, falling back to the body with a notice', async () => {
    const ct = await readNifti({ name: 'example_ct_sm.nii.gz', bytes: readShared('data/real/totalsegmentator/example_ct_sm.nii.gz') });
    expect(ct.dims).toEqual([122, 101, 30]);
    const small = createNetwork('coplenet', { features: [2, 4, 8, 16, 32], seed: 5 });
    const res = await segmentVolume(ct, small as CopleNet, DEFAULT_COPLENET_PIPELINE);
    small.dispose();
    expect(res.mask.length).toBe(122 * 101 * 30);
    expect(res.probabilities!.length).toBe(122 * 101 * 30);
    expect(res.crop!.region).toBe('body');
    expect(res.notices).toHaveLength(1);
    expect(res.notices[0]).toMatch(/^No lungs found .*whole body is segmented/);
    expect(res.mask.every((m) => m === 0 || m === 1)).toBe(true);
    expect(res.probabilities!.every((p) => p >= 0 && p <= 1)).toBe(true);
    // Outside the body box nothing is predicted.
    const [nx, ny] = ct.dims;
    for (let k = 0; k < 30; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) if (!inCrop(res.crop!, i, j, k)) expect(res.mask[i + nx * (j + ny * k)]).toBe(0);
  });
});

describe('preview of the preprocessing steps', () => {
  it('follows one axial slice through crop, window, orientation and padding', async () => {
    const k = 5;
    const steps = await previewPipelineSteps(vol, DEFAULT_COPLENET_PIPELINE, k);
    expect(steps.map((s) => s.name)).toEqual(['input', 'LungCropd', 'ScaleIntensityRanged', 'Orientationd', 'DivisiblePadd']);
    const [nx, ny] = vol.dims;
    const { start, end } = hand.crop;
    const [Hc, Wc] = [end[1] - start[1], end[0] - start[0]];
    // Input: rows j (toward P), columns i (toward L).
    expect(steps[0]).toMatchObject({ dims: [ny, nx], axes: 'PL', sliceIndex: k, shape: vol.dims });
    expect(steps[0].data![7 * nx + 20]).toBe(vol.data[20 + nx * (7 + ny * k)]);
    expect(steps[1]).toMatchObject({ dims: [Hc, Wc], axes: 'PL', sliceIndex: k - start[2] });
    expect(steps[1].data![3 * Wc + 4]).toBe(vol.data[start[0] + 4 + nx * (start[1] + 3 + ny * k)]);
    expect(steps[2].data![3 * Wc + 4]).toBeCloseTo(window(vol.data[start[0] + 4 + nx * (start[1] + 3 + ny * k)]), 6);
    expect(steps[3]).toMatchObject({ dims: [Hc, Wc], axes: 'PL', shape: [end[2] - start[2], Hc, Wc] });
    // After padding: the network's input slice, as built by hand.
    const s = k - start[2];
    expect(steps[4]).toMatchObject({ dims: [hand.H, hand.W], axes: 'PL', sliceIndex: s });
    const want = hand.data.subarray(s * hand.H * hand.W, (s + 1) * hand.H * hand.W);
    steps[4].data!.forEach((v, n) => expect(v).toBeCloseTo(want[n], 6));
  });

  it('returns no data for steps that cropped the slice away', async () => {
    const steps = await previewPipelineSteps(vol, DEFAULT_COPLENET_PIPELINE, 0);
    expect(hand.crop.start[2]).toBeGreaterThan(0);
    expect(steps[0].data).not.toBeNull();
    expect(steps.slice(1).map((s) => s.data)).toEqual([null, null, null, null]);
    await expect(previewPipelineSteps(vol, DEFAULT_COPLENET_PIPELINE, 14)).rejects.toThrow(InputError);
  });
});

describe('pipeline JSON', () => {
  it('accepts the default pipeline after a JSON round trip', () => {
    expect(parsePipeline(JSON.parse(JSON.stringify(DEFAULT_COPLENET_PIPELINE)))).toEqual(DEFAULT_COPLENET_PIPELINE);
  });

  it('names the problem in bad pipelines', () => {
    const bad = (change: Partial<InferencePipeline> | Record<string, unknown>) => () => parsePipeline({ ...DEFAULT_COPLENET_PIPELINE, ...change }, 'model.json');
    expect(bad({ preprocessing: [{ name: 'LungCrop', args: {} }] })).toThrow(/model\.json: preprocessing step 1: unknown transform "LungCrop"/);
    expect(bad({ preprocessing: [{ name: 'LungCropd', args: { margin: 1 } }] })).toThrow(/step 1: unknown argument "margin"/);
    expect(bad({ postprocessing: [] })).toThrow(/Activationsd, Invertd, AsDiscreted in this order/);
    expect(bad({ postprocessing: [{ name: 'Activationsd', args: { softmax: true, sigmoid: true } }, { name: 'Invertd' }, { name: 'AsDiscreted', args: { argmax: true } }] })).toThrow(
      /exactly one of softmax/,
    );
    expect(bad({ inference: { kind: 'sliding_window', roi_size: [96, 96], overlap: 1 } as never })).toThrow(/overlap must be in \[0, 1\)/);
    expect(bad({ inference: { kind: 'tiles' } as never })).toThrow(/"inference" must be/);
    expect(bad({ extra: 1 })).toThrow(/unknown pipeline field\(s\) extra/);
  });
});

describe('batch size from memory', () => {
  const coplenet = { features: [32, 64, 128, 256, 512], inChannels: 1, outChannels: 2 };
  const webgpu = { maxBufferSize: 256 * 2 ** 20, maxStorageBufferBindingSize: 128 * 2 ** 20 };

  it('estimates the largest activation (the level-0 concatenation) and the live total', () => {
    // 2 · 32 channels · 256² · 4 bytes = 16 MiB; skips 8 + 4 + 2 + 1 + 0.5 MiB; total = skips + 3 · largest.
    expect(activationBytes(256, 256, coplenet)).toEqual({ largest: 16 * 2 ** 20, total: 15.5 * 2 ** 20 + 48 * 2 ** 20 });
  });

  it('keeps every buffer under the WebGPU binding limit and the total under the budget', () => {
    expect(batchSizeFor(256, 256, coplenet, webgpu)).toBe(8); // 128 MiB / 16 MiB
    expect(batchSizeFor(512, 512, coplenet, webgpu)).toBe(2); // 128 / 64
    expect(batchSizeFor(256, 256, coplenet, webgpu, { budgetBytes: 256 * 2 ** 20 })).toBe(4); // 256 / 63.5
    expect(batchSizeFor(256, 256, coplenet, null)).toBe(8); // 512 MiB / 63.5 MiB
    expect(batchSizeFor(64, 64, { ...coplenet, features: [4, 8, 16, 32, 64] }, webgpu)).toBe(16); // capped
    expect(batchSizeFor(2048, 2048, coplenet, webgpu)).toBe(1); // never 0
    // A 3D item: 96³ windows of a 16..256 U-Net: 2 · 16 · 96³ · 4 = 108 MiB → 1 per batch.
    expect(batchSizeFor(96, 96, { features: [16, 32, 64, 128, 256], inChannels: 1, outChannels: 2 }, webgpu, { depth: 96 })).toBe(1);
  });
});

describe('context_slices', () => {
  it('feeds each slice with its neighbours as channels (end slices repeated), exactly as on hand-built stacks', async () => {
    const { D, H, W } = hand;
    // Channels (s − 1, s, s + 1), clamped to [0, D − 1]; and the same with the centre slice three times.
    const stacked = new Float32Array(D * H * W * 3);
    const centreOnly = new Float32Array(D * H * W * 3);
    for (let s = 0; s < D; s++)
      for (let p = 0; p < H * W; p++)
        for (let ch = 0; ch < 3; ch++) {
          const src = Math.min(D - 1, Math.max(0, s + ch - 1));
          stacked[(s * H * W + p) * 3 + ch] = hand.data[src * H * W + p];
          centreOnly[(s * H * W + p) * 3 + ch] = hand.data[s * H * W + p];
        }
    // Output bias set so that half the voxels are lesion: probabilities away from 0 and 1.
    const calib = tf.tensor4d(stacked, [D, H, W, 3]);
    const net3 = await balancedCopleNet(FEATURES, calib, 4);
    calib.dispose();
    const res = await segmentVolume(vol, net3, withSliceContext(DEFAULT_COPLENET_PIPELINE, 1));
    const prob = async (data: Float32Array) => {
      const x = tf.tensor4d(data, [D, H, W, 3]);
      const p = tf.tidy(() => tf.squeeze(tf.slice(tf.softmax(net3.apply(x), -1), [0, 0, 0, 1], [-1, -1, -1, 1]), [3]));
      const out = (await p.data()) as Float32Array;
      tf.dispose([x, p]);
      return out;
    };
    const ref = await prob(stacked);
    const flat = await prob(centreOnly);
    net3.dispose();
    const [nx, ny, nz] = vol.dims;
    let worst = 0;
    let neighboursMatter = 0;
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++) {
          if (!inCrop(hand.crop, i, j, k)) continue;
          const n = i + nx * (j + ny * k);
          const { s, r, c } = hand.at(i, j, k);
          const q = (s * H + r) * W + c;
          worst = Math.max(worst, Math.abs(res.probabilities![n] - ref[q]));
          neighboursMatter = Math.max(neighboursMatter, Math.abs(ref[q] - flat[q]));
        }
    expect(worst).toBeLessThan(1e-5);
    // The neighbours move the output by far more than the tolerance (3.6e-4 measured): the check can tell them apart.
    expect(neighboursMatter).toBeGreaterThan(1e-4);
  });

  it('must match the network’s input channels, and is read from the pipeline JSON', async () => {
    const ctx = withSliceContext(DEFAULT_COPLENET_PIPELINE, 1);
    expect(ctx.inference).toEqual({ kind: 'slices', context_slices: 1 });
    expect(withSliceContext(ctx, 0).inference).toEqual({ kind: 'slices' });
    expect(parsePipeline(JSON.parse(JSON.stringify(ctx)))).toEqual(ctx);
    for (const bad of [1.5, -1, 9, '1']) {
      expect(() => parsePipeline({ ...DEFAULT_COPLENET_PIPELINE, inference: { kind: 'slices', context_slices: bad } })).toThrow(/context_slices must be an integer in 0…8/);
    }
    expect(() => withSliceContext(DEFAULT_UNET3D_PIPELINE, 1)).toThrow(/context slices need "slices" inference/);
    await expect(segmentVolume(vol, net, ctx)).rejects.toThrow(/takes 1 channel; the pipeline needs a 1-channel image and a network with 3 input channels \(the slice and 1 neighbour on each side, "context_slices": 1\)/);
    const net3 = createNetwork('coplenet', { features: FEATURES, inChannels: 3 });
    await expect(segmentVolume(vol, net3, DEFAULT_COPLENET_PIPELINE)).rejects.toThrow(/takes 3 channels; the pipeline needs \[3, D, H, W\]/);
    net3.dispose();
  });
});
