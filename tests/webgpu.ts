/**
 * Test helper: the tfjs WebGPU backend in Node, through the `webgpu` package (Dawn) on
 * Chromium's SwiftShader Vulkan driver. Call `useWebGPU()` in a beforeAll; it returns the tf
 * namespace with the 'webgpu' backend active.
 */
import * as tf from '@tensorflow/tfjs-core';

const CHROMIUM_LIB = '/usr/lib/chromium';

export async function useWebGPU(): Promise<typeof tf> {
  if (tf.findBackend('webgpu') && tf.getBackend() === 'webgpu') return tf;
  process.env.VK_ICD_FILENAMES ??= `${CHROMIUM_LIB}/vk_swiftshader_icd.json`;
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
  if (!g.navigator?.gpu) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu: create([]) }, configurable: true, writable: true });
  }
  await import('@tensorflow/tfjs-backend-webgpu');
  const ok = await tf.setBackend('webgpu');
  if (!ok) throw new Error('tfjs webgpu backend failed to initialise (is chromium installed for SwiftShader?)');
  await tf.ready();
  return tf;
}
