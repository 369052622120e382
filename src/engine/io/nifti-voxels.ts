/**
 * Raw voxel bytes → typed array, shared by the NIfTI and NRRD readers (both store a plain
 * little- or big-endian array after a header). Views the decompressed buffer directly when it can,
 * swaps bytes in place when it owns them, copies only when it must.
 */
import type { VoxelArray } from '../volume';

export type VoxelType = 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'float32' | 'float64';

export const VOXEL_BYTES: Record<VoxelType, number> = {
  int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, uint64: 8, float32: 4, float64: 8,
};

const ARRAYS = {
  int8: Int8Array, uint8: Uint8Array, int16: Int16Array, uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array,
  int64: BigInt64Array, uint64: BigUint64Array, float32: Float32Array, float64: Float64Array,
};

export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export interface VoxelSource {
  /** The decoded file (the whole of it: header, data, anything after). */
  bytes: Uint8Array;
  /** Where the voxels start in `bytes`. */
  offset: number;
  count: number;
  type: VoxelType;
  littleEndian: boolean;
  /** The reader made `bytes` itself (e.g. by gunzip) and may modify them; otherwise they are the caller's. */
  owned: boolean;
}

/**
 * The voxels as the matching typed array. The result may share memory with `bytes` (when aligned,
 * in host byte order and most of the buffer) — callers must not reuse the input afterwards.
 * 64-bit integers become Int32Array when every value fits, else Float64Array (exact to 2^53).
 * The caller checks that `bytes` is long enough.
 */
export function decodeVoxels(src: VoxelSource): VoxelArray {
  const size = VOXEL_BYTES[src.type];
  const length = src.count * size;
  let region = src.bytes.subarray(src.offset, src.offset + length);
  const swap = size > 1 && src.littleEndian !== HOST_LITTLE_ENDIAN;
  // Viewing a small part of a big buffer (first volume of a long 4D file) would pin all of it.
  const mostOfBuffer = length * 2 >= region.buffer.byteLength;
  if ((swap && !src.owned) || region.byteOffset % size !== 0 || !mostOfBuffer) region = region.slice();
  if (swap) swapBytes(region, size);
  const array = new ARRAYS[src.type](region.buffer as ArrayBuffer, region.byteOffset, src.count);
  return array instanceof BigInt64Array || array instanceof BigUint64Array ? fromBigInts(array) : array;
}

/** Reverses the byte order of each `size`-byte element, in place. */
export function swapBytes(b: Uint8Array, size: number): void {
  for (let p = 0; p + size <= b.length; p += size) {
    for (let lo = p, hi = p + size - 1; lo < hi; lo++, hi--) {
      const t = b[lo];
      b[lo] = b[hi];
      b[hi] = t;
    }
  }
}

function fromBigInts(a: BigInt64Array | BigUint64Array): Int32Array | Float64Array {
  const small = a.every((v) => v >= -2147483648n && v <= 2147483647n);
  const out = small ? new Int32Array(a.length) : new Float64Array(a.length);
  for (let n = 0; n < a.length; n++) out[n] = Number(a[n]);
  return out;
}

/** Voxel type of a typed array (what the writers store it as). */
export function voxelTypeOf(data: VoxelArray): VoxelType {
  for (const [type, Ctor] of Object.entries(ARRAYS)) if (data instanceof Ctor) return type as VoxelType;
  throw new Error('unknown voxel array type');
}

/** A typed array of `type` (64-bit types excluded), for converting on write. */
export function voxelArray(type: Exclude<VoxelType, 'int64' | 'uint64'>, length: number): VoxelArray {
  return new ARRAYS[type](length);
}

const BLOCK = 1 << 16;

/**
 * Visits the values in float64 blocks of up to 65536 (the same scratch each time; `start` is the
 * index of block[0]). Loops that see arrays of many element types go megamorphic in V8 and run
 * ~10× slower; `Float64Array.set` converts natively and keeps the caller's loop monomorphic.
 */
export function forEachBlock(data: VoxelArray, visit: (block: Float64Array, start: number) => void): void {
  const scratch = new Float64Array(Math.min(BLOCK, data.length));
  for (let start = 0; start < data.length; start += BLOCK) {
    const n = Math.min(BLOCK, data.length - start);
    const block = n === scratch.length ? scratch : scratch.subarray(0, n);
    block.set(data.subarray(start, start + n));
    visit(block, start);
  }
}
