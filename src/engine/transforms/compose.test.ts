import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../io/errors';
import { Rng } from '../random';
import { Compose, buildTransform } from './compose';
import type { Dict, MetaImage } from './image';
import { invert } from './invert';
import { RandGaussianNoise } from './intensity';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const I4 = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];

function sample(): Dict {
  const r = new Rng(1);
  const n = 12 * 12 * 10;
  const image: MetaImage = { data: Float32Array.from({ length: n }, () => r.uniform(-1000, 500)), shape: [1, 12, 12, 10], affine: I4 };
  // one-hot label with 3 channels: an organ block in channel 1, another in channel 2
  const label = new Uint8Array(3 * n);
  for (let v = 0; v < n; v++) {
    const i = Math.floor(v / 120);
    const c = i < 3 ? 1 : i > 8 ? 2 : 0;
    label[c * n + v] = 1;
  }
  return { image, label: { data: label, shape: [3, 12, 12, 10], affine: I4 } };
}

const LAMP = [
  { name: 'SpatialPadd', args: { keys: ['image', 'label'], spatial_size: [8, 8, 8] } },
  { name: 'RandCropByPosNegLabeld', args: { keys: ['image', 'label'], label_key: 'label', spatial_size: [8, 8, 8], num_samples: 3 } },
  {
    name: 'Rand3DElasticd',
    args: {
      keys: ['image', 'label'],
      spatial_size: [8, 8, 8],
      sigma_range: [1, 2],
      magnitude_range: [1, 3],
      prob: 0.8,
      rotate_range: [0.26, 0.26, 0.26],
      shear_range: [0.17, 0.17, 0.17],
      translate_range: [0.4, 0.4, 0.4],
      scale_range: [0.2, 0.2, 0.2],
      mode: ['bilinear', 'nearest'],
      padding_mode: ['border', 'zeros'],
    },
  },
  { name: 'RandGaussianNoised', args: { keys: 'image', prob: 0.5 } },
];

describe('Compose', () => {
  it('same seed → identical output; another seed → different output (LAMP-style JSON pipeline)', async () => {
    const run = async (seed: number) => (await Compose.fromJSON(LAMP, { seed }).call(sample())) as Dict[];
    const a = await run(7);
    const b = await run(7);
    const c = await run(8);
    expect(a).toHaveLength(3);
    for (let n = 0; n < 3; n++) {
      expect(Array.from((a[n].image as MetaImage).data)).toEqual(Array.from((b[n].image as MetaImage).data));
      expect(Array.from((a[n].label as MetaImage).data)).toEqual(Array.from((b[n].label as MetaImage).data));
      expect((a[n].image as MetaImage).shape).toEqual([1, 8, 8, 8]);
      expect((a[n].label as MetaImage).shape).toEqual([3, 8, 8, 8]);
    }
    const same = a.every((x, n) => Array.from((x.image as MetaImage).data).join() === Array.from((c[n].image as MetaImage).data).join());
    expect(same).toBe(false);
    // one-hot labels warped with nearest + zeros padding stay in {0, 1}
    expect(new Set((a[0].label as MetaImage).data)).toEqual(new Set([0, 1]));
  });

  it('accepts {transforms, seed} JSON and seeds transforms in order, like MONAI set_random_state', async () => {
    const p = Compose.fromJSON({ transforms: [{ name: 'RandGaussianNoise', args: { prob: 1 } }], seed: 3 });
    const x: MetaImage = { data: new Float32Array(5), shape: [1, 5], affine: I4 };
    const seedOfFirst = new Rng(3).nextUint32();
    const alone = new RandGaussianNoise({ prob: 1 }).setRandomState(seedOfFirst).call(x);
    expect(Array.from(((await p.call(x)) as MetaImage).data)).toEqual(Array.from(alone.data));
  });

  it('COPLE-Net preprocessing from JSON, and the prediction mapped back to the input grid', async () => {
    const pipe = Compose.fromJSON([
      { name: 'Orientationd', args: { keys: 'img', axcodes: 'SPL' } },
      { name: 'ScaleIntensityRanged', args: { keys: 'img', a_min: -1400, a_max: 100, b_min: 0, b_max: 1, clip: true } },
    ]);
    const img = (sample().image as MetaImage);
    const out = (await pipe.call({ img })) as Dict;
    const x = out.img as MetaImage;
    expect(x.shape).toEqual([1, 10, 12, 12]);
    expect(Math.min(...x.data)).toBeGreaterThanOrEqual(0);
    const pred: MetaImage = { data: x.data, shape: x.shape, affine: x.affine };
    const back = await invert(pred, { ops: x.meta?.applied_operations });
    expect(back.shape).toEqual(img.shape);
    expect(back.affine).toEqual(img.affine);
    back.data.forEach((v, n) => expect(v).toBeCloseTo(Math.min(Math.max((img.data[n] + 1400) / 1500, 0), 1), 6));
  });

  it('clear errors for unknown transforms, bad args and malformed steps', () => {
    expect(() => buildTransform({ name: 'RandFlipz', args: {} })).toThrow(/unknown transform "RandFlipz"/);
    expect(() => Compose.fromJSON([{ name: 'RandFlipd', args: { keys: 'a' } }, { name: 'Spacingd', args: { keys: 'a', pixdim: 'x' } }], {}, 'train.json')).toThrow(
      'train.json: step 2: Spacingd: argument "pixdim" must be numbers, got "x"',
    );
    expect(() => Compose.fromJSON([{ name: 'Spacingd', args: { keys: 'a', pixdim: 1, bogus: 1 } }])).toThrow(/unknown argument "bogus"/);
    expect(() => Compose.fromJSON([{ name: 'Spacingd', arg: {} }])).toThrow(/unknown field\(s\) "arg"/);
    expect(() => Compose.fromJSON({ transforms: 3 })).toThrow(InputError);
    expect(() => buildTransform('Spacing')).toThrow(/must be \{"name"/);
    expect(() => buildTransform({ name: 'toString' })).toThrow(/unknown transform/);
  });
});
