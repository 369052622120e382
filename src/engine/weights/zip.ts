/**
 * Minimal ZIP access for PyTorch checkpoints.
 *
 * Reading parses the central directory by hand because PyTorch stores tensors uncompressed and
 * 64-byte aligned: returning `subarray` views lets a 40 MB+ checkpoint be read without a second
 * copy (fflate's unzipSync copies every entry). Deflated entries (a re-zipped file) go through
 * fflate. Writing uses fflate's zipSync with stored entries and pads each local header with an
 * extra field so that entry data starts on a 64-byte boundary, as PyTorch's own writer does.
 */
import { inflateSync, zipSync, type Zippable } from 'fflate';

const LOCAL_SIG = 0x04034b50;
const CENTRAL_SIG = 0x02014b50;
const EOCD_SIG = 0x06054b50;
/** Extra-field id PyTorch uses for its alignment padding ("FB"). */
const PAD_EXTRA_ID = 0x4246;
export const ZIP_ALIGNMENT = 64;

export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

/** Entry name -> contents (a view into `bytes` for stored entries). Throws Error with the reason. */
export function readZipEntries(bytes: Uint8Array): Map<string, Uint8Array> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let p = bytes.length - 22; p >= Math.max(0, bytes.length - 22 - 0xffff); p--) {
    if (view.getUint32(p, true) === EOCD_SIG) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) throw new Error('ZIP end-of-central-directory record not found (truncated file?)');
  const count = view.getUint16(eocd + 10, true);
  const cdOffset = view.getUint32(eocd + 16, true);
  if (count === 0xffff || cdOffset === 0xffffffff) throw new Error('ZIP64 archives (> 4 GB or > 65535 entries) are not supported');
  const decoder = new TextDecoder();
  const entries = new Map<string, Uint8Array>();
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > bytes.length || view.getUint32(p, true) !== CENTRAL_SIG) throw new Error(`ZIP central directory entry ${i} is corrupt`);
    const method = view.getUint16(p + 10, true);
    const compSize = view.getUint32(p + 20, true);
    const size = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    const local = view.getUint32(p + 42, true);
    const name = decoder.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    p += 46 + nameLen + extraLen + commentLen;
    if (local + 30 > bytes.length || view.getUint32(local, true) !== LOCAL_SIG) throw new Error(`ZIP local header of ${name} is corrupt`);
    const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    if (start + compSize > bytes.length) throw new Error(`ZIP entry ${name} runs past the end of the file (truncated?)`);
    const raw = bytes.subarray(start, start + compSize);
    if (method === 0) entries.set(name, raw);
    else if (method === 8) entries.set(name, inflateSync(raw, { out: new Uint8Array(size) }));
    else throw new Error(`ZIP entry ${name} uses compression method ${method} (only stored and deflate are supported)`);
  }
  return entries;
}

/** A ZIP with stored (uncompressed) entries in the given order, each entry's data 64-byte aligned. */
export function writeStoredZip(entries: ReadonlyArray<readonly [string, Uint8Array]>): Uint8Array {
  const files: Zippable = {};
  const encoder = new TextEncoder();
  const mtime = new Date(1980, 0, 1); // fixed: identical input gives identical bytes
  let offset = 0;
  for (const [name, data] of entries) {
    const headerEnd = offset + 30 + encoder.encode(name).length;
    let pad = (ZIP_ALIGNMENT - (headerEnd % ZIP_ALIGNMENT)) % ZIP_ALIGNMENT;
    if (pad > 0 && pad < 4) pad += ZIP_ALIGNMENT; // an extra field needs at least its 4-byte header
    const extra = pad > 0 ? { [PAD_EXTRA_ID]: new Uint8Array(pad - 4) } : undefined;
    files[name] = [data, { level: 0, mtime, ...(extra ? { extra } : {}) }];
    offset = headerEnd + pad + data.length;
  }
  return zipSync(files);
}
