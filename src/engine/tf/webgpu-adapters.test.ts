import { afterEach, describe, expect, it } from 'vitest';
import { webgpuAdapters } from './backend';

const g = globalThis as unknown as { navigator?: unknown };
const saved = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
afterEach(() => {
  if (saved) Object.defineProperty(globalThis, 'navigator', saved);
  else delete g.navigator;
});

/** A navigator.gpu whose adapter depends on the power preference, recording what was asked. */
function fakeGpu(byPreference: Record<string, { vendor: string; architecture: string; device?: string; description: string } | null>) {
  const asked: string[] = [];
  const gpu = {
    requestAdapter: async (opts?: { powerPreference?: string }) => {
      asked.push(opts?.powerPreference ?? 'default');
      const info = byPreference[opts?.powerPreference ?? 'high-performance'];
      return info ? { info } : null;
    },
  };
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  return asked;
}

describe('webgpuAdapters', () => {
  it('lists both GPUs of a dual-GPU machine, each with the preference that gets it', async () => {
    const asked = fakeGpu({
      'high-performance': { vendor: 'nvidia', architecture: 'ada', device: '2860', description: 'NVIDIA RTX 4070 Laptop' },
      'low-power': { vendor: 'intel', architecture: 'xe-lpg', device: '7d55', description: 'Intel Arc Graphics' },
    });
    expect(await webgpuAdapters()).toEqual([
      { powerPreference: 'high-performance', description: 'NVIDIA RTX 4070 Laptop', software: false },
      { powerPreference: 'low-power', description: 'Intel Arc Graphics', software: false },
    ]);
    expect(asked).toEqual(['high-performance', 'low-power']);
  });

  it('lists one adapter when both preferences give the same, and flags a software one', async () => {
    const swift = { vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader Device (Subzero)' };
    fakeGpu({ 'high-performance': swift, 'low-power': { ...swift } });
    expect(await webgpuAdapters()).toEqual([{ powerPreference: 'high-performance', description: 'SwiftShader Device (Subzero)', software: true }]);
    fakeGpu({ 'high-performance': null, 'low-power': null });
    expect(await webgpuAdapters()).toEqual([]);
  });
});
