/**
 * Decoders for the encapsulated (compressed) transfer syntaxes. Only maintained codecs, each loaded
 * on first use:
 *
 * | transfer syntax                         | codec                                                    |
 * |-----------------------------------------|----------------------------------------------------------|
 * | JPEG 2000 (lossless and lossy)          | OpenJPEG, `@cornerstonejs/codec-openjpeg` (WASM)         |
 * | JPEG-LS (lossless and near-lossless)    | CharLS, `@cornerstonejs/codec-charls` (WASM)             |
 * | JPEG baseline / extended, 8-bit         | libjpeg-turbo, `@cornerstonejs/codec-libjpeg-turbo-8bit` |
 * | JPEG extended, 12-bit                   | dicom-image-loader's JpegImage (pdf.js lineage)          |
 * | JPEG lossless (process 14, SV1 and any) | `jpeg-lossless-decoder-js`                               |
 * | RLE Lossless (8, 16 and 1 bit)          | dicom-image-loader's decodeRLE                           |
 *
 * WASM in both worlds: in Node (vitest, the CLIs) each Emscripten module reads its .wasm from beside
 * its own script (its Node branch uses `__dirname`), so no option is needed; in a browser or Worker
 * the Vite-emitted URL of the .wasm (`?url` import) is handed over through `locateFile`.
 *
 * dicom-image-loader exports its decoders only from its package root, which also pulls in
 * Cornerstone core (≈11 MB once bundled) — too much for the engine worker. Its RLE decoder and
 * 12-bit JPEG decoder are self-contained files without imports, so they are imported by path.
 */
import { InputError } from '../errors';
import { transferSyntaxName } from './dataset';

export interface FrameFormat {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  /** 0 unsigned, 1 two's complement. */
  pixelRepresentation: number;
  planarConfiguration: number;
}

/** Stored pixel values of one frame, one element per sample (1-bit data: one byte per pixel, 0 or 1). */
export type StoredArray = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array;

type Decode = (data: Uint8Array, f: FrameFormat) => Promise<StoredArray>;

const CODECS: Record<string, Decode> = {
  '1.2.840.10008.1.2.5': decodeRle,
  '1.2.840.10008.1.2.4.50': decodeJpeg8,
  '1.2.840.10008.1.2.4.51': (d, f) => (f.bitsAllocated <= 8 ? decodeJpeg8(d, f) : decodeJpeg12(d, f)),
  '1.2.840.10008.1.2.4.57': decodeJpegLossless,
  '1.2.840.10008.1.2.4.70': decodeJpegLossless,
  '1.2.840.10008.1.2.4.80': decodeJpegLs,
  '1.2.840.10008.1.2.4.81': decodeJpegLs,
  '1.2.840.10008.1.2.4.90': decodeJpeg2000,
  '1.2.840.10008.1.2.4.91': decodeJpeg2000,
};

export function isCompressedSyntaxSupported(uid: string): boolean {
  return uid in CODECS;
}

/** Decodes one compressed frame to stored values; codec failures become an InputError naming the file. */
export async function decodeCompressedFrame(uid: string, data: Uint8Array, f: FrameFormat, fileName: string, frame: number): Promise<StoredArray> {
  const decode = CODECS[uid];
  if (!decode) throw new InputError(fileName, `unsupported ${transferSyntaxName(uid)}`);
  let out: StoredArray;
  try {
    out = await decode(data, f);
  } catch (e) {
    throw new InputError(fileName, `cannot decode frame ${frame + 1} (${transferSyntaxName(uid)}): ${codecMessage(e)}`);
  }
  const expected = f.rows * f.columns * f.samplesPerPixel;
  if (out.length < expected) {
    throw new InputError(fileName, `frame ${frame + 1} decodes to ${out.length} samples, expected ${f.rows}×${f.columns}×${f.samplesPerPixel}`);
  }
  return out.length === expected ? out : out.subarray(0, expected);
}

function codecMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return typeof e === 'number' ? `codec error ${e}` : String(e);
}

/** Copies little-endian sample bytes into a fresh array of the frame's stored type. */
function storedFromBytes(bytes: Uint8Array, bytesPerSample: number, signed: boolean): StoredArray {
  const copy = bytes.slice();
  if (bytesPerSample === 1) return signed ? new Int8Array(copy.buffer) : copy;
  if (bytesPerSample === 2) return signed ? new Int16Array(copy.buffer, 0, copy.length >> 1) : new Uint16Array(copy.buffer, 0, copy.length >> 1);
  return signed ? new Int32Array(copy.buffer, 0, copy.length >> 2) : new Uint32Array(copy.buffer, 0, copy.length >> 2);
}

// ---- WASM codecs ----------------------------------------------------------------------------------

/** The decoder objects the three Emscripten codecs expose (same shape for all three). */
interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getDecodedBuffer(): Uint8Array;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned?: boolean };
}

const isNode = typeof process === 'object' && typeof process.versions?.node === 'string';
// OpenJPEG logs every header it reads; the codecs' own output is not for users.
const quiet = { print: () => undefined, printErr: () => undefined };

async function wasmDecoder(
  factory: () => Promise<{ default: (moduleArg?: object) => Promise<unknown> }>,
  wasmUrl: () => Promise<{ default: string }>,
  className: string,
): Promise<WasmDecoder> {
  const { default: create } = await factory();
  const url = isNode ? undefined : (await wasmUrl()).default;
  const module = (await create(url ? { ...quiet, locateFile: (f: string) => (f.endsWith('.wasm') ? url : f) } : quiet)) as Record<string, new () => WasmDecoder>;
  return new module[className]();
}

// One decoder instance per codec, created on first use; decoding is synchronous inside, so frames
// never interleave on it.
let openjpeg: Promise<WasmDecoder> | undefined;
let charls: Promise<WasmDecoder> | undefined;
let libjpeg: Promise<WasmDecoder> | undefined;

function runWasm(decoder: WasmDecoder, data: Uint8Array): { bytes: Uint8Array; info: ReturnType<WasmDecoder['getFrameInfo']> } {
  decoder.getEncodedBuffer(data.length).set(data);
  decoder.decode();
  // The decoded buffer is a view into WASM memory, reused by the next decode: copy it out now.
  return { bytes: decoder.getDecodedBuffer().slice(), info: decoder.getFrameInfo() };
}

async function decodeJpeg2000(data: Uint8Array, f: FrameFormat): Promise<StoredArray> {
  openjpeg ??= wasmDecoder(
    () => import('@cornerstonejs/codec-openjpeg/decodewasmjs'),
    () => import('@cornerstonejs/codec-openjpeg/decodewasm?url'),
    'J2KDecoder',
  );
  const { bytes, info } = runWasm(await openjpeg, data);
  return storedFromBytes(bytes, info.bitsPerSample > 8 ? 2 : 1, f.pixelRepresentation === 1 || !!info.isSigned);
}

async function decodeJpegLs(data: Uint8Array, f: FrameFormat): Promise<StoredArray> {
  charls ??= wasmDecoder(
    () => import('@cornerstonejs/codec-charls/decodewasmjs'),
    () => import('@cornerstonejs/codec-charls/decodewasm?url'),
    'JpegLSDecoder',
  );
  const { bytes, info } = runWasm(await charls, data);
  return storedFromBytes(bytes, info.bitsPerSample > 8 ? 2 : 1, f.pixelRepresentation === 1);
}

async function decodeJpeg8(data: Uint8Array, f: FrameFormat): Promise<StoredArray> {
  libjpeg ??= wasmDecoder(
    () => import('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs'),
    () => import('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasm?url'),
    'JPEGDecoder',
  );
  const { bytes } = runWasm(await libjpeg, data);
  return storedFromBytes(bytes, 1, f.pixelRepresentation === 1);
}

// ---- JavaScript codecs ----------------------------------------------------------------------------

async function decodeJpegLossless(data: Uint8Array, f: FrameFormat): Promise<StoredArray> {
  const { Decoder } = await import('jpeg-lossless-decoder-js');
  const bytesPerSample = f.bitsAllocated <= 8 ? 1 : 2;
  const out = new Decoder().decode(data.buffer, data.byteOffset, data.length, bytesPerSample);
  return storedFromBytes(new Uint8Array(out.buffer, out.byteOffset, out.byteLength), bytesPerSample, f.pixelRepresentation === 1);
}

async function decodeJpeg12(data: Uint8Array, f: FrameFormat): Promise<StoredArray> {
  const { default: JpegImage } = await import('../../../../node_modules/@cornerstonejs/dicom-image-loader/dist/esm/codecs/jpeg.js');
  const jpeg = new JpegImage() as InstanceType<typeof JpegImage> & { colorTransform?: boolean };
  jpeg.parse(data);
  jpeg.colorTransform = false;
  const out = jpeg.getData16(f.columns, f.rows);
  return f.pixelRepresentation === 1 ? new Int16Array(out.buffer, out.byteOffset, out.length) : out;
}

async function decodeRle(data: Uint8Array, f: FrameFormat): Promise<StoredArray> {
  const { default: decodeRLE } = await import('../../../../node_modules/@cornerstonejs/dicom-image-loader/dist/esm/shared/decoders/decodeRLE.js');
  // The decoder reads the 64-byte RLE header through a DataView at byteOffset: give it its own buffer.
  const frame = { ...f, pixelData: undefined as unknown as StoredArray };
  const done = (await decodeRLE(frame as never, data.slice())) as unknown as { pixelData: StoredArray };
  const px = done.pixelData;
  if (f.bitsAllocated === 8 && f.pixelRepresentation === 1) return new Int8Array(px.buffer, px.byteOffset, px.length);
  return px;
}
