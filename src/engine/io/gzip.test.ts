import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readShared } from '../../../tests/shared';
import { InputError } from './errors';
import { gunzip, gunzipHead, gzip, isGzip } from './gzip';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const ct = () => readShared('data/real/totalsegmentator/example_ct_dicom_dcm2niix.nii.gz');

async function rejection(p: Promise<unknown>): Promise<InputError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(InputError);
  return e as InputError;
}

describe('gunzip', () => {
  it('inflates a real .nii.gz exactly as zlib does, into a buffer of its own', async () => {
    const gz = ct();
    expect(isGzip(gz)).toBe(true);
    const out = await gunzip(gz, 'ct.nii.gz');
    const expected = gunzipSync(gz);
    expect(out.length).toBe(expected.length);
    expect(out.length).toBe(352 + 512 * 512 * 20 * 2); // header + int16 voxels
    expect(sha(out)).toBe(sha(expected));
    expect(out.byteOffset).toBe(0);
    expect(out.buffer.byteLength).toBe(out.length); // preallocated from the ISIZE trailer, no copy
  });

  it('refuses a truncated copy, naming the file', async () => {
    const gz = ct();
    for (const keep of [gz.length - 4, gz.length >> 1, 100]) {
      const e = await rejection(gunzip(gz.slice(0, keep), 'ct.nii.gz'));
      expect(e.message).toMatch(/^ct\.nii\.gz: corrupt or truncated gzip data \(.+\)$/);
    }
  });

  it('refuses corrupt data (bad CRC) and data that is not gzip', async () => {
    const gz = ct();
    gz[5000] ^= 0xff;
    expect((await rejection(gunzip(gz, 'bad.gz'))).message).toMatch(/^bad\.gz: corrupt or truncated gzip data/);
    expect((await rejection(gunzip(new Uint8Array(100), 'zeros.gz'))).message).toBe('zeros.gz: not gzip data');
    expect(isGzip(readShared('data/real/nifti_oddities/nibabel/anatomical.nii'))).toBe(false);
  });

  it('grows past a wrong ISIZE (two concatenated members)', async () => {
    const a = new TextEncoder().encode('first member, '.repeat(3000));
    const b = new TextEncoder().encode('second, shorter');
    const both = new Uint8Array([...gzipSync(a), ...gzipSync(b)]);
    const out = await gunzip(both, 'two.gz');
    expect(new TextDecoder().decode(out)).toBe(new TextDecoder().decode(a) + new TextDecoder().decode(b));
  });
});

describe('gzip', () => {
  const sample = Uint8Array.from({ length: 200_000 }, (_, n) => (n * 2654435761) >>> 24 & (n % 7 === 0 ? 0xff : 0x0f));

  it('deflates what zlib and gunzip inflate back', async () => {
    const gz = await gzip(sample);
    expect(isGzip(gz)).toBe(true);
    expect(gz.length).toBeLessThan(sample.length);
    expect(sha(gunzipSync(gz))).toBe(sha(sample));
    expect(sha(await gunzip(gz, 'x.gz'))).toBe(sha(sample));
  });

  describe('without native compression streams (fflate)', () => {
    afterEach(() => {
      vi.unstubAllGlobals();
      vi.resetModules();
    });
    it('round-trips and still reports truncation as InputError', async () => {
      vi.stubGlobal('CompressionStream', undefined);
      vi.stubGlobal('DecompressionStream', undefined);
      vi.resetModules();
      const fallback = await import('./gzip');
      const { InputError: FreshInputError } = await import('./errors');
      const gz = await fallback.gzip(sample);
      expect(sha(gunzipSync(gz))).toBe(sha(sample));
      expect(sha(await fallback.gunzip(gzipSync(sample), 'x.gz'))).toBe(sha(sample));
      const e = await fallback.gunzip(gz.slice(0, gz.length >> 1), 'half.gz').catch((err: unknown) => err);
      expect(e).toBeInstanceOf(FreshInputError);
      expect((e as Error).message).toMatch(/^half\.gz: corrupt or truncated gzip data/);
    });
  });
});

describe('gunzipHead', () => {
  it('inflates just the first bytes of a real .nii.gz, equal to the start of the whole file', async () => {
    const bytes = readShared('data/real/totalsegmentator/example_ct.nii.gz');
    const whole = await gunzip(bytes, 'example_ct.nii.gz');
    const head = await gunzipHead(bytes, 544);
    expect(head).toEqual(whole.subarray(0, 544));
    expect(await gunzipHead(new Uint8Array([1, 2, 3]), 10)).toBeNull();
  });
});
