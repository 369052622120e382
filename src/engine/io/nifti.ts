/**
 * NIfTI-1 and NIfTI-2 (.nii, .nii.gz, .hdr/.img pairs) → Volume, and Volume → NIfTI-1, behaving as
 * nibabel users expect: `img.affine` is the geometry, `get_fdata()` the values.
 */
import { affineToRAS, geometryFromRAS, type Mat4, type Volume, type VoxelArray } from '../volume';
import { InputError } from './errors';
import { gunzip, gzip, isGzip } from './gzip';
import type { NamedBytes } from './named-bytes';
import { baseAffine, matrixToQuaternion, NIFTI_DATATYPES, type NiftiHeader, parseNiftiHeader, qformAffine, sformAffine, sniffNifti } from './nifti-header';
import { decodeVoxels, forEachBlock, HOST_LITTLE_ENDIAN, swapBytes, VOXEL_BYTES, type VoxelType, voxelArray, voxelTypeOf } from './nifti-voxels';
import { guessUnits, summarizeScaled, summarizeValues } from './units';

export type { NamedBytes } from './named-bytes';

/** True for (already decompressed) bytes that start with a NIfTI-1 or NIfTI-2 header, either endianness. */
export function isNifti(bytes: Uint8Array): boolean {
  return sniffNifti(bytes) !== null;
}

/** The file's bytes, gunzipped if needed; `owned` says whether the reader may modify them. */
async function inflate(file: NamedBytes): Promise<{ bytes: Uint8Array; owned: boolean }> {
  return isGzip(file.bytes) ? { bytes: await gunzip(file.bytes, file.name), owned: true } : { bytes: file.bytes, owned: false };
}

/** A typed array larger than this cannot be allocated in every browser. */
const MAX_VOLUME_BYTES = 2 ** 31 - 1;

/**
 * Reads a NIfTI file. For a .hdr/.img pair pass the header as `file` and the image as `pair` (the
 * other way round works too). Loads the first volume of 4D/5D files, with a notice. Values are
 * scaled by scl_slope/scl_inter as nibabel does; the stored typed array is kept when scaling is the
 * identity (or integral and fits an integer type), else the values become a Float32Array.
 * The returned data may share memory with `file.bytes` when that was uncompressed.
 */
export async function readNifti(file: NamedBytes, pair?: NamedBytes): Promise<Volume> {
  let main = await inflate(file);
  if (!isNifti(main.bytes) && pair) {
    const other = await inflate(pair);
    if (isNifti(other.bytes)) {
      [file, pair] = [pair, file];
      main = other;
    }
  }
  if (!isNifti(main.bytes)) throw new InputError(file.name, notNiftiReason(main.bytes));
  const h = parseNiftiHeader(main.bytes, file.name);

  const shape = checkedShape(h, file.name);
  const volumes = shape.slice(3).reduce((a, b) => a * b, 1);
  const info = NIFTI_DATATYPES[h.datatype];
  if (!info?.type) throw new InputError(file.name, `unsupported datatype ${h.datatype} (${info?.name ?? 'unknown'})`);
  const type = info.type;
  const count = shape[0] * shape[1] * shape[2];
  if (count * VOXEL_BYTES[type] > MAX_VOLUME_BYTES) {
    throw new InputError(file.name, `volume too large (${shape.slice(0, 3).join('×')} ${info.name} is over 2 GiB)`);
  }

  // Where the voxels are: after the header in a single file, in the .img of a pair.
  let data = main;
  let dataName = file.name;
  let offset = Math.floor(h.voxOffset);
  if (!(offset >= 0)) throw new InputError(file.name, `invalid vox_offset ${h.voxOffset} in the header`);
  if (h.single) {
    offset = Math.max(offset, h.headerSize + 4); // nibabel's fix for offsets inside the header
  } else {
    if (!pair) throw new InputError(file.name, `header of a .hdr/.img pair: its image file ${imageNameFor(file.name)} is missing; open both files together`);
    data = await inflate(pair);
    dataName = pair.name;
  }
  const expected = offset + count * volumes * VOXEL_BYTES[type];
  if (data.bytes.length < expected) {
    throw new InputError(dataName, `data is shorter than the header says: expected ${expected} bytes, got ${data.bytes.length}`);
  }

  const raw = decodeVoxels({ bytes: data.bytes, offset, count, type, littleEndian: h.littleEndian, owned: data.owned });
  const rawSummary = summarizeValues(raw);
  const scale = scaling(h, file.name);
  const ownsRaw = data.owned || raw.buffer !== data.bytes.buffer;
  const values = scale ? applyScaling(raw, scale, [rawSummary.min, rawSummary.max], ownsRaw) : raw;
  const summary = scale ? summarizeScaled(rawSummary, scale.slope, scale.inter, values) : rawSummary;
  const notices: string[] = [];
  if (volumes > 1) notices.push(`${h.dim[0]}D file (${shape.join('x')}): showing volume 1 of ${volumes}`);
  const geometry = bestGeometry(h, file.name, notices);
  return {
    data: values,
    dims: [shape[0], shape[1], shape[2]],
    ...geometry,
    units: guessUnits(summary),
    notices,
    source: { format: `NIfTI-${h.version}`, name: file.name },
  };
}

function notNiftiReason(bytes: Uint8Array): string {
  if (bytes.length < 348) return `not a NIfTI file (only ${bytes.length} bytes; a NIfTI header has 348 or 540)`;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getInt32(0, true) === 348 || v.getInt32(0, false) === 348) {
    return 'not a NIfTI file (an Analyze 7.5 header without the NIfTI magic string; not supported)';
  }
  return `not a NIfTI file (sizeof_hdr is ${v.getInt32(0, true)}, not 348 or 540)`;
}

function imageNameFor(hdrName: string): string {
  return /\.hdr(\.gz)?$/i.test(hdrName) ? hdrName.replace(/\.hdr(\.gz)?$/i, (_, gz) => `.img${gz ?? ''}`) : `the .img file`;
}

/** dim[1..dim[0]], each at least 1, padded with 1 to three spatial dimensions. */
function checkedShape(h: NiftiHeader, fileName: string): number[] {
  const ndim = h.dim[0];
  if (!(ndim >= 1 && ndim <= 7)) throw new InputError(fileName, `invalid number of dimensions dim[0] = ${ndim} (must be 1 to 7)`);
  const shape = [1, 1, 1];
  for (let n = 1; n <= ndim; n++) {
    const size = h.dim[n];
    if (!(size >= 1 && size <= 2 ** 31)) throw new InputError(fileName, `invalid size dim[${n}] = ${size} in the header`);
    shape[n - 1] = size;
  }
  return shape;
}

type IntArrayType = typeof Int8Array | typeof Uint8Array | typeof Int16Array | typeof Uint16Array | typeof Int32Array | typeof Uint32Array;
const INT_RANGES = new Map<IntArrayType, [number, number]>([
  [Int8Array, [-128, 127]],
  [Uint8Array, [0, 255]],
  [Int16Array, [-32768, 32767]],
  [Uint16Array, [0, 65535]],
  [Int32Array, [-(2 ** 31), 2 ** 31 - 1]],
  [Uint32Array, [0, 2 ** 32 - 1]],
]);

/**
 * nibabel's get_slope_inter: slope 0 or not finite means no scaling. Integral scaling of integers
 * stays integral in the first of (stored type, int16, int32) that holds the result (CT from
 * dcm2niix: int16 with 1/-1024); anything else becomes float32. `range` is the raw min and max.
 */
function applyScaling(raw: VoxelArray, scale: { slope: number; inter: number }, range: [number, number], ownsRaw: boolean): VoxelArray {
  const { slope, inter } = scale;
  let out: VoxelArray | undefined;
  const rawType = raw.constructor as IntArrayType;
  if (INT_RANGES.has(rawType) && Number.isInteger(slope) && Number.isInteger(inter)) {
    const ends = range.map((e) => e * slope + inter);
    const fits = (t: IntArrayType) => ends.every((e) => e >= INT_RANGES.get(t)![0] && e <= INT_RANGES.get(t)![1]);
    const target = [rawType, Int16Array, Int32Array].find(fits);
    if (target) out = target === rawType && ownsRaw ? raw : new target(raw.length);
  }
  out ??= new Float32Array(raw.length);
  const dest = out;
  forEachBlock(raw, (block, start) => {
    for (let n = 0; n < block.length; n++) block[n] = block[n] * slope + inter;
    dest.set(block, start);
  });
  return out;
}

/** scl_slope / scl_inter as nibabel reads them, or null when they mean "no scaling". */
function scaling(h: NiftiHeader, fileName: string): { slope: number; inter: number } | null {
  const { sclSlope: slope, sclInter: inter } = h;
  if (slope === 0 || !Number.isFinite(slope)) return null;
  if (!Number.isFinite(inter)) throw new InputError(fileName, `valid scl_slope ${slope} but invalid scl_inter ${inter}`);
  return slope === 1 && inter === 0 ? null : { slope, inter };
}

/**
 * nibabel's get_best_affine (sform if sform_code ≠ 0, else qform if qform_code ≠ 0, else the
 * pixdim affine). Should the chosen one not be a valid grid (shear, zero axis, NaN), the next one is
 * used and the user told.
 */
function bestGeometry(h: NiftiHeader, fileName: string, notices: string[]): Pick<Volume, 'spacing' | 'origin' | 'direction'> {
  const candidates: { name: string; affine: () => Mat4 }[] = [];
  if (h.sformCode !== 0) candidates.push({ name: 'sform', affine: () => sformAffine(h) });
  if (h.qformCode !== 0) candidates.push({ name: 'qform', affine: () => qformAffine(h, fileName) });
  candidates.push({ name: 'pixdim', affine: () => baseAffine(h) });
  const problems: string[] = [];
  for (const c of candidates) {
    try {
      const a = c.affine();
      if (!a.every(Number.isFinite)) throw new Error('it has non-finite values');
      const geometry = geometryFromRAS(a);
      if (problems.length) notices.push(`${problems.join('; ')}; using the ${c.name} geometry`);
      return geometry;
    } catch (e) {
      problems.push(`the ${c.name} is unusable (${e instanceof InputError ? e.reason : (e as Error).message})`);
    }
  }
  throw new InputError(fileName, problems.join('; '));
}

export interface NiftiWriteOptions {
  /** gzip the file (.nii.gz); default true. */
  gzip?: boolean;
  /** Goes into the header's 80-character `descrip`. */
  description?: string;
  /** Stored voxel type; 'auto' (default) keeps the array's own. Integer types refuse values they cannot hold. */
  datatype?: 'auto' | Exclude<VoxelType, 'int64' | 'uint64'>;
}

const DATATYPE_CODES: Record<string, number> = Object.fromEntries(
  Object.entries(NIFTI_DATATYPES).flatMap(([code, t]) => (t.type ? [[t.type, Number(code)]] : [])),
);

/**
 * A single-file NIfTI-1, little-endian, with both sform and qform (codes 1, as dcm2niix writes)
 * holding `affineToRAS(vol)`, scl_slope 1 / scl_inter 0, units mm.
 */
export async function writeNifti(vol: Volume, opts: NiftiWriteOptions = {}): Promise<Uint8Array> {
  const name = vol.source?.name ?? 'volume';
  const type = !opts.datatype || opts.datatype === 'auto' ? voxelTypeOf(vol.data) : opts.datatype;
  const data = type === voxelTypeOf(vol.data) ? vol.data : convertVoxels(vol.data, type as Exclude<VoxelType, 'int64' | 'uint64'>, name);
  const voxOffset = 352;
  const out = new Uint8Array(voxOffset + data.byteLength);
  const v = new DataView(out.buffer);
  const a = affineToRAS(vol);

  v.setInt32(0, 348, true);
  out[38] = 'r'.charCodeAt(0);
  [3, ...vol.dims, 1, 1, 1, 1].forEach((d, n) => v.setInt16(40 + 2 * n, d, true));
  v.setInt16(70, DATATYPE_CODES[type], true);
  v.setInt16(72, VOXEL_BYTES[type] * 8, true);
  const { quaternion, qfac } = qformOf(vol);
  [qfac, ...vol.spacing, 1, 1, 1, 1].forEach((p, n) => v.setFloat32(76 + 4 * n, p, true));
  v.setFloat32(108, voxOffset, true);
  v.setFloat32(112, 1, true);
  v.setFloat32(116, 0, true);
  out[123] = 2; // xyzt_units: NIFTI_UNITS_MM
  const text = (opts.description ?? '').replace(/[^\x20-\x7e]/g, '?').slice(0, 79);
  for (let n = 0; n < text.length; n++) out[148 + n] = text.charCodeAt(n);
  v.setInt16(252, 1, true); // qform_code: scanner anatomical
  v.setInt16(254, 1, true); // sform_code
  quaternion.slice(1).forEach((q, n) => v.setFloat32(256 + 4 * n, q, true));
  [a[3], a[7], a[11]].forEach((t, n) => v.setFloat32(268 + 4 * n, t, true));
  a.slice(0, 12).forEach((x, n) => v.setFloat32(280 + 4 * n, x, true));
  out.set([0x6e, 0x2b, 0x31, 0], 344); // "n+1\0"; bytes 348..351 stay 0: no extensions

  const body = out.subarray(voxOffset);
  body.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  if (!HOST_LITTLE_ENDIAN) swapBytes(body, VOXEL_BYTES[type]);
  return opts.gzip === false ? out : gzip(out);
}

/** Quaternion (w ≥ 0) and qfac of the volume's direction in RAS, as the NIfTI qform wants them. */
function qformOf(vol: Volume): { quaternion: number[]; qfac: 1 | -1 } {
  const a = affineToRAS(vol);
  const r = [0, 1, 2].flatMap((row) => [0, 1, 2].map((col) => a[4 * row + col] / vol.spacing[col]));
  const det = r[0] * (r[4] * r[8] - r[5] * r[7]) - r[1] * (r[3] * r[8] - r[5] * r[6]) + r[2] * (r[3] * r[7] - r[4] * r[6]);
  const qfac = det < 0 ? -1 : 1;
  if (qfac < 0) for (const n of [2, 5, 8]) r[n] = -r[n]; // the qform's proper rotation has the k axis negated
  return { quaternion: matrixToQuaternion(r), qfac };
}

function convertVoxels(data: VoxelArray, type: Exclude<VoxelType, 'int64' | 'uint64'>, name: string): VoxelArray {
  const out = voxelArray(type, data.length);
  const isFloat = out instanceof Float32Array || out instanceof Float64Array;
  for (let n = 0; n < data.length; n++) {
    out[n] = data[n];
    if (!isFloat && out[n] !== data[n]) {
      throw new InputError(name, `cannot store value ${data[n]} (voxel ${n}) as ${type} without loss`);
    }
  }
  return out;
}
