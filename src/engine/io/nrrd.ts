/**
 * NRRD (.nrrd, .nhdr + detached data) → Volume, and Volume → .nrrd (gzip, LPS). Covers what 3D Slicer,
 * ITK and dcmqi write: raw or gzip data, either endianness, `space` LPS or RAS, `space directions`,
 * `space origin`, and non-spatial axes (a segmentation's layer axis, time), of which the first
 * sample is shown.
 */
import { geometryFromLPS, geometryFromRAS, type Mat4, type Vec3, type Volume, type VoxelArray } from '../volume';
import { InputError } from './errors';
import { gunzip, gzip, isGzip } from './gzip';
import type { NamedBytes } from './named-bytes';
import { isNrrdMagic, NRRD_TYPE_NAMES, nrrdVoxelType, parseNrrdHeader, parseNumbers, parseVectors } from './nrrd-header';
import { decodeVoxels, HOST_LITTLE_ENDIAN, swapBytes, VOXEL_BYTES, voxelTypeOf } from './nifti-voxels';
import { guessUnits, summarizeValues } from './units';

export type { NamedBytes } from './named-bytes';

/** True for bytes that start with the NRRD magic (attached-data files and detached headers alike). */
export function isNrrd(bytes: Uint8Array): boolean {
  return isNrrdMagic(bytes);
}

const SPACES: Record<string, 'LPS' | 'RAS'> = {
  'left-posterior-superior': 'LPS',
  lps: 'LPS',
  'right-anterior-superior': 'RAS',
  ras: 'RAS',
};

const SPATIAL_KINDS = new Set(['domain', 'space', '???', 'none']);

/**
 * Reads a NRRD file; for a detached header (.nhdr) pass the data file as `detached`.
 * The returned data may share memory with the input bytes when they were uncompressed.
 */
export async function readNrrd(file: NamedBytes, detached?: NamedBytes): Promise<Volume> {
  const { fields, dataStart } = parseNrrdHeader(file.bytes, file.name);
  const field = (name: string) => fields.get(name);
  const need = (name: string) => {
    const v = field(name);
    if (v === undefined) throw new InputError(file.name, `NRRD header has no '${name}' field`);
    return v;
  };
  const notices: string[] = [];

  const type = nrrdVoxelType(need('type'), file.name);
  const sizes = parseNumbers(need('sizes'));
  const dimension = Number(field('dimension') ?? sizes.length);
  if (sizes.length !== dimension || !sizes.every((s) => Number.isInteger(s) && s >= 1)) {
    throw new InputError(file.name, `invalid NRRD sizes '${field('sizes')}' for dimension ${dimension}`);
  }
  const encoding = need('encoding').toLowerCase();
  if (!['raw', 'gzip', 'gz'].includes(encoding)) throw new InputError(file.name, `unsupported NRRD encoding '${encoding}' (only raw and gzip)`);
  const endian = field('endian')?.toLowerCase();
  if (endian && endian !== 'little' && endian !== 'big') throw new InputError(file.name, `invalid NRRD endian '${endian}'`);
  if (!endian && VOXEL_BYTES[type] > 1) notices.push('NRRD header does not give the byte order; assuming little-endian');

  const { spatial, geometry } = spatialLayout(fields, sizes, file.name, notices);
  const count = sizes.reduce((a, b) => a * b, 1);
  const bytesNeeded = count * VOXEL_BYTES[type];
  if (spatial.reduce((a, axis) => a * sizes[axis], VOXEL_BYTES[type]) > 2 ** 31 - 1) {
    throw new InputError(file.name, `volume too large (${spatial.map((a) => sizes[a]).join('×')} ${type} is over 2 GiB)`);
  }

  // The data: after the header, or in the detached file; then decompressed; then skips.
  const dataFile = field('datafile');
  let source: NamedBytes;
  let bytes: Uint8Array;
  if (dataFile !== undefined) {
    if (/^LIST|%/.test(dataFile) || dataFile.split(/\s+/).length > 1) {
      throw new InputError(file.name, `NRRD data split over several files ('data file: ${dataFile}') is not supported`);
    }
    if (!detached) throw new InputError(file.name, `detached NRRD header: its data file ${dataFile} is missing; open both files together`);
    source = detached;
    bytes = detached.bytes;
  } else {
    source = file;
    bytes = file.bytes.subarray(dataStart);
  }
  bytes = bytes.subarray(skipLines(bytes, Number(field('lineskip') ?? 0)));
  let owned = false;
  if (encoding !== 'raw') {
    if (!isGzip(bytes)) throw new InputError(source.name, 'NRRD data is not gzip data although the header says so');
    bytes = await gunzip(bytes, source.name);
    owned = true;
  }
  const byteSkip = Number(field('byteskip') ?? 0);
  let offset = byteSkip;
  if (byteSkip === -1) {
    if (encoding !== 'raw') throw new InputError(file.name, "NRRD 'byte skip: -1' is only valid with raw encoding");
    offset = Math.max(0, bytes.length - bytesNeeded);
  }
  if (bytes.length < offset + bytesNeeded) {
    throw new InputError(source.name, `data is shorter than the header says: expected ${offset + bytesNeeded} bytes, got ${bytes.length}`);
  }
  const all = decodeVoxels({ bytes, offset, count, type, littleEndian: endian !== 'big', owned });
  const data = firstSample(all, sizes, spatial);
  const dims = [0, 1, 2].map((n) => (n < spatial.length ? sizes[spatial[n]] : 1)) as Vec3;
  return {
    data,
    dims,
    ...geometry,
    units: guessUnits(summarizeValues(data)),
    notices,
    source: { format: 'NRRD', name: file.name },
  };
}

function skipLines(bytes: Uint8Array, lines: number): number {
  let at = 0;
  for (let l = 0; l < lines; l++) {
    const nl = bytes.indexOf(10, at);
    if (nl < 0) return bytes.length;
    at = nl + 1;
  }
  return at;
}

/**
 * Which axes are spatial (in file order: they become i, j, k) and the voxel → LPS geometry.
 * Axes with a `space directions` vector are spatial; without a `space`, axes of a spatial kind are,
 * with `spacings` and an identity orientation.
 */
function spatialLayout(fields: Map<string, string>, sizes: number[], fileName: string, notices: string[]) {
  const kinds = fields.get('kinds')?.split(/\s+/) ?? sizes.map(() => 'domain');
  const spaceName = fields.get('space');
  const directions = fields.has('spacedirections') ? parseVectors(fields.get('spacedirections')!, fileName, 'space directions') : undefined;
  let space: 'LPS' | 'RAS' = 'LPS';
  if (spaceName !== undefined) {
    const s = SPACES[spaceName.toLowerCase()];
    if (!s) throw new InputError(fileName, `unsupported NRRD space '${spaceName}' (only left-posterior-superior and right-anterior-superior)`);
    space = s;
  } else {
    notices.push('NRRD file has no anatomical space; assuming LPS');
  }

  let spatial: number[];
  let columns: number[][];
  if (directions) {
    if (directions.length !== sizes.length) throw new InputError(fileName, `NRRD 'space directions' has ${directions.length} entries for ${sizes.length} axes`);
    spatial = sizes.map((_, a) => a).filter((a) => directions[a] !== null);
    columns = spatial.map((a) => directions[a]!);
    if (columns.some((c) => c.length !== 3)) throw new InputError(fileName, 'NRRD space directions must have 3 components');
  } else {
    spatial = sizes.map((_, a) => a).filter((a) => SPATIAL_KINDS.has(kinds[a]?.toLowerCase())).slice(0, 3);
    const spacings = fields.has('spacings') ? parseNumbers(fields.get('spacings')!) : [];
    columns = spatial.map((a, n) => {
      const s = Number.isFinite(spacings[a]) && spacings[a] > 0 ? spacings[a] : 1;
      return [0, 1, 2].map((r) => (r === n ? s : 0));
    });
  }
  if (spatial.length < 2 || spatial.length > 3) {
    throw new InputError(fileName, `NRRD with ${spatial.length} spatial axes is not a 2D or 3D image`);
  }
  if (spatial.length === 2) columns.push(unitNormal(columns[0], columns[1])); // one slice

  for (let a = 0; a < sizes.length; a++) {
    if (spatial.includes(a) || sizes[a] === 1) continue;
    notices.push(`NRRD axis ${a + 1} (${kinds[a] ?? 'non-spatial'}, ${sizes[a]} samples): showing sample 1 of ${sizes[a]}`);
  }

  const origin = fields.has('spaceorigin') ? parseVectors(fields.get('spaceorigin')!, fileName, 'space origin')[0] : [0, 0, 0];
  if (!origin || origin.length !== 3) throw new InputError(fileName, `malformed NRRD 'space origin': ${fields.get('spaceorigin')}`);
  const affine: Mat4 = [0, 1, 2].flatMap((r) => [columns[0][r], columns[1][r], columns[2][r], origin[r]]).concat([0, 0, 0, 1]);
  try {
    return { spatial, geometry: space === 'RAS' ? geometryFromRAS(affine) : geometryFromLPS(affine) };
  } catch (e) {
    throw new InputError(fileName, `unusable NRRD geometry: ${(e as Error).message}`);
  }
}

function unitNormal(a: number[], b: number[]): number[] {
  const c = [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
  const n = Math.hypot(c[0], c[1], c[2]);
  return c.map((x) => x / n);
}

/** The spatial sub-array at index 0 of every non-spatial axis (the data itself when there is none to drop). */
function firstSample(all: VoxelArray, sizes: number[], spatial: number[]): VoxelArray {
  const strides = sizes.map((_, a) => sizes.slice(0, a).reduce((p, s) => p * s, 1));
  const [a0, a1, a2] = spatial;
  const [n0, n1, n2] = [sizes[a0], sizes[a1], a2 === undefined ? 1 : sizes[a2]];
  if (n0 * n1 * n2 === all.length) return all;
  const [s0, s1, s2] = [strides[a0], strides[a1], a2 === undefined ? 0 : strides[a2]];
  const out = new (all.constructor as new (n: number) => VoxelArray)(n0 * n1 * n2);
  let o = 0;
  for (let k = 0; k < n2; k++) for (let j = 0; j < n1; j++) for (let i = 0; i < n0; i++) out[o++] = all[i * s0 + j * s1 + k * s2];
  return out;
}

/** A gzip-encoded, little-endian NRRD in LPS space, numbers written exactly (shortest round-trip form). */
export async function writeNrrd(vol: Volume): Promise<Uint8Array> {
  const type = voxelTypeOf(vol.data);
  const d = vol.direction;
  const axis = (c: number) => `(${[0, 1, 2].map((r) => d[3 * c + r] * vol.spacing[c]).join(',')})`;
  const header = [
    'NRRD0004',
    '# Complete NRRD file format specification at:',
    '# http://teem.sourceforge.net/nrrd/format.html',
    `type: ${NRRD_TYPE_NAMES[type]}`,
    'dimension: 3',
    'space: left-posterior-superior',
    `sizes: ${vol.dims.join(' ')}`,
    `space directions: ${axis(0)} ${axis(1)} ${axis(2)}`,
    'kinds: domain domain domain',
    'endian: little',
    'encoding: gzip',
    `space origin: (${vol.origin.join(',')})`,
    '',
    '',
  ].join('\n');
  const raw = new Uint8Array(vol.data.buffer, vol.data.byteOffset, vol.data.byteLength);
  const body = await gzip(HOST_LITTLE_ENDIAN ? raw : swapped(raw, VOXEL_BYTES[type]));
  const head = new TextEncoder().encode(header);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

function swapped(raw: Uint8Array, size: number): Uint8Array {
  const copy = raw.slice();
  swapBytes(copy, size);
  return copy;
}
