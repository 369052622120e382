/**
 * NumPy .npy read/write (format 1.0-3.0 in, 1.0 out), little-endian, C order. Small and written
 * by hand: the format is a magic string, a Python-literal header and raw data.
 */
import { InputError } from './errors';

export type NpyDType = 'float32' | 'float64' | 'uint8' | 'int8' | 'int16' | 'uint16' | 'int32' | 'int64' | 'bool';
export type NpyArray = Float32Array | Float64Array | Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | BigInt64Array;

export interface Npy {
  shape: number[];
  dtype: NpyDType;
  data: NpyArray;
}

const DESCR: Record<string, NpyDType> = {
  '<f4': 'float32',
  '<f8': 'float64',
  '|u1': 'uint8',
  '|i1': 'int8',
  '<i2': 'int16',
  '<u2': 'uint16',
  '<i4': 'int32',
  '<i8': 'int64',
  '|b1': 'bool',
};
const DESCR_OF = Object.fromEntries(Object.entries(DESCR).map(([k, v]) => [v, k])) as Record<NpyDType, string>;
const CTORS = {
  float32: Float32Array,
  float64: Float64Array,
  uint8: Uint8Array,
  int8: Int8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  bool: Uint8Array,
} as const;

export function readNpy(bytes: Uint8Array, file: string): Npy {
  const fail = (reason: string): never => {
    throw new InputError(file, reason);
  };
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) fail('not a .npy file (magic \\x93NUMPY missing)');
  const major = bytes[6];
  if (major < 1 || major > 3) fail(`unsupported .npy format version ${major}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  if (start + headerLen > bytes.length) fail('.npy header runs past the end of the file');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || shapeText === undefined) fail('.npy header lacks descr or shape');
  if (/'fortran_order':\s*True/.test(header)) fail('Fortran-order .npy arrays are not supported (save with np.ascontiguousarray)');
  const dtype = DESCR[descr!];
  if (!dtype) fail(`unsupported .npy dtype ${descr} (little-endian float32/64, (u)int8/16/32, int64 and bool are)`);
  const shape = shapeText!.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (shape.some((s) => !Number.isInteger(s) || s < 0)) fail(`bad .npy shape (${shapeText})`);
  const n = shape.reduce((a, b) => a * b, 1);
  const Ctor = CTORS[dtype];
  const body = start + headerLen;
  const byteLength = n * Ctor.BYTES_PER_ELEMENT;
  if (body + byteLength > bytes.length) fail(`.npy data truncated: ${bytes.length - body} bytes for ${n} ${dtype} values`);
  const raw = bytes.slice(body, body + byteLength); // own aligned buffer
  return { shape, dtype, data: new Ctor(raw.buffer, 0, n) };
}

export function writeNpy(data: NpyArray, shape: readonly number[], dtype?: NpyDType): Uint8Array {
  const dt: NpyDType = dtype ?? dtypeOf(data);
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== data.length) throw new Error(`writeNpy: shape [${shape.join(',')}] does not match ${data.length} values`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${DESCR_OF[dt]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n'; // numpy pads so data starts 64-byte aligned
  const head = new TextEncoder().encode(header);
  const out = new Uint8Array(10 + head.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, head.length, true);
  out.set(head, 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + head.length);
  return out;
}

function dtypeOf(data: NpyArray): NpyDType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Uint16Array) return 'uint16';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
  return 'uint8';
}
