/**
 * Picks and activates a TF.js backend: WebGPU, else WebGL, else WASM, else CPU. A software
 * WebGPU adapter (SwiftShader, the "fallback adapter") is ~100x slower than WASM/CPU, so it is
 * skipped when another backend is on the list, and reported. Works in browsers, Web Workers and
 * Node (Node: 'webgpu' through the `webgpu` package (Dawn), 'wasm' and 'cpu').
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerWasmTrainingKernels } from './wasm-kernels';

export type BackendName = 'webgpu' | 'webgl' | 'wasm' | 'cpu';

export const DEFAULT_BACKEND_ORDER: readonly BackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

export interface BackendInfo {
  name: BackendName;
  /** True when the WebGPU adapter found is a software rasteriser (whether or not it was used). */
  isSoftwareAdapter: boolean;
  adapterInfo?: { vendor: string; architecture: string; device: string; description: string };
  /** Why earlier candidates were skipped, one line each. */
  notes: string[];
}

export interface InitBackendOptions {
  /** Where the tfjs-backend-wasm .wasm files are served: a URL prefix, or a URL per file name (Node: defaults to the package's dist folder). */
  wasmPaths?: string | Record<string, string>;
  /**
   * Allow tfjs-wasm's threaded build (default true). Its pthread workers re-load the main script as a
   * classic script, which fails inside a bundled module worker; the app's worker turns this off.
   */
  wasmThreads?: boolean;
  /** Which WebGPU adapter to ask for (default 'high-performance'); on a dual-GPU machine 'low-power' is the other one. */
  powerPreference?: PowerPreference;
  /**
   * Node only: flags for the `webgpu` package's `create()` when it installs navigator.gpu, e.g.
   * `enable-dawn-features=allow_unsafe_apis` (timestamp queries). Ignored once navigator.gpu exists.
   */
  dawnFlags?: string[];
}

export type PowerPreference = 'high-performance' | 'low-power';

/** One WebGPU adapter the browser offers, and the power preference that gets it. */
export interface AdapterChoice {
  powerPreference: PowerPreference;
  description: string;
  software: boolean;
}

/**
 * The distinct WebGPU adapters reachable by power preference (a browser offers at most two: on a
 * dual-GPU laptop the discrete and the integrated GPU; elsewhere one). Adapters are told apart by
 * their info (vendor, architecture, device, description). Empty without WebGPU.
 */
export async function webgpuAdapters(): Promise<AdapterChoice[]> {
  const gpu = await webgpuNavigator();
  if (!gpu) return [];
  const out: (AdapterChoice & { key: string })[] = [];
  for (const powerPreference of ['high-performance', 'low-power'] as const) {
    const adapter = await gpu.requestAdapter({ powerPreference }).catch(() => null);
    if (!adapter) continue;
    const i = adapter.info ?? {};
    const key = [i.vendor, i.architecture, i.device, i.description].join('|');
    if (out.some((a) => a.key === key)) continue;
    out.push({ key, powerPreference, description: i.description || [i.vendor, i.architecture].filter(Boolean).join(' ') || 'unnamed adapter', software: isSoftwareAdapter(adapter) });
  }
  return out.map(({ key: _key, ...a }) => a);
}

interface AdapterLike {
  isFallbackAdapter?: boolean;
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
}

interface GpuLike {
  requestAdapter(opts?: { powerPreference?: string }): Promise<AdapterLike | null>;
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';

export function isSoftwareAdapter(adapter: AdapterLike): boolean {
  if (adapter.isFallbackAdapter || adapter.info?.isFallbackAdapter) return true;
  const text = `${adapter.info?.architecture ?? ''} ${adapter.info?.description ?? ''} ${adapter.info?.device ?? ''}`.toLowerCase();
  return /swiftshader|llvmpipe|lavapipe|software/.test(text);
}

export async function initBackend(preferred: readonly BackendName[] = DEFAULT_BACKEND_ORDER, options: InitBackendOptions = {}): Promise<BackendInfo> {
  const notes: string[] = [];
  let software = false;
  let adapterInfo: BackendInfo['adapterInfo'];
  for (const [i, name] of preferred.entries()) {
    const last = i === preferred.length - 1;
    try {
      if (name === 'webgpu') {
        const gpu = await webgpuNavigator(options.dawnFlags);
        const powerPreference = options.powerPreference ?? 'high-performance';
        const adapter = gpu ? await gpu.requestAdapter({ powerPreference }) : null;
        if (!adapter) {
          // Dawn loads libvulkan at startup; Chromium ships one beside its SwiftShader driver.
          notes.push(isNode ? 'webgpu: no adapter available (Node: is libvulkan on LD_LIBRARY_PATH, e.g. /usr/lib/chromium?)' : 'webgpu: no adapter available');
          continue;
        }
        software = isSoftwareAdapter(adapter);
        const info = adapter.info ?? {};
        adapterInfo = { vendor: info.vendor ?? '', architecture: info.architecture ?? '', device: info.device ?? '', description: info.description ?? '' };
        if (software && !last) {
          notes.push(`webgpu: software adapter (${adapterInfo.description || adapterInfo.architecture || 'fallback'}) is far slower than ${preferred.slice(i + 1).join('/')}; skipped`);
          continue;
        }
        await import('@tensorflow/tfjs-backend-webgpu');
        // tfjs-webgpu requests its own adapter when the backend starts, by this flag (registered by the import).
        tf.env().set('WEBGPU_USE_LOW_POWER_GPU', powerPreference === 'low-power');
      } else if (name === 'webgl') {
        if (isNode || (typeof document === 'undefined' && typeof OffscreenCanvas === 'undefined')) {
          notes.push('webgl: no canvas in this environment');
          continue;
        }
        await import('@tensorflow/tfjs-backend-webgl');
      } else if (name === 'wasm') {
        const wasm = await import('@tensorflow/tfjs-backend-wasm');
        const paths = options.wasmPaths ?? (isNode ? await nodeWasmDir() : undefined);
        if (paths) wasm.setWasmPaths(paths);
        if (options.wasmThreads === false) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
        // Corrected and added kernels (wasm-kernels.ts): MaxPool3D's forward is wrong too, so inference needs them.
        registerWasmTrainingKernels();
      } else {
        await import('@tensorflow/tfjs-backend-cpu');
      }
      if (await tf.setBackend(name)) {
        await tf.ready();
        return { name, isSoftwareAdapter: software, adapterInfo, notes };
      }
      notes.push(`${name}: failed to initialise`);
    } catch (e) {
      notes.push(`${name}: ${(e as Error).message}`);
    }
  }
  throw new Error(`no TF.js backend could be initialised (${notes.join('; ')})`);
}

/** navigator.gpu, installing Dawn's through the `webgpu` package when running in Node. */
async function webgpuNavigator(dawnFlags: string[] = []): Promise<GpuLike | null> {
  const g = globalThis as unknown as { navigator?: { gpu?: GpuLike } };
  if (g.navigator?.gpu) return g.navigator.gpu;
  if (!isNode) return null;
  // Dawn needs a Vulkan driver; Chromium's SwiftShader ICD is the usual software fallback.
  if (!process.env.VK_ICD_FILENAMES && (await fileExists('/usr/lib/chromium/vk_swiftshader_icd.json'))) {
    process.env.VK_ICD_FILENAMES = '/usr/lib/chromium/vk_swiftshader_icd.json';
  }
  const specifier = 'webgpu'; // a variable, so that browser bundlers leave this Node-only import alone
  const { create, globals } = (await import(/* @vite-ignore */ specifier)) as { create(flags: string[]): GpuLike; globals: object };
  Object.assign(globalThis, globals);
  const gpu = create(dawnFlags);
  if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  return gpu;
}

async function nodeWasmDir(): Promise<string> {
  const mod = 'node:module';
  const { createRequire } = (await import(/* @vite-ignore */ mod)) as typeof import('node:module');
  const require = createRequire(import.meta.url);
  const wasmFile = require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm');
  return wasmFile.slice(0, wasmFile.lastIndexOf('/') + 1);
}

async function fileExists(path: string): Promise<boolean> {
  const mod = 'node:fs';
  const fs = (await import(/* @vite-ignore */ mod)) as typeof import('node:fs');
  return fs.existsSync(path);
}
