import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { readShared, sharedPath } from '../../../tests/shared';
import { axisCodes, voxelIndex, worldLPS, type Mat3, type Volume, type VoxelArray } from '../volume';
import { InputError } from './errors';
import { isNrrd, readNrrd, writeNrrd } from './nrrd';

const FILES = ['dcmqi/liver_seg.nrrd', 'dcmqi/tiny_24x38x3/sparse_labelmap_noppv_seg.nrrd'];
const real = (rel: string) => ({ name: rel.split('/').pop()!, bytes: readShared('data/real', rel) });

/** The geometry as the file's own header text gives it, parsed independently of the reader. */
function headerGeometry(bytes: Uint8Array) {
  const text = new TextDecoder().decode(bytes.subarray(0, 2000)).split('\n\n')[0];
  const field = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(text)![1];
  const vectors = (s: string) => [...s.matchAll(/\(([^)]*)\)/g)].map((m) => m[1].split(',').map(Number));
  return { sizes: field('sizes').split(' ').map(Number), directions: vectors(field('space directions')), origin: vectors(field('space origin'))[0], space: field('space') };
}

/** Voxel counts per label, by python + numpy reading the gzip data after the header itself. */
const COUNT_PY = String.raw`
import json, sys, zlib, numpy as np
out = {}
for path in sys.argv[1:]:
    raw = open(path, 'rb').read()
    data = zlib.decompress(raw[raw.index(b'\n\n') + 2:], 16 + zlib.MAX_WBITS)
    values, counts = np.unique(np.frombuffer(data, '<i2'), return_counts=True)
    out[path] = {str(v): int(c) for v, c in zip(values, counts)}
print(json.dumps(out))`;

let counts: Record<string, Record<string, number>>;
beforeAll(() => {
  const paths = FILES.map((f) => sharedPath('data/real', f));
  const res = JSON.parse(execFileSync('/usr/bin/python3', ['-c', COUNT_PY, ...paths]).toString());
  counts = Object.fromEntries(FILES.map((f, n) => [f, res[paths[n]]]));
});

function labelCounts(data: VoxelArray): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of data) out[v] = (out[v] ?? 0) + 1;
  return out;
}

describe('readNrrd on dcmqi segmentations', () => {
  it.each(FILES)('%s: geometry as its header says, labels as numpy counts them', async (rel) => {
    const file = real(rel);
    expect(isNrrd(file.bytes)).toBe(true);
    const vol = await readNrrd(file);
    const h = headerGeometry(file.bytes);
    expect(h.space).toBe('left-posterior-superior');
    expect(vol.dims).toEqual(h.sizes);
    for (let c = 0; c < 3; c++) {
      // spacing × direction gives back each space-direction vector
      for (let r = 0; r < 3; r++) expect(vol.spacing[c] * vol.direction[3 * c + r]).toBeCloseTo(h.directions[c][r], 12);
    }
    expect(vol.origin).toEqual(h.origin);
    expect(axisCodes(vol)).toBe('LPS');
    expect(vol.data).toBeInstanceOf(Int16Array);
    expect(labelCounts(vol.data)).toEqual(counts[rel]);
    expect(vol.units).toBe('label');
    expect(vol.notices).toEqual([]);
    expect(vol.source).toEqual({ format: 'NRRD', name: file.name });
  });

  it('liver_seg.nrrd: 512×512×3 at 0.810547 mm with the liver as label 1', async () => {
    const vol = await readNrrd(real(FILES[0]));
    expect(vol.spacing).toEqual([0.810547, 0.810547, 1]);
    expect(vol.origin).toEqual([-235.2, -226.8, -128.69]);
    expect(counts[FILES[0]]['0'] + counts[FILES[0]]['1']).toBe(512 * 512 * 3);
    expect(counts[FILES[0]]['1']).toBeGreaterThan(0);
  });
});

const enc = (s: string) => new TextEncoder().encode(s);
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
function bigEndianFloats(values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 4);
  values.forEach((v, n) => new DataView(b.buffer).setFloat32(4 * n, v, false));
  return b;
}
async function rejection(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(InputError);
  return (e as InputError).message;
}

describe('readNrrd on hand-made files', () => {
  const values = Array.from({ length: 24 }, (_, n) => n * 0.5 - 3);

  it('raw big-endian floats in RAS space come out in LPS', async () => {
    const header = 'NRRD0005\ntype: float\ndimension: 3\nspace: RAS\nsizes: 2 3 4\nspace directions: (2,0,0) (0,0,3) (0,-1.5,0)\nendian: big\nencoding: raw\nspace origin: (10,20,30)\n\n';
    const vol = await readNrrd({ name: 'ras.nrrd', bytes: concat(enc(header), bigEndianFloats(values)) });
    expect(Array.from(vol.data)).toEqual(values);
    expect(vol.dims).toEqual([2, 3, 4]);
    expect(vol.spacing).toEqual([2, 3, 1.5]);
    expect(vol.origin).toEqual([-10, -20, 30]); // RAS (10,20,30) is LPS (-10,-20,30)
    expect(worldLPS(vol, 1, 1, 1)).toEqual([-12, -18.5, 33]); // RAS (12, 18.5, 33)
    expect(axisCodes(vol)).toBe('RSP');
  });

  it('takes the first sample of a leading list axis (Slicer segmentation layers), with a notice', async () => {
    // sizes 2 (layers) × 3 × 2 × 2: layer index fastest
    const data = Int16Array.from({ length: 24 }, (_, n) => (n % 2 === 0 ? n / 2 : 100 + n));
    const header =
      'NRRD0004\ntype: short\ndimension: 4\nspace: left-posterior-superior\nsizes: 2 3 2 2\nspace directions: none (1,0,0) (0,1,0) (0,0,1)\nkinds: list domain domain domain\nendian: little\nencoding: gzip\nspace origin: (0,0,0)\nSegment0_ID:=liver\n\n';
    const vol = await readNrrd({ name: 'layers.seg.nrrd', bytes: concat(enc(header), gzipSync(new Uint8Array(data.buffer))) });
    expect(vol.dims).toEqual([3, 2, 2]);
    expect(Array.from(vol.data)).toEqual(Array.from({ length: 12 }, (_, n) => n));
    expect(vol.notices).toEqual(['NRRD axis 1 (list, 2 samples): showing sample 1 of 2']);
  });

  it('reads a detached header with line and byte skips, and names a missing data file', async () => {
    const header = enc('NRRD0004\ntype: float\ndimension: 3\nspace: LPS\nsizes: 2 3 4\nspace directions: (1,0,0) (0,1,0) (0,0,1)\nendian: big\nencoding: raw\nline skip: 1\nbyte skip: 3\ndata file: ct.raw\n');
    const data = concat(enc('a comment line\n'), new Uint8Array(3), bigEndianFloats(values));
    const vol = await readNrrd({ name: 'ct.nhdr', bytes: header }, { name: 'ct.raw', bytes: data });
    expect(Array.from(vol.data)).toEqual(values);
    expect(await rejection(readNrrd({ name: 'ct.nhdr', bytes: header }))).toBe(
      'ct.nhdr: detached NRRD header: its data file ct.raw is missing; open both files together',
    );
  });

  it('finds raw data at the end of the file with byte skip -1', async () => {
    const header = 'NRRD0004\ntype: float\ndimension: 3\nsizes: 2 3 4\nspacings: 0.5 0.5 2\nendian: big\nencoding: raw\nbyte skip: -1\n\n';
    const vol = await readNrrd({ name: 'skip.nrrd', bytes: concat(enc(header), enc('padding'), bigEndianFloats(values)) });
    expect(Array.from(vol.data)).toEqual(values);
    expect(vol.spacing).toEqual([0.5, 0.5, 2]);
    expect(vol.notices).toEqual(['NRRD file has no anatomical space; assuming LPS']);
  });

  it('refuses what it cannot read, saying why', async () => {
    const base = (over: Record<string, string>) => {
      const f: Record<string, string> = { type: 'short', dimension: '3', space: 'left-posterior-superior', sizes: '2 3 4', 'space directions': '(1,0,0) (0,1,0) (0,0,1)', endian: 'little', encoding: 'raw', ...over };
      return enc(`NRRD0004\n${Object.entries(f).map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${'\0'.repeat(48)}`);
    };
    const read = (bytes: Uint8Array) => rejection(readNrrd({ name: 'bad.nrrd', bytes }));
    expect(await read(base({ encoding: 'ascii' }))).toBe("bad.nrrd: unsupported NRRD encoding 'ascii' (only raw and gzip)");
    expect(await read(base({ encoding: 'bzip2' }))).toBe("bad.nrrd: unsupported NRRD encoding 'bzip2' (only raw and gzip)");
    expect(await read(base({ type: 'block' }))).toBe("bad.nrrd: unsupported NRRD type 'block'");
    expect(await read(base({ space: 'scanner-xyz' }))).toMatch(/^bad\.nrrd: unsupported NRRD space 'scanner-xyz'/);
    expect(await read(base({ sizes: '2 0 4' }))).toBe("bad.nrrd: invalid NRRD sizes '2 0 4' for dimension 3");
    expect(await read(base({ sizes: '2 3 5' }))).toBe('bad.nrrd: data is shorter than the header says: expected 60 bytes, got 48');
    expect(await read(base({ encoding: 'gzip' }))).toBe('bad.nrrd: NRRD data is not gzip data although the header says so');
    expect(await read(base({ 'space directions': '(1,0,0) (2,0,0) (0,0,1)' }))).toMatch(/^bad\.nrrd: unusable NRRD geometry: affine has shear/);
    expect(await read(enc('NRRD0004\ntype: short\n\n'))).toBe("bad.nrrd: NRRD header has no 'sizes' field");
    expect(isNrrd(enc('P5 not a nrrd'))).toBe(false);
    const liver = readShared('data/real', FILES[0]);
    expect(await rejection(readNrrd({ name: 'cut.nrrd', bytes: liver.slice(0, liver.length - 100) }))).toMatch(/^cut\.nrrd: corrupt or truncated gzip data/);
  });
});

describe('writeNrrd', () => {
  const oblique = (data: VoxelArray): Volume => {
    const [c, s] = [Math.cos(0.4), Math.sin(0.4)];
    const direction: Mat3 = [c, 0, s, 0, 1, 0, -s, 0, c];
    return { data, dims: [4, 3, 2], spacing: [0.3, 0.7, 2.1], origin: [1.1, -2.2, 3.3], direction, units: 'unknown', notices: [], source: { format: 'test', name: 't' } };
  };

  it.each([Int16Array.from({ length: 24 }, (_, n) => n * 1000 - 12000), Float32Array.from({ length: 24 }, (_, n) => n / 3), Uint8Array.from({ length: 24 }, (_, n) => n % 3)])(
    'round-trips %s exactly, gzip-encoded in LPS',
    async (data) => {
      const vol = oblique(data);
      const bytes = await writeNrrd(vol);
      const text = new TextDecoder().decode(bytes.subarray(0, 400));
      expect(text).toContain('encoding: gzip\n');
      expect(text).toContain('space: left-posterior-superior\n');
      const back = await readNrrd({ name: 'rt.nrrd', bytes });
      expect(back.data.constructor).toBe(data.constructor);
      expect(Array.from(back.data)).toEqual(Array.from(data));
      expect(back.dims).toEqual(vol.dims);
      back.spacing.forEach((x, n) => expect(x).toBeCloseTo(vol.spacing[n], 14));
      back.direction.forEach((x, n) => expect(x).toBeCloseTo(vol.direction[n], 14));
      expect(back.origin).toEqual(vol.origin);
      expect(back.data[voxelIndex(back.dims, 3, 2, 1)]).toBe(data[23]);
    },
  );
});
