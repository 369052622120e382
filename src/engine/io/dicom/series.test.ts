import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedPath } from '../../../../tests/shared';
import { InputError } from '../errors';
import type { NamedBytes } from '../named-bytes';
import type { Volume } from '../../volume';
import { parseDataSet, TAG } from './dataset';
import { isDicom, readDicomFiles, readDicomSeries, scanDicom, type DicomSeries } from './series';

const REAL = sharedPath('data', 'real');
const SCRIPT = fileURLToPath(new URL('./testing/series_reference.py', import.meta.url));

interface Reference {
  dims: number[];
  origin: number[];
  direction: number[];
  pixelSpacing: number[];
  gaps: number[];
  positions: number[][];
  min: number;
  max: number;
}

let out: string;
let ref: Record<string, Reference>;

beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), 'dicom-series-'));
  ref = JSON.parse(execFileSync('/usr/bin/python3', [SCRIPT, REAL, out], { encoding: 'utf8', maxBuffer: 1 << 26 }));
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

function load(path: string): NamedBytes[] {
  if (statSync(path).isDirectory()) return readdirSync(path).sort().map((f) => ({ name: f, bytes: new Uint8Array(readFileSync(join(path, f))) }));
  return [{ name: basename(path), bytes: new Uint8Array(readFileSync(path)) }];
}
const real = (rel: string) => load(join(REAL, rel));
const made = (rel: string) => load(join(out, rel));

async function readOne(files: NamedBytes[], opts = {}): Promise<Volume> {
  const { series } = scanDicom(files);
  expect(series).toHaveLength(1);
  return readDicomSeries(series[0], opts);
}

function refVoxels(name: string): Float32Array {
  const b = readFileSync(join(out, `${name}.f32`));
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

function expectSameVoxels(a: ArrayLike<number>, b: ArrayLike<number>): void {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let first = -1;
  for (let n = 0; n < a.length; n++) {
    if (a[n] !== b[n]) {
      diff++;
      if (first < 0) first = n;
    }
  }
  expect(diff, `first difference at ${first}: ${a[first]} vs ${b[first]}`).toBe(0);
}

function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-4): void {
  expect(a.length).toBe(b.length);
  for (let n = 0; n < a.length; n++) expect(Math.abs(a[n] - b[n]), `element ${n}: ${a[n]} vs ${b[n]}`).toBeLessThan(tol);
}

describe('DICOM series against pydicom (independent decode, sort and rescale)', () => {
  const cases: [string, string, { dims: number[]; spacing: number[]; type: string; units: string }][] = [
    ['ct1_explicit_le', 'dicomParser/CT1_UNC.explicit_little_endian.dcm', { dims: [512, 512, 1], spacing: [0.661468, 0.661468, 5], type: 'Int16Array', units: 'HU' }],
    ['ct1_explicit_be', 'dicomParser/CT1_UNC.explicit_big_endian.dcm', { dims: [512, 512, 1], spacing: [0.661468, 0.661468, 5], type: 'Int16Array', units: 'HU' }],
    ['ct1_implicit_le', 'dicomParser/CT1_UNC.implicit_little_endian.dcm', { dims: [512, 512, 1], spacing: [0.661468, 0.661468, 5], type: 'Int16Array', units: 'HU' }],
    ['ct_small', 'pydicom/CT_small.dcm', { dims: [128, 128, 1], spacing: [0.661468, 0.661468, 5], type: 'Int16Array', units: 'HU' }],
    ['ct2_uneven', 'pydicom/dicomdirtests_CT2', { dims: [16, 16, 4], spacing: [0.488281, 0.488281, 205 / 3], type: 'Int16Array', units: 'HU' }],
    ['dcmqi_3slice', 'dcmqi/ct-3slice', { dims: [512, 512, 3], spacing: [0.810547, 0.810547, 1], type: 'Int16Array', units: 'HU' }],
    // A CT whose RescaleType is US (unspecified): not claimed as HU.
    ['tiny', 'dcmqi/tiny_24x38x3/image', { dims: [24, 38, 3], spacing: [0.7, 0.7, 2.5], type: 'Int16Array', units: 'unknown' }],
    ['ts_decompressed', 'totalsegmentator/example_ct_dicom_decompressed', { dims: [512, 512, 20], spacing: [0.9765625, 0.9765625, 2], type: 'Int16Array', units: 'HU' }],
    ['ts_j2k', 'totalsegmentator/example_ct_dicom_j2k', { dims: [512, 512, 20], spacing: [0.9765625, 0.9765625, 2], type: 'Int16Array', units: 'HU' }],
    // Enhanced CT perfusion map: RescaleType US (unspecified), so not HU.
    ['enhanced_rle', 'dicomParser/CT0012.not_fragmented_bot_rle.dcm', { dims: [512, 512, 2], spacing: [0.388672, 0.388672, 10], type: 'Int16Array', units: 'unknown' }],
  ];
  it.each(cases)('%s (%s)', async (name, rel, want) => {
    const vol = await readOne(real(rel));
    const r = ref[name];
    expect(vol.dims).toEqual(want.dims);
    expect(vol.dims).toEqual(r.dims);
    expectClose(vol.spacing, want.spacing);
    expectClose(vol.origin, r.origin);
    expectClose(vol.direction, r.direction);
    expect(vol.data.constructor.name).toBe(want.type);
    expect(vol.units).toBe(want.units);
    expectSameVoxels(vol.data, refVoxels(name));
  });

  it('reports HU spot values where pydicom has them', async () => {
    const vol = await readOne(real('totalsegmentator/example_ct_dicom_decompressed'));
    const r = refVoxels('ts_decompressed');
    const [nx, ny] = vol.dims;
    for (const [i, j, k] of [[256, 256, 0], [100, 300, 10], [511, 511, 19], [300, 200, 7]]) {
      expect(vol.data[i + nx * (j + ny * k)]).toBe(r[i + nx * (j + ny * k)]);
    }
    let lowest = Infinity;
    for (const v of vol.data.subarray(0, nx * ny)) lowest = Math.min(lowest, v);
    expect(lowest).toBe(-1024); // outside the body: stored 0 − 1024
    expect(ref.ts_decompressed.min).toBe(-1024);
  });

  it('enhanced CT: frames ordered along the normal of IOP (−1,0,0 | 0,1,0), per-frame positions', async () => {
    const vol = await readOne(real('dicomParser/CT0012.not_fragmented_bot_rle.dcm'));
    // Normal (0,0,−1): frame 2 (z = −149) comes before frame 1 (z = −159).
    expect(vol.origin).toEqual([99.5, -301.5, -149]);
    expect(vol.direction).toEqual([-1, 0, 0, 0, 1, 0, 0, 0, -1]);
  });
});

describe('transfer syntaxes decode to the same pixels as their uncompressed twins', () => {
  it('CT1_UNC: explicit LE = implicit LE = explicit BE = JPEG-LS lossless', async () => {
    const base = await readOne(real('dicomParser/CT1_UNC.explicit_little_endian.dcm'));
    for (const f of ['CT1_UNC.implicit_little_endian.dcm', 'CT1_UNC.explicit_big_endian.dcm', 'CT1_UNC.fragmented_bot_jpeg_ls.80.dcm']) {
      const v = await readOne(real(`dicomParser/${f}`));
      expect(v.dims).toEqual(base.dims);
      expect(v.origin).toEqual(base.origin);
      expectSameVoxels(v.data, base.data);
    }
  });

  it('Enhanced CT: JPEG lossless (fragmented, no offset table) = RLE', async () => {
    const rle = await readOne(real('dicomParser/CT0012.not_fragmented_bot_rle.dcm'));
    const jpeg = await readOne(real('dicomParser/CT0012.fragmented_no_bot_jpeg_lossless.70.dcm'));
    expect(jpeg.dims).toEqual(rle.dims);
    expect(jpeg.origin).toEqual(rle.origin);
    expectSameVoxels(jpeg.data, rle.data);
  });

  it('TotalSegmentator series: JPEG 2000 lossless = decompressed (load times logged)', async () => {
    let t0 = performance.now();
    const j2k = await readDicomFiles(real('totalsegmentator/example_ct_dicom_j2k'));
    const tJ2k = performance.now() - t0;
    t0 = performance.now();
    const plain = await readDicomFiles(real('totalsegmentator/example_ct_dicom_decompressed'));
    const tPlain = performance.now() - t0;
    console.log(`20-slice 512² series: JPEG 2000 ${tJ2k.toFixed(0)} ms, uncompressed ${tPlain.toFixed(0)} ms`);
    expect(j2k.dims).toEqual([512, 512, 20]);
    expect(j2k.origin).toEqual(plain.origin);
    expect(j2k.spacing).toEqual(plain.spacing);
    expectSameVoxels(j2k.data, plain.data);
  });

  it.each([
    ['ct_small_jpeg_baseline', 'JPEG baseline 8-bit (libjpeg-turbo)'],
    ['ct_small_j2k_lossy', 'JPEG 2000 lossy, irreversible 9/7 wavelet (OpenJPEG)'],
  ])('%s: %s decodes as Pillow decodes the same codestream', async (name) => {
    const vol = await readOne(made(`${name}.dcm`));
    expect(vol.dims).toEqual([128, 128, 1]);
    expectSameVoxels(vol.data, refVoxels(name));
  });

  it('deflated explicit VR little endian (written by pydicom) = the original', async () => {
    const deflated = made('ct_small_deflated.dcm');
    expect(parseDataSet(deflated[0]).string(TAG.transferSyntax)).toBe('1.2.840.10008.1.2.1.99');
    const v = await readOne(deflated);
    expectSameVoxels(v.data, (await readOne(real('pydicom/CT_small.dcm'))).data);
  });

  it('files without preamble and meta header (raw data sets, implicit and explicit VR)', async () => {
    for (const rel of ['dicomParser/CT1_UNC.implicit_little_endian.dcm', 'pydicom/CT_small.dcm']) {
      const [file] = real(rel);
      const metaLength = new DataView(file.bytes.buffer, file.bytes.byteOffset).getUint32(140, true); // (0002,0000) UL value
      const raw = { name: file.name, bytes: file.bytes.slice(132 + 12 + metaLength) };
      expect(raw.bytes[0]).toBe(0x08); // first element in group 0008
      expect(isDicom(raw.bytes)).toBe(true);
      const v = await readOne([raw]);
      expectSameVoxels(v.data, (await readOne([file])).data);
    }
  });

  it('an unsupported transfer syntax is an InputError naming it', async () => {
    const [file] = real('dicomParser/CT1_UNC.fragmented_bot_jpeg_ls.80.dcm');
    const bytes = file.bytes.slice();
    const text = new TextDecoder('latin1').decode(bytes.subarray(0, 400));
    const at = text.indexOf('1.2.840.10008.1.2.4.80');
    expect(at).toBeGreaterThan(132);
    bytes.set(new TextEncoder().encode('1.2.840.10008.1.2.4.92'), at); // JPEG 2000 Part 2 multi-component
    const { series } = scanDicom([{ name: 'j2k-part2.dcm', bytes }]);
    await expect(readDicomSeries(series[0])).rejects.toThrow(/j2k-part2\.dcm: unsupported .*1\.2\.840\.10008\.1\.2\.4\.92/);
  });
});

describe('scanning a drop of files', () => {
  it('recognises DICOM by content (files without extension too), not by name', () => {
    for (const f of [...real('totalsegmentator/example_ct_dicom_j2k').slice(0, 2), ...real('pydicom/dicomdirtests_CT2')]) expect(isDicom(f.bytes)).toBe(true);
    for (const f of [...real('MANIFEST.tsv'), ...real('nifti_oddities/nibabel/anatomical.nii'), ...real('dcmqi/liver_seg.nrrd')]) expect(isDicom(f.bytes)).toBe(false);
    expect(isDicom(new Uint8Array(10))).toBe(false);
  });

  it('lists non-DICOM files and DICOM without pixel data in `skipped` instead of throwing', () => {
    const [ct] = real('pydicom/CT_small.dcm');
    const pixel = parseDataSet(ct).elements[TAG.pixelData];
    // The same file cut just before its Pixel Data element (explicit VR: 12-byte element header).
    const noPixels = { name: 'no-pixels.dcm', bytes: ct.bytes.slice(0, pixel.dataOffset - 12) };
    const truncated = { name: 'truncated.dcm', bytes: ct.bytes.slice(0, 20000) };
    const scan = scanDicom([...real('MANIFEST.tsv'), noPixels, truncated, ...real('dcmqi/ct-3slice')]);
    expect(scan.series).toHaveLength(1);
    expect(scan.series[0].count).toBe(3);
    expect(scan.skipped).toEqual([
      { name: 'MANIFEST.tsv', reason: 'not a DICOM file' },
      { name: 'no-pixels.dcm', reason: expect.stringMatching(/^no pixel data \(CT/) },
      { name: 'truncated.dcm', reason: expect.stringMatching(/^not a readable DICOM file \(.*buffer overrun\)/) },
    ]);
  });

  it('a DICOM without pixel data handed to readDicomSeries is an InputError naming the file', async () => {
    const [ct] = real('pydicom/CT_small.dcm');
    const pixel = parseDataSet(ct).elements[TAG.pixelData];
    const noPixels = { name: 'no-pixels.dcm', bytes: ct.bytes.slice(0, pixel.dataOffset - 12) };
    const series = { ...scanDicom(real('pydicom/CT_small.dcm')).series[0] };
    series.instances = [{ name: noPixels.name, dataSet: parseDataSet(noPixels) }];
    const err = await readDicomSeries(series).catch((e) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toBe('no-pixels.dcm: no pixel data');
  });

  it('describes each series in plain text', () => {
    const [s] = scanDicom(real('dcmqi/ct-3slice')).series;
    expect(s).toMatchObject({ uid: '1.2.392.200103.20080913.113635.1.2009.6.22.21.43.10.23430.1', modality: 'CT', count: 3, rows: 512, cols: 512, patient: 'JANCT000 (99000)' });
    expect(s.study).toMatch(/^2003-04-17/);
    const seg = scanDicom(real('dcmqi/liver.dcm')).series[0];
    expect(seg).toMatchObject({ modality: 'SEG', count: 3, description: 'Liver Segmentation' });
  });

  it('leaves out a scout (ImageType LOCALIZER) and an image of another orientation, with notices', async () => {
    const scan = scanDicom([...real('dcmqi/tiny_24x38x3/image'), ...made('tiny_scout.dcm'), ...made('tiny_sagittal.dcm')]);
    expect(scan.series).toHaveLength(1);
    expect(scan.series[0].count).toBe(3);
    expect(scan.skipped.map((s) => s.name).sort()).toEqual(['tiny_sagittal.dcm', 'tiny_scout.dcm']);
    expect(scan.skipped.find((s) => s.name === 'tiny_scout.dcm')!.reason).toMatch(/localizer/);
    const vol = await readDicomSeries(scan.series[0]);
    expect(vol.notices).toEqual(expect.arrayContaining([expect.stringMatching(/1 localizer/), expect.stringMatching(/1 image\(s\) with a different orientation/)]));
    expectSameVoxels(vol.data, refVoxels('tiny'));
  });

  it('reads the same file dropped twice once', async () => {
    const files = real('dcmqi/ct-3slice');
    const vol = await readOne([...files, { ...files[1], name: 'copy-of-02.dcm' }]);
    expect(vol.dims[2]).toBe(3);
    expect(vol.notices).toContain('1 duplicate file(s) (same SOPInstanceUID) read once');
  });

  it('files of two series: readDicomFiles asks to pick one, listing both', async () => {
    const files = [...real('dcmqi/ct-3slice'), ...real('pydicom/dicomdirtests_CT2')];
    const err = await readDicomFiles(files).catch((e) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/^7 files: 2 series: pick one: /);
    expect(err.message).toContain('(3 images, 1.2.392.200103.20080913.113635.1.2009.6.22.21.43.10.23430.1)');
    expect(err.message).toContain('(4 images, 1.3.6.1.4.1.5962.1.1.0.0.0.1196530851.28319.0.2)');
  });

  it('readDicomSeries refuses files of several series, and SEG objects', async () => {
    const a = scanDicom(real('dcmqi/ct-3slice')).series[0];
    const b = scanDicom(real('pydicom/dicomdirtests_CT2')).series[0];
    const mixed: DicomSeries = { ...a, instances: [...a.instances, ...b.instances] };
    await expect(readDicomSeries(mixed)).rejects.toThrow(/files from 2 series/);
    const seg = scanDicom(real('dcmqi/liver.dcm')).series[0];
    await expect(readDicomSeries(seg)).rejects.toThrow(/segmentation \(SEG\)/);
  });

  it('series without SeriesInstanceUID (anonymised) are still grouped, with a notice', async () => {
    const { series } = scanDicom(real('totalsegmentator/example_ct_dicom_decompressed'));
    expect(series).toHaveLength(1);
    expect(series[0].uid).toMatch(/^\(no SeriesInstanceUID\)/);
    expect(series[0].notices[0]).toMatch(/no SeriesInstanceUID/);
  });
});

describe('irregular stacks', () => {
  it('dicomdirtests_CT2: uneven gaps are reported with min/max; the mean gap is used', async () => {
    expect(ref.ct2_uneven.gaps.map((g) => +g.toFixed(3))).toEqual([202.5, 1.25, 1.25]);
    const vol = await readOne(real('pydicom/dicomdirtests_CT2'));
    expect(vol.spacing[2]).toBeCloseTo(68.3333, 3);
    expect(vol.notices).toEqual([expect.stringMatching(/^uneven slice spacing: gaps from 1\.25 mm to 202\.5 mm; the volume uses the mean gap 68\.333 mm/)]);
  });

  it('dicomdirtests_CT2 resampled: 1.25 mm grid, original slices kept, linear in between', async () => {
    const vol = await readOne(real('pydicom/dicomdirtests_CT2'), { resample: true });
    const src = refVoxels('ct2_uneven');
    const plane = 16 * 16;
    // Offsets 0, 202.5, 203.75, 205 mm → output slices 0, 162, 163, 164 of 165.
    expect(vol.dims).toEqual([16, 16, 165]);
    expect(vol.spacing[2]).toBeCloseTo(1.25, 6);
    expect(vol.data).toBeInstanceOf(Int16Array);
    for (const [k, s] of [[0, 0], [162, 1], [163, 2], [164, 3]]) {
      expectSameVoxels(vol.data.subarray(k * plane, (k + 1) * plane), src.subarray(s * plane, (s + 1) * plane));
    }
    // Output slice 81 lies halfway (101.25 of 202.5 mm) between input slices 0 and 1.
    const half = Array.from({ length: plane }, (_, p) => Math.round((src[p] + src[plane + p]) / 2));
    expectSameVoxels(vol.data.subarray(81 * plane, 82 * plane), half);
    expect(vol.notices.at(-1)).toMatch(/^resampled for uneven slice gaps \(1\.25 mm to 202\.5 mm\): 4 slices → 165 slices 1\.25 mm apart/);
  });

  it('gantry tilt: reported with its angle; resampling shifts each slice back in-plane', async () => {
    // Each slice of the tilted copy is 0.7 mm (one row) further along +y: tilt atan(0.7 / 2.5).
    const tilt = (Math.atan(0.7 / 2.5) * 180) / Math.PI;
    const asIs = await readOne(made('tilted'));
    expect(asIs.notices).toEqual([expect.stringContaining(`gantry tilt of ${tilt.toFixed(2)}°`)]);
    expectSameVoxels(asIs.data, refVoxels('tiny'));

    const vol = await readOne(made('tilted'), { resample: true });
    expect(vol.dims).toEqual([24, 38, 3]);
    expect(vol.direction).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(vol.notices.at(-1)).toMatch(/^resampled for gantry tilt of 15\.64°/);
    const src = refVoxels('tiny');
    const min = Math.min(...src);
    const [nx, ny] = [24, 38];
    for (let k = 0; k < 3; k++) {
      for (let j = 0; j < ny; j++) {
        for (let i = 0; i < nx; i++) {
          // Output row j of slice k shows input row j − k; rows before the slice's first are outside it.
          const want = j - k >= 0 ? src[i + nx * (j - k + ny * k)] : min;
          expect(vol.data[i + nx * (j + ny * k)]).toBe(want);
        }
      }
    }
  });

  it('a single slice without position/orientation: identity geometry with a notice', async () => {
    const vol = await readOne(made('ct_small_unlocated.dcm'));
    expect(vol.direction).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(vol.origin).toEqual([0, 0, 0]);
    expect(vol.notices).toEqual([expect.stringMatching(/no ImagePositionPatient\/ImageOrientationPatient; identity orientation assumed/)]);
    expectSameVoxels(vol.data, refVoxels('ct_small'));
  });

  it('a fractional rescale slope gives float32 values', async () => {
    const vol = await readOne(made('ct_small_slope_half.dcm'));
    expect(vol.data).toBeInstanceOf(Float32Array);
    const hu = refVoxels('ct_small');
    // HU = raw − 1024 before; raw · 0.5 − 1024 now.
    expectSameVoxels(vol.data, Array.from(hu, (v) => (v + 1024) * 0.5 - 1024));
  });
});
