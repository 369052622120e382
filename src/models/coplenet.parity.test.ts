/**
 * COPLE-Net parity with MONAI 0.2.0 (PyTorch, float32, CPU): the fixture network (features
 * 8..128) loaded from both checkpoint formats, eval mode, on the (1,1,2,64,96) input. Pass if
 * max |ours - ref| <= 1e-3 * max |ref| (fixtures/monai/README.md §1); measured numbers are logged.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { readNpy, readShared } from '../../tests/shared';
import { useWebGPU } from '../../tests/webgpu';
import { initBackend } from '../engine/tf/backend';
import { readTorchCheckpoint } from '../engine/weights/torch-checkpoint';
import { CopleNet } from './coplenet';
import { toChannelsFirst, toChannelsLast } from './network';

const inputNpy = readNpy(readShared('fixtures/monai/coplenet/input.npy'));
const ref = readNpy(readShared('fixtures/monai/coplenet/logits.npy')).data as Float32Array;
const maxRef = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const TOLERANCE = 1e-3 * maxRef;

/** Runs depth slices [0, depth) of the fixture; compares with the same slices of the reference. */
async function runFixture(weightsFile: string, depth = 2): Promise<{ maxErr: number; argmaxDisagree: number; shape: number[] }> {
  const net = new CopleNet({ features: [8, 16, 32, 64, 128] });
  net.loadStateDict(readTorchCheckpoint(readShared('fixtures/monai/coplenet', weightsFile), weightsFile).stateDict);
  const full = tf.tensor(inputNpy.data as Float32Array, inputNpy.shape);
  const x = toChannelsLast(tf.slice(full, [0, 0, 0, 0, 0], [1, 1, depth, 64, 96]));
  const y = tf.tidy(() => toChannelsFirst(net.apply(x)));
  const out = (await y.data()) as Float32Array;
  const shape = y.shape;
  tf.dispose([full, x, y]);
  net.dispose();
  const hw = 64 * 96;
  const refAt = (c: number, i: number) => ref[c * 2 * hw + i]; // reference is (1, 2, 2, 64, 96); i runs over depth * hw
  let maxErr = 0;
  let argmaxDisagree = 0;
  const n = depth * hw;
  for (let i = 0; i < n; i++) {
    maxErr = Math.max(maxErr, Math.abs(out[i] - refAt(0, i)), Math.abs(out[n + i] - refAt(1, i)));
    if (out[n + i] > out[i] !== refAt(1, i) > refAt(0, i)) argmaxDisagree++;
  }
  return { maxErr, argmaxDisagree: argmaxDisagree / n, shape };
}

describe('COPLE-Net parity with MONAI (fixture logits)', () => {
  const cases: ['cpu' | 'wasm' | 'webgpu', string][] = [
    ['cpu', 'weights.pt'],
    ['cpu', 'weights_legacy.pt'],
    ['wasm', 'weights.pt'],
    // SwiftShader WebGPU needs ~10 s per 64x96 slice here: one file (both hold byte-identical
    // tensors, torch-checkpoint.test.ts) and one slice.
    ['webgpu', 'weights_legacy.pt'],
  ];
  for (const [backend, file] of cases) {
    const depth = backend === 'webgpu' ? 1 : 2;
    it(`${backend} backend, ${file}: max abs error within 1e-3 * max|logits|`, async () => {
      if (backend === 'webgpu') await useWebGPU();
      else await initBackend([backend]);
      expect(tf.getBackend()).toBe(backend);
      const r = await runFixture(file, depth);
      console.log(`COPLE-Net parity [${backend}, ${file}]: max abs error ${r.maxErr.toExponential(3)} (tolerance ${TOLERANCE.toFixed(5)}), argmax disagreement ${(100 * r.argmaxDisagree).toFixed(3)}%`);
      expect(r.shape).toEqual([1, 2, depth, 64, 96]);
      expect(r.maxErr).toBeLessThanOrEqual(TOLERANCE);
      expect(r.argmaxDisagree).toBeLessThan(0.011); // only near-ties may flip (1.1% of voxels are near-ties)
    });
  }
});
