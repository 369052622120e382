/**
 * NIfTI reader and writer against nibabel (Debian's /usr/bin/python3): every real file in the shared
 * material, plus small files nibabel writes here for every datatype and both byte orders.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { readShared, sharedPath } from '../../../tests/shared';
import { affineToRAS, axisCodes, geometryFromRAS, voxelIndex, type Mat3, type Vec3, type Volume, type VoxelArray } from '../volume';
import { InputError } from './errors';
import { isNifti, readNifti, writeNifti } from './nifti';
import { matrixToQuaternion, quaternionToMatrix } from './nifti-header';

const PYTHON = '/usr/bin/python3';
const ODD = 'data/real/nifti_oddities';
const TS = 'data/real/totalsegmentator';

/** Every real single-file NIfTI and pair header, relative to data/real. */
const singles = [
  ...readdirSync(sharedPath(ODD, 'nibabel')).filter((f) => /\.nii(\.gz)?$/.test(f)).map((f) => `nifti_oddities/nibabel/${f}`),
  ...readdirSync(sharedPath(ODD, 'nifti-reader-js')).filter((f) => /\.nii(\.gz)?$/.test(f) && f !== 'not-nifti.nii').map((f) => `nifti_oddities/nifti-reader-js/${f}`),
  ...readdirSync(sharedPath(TS)).filter((f) => f.endsWith('.nii.gz')).map((f) => `totalsegmentator/${f}`),
  ...readdirSync(sharedPath(TS, 'aorta_cta')).filter((f) => f.endsWith('.nii.gz')).map((f) => `totalsegmentator/aorta_cta/${f}`),
];
const pairs = ['nifti_oddities/nifti-reader-js/air.hdr.gz', 'nifti_oddities/nifti-reader-js/air2.hdr.gz'];
const realFiles = [...singles, ...pairs];

interface Manifest {
  dims: number[];
  spacing: number[];
  axcodes: string;
  rawRange: [number, number];
  format: string;
}
function manifest(): Map<string, Manifest> {
  const rows = new TextDecoder().decode(readShared('data/real/MANIFEST.tsv')).trim().split('\n').slice(1);
  const out = new Map<string, Manifest>();
  for (const row of rows) {
    const c = row.split('\t');
    const notes = c[9] ?? '';
    const range = /raw range (\S+)\.\.(\S+?)(;|$)/.exec(notes);
    const axcodes = /axcodes=(\w+)/.exec(notes);
    if (!range || !axcodes) continue;
    out.set(c[0], {
      format: c[1],
      dims: c[5].split('x').map(Number),
      spacing: c[7].split('x').map(Number),
      axcodes: axcodes[1],
      rawRange: [Number(range[1]), Number(range[2])],
    });
  }
  return out;
}

interface Reference {
  shape: number[];
  affine: number[][];
  slope: number;
  inter: number;
  fmin: number;
  fmax: number;
  rawmin: number;
  rawmax: number;
  samples: [number, number, number, number][];
  qform?: number[][];
  values?: number[];
}

/**
 * One python run: nibabel's view of every real file (first volume), and small files written by
 * nibabel for every datatype and both byte orders, with all their values.
 */
const REFERENCE_PY = String.raw`
import json, sys, numpy as np, nibabel as nib
root, gen, names = sys.argv[1], sys.argv[2], sys.argv[3:]
out = {}
def first_volume(a):
    return a.reshape(a.shape[:3] + (-1,), order='F')[..., 0] if a.ndim > 3 else a.reshape(a.shape + (1,) * (3 - a.ndim))
def describe(img, n_samples=5):
    f = first_volume(np.asanyarray(img.get_fdata()))
    raw = first_volume(np.asanyarray(img.dataobj.get_unscaled()))
    rng = np.random.default_rng(1)
    idx = [(0, 0, 0), tuple(s - 1 for s in f.shape), tuple(s // 2 for s in f.shape),
           np.unravel_index(np.argmax(f), f.shape), np.unravel_index(np.argmin(f), f.shape)]
    idx += [tuple(int(rng.integers(s)) for s in f.shape) for _ in range(n_samples)]
    return dict(shape=list(img.shape), affine=img.affine.tolist(),
                slope=float(img.dataobj.slope), inter=float(img.dataobj.inter),
                fmin=float(f.min()), fmax=float(f.max()), rawmin=float(raw.min()), rawmax=float(raw.max()),
                samples=[[int(i), int(j), int(k), float(f[i, j, k])] for i, j, k in idx],
                values=f.ravel(order='F').tolist() if f.size <= 1000 else None)
for name in names:
    out[name] = describe(nib.load(f'{root}/{name}'))

aff = np.array([[0, 0, 2.5, -10], [-1.5, 0, 0, 20], [0, 2, 0, -30], [0, 0, 0, 1.0]])
shape = (5, 4, 3)
for dt in ['u1', 'i1', 'i2', 'u2', 'i4', 'u4', 'i8', 'u8', 'f4', 'f8']:
    for end in '<>':
        signed = dt[0] != 'u'
        a = ((np.arange(60) * 37) % 101 - (50 if signed else 0)).reshape(shape, order='F').astype(dt)
        if dt in ('i8', 'u8'):
            a[0, 0, 0] = 2 ** 40
        elif dt[0] in 'iu':
            a[0, 0, 0], a[-1, -1, -1] = np.iinfo(dt).min, np.iinfo(dt).max
        else:
            a[0, 0, 0], a[-1, -1, -1] = -1e30 if dt == 'f4' else -1e300, 0.125
        name = f'gen_{dt}{"be" if end == ">" else "le"}.nii'
        img = nib.Nifti1Image(a.astype(end + dt), aff, nib.Nifti1Header(endianness=end))
        img.set_data_dtype(end + dt)
        nib.save(img, f'{gen}/{name}')
        out[name] = describe(nib.load(f'{gen}/{name}'))
a = np.arange(60, dtype=np.int64).reshape(shape, order='F')
nib.save(nib.Nifti1Image(a, aff, dtype=np.int64), f'{gen}/gen_i8small.nii')
out['gen_i8small.nii'] = describe(nib.load(f'{gen}/gen_i8small.nii'))
# float data stored as int16 with a non-integer slope (nibabel picks slope and intercept)
f = np.linspace(-3.5, 7.25, 60).reshape(shape, order='F')
img = nib.Nifti1Image(f, aff); img.set_data_dtype(np.int16)
nib.save(img, f'{gen}/gen_scaled.nii.gz')
out['gen_scaled.nii.gz'] = describe(nib.load(f'{gen}/gen_scaled.nii.gz'))
# neither qform nor sform: nibabel's pixdim affine
nib.save(nib.Nifti1Image(a.astype(np.int16), None), f'{gen}/gen_noaffine.nii')
out['gen_noaffine.nii'] = describe(nib.load(f'{gen}/gen_noaffine.nii'))
# a sheared sform over a shear-free qform
sh = np.array([[2.0, 0.5, 0, 1], [0, 3, 0, 2], [0, 0, 4, 3], [0, 0, 0, 1]])
img = nib.Nifti1Image(a.astype(np.uint8), sh)
img.header.set_sform(sh, code=1); img.header.set_qform(sh, code=1)
nib.save(img, f'{gen}/gen_shear.nii')
img = nib.load(f'{gen}/gen_shear.nii')
out['gen_shear.nii'] = dict(describe(img), qform=img.header.get_qform().tolist())
print(json.dumps(out))
`;

const real = (rel: string) => ({ name: rel.split('/').pop()!, bytes: readShared('data/real', rel) });
const imgOf = (hdr: string) => hdr.replace('.hdr', '.img');

let ref: Record<string, Reference>;
let gen: string;
beforeAll(() => {
  gen = mkdtempSync(join(tmpdir(), 'nifti-test-'));
  const json = execFileSync(PYTHON, ['-c', REFERENCE_PY, sharedPath('data/real'), gen, ...realFiles], { maxBuffer: 1 << 26 });
  ref = JSON.parse(json.toString());
}, 60_000);

function expectAffine(vol: Volume, expected: number[][], tol = 1e-4) {
  const a = affineToRAS(vol);
  expected.flat().forEach((x, n) => expect(Math.abs(a[n] - x), `affine[${n}] ${a[n]} vs ${x}`).toBeLessThanOrEqual(tol));
}

function expectSamples(vol: Volume, r: Reference) {
  for (const [i, j, k, v] of r.samples) {
    const got = vol.data[voxelIndex(vol.dims, i, j, k)];
    expect(Math.abs(got - v), `(${i},${j},${k}): ${got} vs ${v}`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(v)));
  }
}

function range(data: VoxelArray): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of data) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return [lo, hi];
}

const close = (a: number, b: number, rel: number) => Math.abs(a - b) <= rel * Math.max(1, Math.abs(b));

describe('readNifti on every real NIfTI file', () => {
  const table = manifest();
  it.each(realFiles)('%s', async (rel) => {
    const vol = pairs.includes(rel) ? await readNifti(real(rel), real(imgOf(rel))) : await readNifti(real(rel));
    const m = table.get(rel)!;
    const r = ref[rel];
    expect(m, 'listed in MANIFEST.tsv').toBeDefined();

    expect(vol.dims).toEqual(m.dims.slice(0, 3));
    expect(vol.dims).toEqual([...r.shape, 1, 1].slice(0, 3));
    vol.spacing.forEach((s, n) => expect(close(s, m.spacing[n], 1e-3), `spacing ${vol.spacing} vs ${m.spacing}`).toBe(true));
    expect(axisCodes(vol)).toBe(m.axcodes);
    expect(vol.source).toEqual({ format: m.format.startsWith('Nifti2') ? 'NIfTI-2' : 'NIfTI-1', name: rel.split('/').pop() });
    expectAffine(vol, r.affine);

    // Values: scaled ones against get_fdata(); the stored range against the manifest (whole file)
    // and nibabel's unscaled first volume.
    const [lo, hi] = range(vol.data);
    expect(close(lo, r.fmin, 1e-6) && close(hi, r.fmax, 1e-6), `range ${lo}..${hi} vs ${r.fmin}..${r.fmax}`).toBe(true);
    const unscale = (v: number) => (Number.isNaN(r.slope) ? v : (v - r.inter) / r.slope);
    expect(close(unscale(lo), r.rawmin, 1e-5) && close(unscale(hi), r.rawmax, 1e-5)).toBe(true);
    const volumes = m.dims.slice(3).reduce((a, b) => a * b, 1);
    if (volumes === 1) {
      expect(close(r.rawmin, m.rawRange[0], 1e-5) && close(r.rawmax, m.rawRange[1], 1e-5), `raw ${r.rawmin}..${r.rawmax} vs manifest ${m.rawRange}`).toBe(true);
      expect(vol.notices).toEqual([]);
    } else {
      expect(r.rawmin >= m.rawRange[0] - 1e-3 && r.rawmax <= m.rawRange[1] + 1e-3).toBe(true);
      expect(vol.notices).toEqual([`${m.dims.length}D file (${m.dims.join('x')}): showing volume 1 of ${volumes}`]);
    }
    expectSamples(vol, r);
  });

  it('names the 4D example as nibabel users know it', async () => {
    const vol = await readNifti(real('nifti_oddities/nibabel/example4d.nii.gz'));
    expect(vol.notices).toEqual(['4D file (128x96x24x2): showing volume 1 of 2']);
  });

  it('keeps the stored type when scaling is the identity or integral, float32 otherwise', async () => {
    const ct = await readNifti(real('totalsegmentator/example_ct_dicom_dcm2niix.nii.gz')); // int16, 1 / -1024
    expect(ct.data).toBeInstanceOf(Int16Array);
    expect(range(ct.data)).toEqual([ref['totalsegmentator/example_ct_dicom_dcm2niix.nii.gz'].fmin, 1839]);
    expect(ct.units).toBe('HU');
    expect((await readNifti(real('nifti_oddities/nibabel/functional.nii'))).data).toBeInstanceOf(Float32Array);
    const seg = await readNifti(real('totalsegmentator/example_seg.nii.gz'));
    expect(seg.data).toBeInstanceOf(Uint8Array);
    expect(seg.units).toBe('label');
    expect((await readNifti(real('nifti_oddities/nibabel/anatomical.nii'))).units).toBe('unknown'); // MR dipping below 0
  });

  it('reads a pair given in either order, NIfTI-1 and NIfTI-2 alike', async () => {
    for (const hdr of pairs) {
      const a = await readNifti(real(hdr), real(imgOf(hdr)));
      const b = await readNifti(real(imgOf(hdr)), real(hdr));
      expect(b.source?.name).toBe(hdr.split('/').pop());
      expect(Array.from(b.data)).toEqual(Array.from(a.data));
    }
    expect((await readNifti(real(pairs[1]), real(imgOf(pairs[1])))).source?.format).toBe('NIfTI-2');
  });

  it('reads the big-endian copy of little.nii.gz to the same values', async () => {
    const big = await readNifti(real('nifti_oddities/nifti-reader-js/big.nii.gz'));
    const little = await readNifti(real('nifti_oddities/nifti-reader-js/little.nii.gz'));
    expect(Array.from(big.data)).toEqual(Array.from(little.data));
    expect(affineToRAS(big)).toEqual(affineToRAS(little));
  });
});

describe('readNifti on files nibabel writes', () => {
  const types = ['u1', 'i1', 'i2', 'u2', 'i4', 'u4', 'i8', 'u8', 'f4', 'f8'];
  const arrays: Record<string, string> = {
    u1: 'Uint8Array', i1: 'Int8Array', i2: 'Int16Array', u2: 'Uint16Array', i4: 'Int32Array', u4: 'Uint32Array',
    i8: 'Float64Array', u8: 'Float64Array', f4: 'Float32Array', f8: 'Float64Array',
  };
  const cases = types.flatMap((t) => ['le', 'be'].map((e) => [`gen_${t}${e}.nii`, arrays[t]]));
  const readGen = async (name: string) => readNifti({ name, bytes: new Uint8Array(readFileSync(join(gen, name))) });

  it.each(cases)('%s → %s with nibabel’s values and affine', async (name, arrayType) => {
    const vol = await readGen(name);
    expect(vol.data.constructor.name).toBe(arrayType);
    expect(Array.from(vol.data)).toEqual(ref[name].values);
    expectAffine(vol, ref[name].affine, 1e-6);
  });

  it('int64 values that fit become Int32Array', async () => {
    const vol = await readGen('gen_i8small.nii');
    expect(vol.data).toBeInstanceOf(Int32Array);
    expect(Array.from(vol.data)).toEqual(ref['gen_i8small.nii'].values);
  });

  it('applies a non-integral scl_slope/scl_inter into float32', async () => {
    const r = ref['gen_scaled.nii.gz'];
    expect(r.slope).not.toBe(1);
    const vol = await readGen('gen_scaled.nii.gz');
    expect(vol.data).toBeInstanceOf(Float32Array);
    vol.data.forEach((v, n) => expect(Math.abs(v - r.values![n])).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(r.values![n]))));
  });

  it('uses the pixdim affine when neither qform nor sform is set', async () => {
    const vol = await readGen('gen_noaffine.nii');
    expectAffine(vol, ref['gen_noaffine.nii'].affine, 1e-9);
    expect(ref['gen_noaffine.nii'].affine[0][3]).toBe(2); // centred: -(5-1)/2 · -1
  });

  it('falls back to the qform, with a notice, when the sform has shear', async () => {
    const vol = await readGen('gen_shear.nii');
    expectAffine(vol, ref['gen_shear.nii'].qform!, 1e-5);
    expect(vol.notices).toEqual(['the sform is unusable (affine has shear (axes not orthogonal); not supported); using the qform geometry']);
  });

  it('applies an integral scaling in the smallest integer type that holds it', async () => {
    const bytes = new Uint8Array(readFileSync(join(gen, 'gen_u1le.nii')));
    const view = new DataView(bytes.buffer);
    view.setFloat32(112, 2, true);
    view.setFloat32(116, 10, true);
    const vol = await readNifti({ name: 'scaled-u8.nii', bytes });
    expect(vol.data).toBeInstanceOf(Int16Array); // 255 · 2 + 10 does not fit uint8
    expect(Array.from(vol.data)).toEqual(ref['gen_u1le.nii'].values!.map((v) => v * 2 + 10));
    view.setFloat32(112, Number.NaN, true); // NaN slope: no scaling, as nibabel
    expect(Array.from((await readNifti({ name: 'nan.nii', bytes })).data)).toEqual(ref['gen_u1le.nii'].values);
  });
});

describe('readNifti on bad input', () => {
  const anatomical = () => readShared(ODD, 'nibabel/anatomical.nii');
  const reject = (bytes: Uint8Array, name = 'bad.nii', pair?: Uint8Array) =>
    readNifti({ name, bytes }, pair && { name: 'bad.img', bytes: pair }).then(
      () => {
        throw new Error('read without error');
      },
      (e: unknown) => {
        expect(e).toBeInstanceOf(InputError);
        return (e as InputError).message;
      },
    );

  it('refuses a file that is not NIfTI', async () => {
    const bytes = readShared(ODD, 'nifti-reader-js/not-nifti.nii');
    expect(isNifti(bytes)).toBe(false);
    expect(await reject(bytes, 'not-nifti.nii')).toMatch(/^not-nifti\.nii: not a NIfTI file/);
    expect(await reject(new Uint8Array(10), 'tiny.nii')).toMatch(/^tiny\.nii: not a NIfTI file \(only 10 bytes/);
    const analyze = anatomical();
    analyze.set([0, 0, 0, 0], 344); // no magic: an Analyze 7.5 header
    expect(isNifti(analyze)).toBe(false);
    expect(await reject(analyze, 'old.hdr')).toBe('old.hdr: not a NIfTI file (an Analyze 7.5 header without the NIfTI magic string; not supported)');
  });

  it('names the missing .img of a pair', async () => {
    expect(await reject(readShared(ODD, 'nifti-reader-js/air.hdr.gz'), 'air.hdr.gz')).toBe(
      'air.hdr.gz: header of a .hdr/.img pair: its image file air.img.gz is missing; open both files together',
    );
  });

  it('says how many bytes are missing', async () => {
    const bytes = anatomical(); // 352 + 33·41·25·2 = 68002 bytes
    expect(bytes.length).toBe(68002);
    expect(await reject(bytes.slice(0, 67002))).toBe('bad.nii: data is shorter than the header says: expected 68002 bytes, got 67002');
  });

  it('refuses a truncated .nii.gz', async () => {
    const gz = readShared(TS, 'example_seg.nii.gz');
    expect(await reject(gz.slice(0, gz.length >> 1), 'seg.nii.gz')).toMatch(/^seg\.nii\.gz: corrupt or truncated gzip data/);
  });

  it('refuses zero, negative and absurd dimensions', async () => {
    const patched = (offset: number, value: number) => {
      const b = anatomical();
      new DataView(b.buffer).setInt16(offset, value, false); // big-endian file
      return b;
    };
    expect(await reject(patched(44, 0))).toBe('bad.nii: invalid size dim[2] = 0 in the header');
    expect(await reject(patched(46, -5))).toBe('bad.nii: invalid size dim[3] = -5 in the header');
    expect(await reject(patched(40, 9))).toBe('bad.nii: invalid number of dimensions dim[0] = 9 (must be 1 to 7)');
    const huge = anatomical();
    const v = new DataView(huge.buffer);
    for (const o of [42, 44, 46]) v.setInt16(o, 32000, false);
    expect(await reject(huge)).toBe('bad.nii: volume too large (32000×32000×32000 int16 is over 2 GiB)');
  });

  it('refuses a negative vox_offset', async () => {
    const b = anatomical();
    new DataView(b.buffer).setFloat32(108, -16, false);
    expect(await reject(b)).toBe('bad.nii: invalid vox_offset -16 in the header');
  });

  it('refuses complex and RGB data by name', async () => {
    const b = anatomical();
    new DataView(b.buffer).setInt16(70, 128, false);
    expect(await reject(b)).toBe('bad.nii: unsupported datatype 128 (RGB24)');
    new DataView(b.buffer).setInt16(70, 32, false);
    expect(await reject(b)).toBe('bad.nii: unsupported datatype 32 (complex64)');
  });
});

describe('qform quaternions', () => {
  it.each([
    [[1, 0, 0], 0],
    [[1, 0, 0], 180],
    [[0, 1, 0], 180],
    [[0, 0, 1], 179],
    [[1, 1, 1], 120],
    [[1, 1, 1], 240],
    [[2, -1, 0.5], 170],
    [[-3, 1, 2], 95],
  ])('axis %j, %i°: matrix → quaternion (w ≥ 0) → the same matrix', (axis, degrees) => {
    const r = rotation(axis, degrees);
    const q = matrixToQuaternion(r);
    expect(q[0]).toBeGreaterThanOrEqual(0);
    expect(Math.hypot(...q)).toBeCloseTo(1, 12);
    quaternionToMatrix(...q).forEach((x, n) => expect(x).toBeCloseTo(r[n], 12));
  });

  it('gives nibabel’s matrix for a 180° turn about x (w = 0)', () => {
    expect(quaternionToMatrix(0, 1, 0, 0).map((x) => x + 0)).toEqual([1, 0, 0, 0, -1, 0, 0, 0, -1]);
  });
});

/** A small volume in an oblique, left-handed orientation (qfac -1 in the qform) with uneven spacing. */
function obliqueVolume<T extends VoxelArray>(data: T, dims: Vec3 = [5, 4, 3]): Volume {
  const r = rotation([1, 2, 3], 40);
  const axis = (c: number) => [r[c], r[3 + c], r[6 + c]];
  const direction = [...axis(0), ...axis(1), ...axis(2).map((x) => -x)] as Mat3;
  return { data, dims, spacing: [0.7, 1.25, 2.5], origin: [-12.5, 30.25, 7], direction, units: 'unknown', notices: [], source: { format: 'test', name: 'oblique' } };
}

/** Row-major rotation matrix about `axis` by `degrees`. */
function rotation(axis: number[], degrees: number): number[] {
  const [x, y, z] = axis.map((v) => v / Math.hypot(...axis));
  const t = (degrees * Math.PI) / 180;
  const [c, s, C] = [Math.cos(t), Math.sin(t), 1 - Math.cos(t)];
  return [
    c + x * x * C, x * y * C - z * s, x * z * C + y * s,
    y * x * C + z * s, c + y * y * C, y * z * C - x * s,
    z * x * C - y * s, z * y * C + x * s, c + z * z * C,
  ];
}

describe('writeNifti', () => {
  const values = (n: number, f: (x: number) => number) => Array.from({ length: n }, (_, x) => f(x));
  const volumes: Record<string, VoxelArray> = {
    Int8Array: Int8Array.from(values(60, (x) => x - 30)),
    Uint8Array: Uint8Array.from(values(60, (x) => x * 4)),
    Int16Array: Int16Array.from(values(60, (x) => x * 500 - 15000)),
    Uint16Array: Uint16Array.from(values(60, (x) => x * 1000)),
    Int32Array: Int32Array.from(values(60, (x) => x * 1e7 - 3e8)),
    Uint32Array: Uint32Array.from(values(60, (x) => x * 7e7)),
    Float32Array: Float32Array.from(values(60, (x) => Math.fround(x / 7 - 3))),
    Float64Array: Float64Array.from(values(60, (x) => x / 7 - 3)),
  };

  it.each(Object.keys(volumes))('round-trips %s data and geometry', async (type) => {
    const vol = obliqueVolume(volumes[type]);
    const back = await readNifti({ name: 'rt.nii.gz', bytes: await writeNifti(vol) });
    expect(back.data.constructor.name).toBe(type);
    expect(Array.from(back.data)).toEqual(Array.from(vol.data));
    expect(back.dims).toEqual(vol.dims);
    // The header stores float32: geometry comes back to float32 precision.
    back.spacing.forEach((x, n) => expect(x).toBeCloseTo(vol.spacing[n], 5));
    back.origin.forEach((x, n) => expect(x).toBeCloseTo(vol.origin[n], 4));
    back.direction.forEach((x, n) => expect(x).toBeCloseTo(vol.direction[n], 6));
  });

  it('converts to a requested datatype, refusing loss', async () => {
    const vol = obliqueVolume(Float32Array.from(values(60, (x) => x - 10)));
    const back = await readNifti({ name: 'i16.nii', bytes: await writeNifti(vol, { datatype: 'int16', gzip: false }) });
    expect(back.data).toBeInstanceOf(Int16Array);
    expect(Array.from(back.data)).toEqual(Array.from(vol.data));
    vol.data[3] = 0.5;
    await expect(writeNifti(vol, { datatype: 'int16' })).rejects.toThrow('oblique: cannot store value 0.5 (voxel 3) as int16 without loss');
  });

  it('writes what nibabel reads with the same affine, data, qform = sform and description', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nifti-write-'));
    const written = {
      'oblique_i16.nii.gz': obliqueVolume(volumes.Int16Array),
      'oblique_f64.nii': obliqueVolume(volumes.Float64Array),
      // A right-handed rotation about an arbitrary axis (qfac +1).
      'rotated_u8.nii.gz': { ...obliqueVolume(volumes.Uint8Array), ...geometryFromRAS(rotatedAffine()) },
    };
    for (const [name, vol] of Object.entries(written)) {
      writeFileSync(join(dir, name), await writeNifti(vol, { gzip: name.endsWith('.gz'), description: `test ${name}` }));
    }
    const py = String.raw`
import json, sys, nibabel as nib
out = {}
for name in sys.argv[2:]:
    img = nib.load(sys.argv[1] + '/' + name)
    h = img.header
    out[name] = dict(affine=img.affine.tolist(), qform=h.get_qform().tolist(), codes=[int(h['qform_code']), int(h['sform_code'])],
                     data=img.get_fdata().ravel(order='F').tolist(), dtype=str(h.get_data_dtype()), descrip=h['descrip'].item().decode())
print(json.dumps(out))`;
    const res = JSON.parse(execFileSync(PYTHON, ['-c', py, dir, ...Object.keys(written)]).toString());
    for (const [name, vol] of Object.entries(written)) {
      const r = res[name];
      const a = affineToRAS(vol);
      r.affine.flat().forEach((x: number, n: number) => expect(Math.abs(x - a[n]), `${name} affine[${n}]`).toBeLessThanOrEqual(1e-4));
      r.qform.flat().forEach((x: number, n: number) => expect(Math.abs(x - a[n]), `${name} qform[${n}]`).toBeLessThanOrEqual(1e-4));
      expect(r.codes).toEqual([1, 1]);
      expect(r.data).toEqual(Array.from(vol.data));
      expect(r.descrip).toBe(`test ${name}`);
    }
    expect(res['oblique_i16.nii.gz'].dtype).toBe('int16');
    expect(res['oblique_f64.nii'].dtype).toBe('float64');
  });

  it('writes an uncompressed file on request, with the 348-byte header and data at 352', async () => {
    const vol = obliqueVolume(volumes.Uint8Array);
    const raw = await writeNifti(vol, { gzip: false });
    expect(isNifti(raw)).toBe(true);
    expect(raw.length).toBe(352 + 60);
    expect(Array.from(raw.subarray(352))).toEqual(Array.from(vol.data));
    expect(Array.from(gunzipSync(await writeNifti(vol)))).toEqual(Array.from(raw));
  });
});

/** Voxel → RAS affine of a proper rotation (axis (2,-1,0.5), 70°) with spacing (0.8, 0.9, 3) and an offset. */
function rotatedAffine(): number[] {
  const r = rotation([2, -1, 0.5], 70);
  const sp = [0.8, 0.9, 3];
  return [0, 1, 2].flatMap((row) => [...[0, 1, 2].map((col) => r[3 * row + col] * sp[col]), [10, -20, 30][row]]).concat([0, 0, 0, 1]);
}
