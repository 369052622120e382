/**
 * NIfTI-1 / NIfTI-2 header layout, parsing, and the voxel → RAS affine chosen the way nibabel's
 * `get_best_affine` chooses it (sform, else qform, else the pixdim "base" affine), including
 * nibabel's load-time fixes (pixdim made positive, qfac forced to ±1).
 *
 * Written by hand: the npm NIfTI readers (nifti-reader-js) copy the whole volume, decode through
 * DataView one voxel at a time and do not apply nibabel's affine rules.
 */
import type { Mat4 } from '../volume';
import { InputError } from './errors';
import type { VoxelType } from './nifti-voxels';

export interface NiftiHeader {
  version: 1 | 2;
  /** 348 or 540. */
  headerSize: number;
  littleEndian: boolean;
  /** `n+1`/`n+2` (header and data in one file) rather than `ni1`/`ni2` (a .hdr/.img pair). */
  single: boolean;
  /** dim[0] is the number of dimensions, dim[1..7] their sizes. */
  dim: number[];
  /** pixdim[0] is qfac, pixdim[1..7] the voxel sizes — as stored, before nibabel's fixes. */
  pixdim: number[];
  datatype: number;
  voxOffset: number;
  sclSlope: number;
  sclInter: number;
  qformCode: number;
  sformCode: number;
  quatern: [number, number, number];
  qoffset: [number, number, number];
  /** srow_x, srow_y, srow_z: the top three rows of the sform, row-major. */
  srow: number[];
  descrip: string;
}

/** NIfTI datatype codes. Those without a voxel type are recognised only to be refused by name. */
export const NIFTI_DATATYPES: Record<number, { name: string; type?: VoxelType }> = {
  1: { name: 'binary' },
  2: { name: 'uint8', type: 'uint8' },
  4: { name: 'int16', type: 'int16' },
  8: { name: 'int32', type: 'int32' },
  16: { name: 'float32', type: 'float32' },
  32: { name: 'complex64' },
  64: { name: 'float64', type: 'float64' },
  128: { name: 'RGB24' },
  256: { name: 'int8', type: 'int8' },
  512: { name: 'uint16', type: 'uint16' },
  768: { name: 'uint32', type: 'uint32' },
  1024: { name: 'int64', type: 'int64' },
  1280: { name: 'uint64', type: 'uint64' },
  1536: { name: 'float128' },
  1792: { name: 'complex128' },
  2048: { name: 'complex256' },
  2304: { name: 'RGBA32' },
};

const NIFTI1_SIZE = 348;
const NIFTI2_SIZE = 540;

function ascii(bytes: Uint8Array, start: number, length: number): string {
  let s = '';
  for (let n = start; n < start + length && bytes[n] !== 0; n++) s += String.fromCharCode(bytes[n]);
  return s;
}

/** Version, endianness and kind from sizeof_hdr and the magic; null when these are not a NIfTI header. */
export function sniffNifti(bytes: Uint8Array): { version: 1 | 2; littleEndian: boolean; single: boolean } | null {
  if (bytes.length < NIFTI1_SIZE) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const littleEndian of [true, false]) {
    const size = view.getInt32(0, littleEndian);
    if (size === NIFTI1_SIZE) {
      const magic = ascii(bytes, 344, 4);
      if (magic === 'n+1' || magic === 'ni1') return { version: 1, littleEndian, single: magic === 'n+1' };
    } else if (size === NIFTI2_SIZE && bytes.length >= NIFTI2_SIZE) {
      const magic = ascii(bytes, 4, 4);
      if (magic === 'n+2' || magic === 'ni2') return { version: 2, littleEndian, single: magic === 'n+2' };
    }
  }
  return null;
}

/** Parses the fixed header; `bytes` must start with it (see `sniffNifti`). */
export function parseNiftiHeader(bytes: Uint8Array, fileName: string): NiftiHeader {
  const kind = sniffNifti(bytes);
  if (!kind) throw new InputError(fileName, 'not a NIfTI file (no NIfTI-1 or NIfTI-2 header and magic)');
  const { version, littleEndian: le } = kind;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const list = (at: number, n: number, size: number, get: (o: number) => number) =>
    Array.from({ length: n }, (_, k) => get(at + k * size));
  if (version === 1) {
    const f32 = (o: number) => v.getFloat32(o, le);
    return {
      version,
      headerSize: NIFTI1_SIZE,
      littleEndian: le,
      single: kind.single,
      dim: list(40, 8, 2, (o) => v.getInt16(o, le)),
      pixdim: list(76, 8, 4, f32),
      datatype: v.getInt16(70, le),
      voxOffset: f32(108),
      sclSlope: f32(112),
      sclInter: f32(116),
      qformCode: v.getInt16(252, le),
      sformCode: v.getInt16(254, le),
      quatern: [f32(256), f32(260), f32(264)],
      qoffset: [f32(268), f32(272), f32(276)],
      srow: list(280, 12, 4, f32),
      descrip: ascii(bytes, 148, 80),
    };
  }
  const f64 = (o: number) => v.getFloat64(o, le);
  const i64 = (o: number) => Number(v.getBigInt64(o, le));
  return {
    version,
    headerSize: NIFTI2_SIZE,
    littleEndian: le,
    single: kind.single,
    dim: list(16, 8, 8, i64),
    pixdim: list(104, 8, 8, f64),
    datatype: v.getInt16(12, le),
    voxOffset: i64(168),
    sclSlope: f64(176),
    sclInter: f64(184),
    qformCode: v.getInt32(344, le),
    sformCode: v.getInt32(348, le),
    quatern: [f64(352), f64(360), f64(368)],
    qoffset: [f64(376), f64(384), f64(392)],
    srow: list(400, 12, 8, f64),
    descrip: ascii(bytes, 240, 80),
  };
}

/** pixdim[1..3] as nibabel fixes them on load: zero → 1, negative → absolute value. */
function fixedZooms(h: NiftiHeader): number[] {
  return [1, 2, 3, 4, 5, 6, 7].map((n) => (h.pixdim[n] === 0 ? 1 : Math.abs(h.pixdim[n])));
}

/** The qform: unit quaternion (w ≥ 0 filled in), voxel sizes with qfac on the third, then offsets. */
export function qformAffine(h: NiftiHeader, fileName: string): Mat4 {
  const [b, c, d] = h.quatern;
  const w2 = 1 - (b * b + c * c + d * d);
  // nibabel tolerates rounding just below zero, at the precision the quaternion was stored in.
  const threshold = -3 * (h.version === 1 ? 2 ** -23 : 2 ** -52);
  if (w2 < threshold) throw new InputError(fileName, `invalid qform quaternion (${b}, ${c}, ${d}): not a unit quaternion`);
  const a = w2 < 0 ? 0 : Math.sqrt(w2);
  const r = quaternionToMatrix(a, b, c, d);
  const zoom = fixedZooms(h).slice(0, 3);
  const qfac = h.pixdim[0] === -1 ? -1 : 1;
  zoom[2] *= qfac;
  const [x, y, z] = h.qoffset;
  return [
    r[0] * zoom[0], r[1] * zoom[1], r[2] * zoom[2], x,
    r[3] * zoom[0], r[4] * zoom[1], r[5] * zoom[2], y,
    r[6] * zoom[0], r[7] * zoom[1], r[8] * zoom[2], z,
    0, 0, 0, 1,
  ];
}

/** Rotation matrix (row-major 3×3) of a quaternion; non-unit quaternions are normalised. */
export function quaternionToMatrix(w: number, x: number, y: number, z: number): number[] {
  const nq = w * w + x * x + y * y + z * z;
  if (nq < 2 ** -52) return [1, 0, 0, 0, 1, 0, 0, 0, 1];
  const s = 2 / nq;
  const [X, Y, Z] = [x * s, y * s, z * s];
  const [wX, wY, wZ] = [w * X, w * Y, w * Z];
  const [xX, xY, xZ] = [x * X, x * Y, x * Z];
  const [yY, yZ, zZ] = [y * Y, y * Z, z * Z];
  return [1 - (yY + zZ), xY - wZ, xZ + wY, xY + wZ, 1 - (xX + zZ), yZ - wX, xZ - wY, yZ + wX, 1 - (xX + yY)];
}

/** The inverse: unit quaternion (w ≥ 0) of a proper rotation matrix (row-major 3×3). */
export function matrixToQuaternion(r: number[]): [number, number, number, number] {
  const [m00, m01, m02, m10, m11, m12, m20, m21, m22] = r;
  const trace = m00 + m11 + m22;
  let q: [number, number, number, number];
  // Shepperd's method: divide by the largest of the four candidates for numerical stability.
  if (trace > 0) {
    const s = 2 * Math.sqrt(1 + trace);
    q = [s / 4, (m21 - m12) / s, (m02 - m20) / s, (m10 - m01) / s];
  } else if (m00 > m11 && m00 > m22) {
    const s = 2 * Math.sqrt(1 + m00 - m11 - m22);
    q = [(m21 - m12) / s, s / 4, (m01 + m10) / s, (m02 + m20) / s];
  } else if (m11 > m22) {
    const s = 2 * Math.sqrt(1 + m11 - m00 - m22);
    q = [(m02 - m20) / s, (m01 + m10) / s, s / 4, (m12 + m21) / s];
  } else {
    const s = 2 * Math.sqrt(1 + m22 - m00 - m11);
    q = [(m10 - m01) / s, (m02 + m20) / s, (m12 + m21) / s, s / 4];
  }
  return q[0] < 0 ? (q.map((e) => -e) as typeof q) : q;
}

/** The sform rows as a 4×4 matrix. */
export function sformAffine(h: NiftiHeader): Mat4 {
  return [...h.srow, 0, 0, 0, 1];
}

/** nibabel's `get_base_affine`: pixdim scaling, x flipped, centred on the middle voxel. */
export function baseAffine(h: NiftiHeader): Mat4 {
  const ndim = h.dim[0];
  const zooms = fixedZooms(h);
  const shape = [0, 1, 2].map((n) => (n < ndim ? h.dim[n + 1] : 1));
  const z = [0, 1, 2].map((n) => (n < ndim ? zooms[n] : 1));
  z[0] = -z[0];
  const t = z.map((zn, n) => (-(shape[n] - 1) / 2) * zn);
  return [z[0], 0, 0, t[0], 0, z[1], 0, t[1], 0, 0, z[2], t[2], 0, 0, 0, 1];
}
