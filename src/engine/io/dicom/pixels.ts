/**
 * Stored pixel values of one frame of a parsed DICOM file: native (uncompressed, either byte order,
 * 1 to 32 bits) read here, encapsulated frames cut out of their fragments and handed to codecs.ts.
 */
import dicomParser from 'dicom-parser';
import { InputError } from '../errors';
import { TAG, TS, transferSyntaxName, transferSyntaxOf, uint, numberOfFrames, str, type DataSet } from './dataset';
import { decodeCompressedFrame, isCompressedSyntaxSupported, type FrameFormat, type StoredArray } from './codecs';

export type { FrameFormat, StoredArray };

const NATIVE = new Set<string>([TS.implicitLE, TS.explicitLE, TS.deflated, TS.explicitBE]);

export function hasPixelData(ds: DataSet): boolean {
  const el = ds.elements[TAG.pixelData];
  return !!el && (el.length > 0 || !!el.encapsulatedPixelData);
}

export function frameFormat(ds: DataSet): FrameFormat {
  return {
    rows: uint(ds, TAG.rows) ?? 0,
    columns: uint(ds, TAG.columns) ?? 0,
    samplesPerPixel: uint(ds, TAG.samplesPerPixel) ?? 1,
    bitsAllocated: uint(ds, TAG.bitsAllocated) ?? 16,
    bitsStored: uint(ds, TAG.bitsStored) ?? uint(ds, TAG.bitsAllocated) ?? 16,
    pixelRepresentation: uint(ds, TAG.pixelRepresentation) ?? 0,
    planarConfiguration: uint(ds, TAG.planarConfiguration) ?? 0,
  };
}

/** Why this file's pixels cannot be read (unsupported syntax, colour, odd bit depth), or undefined when they can. */
export function pixelProblem(ds: DataSet): string | undefined {
  const ts = transferSyntaxOf(ds);
  if (!NATIVE.has(ts) && !isCompressedSyntaxSupported(ts)) return `unsupported ${transferSyntaxName(ts)}`;
  const f = frameFormat(ds);
  if (!f.rows || !f.columns) return 'no Rows/Columns';
  if (f.samplesPerPixel !== 1) return `colour image (${str(ds, TAG.photometric) || `${f.samplesPerPixel} samples per pixel`}); only greyscale volumes are supported`;
  if (![1, 8, 16, 32].includes(f.bitsAllocated)) return `unsupported Bits Allocated ${f.bitsAllocated}`;
  return undefined;
}

/** Stored values of frame `frame` (0-based), signed values sign-extended from Bits Stored. */
export async function readFrame(fileName: string, ds: DataSet, frame: number): Promise<StoredArray> {
  const problem = pixelProblem(ds);
  if (problem) throw new InputError(fileName, problem);
  const el = ds.elements[TAG.pixelData];
  if (!el) throw new InputError(fileName, 'no pixel data');
  const f = frameFormat(ds);
  const ts = transferSyntaxOf(ds);
  const values = el.encapsulatedPixelData
    ? await decodeCompressedFrame(ts, encapsulatedFrame(fileName, ds, frame), f, fileName, frame)
    : nativeFrame(fileName, ds, frame, f, ts === TS.explicitBE);
  return signExtend(values, f);
}

function nativeFrame(fileName: string, ds: DataSet, frame: number, f: FrameFormat, bigEndian: boolean): StoredArray {
  const el = ds.elements[TAG.pixelData];
  const samples = f.rows * f.columns * f.samplesPerPixel;
  const bytes = ds.byteArray.subarray(el.dataOffset, el.dataOffset + el.length);
  if (f.bitsAllocated === 1) return unpackBits(fileName, bytes, frame * samples, samples);
  const size = f.bitsAllocated / 8;
  const start = frame * samples * size;
  if (start + samples * size > bytes.length) {
    throw new InputError(fileName, `pixel data too short for frame ${frame + 1}: ${bytes.length} bytes for ${numberOfFrames(ds)} frame(s) of ${f.rows}×${f.columns}×${f.bitsAllocated} bits`);
  }
  const copy = bytes.slice(start, start + samples * size);
  if (bigEndian && size > 1) swapBytes(copy, size);
  const signed = f.pixelRepresentation === 1;
  if (size === 1) return signed ? new Int8Array(copy.buffer) : copy;
  if (size === 2) return signed ? new Int16Array(copy.buffer) : new Uint16Array(copy.buffer);
  return signed ? new Int32Array(copy.buffer) : new Uint32Array(copy.buffer);
}

function swapBytes(bytes: Uint8Array, size: number): void {
  for (let p = 0; p < bytes.length; p += size) {
    for (let a = p, b = p + size - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

/**
 * 1-bit frames are packed back to back with no padding between frames, so a frame may start in the
 * middle of a byte (e.g. 3×3 frames); bit order is least significant first (PS3.5 §8.1.1).
 */
function unpackBits(fileName: string, bytes: Uint8Array, firstBit: number, count: number): Uint8Array {
  if (firstBit + count > bytes.length * 8) throw new InputError(fileName, `1-bit pixel data too short (${bytes.length} bytes)`);
  const out = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    const bit = firstBit + n;
    out[n] = (bytes[bit >> 3] >> (bit & 7)) & 1;
  }
  return out;
}

/** Two's-complement values narrower than their container (e.g. 12 of 16 bits) get their sign bit extended. */
function signExtend(values: StoredArray, f: FrameFormat): StoredArray {
  if (f.pixelRepresentation !== 1 || f.bitsStored >= f.bitsAllocated || f.bitsAllocated === 1) return values;
  const shift = 32 - f.bitsStored;
  for (let n = 0; n < values.length; n++) values[n] = (values[n] << shift) >> shift;
  return values;
}

/**
 * The compressed bytes of one frame. With a Basic Offset Table dicom-parser finds it directly;
 * without one, one fragment per frame is the rule (and a lone frame owns all fragments); otherwise
 * frame starts are found by their codestream markers (JPEG SOI via dicom-parser, J2K SOC here).
 */
function encapsulatedFrame(fileName: string, ds: DataSet, frame: number): Uint8Array {
  const el = ds.elements[TAG.pixelData];
  const fragments = el.fragments ?? [];
  const frames = numberOfFrames(ds);
  if (frame >= frames) throw new InputError(fileName, `frame ${frame + 1} of ${frames} requested`);
  try {
    if (el.basicOffsetTable?.length) return dicomParser.readEncapsulatedImageFrame(ds, el, frame);
    if (frames === 1) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, 0, fragments.length);
    if (fragments.length === frames) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, frame, 1);
    const ts = transferSyntaxOf(ds);
    if (ts.startsWith('1.2.840.10008.1.2.4.5') || ts.startsWith('1.2.840.10008.1.2.4.7')) {
      return dicomParser.readEncapsulatedImageFrame(ds, el, frame, dicomParser.createJPEGBasicOffsetTable(ds, el));
    }
    const starts = fragments
      .map((fr, n) => ({ n, soc: ds.byteArray[fr.position] === 0xff && ds.byteArray[fr.position + 1] === 0x4f }))
      .filter((x) => x.soc)
      .map((x) => x.n);
    if (starts.length !== frames) throw new Error(`${fragments.length} fragments for ${frames} frames and no offset table`);
    const end = frame + 1 < frames ? starts[frame + 1] : fragments.length;
    return dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, starts[frame], end - starts[frame]);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(fileName, `cannot locate frame ${frame + 1} in the encapsulated pixel data (${e instanceof Error ? e.message : String(e)})`);
  }
}
