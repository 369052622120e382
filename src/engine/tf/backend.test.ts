import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initBackend, isSoftwareAdapter } from './backend';
import '../training/gradients';

describe('isSoftwareAdapter', () => {
  it('recognises fallback adapters and SwiftShader / llvmpipe by their info', () => {
    expect(isSoftwareAdapter({ isFallbackAdapter: true })).toBe(true);
    expect(isSoftwareAdapter({ info: { isFallbackAdapter: true } })).toBe(true);
    expect(isSoftwareAdapter({ info: { vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader driver 5.0.0' } })).toBe(true);
    expect(isSoftwareAdapter({ info: { vendor: 'mesa', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' } })).toBe(true);
    expect(isSoftwareAdapter({ info: { vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H100' } })).toBe(false);
  });
});

// Runs under the unit-test environment (LD_LIBRARY_PATH=/usr/lib/chromium, SwiftShader Vulkan).
describe('initBackend in Node', () => {
  it('cpu on request', async () => {
    const info = await initBackend(['cpu']);
    expect(info).toMatchObject({ name: 'cpu', isSoftwareAdapter: false, notes: [] });
    expect(tf.getBackend()).toBe('cpu');
  });

  it('skips the software WebGPU adapter when another backend follows, and says why', async () => {
    const info = await initBackend(['webgpu', 'wasm']);
    expect(info.name).toBe('wasm');
    expect(info.isSoftwareAdapter).toBe(true);
    expect(info.adapterInfo?.architecture).toBe('swiftshader');
    expect(info.notes).toEqual(['webgpu: software adapter (SwiftShader driver 5.0.0) is far slower than wasm; skipped']);
    expect(Array.from(tf.conv2d(tf.ones([1, 3, 3, 1]) as tf.Tensor4D, tf.ones([2, 2, 1, 1]) as tf.Tensor4D, 1, 'valid').dataSync())).toEqual([4, 4, 4, 4]);
  });

  it('wasm comes with the corrected kernels: MaxPool3D of an all-negative window is its maximum (native: ~0)', async () => {
    expect((await initBackend(['wasm'])).name).toBe('wasm');
    const x = tf.tensor5d([-3, -1.5, -2, -4, -2.5, -7, -6, -5], [1, 2, 2, 2, 1]);
    expect(Array.from(tf.maxPool3d(x, 2, 2, 'valid').dataSync())).toEqual([-1.5]);
    const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.maxPool3d(a as tf.Tensor5D, 2, 2, 'valid')))(x);
    expect(Array.from(dx.dataSync())).toEqual([0, 1, 0, 0, 0, 0, 0, 0]);
  });

  it('uses the software adapter when WebGPU is the only choice', async () => {
    const info = await initBackend(['webgpu']);
    expect(info).toMatchObject({ name: 'webgpu', isSoftwareAdapter: true });
    expect(tf.getBackend()).toBe('webgpu');
    expect(Array.from(await tf.add(tf.tensor1d([1, 2]), 1).data())).toEqual([2, 3]);
    // The default asks tfjs-webgpu for the high-performance adapter.
    expect(tf.env().getBool('WEBGPU_USE_LOW_POWER_GPU')).toBe(false);
  });

  it('asks tfjs-webgpu for the low-power adapter on request (the second GPU of a dual-GPU machine)', async () => {
    // (The backend instance already exists here; the flag is what a fresh worker's backend reads.)
    const info = await initBackend(['webgpu'], { powerPreference: 'low-power' });
    expect(info.name).toBe('webgpu');
    expect(tf.env().getBool('WEBGPU_USE_LOW_POWER_GPU')).toBe(true);
    tf.env().set('WEBGPU_USE_LOW_POWER_GPU', false);
  });

  it('in Node there is no WebGL: falls through to cpu with a note', async () => {
    const info = await initBackend(['webgl', 'cpu']);
    expect(info.name).toBe('cpu');
    expect(info.notes).toEqual(['webgl: no canvas in this environment']);
  });
});
