/**
 * gzip for the readers and writers, on the platform's native (de)compression streams: they exist in
 * browsers, Web Workers and Node ≥ 18, and run zlib natively, several times faster than a JS inflater.
 * fflate steps in only where a platform lacks them.
 */
import { gunzipSync as fflateGunzip, gzipSync as fflateGzip } from 'fflate';
import { InputError } from './errors';

/** True when the bytes start with the gzip magic (1f 8b) and the deflate method byte. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 18 && bytes[0] === 0x1f && bytes[1] === 0x8b && bytes[2] === 8;
}

const hasNativeStreams = typeof DecompressionStream === 'function' && typeof CompressionStream === 'function';

/**
 * Inflates a gzip file. Truncated or corrupt data is an `InputError` naming `fileName`.
 * The result usually owns its whole buffer (byteOffset 0, exact length), so callers may view it
 * with any typed array at an aligned offset, or modify it in place.
 */
export async function gunzip(bytes: Uint8Array, fileName: string): Promise<Uint8Array> {
  if (!isGzip(bytes)) throw new InputError(fileName, 'not gzip data');
  if (!hasNativeStreams) {
    try {
      return fflateGunzip(bytes);
    } catch (e) {
      throw corrupt(fileName, e);
    }
  }
  try {
    return await collect(pump(bytes, new DecompressionStream('gzip')), trailerSize(bytes));
  } catch (e) {
    throw corrupt(fileName, e);
  }
}

/** Deflates into a gzip file (default level). */
/**
 * The first `n` bytes (or fewer, if the data is shorter) of a gzip file's content, inflating no more
 * than that: enough to tell what the file holds without decompressing all of it. null when the
 * data is not readable gzip.
 */
export async function gunzipHead(bytes: Uint8Array, n: number): Promise<Uint8Array | null> {
  if (!isGzip(bytes)) return null;
  if (!hasNativeStreams) {
    try {
      return fflateGunzip(bytes).subarray(0, n);
    } catch {
      return null;
    }
  }
  const reader = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream('gzip')).getReader();
  const out = new Uint8Array(n);
  let got = 0;
  try {
    while (got < n) {
      const { done, value } = await reader.read();
      if (done) break;
      const take = Math.min(value.length, n - got);
      out.set(value.subarray(0, take), got);
      got += take;
    }
    return out.subarray(0, got);
  } catch {
    return got > 0 ? out.subarray(0, got) : null;
  } finally {
    void reader.cancel().catch(() => {});
  }
}

export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  if (!hasNativeStreams) return fflateGzip(bytes);
  return collect(pump(bytes, new CompressionStream('gzip')), Math.ceil(bytes.length / 2) + 1024);
}

function corrupt(fileName: string, e: unknown): InputError {
  const why = e instanceof Error ? e.message : String(e);
  return new InputError(fileName, `corrupt or truncated gzip data (${why})`);
}

/** Feeds the whole input in one write and hands back the readable side. */
function pump(bytes: Uint8Array, stream: CompressionStream | DecompressionStream): ReadableStreamDefaultReader<Uint8Array> {
  const writer = stream.writable.getWriter();
  // Errors surface on the readable side too; this only keeps the write promise from going unhandled.
  writer
    .write(bytes as Uint8Array<ArrayBuffer>)
    .then(() => writer.close())
    .catch(() => undefined);
  return stream.readable.getReader() as ReadableStreamDefaultReader<Uint8Array>;
}

/**
 * The ISIZE trailer: uncompressed length mod 2^32 of the last gzip member. A guess only (files over
 * 4 GiB wrap, multi-member files report their last member), so `collect` grows past it when wrong.
 */
function trailerSize(bytes: Uint8Array): number {
  const n = bytes.length;
  const size = (bytes[n - 4] | (bytes[n - 3] << 8) | (bytes[n - 2] << 16) | (bytes[n - 1] << 24)) >>> 0;
  // A deflate stream cannot expand data by more than ~1032:1; beyond that the trailer is not trustworthy.
  return size > 0 && size <= n * 1032 ? size : n * 4;
}

/** Reads every chunk into one buffer preallocated to `expected` bytes, doubling if it turns out short. */
async function collect(reader: ReadableStreamDefaultReader<Uint8Array>, expected: number): Promise<Uint8Array> {
  let out = new Uint8Array(expected);
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (length + value.length > out.length) {
      const grown = new Uint8Array(Math.max(out.length * 2, length + value.length));
      grown.set(out.subarray(0, length));
      out = grown;
    }
    out.set(value, length);
    length += value.length;
  }
  return length === out.length ? out : out.slice(0, length);
}
