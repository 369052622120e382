/**
 * The NRRD text header (http://teem.sourceforge.net/nrrd/format.html): magic line, `field: value`
 * lines, `key:=value` lines, `#` comments, ended by a blank line (attached data) or the end of file
 * (detached header).
 *
 * Written by hand rather than with nrrd-js: nrrd-js requires Node's `assert` module (absent in Web
 * Workers), logs console warnings for gzip data (which it cannot decode) and copies the buffer;
 * the header itself is a few lines of text.
 */
import { InputError } from './errors';
import type { VoxelType } from './nifti-voxels';

export interface NrrdHeader {
  /** Field values by lower-case field name with inner spaces removed ("spacedirections"). */
  fields: Map<string, string>;
  /** Byte offset just after the blank line, or the file length when there is none. */
  dataStart: number;
}

const MAGIC = 'NRRD000';

export function isNrrdMagic(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && String.fromCharCode(...bytes.subarray(0, 7)) === MAGIC;
}

export function parseNrrdHeader(bytes: Uint8Array, fileName: string): NrrdHeader {
  if (!isNrrdMagic(bytes)) throw new InputError(fileName, 'not a NRRD file (no NRRD000x magic)');
  let dataStart = bytes.length;
  for (let n = 1; n < bytes.length; n++) {
    if (bytes[n] !== 10) continue;
    if (bytes[n - 1] === 10 || (bytes[n - 1] === 13 && bytes[n - 2] === 10)) {
      dataStart = n + 1;
      break;
    }
  }
  const text = new TextDecoder('latin1').decode(bytes.subarray(0, dataStart));
  const fields = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n];
    if (line === '' || line.startsWith('#') || /^[^:]*:=/.test(line)) continue; // comments, key/value pairs
    const m = /^([^:]+): ?(.*)$/.exec(line);
    if (!m) throw new InputError(fileName, `malformed NRRD header line ${n + 1}: "${line.slice(0, 60)}"`);
    const name = m[1].toLowerCase().replace(/\s+/g, '');
    fields.set(name, m[2].trim());
    if (name === 'datafile' && /^LIST/.test(m[2].trim())) break; // the file names follow
  }
  return { fields, dataStart };
}

const TYPES: [VoxelType, string[]][] = [
  ['int8', ['signed char', 'int8', 'int8_t']],
  ['uint8', ['uchar', 'unsigned char', 'uint8', 'uint8_t']],
  ['int16', ['short', 'short int', 'signed short', 'signed short int', 'int16', 'int16_t']],
  ['uint16', ['ushort', 'unsigned short', 'unsigned short int', 'uint16', 'uint16_t']],
  ['int32', ['int', 'signed int', 'int32', 'int32_t']],
  ['uint32', ['uint', 'unsigned int', 'uint32', 'uint32_t']],
  ['int64', ['longlong', 'long long', 'long long int', 'signed long long', 'signed long long int', 'int64', 'int64_t']],
  ['uint64', ['ulonglong', 'unsigned long long', 'unsigned long long int', 'uint64', 'uint64_t']],
  ['float32', ['float']],
  ['float64', ['double']],
];

export function nrrdVoxelType(name: string, fileName: string): VoxelType {
  const found = TYPES.find(([, names]) => names.includes(name.toLowerCase()));
  if (!found) throw new InputError(fileName, `unsupported NRRD type '${name}'`);
  return found[0];
}

/** The NRRD type name the writer uses for each voxel type. */
export const NRRD_TYPE_NAMES: Record<VoxelType, string> = {
  int8: 'int8', uint8: 'uint8', int16: 'short', uint16: 'ushort', int32: 'int', uint32: 'uint',
  int64: 'int64', uint64: 'uint64', float32: 'float', float64: 'double',
};

/** "(1,0,0) none (0,1,0)" → [[1,0,0], null, [0,1,0]]. */
export function parseVectors(value: string, fileName: string, field: string): (number[] | null)[] {
  const out: (number[] | null)[] = [];
  const re = /\(([^)]*)\)|none/g;
  for (const m of value.matchAll(re)) {
    if (m[0] === 'none') out.push(null);
    else out.push(m[1].split(',').map((x) => Number(x.trim())));
  }
  if (out.some((v) => v && v.some((x) => !Number.isFinite(x)))) throw new InputError(fileName, `malformed NRRD '${field}': ${value}`);
  return out;
}

/** Whitespace-separated numbers ("512 512 3"). */
export function parseNumbers(value: string): number[] {
  return value.split(/\s+/).filter(Boolean).map(Number);
}
