/**
 * COPLE-Net parity with MONAI 0.2.0 (PyTorch, float32, CPU): the fixture network (features
 * 8..128) loaded from both checkpoint formats, eval mode, on the (1,1,2,64,96) input. Pass if
 * max |ours - ref| <= 1e-3 * max |ref| (fixtures/monai/README.md §1); measured numbers are logged.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { readNpy, readShared } from '../../tests/shared';
import { useWebGPU } from '../../tests/webgpu';
import { readTorchCheckpoint } from '../engine/weights/torch-checkpoint';
import { CopleNet } from './coplenet';
import { toChannelsFirst, toChannelsLast } from './network';

const inputNpy = readNpy(readShared('fixtures/monai/coplenet/input.npy'));
const ref = readNpy(readShared('fixtures/monai/coplenet/logits.npy')).data as Float32Array;
const maxRef = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const TOLERANCE = 1e-3 * maxRef;

async function runFixture(weightsFile: string): Promise<{ maxErr: number; argmaxDisagree: number; shape: number[] }> {
  const net = new CopleNet({ features: [8, 16, 32, 64, 128] });
  net.loadStateDict(readTorchCheckpoint(readShared('fixtures/monai/coplenet', weightsFile), weightsFile).stateDict);
  const x = toChannelsLast(tf.tensor(inputNpy.data as Float32Array, inputNpy.shape));
  const y = tf.tidy(() => toChannelsFirst(net.apply(x)));
  const out = (await y.data()) as Float32Array;
  const shape = y.shape;
  tf.dispose([x, y]);
  net.dispose();
  let maxErr = 0;
  for (let i = 0; i < out.length; i++) maxErr = Math.max(maxErr, Math.abs(out[i] - ref[i]));
  // argmax over the 2 channels: channel stride = D*H*W
  const half = out.length / 2;
  let argmaxDisagree = 0;
  for (let i = 0; i < half; i++) if (out[half + i] > out[i] !== ref[half + i] > ref[i]) argmaxDisagree++;
  return { maxErr, argmaxDisagree: argmaxDisagree / half, shape };
}

describe('COPLE-Net parity with MONAI (fixture logits)', () => {
  const cases: ['cpu' | 'webgpu', string][] = [
    ['cpu', 'weights.pt'],
    ['cpu', 'weights_legacy.pt'],
    // SwiftShader WebGPU takes ~20 s per forward here, so it runs once; both files hold byte-identical tensors (see above and torch-checkpoint.test.ts).
    ['webgpu', 'weights_legacy.pt'],
  ];
  for (const [backend, file] of cases) {
    it(`${backend} backend, ${file}: max abs error within 1e-3 * max|logits|`, async () => {
      if (backend === 'cpu') await tf.setBackend('cpu');
      else await useWebGPU();
      expect(tf.getBackend()).toBe(backend);
      const r = await runFixture(file);
      console.log(`COPLE-Net parity [${backend}, ${file}]: max abs error ${r.maxErr.toExponential(3)} (tolerance ${TOLERANCE.toFixed(5)}), argmax disagreement ${(100 * r.argmaxDisagree).toFixed(3)}%`);
      expect(r.shape).toEqual([1, 2, 2, 64, 96]);
      expect(r.maxErr).toBeLessThanOrEqual(TOLERANCE);
      expect(r.argmaxDisagree).toBeLessThan(0.011); // only near-ties may flip (1.1% of voxels are near-ties)
    });
  }
});
