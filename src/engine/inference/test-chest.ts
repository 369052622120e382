/**
 * Test fixtures for the inference tests: a tiny synthetic chest CT (air, an elliptic body, two
 * elliptic lungs, a ground-glass blob in the right-hand lung, a smooth texture so a random network
 * gives varied outputs), and a COPLE-Net whose output bias is shifted so its random prediction is
 * about half lesion (an all-0 or all-1 mask would make the tests blind).
 */
import * as tf from '@tensorflow/tfjs-core';
import { createNetwork, type CopleNet } from '../../models';
import { worldLPS, type Vec3, type Volume } from '../volume';

/** 44 × 40 × nz at 2 × 2 × 5 mm, LPS-aligned (axis codes "LPS"); lungs in slices 3..8 (of 14). */
export function tinyChest(nz = 14): Volume {
  const dims: Vec3 = [44, 40, nz];
  const data = new Int16Array(dims[0] * dims[1] * dims[2]);
  const inside = (i: number, j: number, ci: number, cj: number, ri: number, rj: number) => ((i - ci) / ri) ** 2 + ((j - cj) / rj) ** 2 <= 1;
  const lungK0 = Math.max(0, Math.round((3 * nz) / 14));
  const lungK1 = Math.max(lungK0 + 1, Math.round((9 * nz) / 14));
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < dims[1]; j++) {
      for (let i = 0; i < dims[0]; i++) {
        const texture = Math.round(25 * Math.sin(0.7 * i + 0.3 * k) * Math.cos(0.5 * j));
        let hu = -1000;
        if (inside(i, j, 21.5, 20, 17, 12)) hu = 40 + texture;
        const lung = k >= lungK0 && k < lungK1 && (inside(i, j, 15, 20, 4.5, 8) || inside(i, j, 28, 20, 4.5, 8));
        if (lung) hu = -850 + texture;
        if (lung && (i - 28) ** 2 + (j - 18) ** 2 + (5 * (k - (lungK0 + lungK1) / 2)) ** 2 / 4 <= 6.25) hu = -250 + texture;
        data[i + dims[0] * (j + dims[1] * k)] = hu;
      }
    }
  }
  return { data, dims, spacing: [2, 2, 5], origin: [-43, -39, 100], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], units: 'HU', notices: [], source: { format: 'test', name: 'tiny-chest' } };
}

/** The same voxels with the j axis reversed: the "LAS" storage of the same patient. */
export function flipJ(v: Volume): Volume {
  const [nx, ny, nz] = v.dims;
  const data = new Int16Array(v.data.length);
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) data[i + nx * (j + ny * k)] = v.data[i + nx * (ny - 1 - j + ny * k)];
  const d = v.direction;
  return { ...v, data, origin: worldLPS(v, 0, ny - 1, 0), direction: [d[0], d[1], d[2], -d[3], -d[4], -d[5], d[6], d[7], d[8]] };
}

/** A seeded random COPLE-Net whose class-1 bias is shifted by the median logit margin on `calib` (N, H, W, 1). */
export async function balancedCopleNet(features: number[], calib: tf.Tensor, seed = 3): Promise<CopleNet> {
  const net = createNetwork('coplenet', { features, seed, inChannels: calib.shape[calib.rank - 1] }) as CopleNet;
  const y = net.apply(calib);
  const v = (await y.data()) as Float32Array;
  y.dispose();
  const margins = Float32Array.from({ length: v.length / 2 }, (_, n) => v[2 * n + 1] - v[2 * n]).sort();
  const median = margins[margins.length >> 1];
  const sd = await net.stateDict();
  const bias = sd.get('out_conv.conv.bias')!;
  (bias.data as Float32Array)[1] -= median;
  net.loadStateDict(sd);
  return net;
}
