import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { sharedPath } from '../../tests/shared';
import { tinyChest } from '../engine/inference/test-chest';
import { loadFiles } from '../engine/io/load';
import { readNifti, writeNifti } from '../engine/io/nifti';
import { affineToRAS, sameGrid, type Volume } from '../engine/volume';
import { readWeights, writeSafetensors } from '../engine/weights';
import { DEFAULT_COPLENET_PIPELINE, PEAK_CUT_KEY, PIXEL_SPACING_KEY } from '../engine/inference';
import { connectedComponents, keepConfidentComponents } from '../engine/labels/components';
import { initBackend } from '../engine/tf/backend';
import { createNetwork } from '../models';
import { widenInputChannels } from '../models/input-channels';
import { readPath } from './files';
import { parseSegmentArgs, segmentFile } from './segment-pipeline';

const tmp = mkdtempSync(join(tmpdir(), 'segment-pipeline-'));
const weights = join(tmp, 'coplenet-4.safetensors');
const scan = join(tmp, 'chest.nii.gz');
let source: Volume;

beforeAll(async () => {
  await initBackend(['cpu']);
  const net = createNetwork('coplenet', { features: [4, 8, 16, 32, 64], seed: 11 });
  writeFileSync(weights, writeSafetensors(await net.stateDict()));
  net.dispose();
  writeFileSync(scan, await writeNifti(tinyChest()));
  source = await readNifti({ name: 'chest.nii.gz', bytes: new Uint8Array(readFileSync(scan)) });
});

const read = async (path: string) => readNifti({ name: path, bytes: new Uint8Array(readFileSync(path)) });

/** The random network with its lesion bias moved to the median of its margins inside the crop: a mask of many components, not empty. */
async function balancedWeights() {
  const first = join(tmp, 'first-p.nii.gz');
  await segmentFile(scan, join(tmp, 'first.nii.gz'), { weights, backend: 'cpu', probabilities: first });
  const margins = Array.from((await read(first)).data as Float32Array).filter((p) => p > 0 && p < 1).map((p) => Math.log(p / (1 - p))).sort((a, b) => a - b);
  const sd = readWeights(new Uint8Array(readFileSync(weights)), weights).stateDict;
  (sd.get('out_conv.conv.bias')!.data as Float32Array)[1] -= margins[margins.length >> 1];
  const balanced = join(tmp, 'coplenet-4-balanced.safetensors');
  writeFileSync(balanced, writeSafetensors(sd));
  return { sd, balanced };
}

describe('segmentFile', () => {
  it('writes a {0,1} mask and a [0,1] probability map on the scan’s grid, with features inferred from the weights', async () => {
    const out = join(tmp, 'mask.nii.gz');
    const prob = join(tmp, 'prob.nii.gz');
    const summary = await segmentFile(scan, out, { weights, backend: 'cpu', probabilities: prob });
    expect(summary).toMatchObject({ backend: 'cpu', model: 'coplenet', features: [4, 8, 16, 32, 64], pipeline: 'coplenet-lesion', dims: [44, 40, 14] });
    expect(summary.crop!.region).toBe('lungs');
    const mask = await read(out);
    const p = await read(prob);
    for (const v of [mask, p]) {
      expect(v.dims).toEqual(source.dims);
      expect(sameGrid(v, source, 1e-4)).toBe(true);
      affineToRAS(v).forEach((x, n) => expect(x).toBeCloseTo(affineToRAS(source)[n], 4));
    }
    expect(mask.data).toBeInstanceOf(Uint8Array);
    expect(mask.data.every((m) => m === 0 || m === 1)).toBe(true);
    expect(Array.from(mask.data).reduce((s, m) => s + m, 0)).toBe(summary.lesionVoxels);
    expect(p.data).toBeInstanceOf(Float32Array);
    expect(p.data.every((x) => x >= 0 && x <= 1)).toBe(true);
    // The mask is the argmax, i.e. p > 0.5, voxel by voxel.
    mask.data.forEach((m, n) => expect(m).toBe(p.data[n] > 0.5 ? 1 : 0));
  });

  it('weights that take slice context (3 input channels) run with the same default pipeline, context_slices 1: widened weights give the same mask and probabilities', async () => {
    const wide = join(tmp, 'coplenet-4-context.safetensors');
    writeFileSync(wide, writeSafetensors(widenInputChannels(readWeights(new Uint8Array(readFileSync(weights)), weights).stateDict, 3, weights)));
    const [a, b] = [join(tmp, 'one.nii.gz'), join(tmp, 'three.nii.gz')];
    const [pa, pb] = [join(tmp, 'one-p.nii.gz'), join(tmp, 'three-p.nii.gz')];
    await segmentFile(scan, a, { weights, backend: 'cpu', probabilities: pa });
    const summary = await segmentFile(scan, b, { weights: wide, backend: 'cpu', probabilities: pb });
    expect(summary).toMatchObject({ model: 'coplenet', features: [4, 8, 16, 32, 64], pipeline: 'coplenet-lesion' });
    expect((await read(b)).data).toEqual((await read(a)).data);
    const [p1, p3] = [(await read(pa)).data, (await read(pb)).data];
    let worst = 0;
    for (let n = 0; n < p1.length; n++) worst = Math.max(worst, Math.abs(p1[n] - p3[n]));
    expect(worst).toBeLessThan(1e-5);
  });

  it('writes files nibabel reads with the source affine', () => {
    const py = `
import nibabel as nib, numpy as np, sys
a, m, p = (nib.load(f) for f in sys.argv[1:4])
print(float(np.abs(a.affine - m.affine).max()), float(np.abs(a.affine - p.affine).max()), m.shape == a.shape, sorted(np.unique(np.asarray(m.dataobj)).tolist()) in ([0, 1], [0], [1]), float(np.asarray(p.dataobj).min()) >= 0, float(np.asarray(p.dataobj).max()) <= 1)`;
    const r = spawnSync('/usr/bin/python3', ['-c', py, scan, join(tmp, 'mask.nii.gz'), join(tmp, 'prob.nii.gz')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const [da, dp, shape, values, lo, hi] = r.stdout.trim().split(' ');
    expect(Number(da)).toBeLessThan(1e-4);
    expect(Number(dp)).toBeLessThan(1e-4);
    expect([shape, values, lo, hi]).toEqual(['True', 'True', 'True', 'True']);
  });

  it('segments a DICOM series folder onto its own grid (no lungs: the body, with a notice)', async () => {
    const folder = sharedPath('data/real/dcmqi/tiny_24x38x3/image');
    const out = join(tmp, 'dicom-mask.nii');
    const summary = await segmentFile(folder, out, { weights, backend: 'cpu' });
    const loaded = await loadFiles(await readPath(folder));
    if (loaded.kind !== 'volume') throw new Error('expected a volume');
    const mask = await read(out);
    expect(mask.dims).toEqual([24, 38, 3]);
    expect(sameGrid(mask, loaded.volume, 1e-3)).toBe(true);
    expect(mask.data.every((m) => m === 0 || m === 1)).toBe(true);
    expect(summary.notices.some((n) => /No lungs/.test(n))).toBe(true);
  });

  it('explains missing or unfitting weights', async () => {
    await expect(segmentFile(scan, join(tmp, 'x.nii.gz'), { backend: 'cpu', defaultWeights: join(tmp, 'absent.safetensors') })).rejects.toThrow('no weights: pass --weights');
    await expect(segmentFile(scan, join(tmp, 'x.nii.gz'), { weights, backend: 'cpu', features: [8, 16, 32, 64, 128] })).rejects.toThrow(/coplenet-4\.safetensors: weights do not fit CopleNet/);
    writeFileSync(join(tmp, 'bad.json'), '{"name": "x", ');
    await expect(segmentFile(scan, join(tmp, 'x.nii.gz'), { weights, backend: 'cpu', pipeline: join(tmp, 'bad.json') })).rejects.toThrow(/bad\.json: not valid JSON/);
  });
});

describe('the weights’ peak cut', () => {
  it('applies the cut stored in the weights by default, a given one instead, none on request', async () => {
    // About half the lungs are "lesion", in many components; their peaks then decide a cut that removes some but not all.
    const { sd, balanced } = await balancedWeights();
    const plainOut = join(tmp, 'plain.nii.gz');
    const probOut = join(tmp, 'plain-p.nii.gz');
    const plain = await segmentFile(scan, plainOut, { weights: balanced, backend: 'cpu', probabilities: probOut });
    expect(plain.minPeakProbability).toBeNull();
    const mask = (await read(plainOut)).data as Uint8Array;
    const prob = (await read(probOut)).data as Float32Array;
    const cc = connectedComponents(mask, source.dims);
    const peaks = new Float64Array(cc.count + 1);
    for (let v = 0; v < mask.length; v++) if (cc.labels[v]) peaks[cc.labels[v]] = Math.max(peaks[cc.labels[v]], prob[v]);
    const sorted = Array.from(peaks.slice(1)).sort((a, b) => a - b);
    expect(sorted.length).toBeGreaterThan(1);
    const cut = Number(((sorted[0] + sorted[sorted.length - 1]) / 2).toPrecision(6));
    const expected = keepConfidentComponents(mask, prob, source.dims, { minScore: cut });
    expect(expected.components).toBeGreaterThan(0);
    expect(expected.components).toBeLessThan(cc.count);

    const tagged = join(tmp, 'coplenet-4-cut.safetensors');
    writeFileSync(tagged, writeSafetensors(sd, { metadata: { [PEAK_CUT_KEY]: String(cut) } }));
    const out = join(tmp, 'cut.nii.gz');
    const summary = await segmentFile(scan, out, { weights: tagged, backend: 'cpu' });
    expect(summary).toMatchObject({ minPeakProbability: cut, removedComponents: expected.components });
    expect((await read(out)).data).toEqual(expected.mask);
    const off = await segmentFile(scan, out, { weights: tagged, backend: 'cpu', minPeak: 'none' });
    expect(off).toMatchObject({ minPeakProbability: null, removedComponents: 0 });
    expect((await read(out)).data).toEqual(mask);
    // A cut on the command line wins over the weights' own; a pipeline file gets only an explicit one.
    const all = await segmentFile(scan, out, { weights: tagged, backend: 'cpu', minPeak: 1e-9 });
    expect(all).toMatchObject({ minPeakProbability: 1e-9, removedComponents: 0 });
    const json = join(tmp, 'plain.json');
    writeFileSync(json, JSON.stringify(DEFAULT_COPLENET_PIPELINE));
    expect(await segmentFile(scan, out, { weights: tagged, backend: 'cpu', pipeline: json })).toMatchObject({ minPeakProbability: null, removedComponents: 0 });
    expect(parseSegmentArgs(['a', 'b', '--min-peak', '0.999']).options.minPeak).toBe(0.999);
    expect(parseSegmentArgs(['a', 'b', '--min-peak', 'none']).options.minPeak).toBe('none');
    for (const bad of ['0', '2', 'high', '']) expect(() => parseSegmentArgs(['a', 'b', '--min-peak', bad])).toThrow(`--min-peak must be a probability in (0, 1] or none, got "${bad}"`);
  });
});

describe('the weights’ pixel size', () => {
  it('resamples the slices to the size stored in the weights by default, a given one instead, none on request; the mask stays on the scan’s grid', async () => {
    // The chest is at 2 × 2 mm: weights trained at 4 × 4 mm see it at half the pixels, which changes their mask.
    const { sd, balanced } = await balancedWeights();
    const tagged = join(tmp, 'coplenet-4-4mm.safetensors');
    writeFileSync(tagged, writeSafetensors(sd, { metadata: { [PIXEL_SPACING_KEY]: '4,4' } }));
    const plainOut = join(tmp, 'px-plain.nii.gz');
    const plain = await segmentFile(scan, plainOut, { weights: balanced, backend: 'cpu' });
    expect(plain.pixelSpacing).toBeNull();
    expect(plain.lesionVoxels).toBeGreaterThan(0);
    const out = join(tmp, 'px.nii.gz');
    const coarse = await segmentFile(scan, out, { weights: tagged, backend: 'cpu' });
    expect(coarse.pixelSpacing).toEqual([4, 4]);
    const mask = await read(out);
    expect(sameGrid(mask, source)).toBe(true);
    expect(mask.data).not.toEqual((await read(plainOut)).data);
    // At the scan's own pixel size the resampling is an identity: the same mask as without it.
    await segmentFile(scan, out, { weights: tagged, backend: 'cpu', pixelSpacing: [2, 2] });
    expect((await read(out)).data).toEqual((await read(plainOut)).data);
    expect(await segmentFile(scan, out, { weights: tagged, backend: 'cpu', pixelSpacing: 'none' })).toMatchObject({ pixelSpacing: null });
    expect((await read(out)).data).toEqual((await read(plainOut)).data);
    // A pipeline file gets only an explicit pixel size.
    const json = join(tmp, 'px-plain.json');
    writeFileSync(json, JSON.stringify(DEFAULT_COPLENET_PIPELINE));
    expect(await segmentFile(scan, out, { weights: tagged, backend: 'cpu', pipeline: json })).toMatchObject({ pixelSpacing: null });
    expect(parseSegmentArgs(['a', 'b', '--pixel-spacing', '0.8,0.7']).options.pixelSpacing).toEqual([0.8, 0.7]);
    expect(parseSegmentArgs(['a', 'b', '--pixel-spacing', '2']).options.pixelSpacing).toEqual([2, 2]);
    expect(parseSegmentArgs(['a', 'b', '--pixel-spacing', 'none']).options.pixelSpacing).toBe('none');
    for (const bad of ['0', '2,2,5', 'fine', '']) expect(() => parseSegmentArgs(['a', 'b', '--pixel-spacing', bad])).toThrow(`--pixel-spacing must be a pixel size in mm ("2" or "2,2") or none, got "${bad}"`);
  });
});

describe('segment command line', () => {
  it('parses positionals and flags', () => {
    expect(parseSegmentArgs(['ct.nii.gz', 'out.nii.gz', '--weights', 'w.pt', '--features', '8,16,32,64,128', '--backend', 'cpu', '--probabilities', 'p.nii.gz'])).toEqual({
      scan: 'ct.nii.gz',
      out: 'out.nii.gz',
      options: { model: 'coplenet', weights: 'w.pt', features: [8, 16, 32, 64, 128], backend: 'cpu', probabilities: 'p.nii.gz' },
    });
    expect(parseSegmentArgs(['a', 'b', '--model', 'unet3d']).options).toEqual({ model: 'unet3d' });
    expect(() => parseSegmentArgs(['only-one'])).toThrow(/^usage: npm run segment -- <scan> <out.nii.gz>/);
    expect(() => parseSegmentArgs(['a', 'b', '--model', 'vnet'])).toThrow(/--model must be one of coplenet, unet2d, unet3d/);
    expect(() => parseSegmentArgs(['a', 'b', '--features', '8,16'])).toThrow(/five positive integers/);
  });
});
