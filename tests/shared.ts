import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root, and the read-only shared material beside it (`../shared`; SHARED_DIR overrides). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SHARED = process.env.SHARED_DIR ?? resolve(ROOT, '../shared');

export function sharedPath(...parts: string[]): string {
  const p = resolve(SHARED, ...parts);
  if (!existsSync(p)) throw new Error(`shared test material missing: ${p}`);
  return p;
}

export function readShared(...parts: string[]): Uint8Array {
  return new Uint8Array(readFileSync(sharedPath(...parts)));
}

/** Reads a NumPy .npy (format 1.x/2.x, little-endian float32/float64/uint8/int64) into shape + data. */
export function readNpy(bytes: Uint8Array): { shape: number[]; dtype: string; data: Float32Array | Float64Array | Uint8Array | BigInt64Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const dtype = /'descr':\s*'([^']+)'/.exec(header)![1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)![1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (/'fortran_order':\s*True/.test(header)) throw new Error('fortran-order .npy not supported in tests');
  const body = bytes.slice(start + headerLen).buffer;
  const data =
    dtype === '<f4' ? new Float32Array(body) : dtype === '<f8' ? new Float64Array(body) : dtype === '|u1' ? new Uint8Array(body) : dtype === '<i8' ? new BigInt64Array(body) : null;
  if (!data) throw new Error(`unsupported npy dtype ${dtype}`);
  return { shape, dtype, data };
}
