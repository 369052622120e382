/**
 * The app's own weight format: safetensors (https://huggingface.co/docs/safetensors): an 8-byte
 * little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}, then raw
 * little-endian tensor bytes. Written by hand because the format is trivial and the JS package
 * targets browsers' fetch/Blob paths we do not need. Key order is kept (entries are written in
 * state-dict order and read back sorted by data offset). Float tensors may be stored as float16
 * to halve the file; they are widened back to float32 on read.
 */
import { InputError } from '../io/errors';
import { arrayBytes, BYTES_PER_ELEMENT, decodeArray, floatToHalf, numel, type DType, type StateDict, type TensorData } from './tensor';

const CODES: Partial<Record<DType, string>> = {
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  float64: 'F64',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};
const DTYPES = Object.fromEntries(Object.entries(CODES).map(([k, v]) => [v, k])) as Record<string, DType>;

export interface SafetensorsOptions {
  /** Store float32/float64 tensors as float16 (integers are kept as they are). */
  float16?: boolean;
  /** Free-form string metadata, stored under "__metadata__". */
  metadata?: Record<string, string>;
}

export function isSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10) return false;
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  return n > 1n && n < BigInt(bytes.length) && bytes[8] === 0x7b; // '{'
}

export function writeSafetensors(stateDict: StateDict, options: SafetensorsOptions = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (options.metadata) header.__metadata__ = options.metadata;
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [key, t] of stateDict) {
    if (key === '__metadata__') throw new Error('a tensor cannot be named __metadata__');
    if (t.data.length !== numel(t.shape)) throw new Error(`tensor ${key}: shape ${JSON.stringify(t.shape)} does not match ${t.data.length} values`);
    const toHalf = t.dtype === 'float16' || (options.float16 === true && (t.dtype === 'float32' || t.dtype === 'float64'));
    let bytes: Uint8Array;
    if (toHalf) {
      const h = new Uint16Array(t.data.length);
      for (let i = 0; i < h.length; i++) h[i] = floatToHalf(Number(t.data[i]));
      bytes = new Uint8Array(h.buffer);
    } else if (t.dtype === 'bfloat16') {
      throw new Error(`tensor ${key}: writing bfloat16 is not supported`);
    } else {
      bytes = arrayBytes(t.data);
    }
    header[key] = { dtype: CODES[toHalf ? 'float16' : t.dtype], shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8; // keeps the data section 8-byte aligned
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let o = 8 + json.length;
  for (const b of parts) out.set(b, o), (o += b.length);
  return out;
}

export function readSafetensors(bytes: Uint8Array, file: string): { stateDict: StateDict; metadata: Record<string, string> } {
  const fail = (reason: string): never => {
    throw new InputError(file, reason);
  };
  if (bytes.length < 8) fail('file too short for a safetensors header');
  const headerLen = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLen > bytes.length - 8) fail('safetensors header length exceeds the file size');
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  } catch {
    return fail('safetensors header is not valid JSON');
  }
  const data = bytes.subarray(8 + headerLen);
  const entries: [string, number, TensorData][] = [];
  for (const [key, v] of Object.entries(header)) {
    if (key === '__metadata__') continue;
    const e = v as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    const dtype = DTYPES[e.dtype ?? ''];
    if (!dtype) fail(`tensor ${key} has unsupported dtype ${String(e.dtype)}`);
    if (!Array.isArray(e.shape) || !Array.isArray(e.data_offsets)) fail(`tensor ${key} lacks shape or data_offsets`);
    const [b, end] = e.data_offsets!;
    if (!(b >= 0 && end <= data.length && end - b === numel(e.shape!) * BYTES_PER_ELEMENT[dtype])) {
      fail(`tensor ${key}: data_offsets [${b}, ${end}] do not fit its shape or the file`);
    }
    entries.push([key, b, { dtype, shape: e.shape!.slice(), data: decodeArray(data.subarray(b, end), dtype) }]);
  }
  entries.sort((a, b) => a[1] - b[1]);
  return { stateDict: new Map(entries.map(([k, , t]) => [k, t])), metadata: (header.__metadata__ as Record<string, string>) ?? {} };
}

