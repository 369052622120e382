import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CopleNet } from '../../models';
import { InputError } from '../io/errors';
import type { Volume } from '../volume';
import { DEFAULT_COPLENET_PIPELINE, parsePipeline, previewPipelineSteps } from './pipeline';
import { parsePixelSpacing, pixelSpacingOf, PIXEL_SPACING_KEY, withPixelSpacing } from './pixel-spacing';
import { segmentVolume } from './segment';
import { balancedCopleNet, tinyChest } from './test-chest';

describe('the weights’ pixel spacing', () => {
  it('parses "x,y" or one number, and nothing else', () => {
    expect(parsePixelSpacing('2')).toEqual([2, 2]);
    expect(parsePixelSpacing(' 0.7, 0.8 ')).toEqual([0.7, 0.8]);
    for (const bad of ['', '0', '-1,2', '2,', 'a', '1,2,3', 'Infinity']) expect(parsePixelSpacing(bad)).toBeNull();
  });

  it('is read from the metadata, absent for weights without one, and refused when malformed', () => {
    expect(pixelSpacingOf({ [PIXEL_SPACING_KEY]: '2,2' }, 'w.safetensors')).toEqual([2, 2]);
    expect(pixelSpacingOf({ format: 'pt' }, 'w.safetensors')).toBeNull();
    const bad = () => pixelSpacingOf({ [PIXEL_SPACING_KEY]: '2,2,5' }, 'w.safetensors');
    expect(bad).toThrow(InputError);
    expect(bad).toThrow('w.safetensors: metadata "input_pixel_spacing_mm" must be two positive pixel sizes in mm ("x,y"), got "2,2,5"');
  });

  it('puts a Spacingd right after the SPL orientation (slice spacing kept, P then L) and leaves the pipeline it was given alone', () => {
    const p = withPixelSpacing(DEFAULT_COPLENET_PIPELINE, [2, 1.5]);
    expect(p.preprocessing.map((s) => s.name)).toEqual(['LungCropd', 'ScaleIntensityRanged', 'Orientationd', 'Spacingd', 'DivisiblePadd']);
    expect(p.preprocessing[3].args).toEqual({ keys: ['image'], pixdim: [-1, 1.5, 2], mode: 'bilinear' });
    expect(DEFAULT_COPLENET_PIPELINE.preprocessing.map((s) => s.name)).not.toContain('Spacingd');
    // A valid pipeline JSON (what the pipeline panel and --pipeline read).
    expect(parsePipeline(JSON.parse(JSON.stringify(p))).preprocessing[3].name).toBe('Spacingd');
  });

  it('is refused for a pipeline whose axes are not slices first', () => {
    const las = { ...DEFAULT_COPLENET_PIPELINE, preprocessing: DEFAULT_COPLENET_PIPELINE.preprocessing.map((s) => (s.name === 'Orientationd' ? { ...s, args: { keys: ['image'], axcodes: 'LAS' } } : s)) };
    expect(() => withPixelSpacing(las, [2, 2])).toThrow(/needs an Orientationd to "SPL"/);
    expect(() => withPixelSpacing(DEFAULT_COPLENET_PIPELINE, [0, 2])).toThrow(InputError);
  });
});

/** `v` at half the pixel size: each voxel repeated 2×2 in-plane, same extent and slices. */
function finer(v: Volume): Volume {
  const [nx, ny, nz] = v.dims;
  const data = new Int16Array(4 * nx * ny * nz);
  for (let k = 0; k < nz; k++) for (let j = 0; j < 2 * ny; j++) for (let i = 0; i < 2 * nx; i++) data[i + 2 * nx * (j + 2 * ny * k)] = v.data[(i >> 1) + nx * ((j >> 1) + ny * k)];
  const [sx, sy, sz] = v.spacing;
  return { ...v, data, dims: [2 * nx, 2 * ny, nz], spacing: [sx / 2, sy / 2, sz], origin: [v.origin[0] - sx / 4, v.origin[1] - sy / 4, v.origin[2]] };
}

describe('segmentVolume with the slices resampled to the weights’ pixel size', () => {
  let net: CopleNet;
  const shapes: number[][] = [];
  beforeAll(async () => {
    await tf.setBackend('cpu');
    net = await balancedCopleNet([4, 8, 16, 32, 64], tf.zeros([1, 32, 32, 1]));
    const apply = net.apply.bind(net);
    net.apply = (x, opts) => {
      shapes.push(x.shape.slice());
      return apply(x, opts);
    };
  });
  const run = async (v: Volume, spacing?: [number, number]) => {
    shapes.length = 0;
    const pipeline = spacing ? withPixelSpacing(DEFAULT_COPLENET_PIPELINE, spacing) : DEFAULT_COPLENET_PIPELINE;
    const res = await segmentVolume(v, net, pipeline);
    return { ...res, inputs: shapes.map((s) => s.slice(1, 3)), slices: shapes.reduce((n, s) => n + s[0], 0) };
  };

  it('changes nothing on a scan already at that pixel size', async () => {
    const chest = tinyChest();
    const plain = await run(chest);
    const same = await run(chest, [2, 2]);
    expect(Array.from(same.mask)).toEqual(Array.from(plain.mask));
    let worst = 0;
    for (let v = 0; v < plain.probabilities!.length; v++) worst = Math.max(worst, Math.abs(same.probabilities![v] - plain.probabilities![v]));
    expect(worst).toBeLessThan(1e-6);
  });

  it('shows the network a 1 mm scan’s slices at 2 mm, keeps its slices, and returns the mask on the 1 mm grid', async () => {
    const chest = tinyChest();
    const coarse = await run(chest);
    const fine = finer(chest);
    const native = await run(fine);
    const resampled = await run(fine, [2, 2]);
    // The lung crop at 1 mm is twice as many pixels each way as at 2 mm; Spacingd brings it to the 2 mm crop's size
    // (to a pixel: the 10 mm margin rounds on either grid), and the network sees smaller slices than without it.
    const px = (r: { inputs: number[][] }) => r.inputs[0][0] * r.inputs[0][1];
    expect(px(native)).toBeGreaterThan(px(coarse));
    expect(px(resampled)).toBeLessThan(px(native));
    const shapeAfter = async (v: Volume, name: string, spacing?: [number, number]) =>
      (await previewPipelineSteps(v, spacing ? withPixelSpacing(DEFAULT_COPLENET_PIPELINE, spacing) : DEFAULT_COPLENET_PIPELINE, 6)).find((s) => s.name === name)!.shape;
    const [s2, p2, l2] = await shapeAfter(chest, 'Orientationd');
    const [sf, pf, lf] = await shapeAfter(fine, 'Orientationd');
    expect(sf).toBe(s2);
    expect(Math.abs(pf - 2 * p2)).toBeLessThanOrEqual(2);
    expect(Math.abs(lf - 2 * l2)).toBeLessThanOrEqual(2);
    const [s1, p1, l1] = await shapeAfter(fine, 'Spacingd', [2, 2]);
    expect(s1).toBe(s2);
    expect(Math.abs(p1 - p2)).toBeLessThanOrEqual(1);
    expect(Math.abs(l1 - l2)).toBeLessThanOrEqual(1);
    expect(resampled.slices).toBe(coarse.slices);
    expect(resampled.mask.length).toBe(fine.dims[0] * fine.dims[1] * fine.dims[2]);
    expect(resampled.probabilities!.every((p) => p >= 0 && p <= 1)).toBe(true);
    // Each 2 mm voxel's lesion call comes back on (most of) its four 1 mm voxels.
    let agree = 0;
    const [nx, ny, nz] = fine.dims;
    for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) if (resampled.mask[i + nx * (j + ny * k)] === coarse.mask[(i >> 1) + (nx >> 1) * ((j >> 1) + (ny >> 1) * k)]) agree++;
    expect(agree / resampled.mask.length).toBeGreaterThan(0.9);
  });
});
