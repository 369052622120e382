/**
 * The engine's framework-neutral tensor record, as read from or written to weight files.
 * Layout is always C order (last axis fastest) in the file's own axis order (PyTorch layout
 * for .pt files); networks convert to TF.js layouts themselves.
 */

/** Element type as stored in the file. */
export type DType = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/** float16 and bfloat16 are widened to Float32Array on read (JS has no 16-bit float array in Node 20). */
export type TensorArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

export interface TensorData {
  dtype: DType;
  shape: number[];
  data: TensorArray;
}

/** Ordered like the file (PyTorch: module registration order). */
export type StateDict = Map<string, TensorData>;

export const BYTES_PER_ELEMENT: Record<DType, number> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** C-order strides, in elements. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/**
 * Typed array over `bytes` interpreted as little-endian `dtype`: a zero-copy view when the
 * bytes are aligned, a copy otherwise; 16-bit floats are decoded into a new Float32Array.
 */
export function decodeArray(bytes: Uint8Array, dtype: DType): TensorArray {
  const size = BYTES_PER_ELEMENT[dtype];
  if (bytes.byteLength % size !== 0) throw new Error(`${bytes.byteLength} bytes is not a whole number of ${dtype} elements`);
  const n = bytes.byteLength / size;
  if (dtype === 'float16' || dtype === 'bfloat16') {
    const u16 = new Uint16Array(n);
    new Uint8Array(u16.buffer).set(bytes);
    const out = new Float32Array(n);
    const decode = dtype === 'float16' ? halfToFloat : bfloat16ToFloat;
    for (let i = 0; i < n; i++) out[i] = decode(u16[i]);
    return out;
  }
  const aligned = (bytes.byteOffset % size) === 0 ? bytes : bytes.slice();
  const { buffer, byteOffset } = aligned;
  switch (dtype) {
    case 'float32': return new Float32Array(buffer, byteOffset, n);
    case 'float64': return new Float64Array(buffer, byteOffset, n);
    case 'int64': return new BigInt64Array(buffer, byteOffset, n);
    case 'int32': return new Int32Array(buffer, byteOffset, n);
    case 'int16': return new Int16Array(buffer, byteOffset, n);
    case 'int8': return new Int8Array(buffer, byteOffset, n);
    case 'uint8':
    case 'bool': return new Uint8Array(buffer, byteOffset, n);
  }
}

/** Raw little-endian bytes of a typed array (a view, no copy). */
export function arrayBytes(a: TensorArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** IEEE binary16 bits -> number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function bfloat16ToFloat(b: number): number {
  const f = new Float32Array(new Uint32Array([b << 16]).buffer);
  return f[0];
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** number -> IEEE binary16 bits, rounding the float32 value to nearest-even (as numpy/torch do). */
export function floatToHalf(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> inf
  if (e <= 0) {
    // subnormal half (or zero): shift the implicit-1 mantissa into place, round to nearest even
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let h = mant >>> shift;
    if (rest > half || (rest === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++; // may carry into the exponent: still correct
  return sign | h;
}
