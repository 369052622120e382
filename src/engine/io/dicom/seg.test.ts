import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedPath } from '../../../../tests/shared';
import { InputError } from '../errors';
import type { NamedBytes } from '../named-bytes';
import type { Mat3, Vec3 } from '../../volume';
import { readDicomSeg, writeDicomSeg, type DicomSegmentation, type SegGrid } from './seg';
import { readDicomSeries, scanDicom, type DicomSeries } from './series';

const REAL = sharedPath('data', 'real');
const SCRIPT = fileURLToPath(new URL('./testing/seg_reference.py', import.meta.url));

const file = (path: string, name = path.replace(/^.*\//, '')): NamedBytes => ({ name, bytes: new Uint8Array(readFileSync(path)) });
const real = (rel: string) => file(join(REAL, rel), rel);
const seriesOf = (rel: string): DicomSeries => {
  const dir = join(REAL, rel);
  const { series } = scanDicom(readdirSync(dir).map((f) => file(join(dir, f))));
  expect(series).toHaveLength(1);
  return series[0];
};

interface WrittenSeg {
  modality: string;
  sopClass: string;
  transferSyntax: string;
  segmentationType: string;
  numberOfFrames: number;
  bitsAllocated: number;
  rows: number;
  columns: number;
  referencedSeries: string;
  referencedInstances: number;
  studyUid: string;
  frameOfReference: string;
  patientName: string;
  segments: { number: number; label: string; algorithmType: string; algorithmName: string | null; category: string; type: string; lab: number[] | null }[];
  pixelSpacing: number[];
  orientation: number[];
  frames: { segment: number; position: number[]; referencedSop: string; sopAtPosition: string | null }[];
}

let out: string;
let ct3: DicomSeries;
let tiny: DicomSeries;
let liver: DicomSegmentation;
let tinyTwo: Uint8Array;
let ref: Record<string, unknown>;

// Two segments over the tiny series: dcmqi's label map (slices 0 and 2) and a 5×5 box on slice 1.
const BOX = { i0: 3, i1: 8, j0: 5, j1: 10, k: 1 };

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'dicom-seg-'));
  ct3 = seriesOf('dcmqi/ct-3slice');
  tiny = seriesOf('dcmqi/tiny_24x38x3/image');
  liver = await readDicomSeg(real('dcmqi/liver.dcm'), ct3);
  const liverOut = writeDicomSeg(liver.labelmap, ct3, [{ number: 1, label: 'Liver', color: [221, 130, 101], algorithmType: 'SEMIAUTOMATIC', algorithmName: 'SlicerEditor' }]);
  writeFileSync(join(out, 'liver_written.dcm'), liverOut);

  const two = (await readDicomSeg(real('dcmqi/tiny_24x38x3/sparse-labelmap-noppv.dcm'), tiny)).labelmap;
  const [nx, ny] = two.dims;
  for (let j = BOX.j0; j < BOX.j1; j++) for (let i = BOX.i0; i < BOX.i1; i++) two.data[i + nx * (j + ny * BOX.k)] = 2;
  tinyTwo = two.data.slice() as Uint8Array;
  writeFileSync(
    join(out, 'tiny_written.dcm'),
    writeDicomSeg(two, tiny, [
      { number: 1, label: 'organ' },
      { number: 2, label: 'lesion', algorithmType: 'AUTOMATIC', algorithmName: 'COPLE-Net' },
    ]),
  );
  ref = JSON.parse(
    execFileSync('/usr/bin/python3', [SCRIPT, REAL, out, join(out, 'liver_written.dcm'), join(out, 'tiny_written.dcm')], { encoding: 'utf8', maxBuffer: 1 << 26 }),
  );
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

function raw<T>(name: string, Type: new (b: ArrayBuffer) => T): T {
  const b = readFileSync(join(out, name));
  return new Type(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function countDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let n = 0; n < a.length; n++) if (a[n] !== b[n]) d++;
  return d;
}

describe('reading DICOM SEG onto the referenced series', () => {
  it.each(['dcmqi/liver.dcm', 'pydicom/liver_rle.dcm', 'pydicom/liver_expb.dcm'])('%s on dcmqi/ct-3slice equals liver_seg.nrrd voxel for voxel', async (rel) => {
    const seg = await readDicomSeg(real(rel), ct3);
    const nrrd = ref.liver_nrrd as { sizes: number[]; origin: number[]; spacing: number[] };
    expect(seg.labelmap.dims).toEqual(nrrd.sizes);
    seg.labelmap.origin.forEach((x, n) => expect(x).toBeCloseTo(nrrd.origin[n], 4));
    seg.labelmap.spacing.forEach((x, n) => expect(x).toBeCloseTo(nrrd.spacing[n], 5));
    expect(seg.labelmap.units).toBe('label');
    expect(seg.labelmap.data).toBeInstanceOf(Uint8Array);
    const truth = raw('liver_nrrd.i16', Int16Array);
    expect(truth.reduce((a, b) => a + b, 0)).toBe(107098);
    expect(countDiff(seg.labelmap.data, truth)).toBe(0);
    expect(seg.segments).toHaveLength(1);
    expect(seg.segments[0]).toMatchObject({ number: 1, label: 'Liver', algorithmType: 'SEMIAUTOMATIC', algorithmName: 'SlicerEditor' });
    // CIELab (41661, 41167, 40792) is Slicer's liver colour (221, 130, 101) after an 8-bit round trip.
    seg.segments[0].color!.forEach((c, n) => expect(Math.abs(c - [221, 130, 101][n])).toBeLessThanOrEqual(5));
  });

  it('the same SEG placed on the grid of the volume read from the series', async () => {
    const volume = await readDicomSeries(ct3);
    const seg = await readDicomSeg(real('dcmqi/liver.dcm'), volume);
    expect(countDiff(seg.labelmap.data, liver.labelmap.data)).toBe(0);
  });

  it('tiny_24x38x3: both LABELMAP SEGs (with and without PixelPaddingValue) equal the NRRD', async () => {
    const truth = raw('tiny_nrrd.i16', Int16Array);
    for (const rel of ['dcmqi/tiny_24x38x3/sparse-labelmap-noppv.dcm', 'dcmqi/tiny_24x38x3/sparse-labelmap-ppv5.dcm']) {
      const seg = await readDicomSeg(real(rel), tiny);
      expect(seg.labelmap.dims).toEqual([24, 38, 3]);
      expect(countDiff(seg.labelmap.data, truth)).toBe(0);
      expect(seg.segments.map((s) => [s.number, s.label])).toEqual([[1, 'Liver']]); // segment 0 'Background' is not listed
    }
  });

  it('tiny_24x38x3: the BINARY SEG holds the same mask on the middle slice only', async () => {
    const truth = raw('tiny_nrrd.i16', Int16Array);
    const plane = 24 * 38;
    const seg = await readDicomSeg(real('dcmqi/tiny_24x38x3/label_binary_seg.dcm'), tiny);
    const d = seg.labelmap.data;
    expect(countDiff(d.subarray(plane, 2 * plane), truth.subarray(0, plane))).toBe(0);
    expect(d.subarray(0, plane).every((v) => v === 0)).toBe(true);
    expect(d.subarray(2 * plane).every((v) => v === 0)).toBe(true);
    expect(truth.subarray(0, plane).reduce((a, b) => a + b, 0)).toBe(315);
  });

  it('FRACTIONAL: a voxel is in the segment from half of MaximumFractionalValue up', async () => {
    const seg = await readDicomSeg(file(join(out, 'liver_fractional.dcm')), ct3);
    const expected = raw('liver_nrrd.i16', Int16Array);
    // pydicom-built copy of the liver SEG: rows 0-9 hold 127/255 (out), rows 10-19 hold 128/255 (in).
    for (let k = 0; k < 3; k++) for (let j = 10; j < 20; j++) for (let i = 0; i < 512; i++) expected[i + 512 * (j + 512 * k)] = 1;
    expect(countDiff(seg.labelmap.data, expected)).toBe(0);
  });

  it('BINARY frames of 15 bits (starting mid-byte), overlapping segments: later segment wins, with a notice', async () => {
    const grid: SegGrid = { dims: [5, 3, 3], spacing: [0.5, 0.5, 1], origin: [10, 20, 30], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
    const seg = await readDicomSeg(file(join(out, 'odd_binary.dcm')), grid);
    expect(countDiff(seg.labelmap.data, raw('odd_binary_expected.u8', Uint8Array))).toBe(0);
    const overlap = (ref.odd_binary as { overlap: number }).overlap;
    expect(overlap).toBeGreaterThan(0);
    expect(seg.labelmap.notices).toEqual([`segments overlap in ${overlap} voxels; each keeps the later (higher-numbered) segment`]);
    expect(seg.segments.map((s) => s.label)).toEqual(['first', 'second']);
  });

  it('refuses a reference of another orientation, frames between slices, other frame sizes, non-SEG files', async () => {
    const volume = await readDicomSeries(ct3);
    const flipped: SegGrid = { ...volume, direction: [-1, 0, 0, 0, 1, 0, 0, 0, -1] as Mat3 };
    await expect(readDicomSeg(real('dcmqi/liver.dcm'), flipped)).rejects.toThrow(/frame 1 orientation .* differs from the referenced images'/);
    const between: SegGrid = { ...volume, origin: [volume.origin[0], volume.origin[1], volume.origin[2] + 0.6] as Vec3 };
    await expect(readDicomSeg(real('dcmqi/liver.dcm'), between)).rejects.toThrow(/lies on no slice of the referenced images/);
    await expect(readDicomSeg(real('dcmqi/liver.dcm'), tiny)).rejects.toThrow(/SEG frames are 512×512 pixels, the referenced images 24×38/);
    const notSeg = await readDicomSeg(real('pydicom/CT_small.dcm'), ct3).catch((e) => e);
    expect(notSeg).toBeInstanceOf(InputError);
    expect(notSeg.message).toBe('pydicom/CT_small.dcm: not a DICOM SEG (modality CT)');
  });
});

describe('writing DICOM SEG', () => {
  it('round trip: the written liver SEG reads back to the identical mask', async () => {
    const back = await readDicomSeg(file(join(out, 'liver_written.dcm')), ct3);
    expect(countDiff(back.labelmap.data, liver.labelmap.data)).toBe(0);
    expect(back.segments).toEqual([{ number: 1, label: 'Liver', color: expect.any(Array), algorithmType: 'SEMIAUTOMATIC', algorithmName: 'SlicerEditor' }]);
    back.segments[0].color!.forEach((c, n) => expect(Math.abs(c - [221, 130, 101][n])).toBeLessThanOrEqual(1));
  });

  it('pydicom reads the written liver SEG: BINARY SEG, a frame per slice, bits and references right', () => {
    const w = ref['liver_written.dcm'] as WrittenSeg;
    expect(w).toMatchObject({
      modality: 'SEG',
      sopClass: '1.2.840.10008.5.1.4.1.1.66.4',
      transferSyntax: '1.2.840.10008.1.2.1',
      segmentationType: 'BINARY',
      numberOfFrames: 3,
      bitsAllocated: 1,
      rows: 512,
      columns: 512,
      referencedSeries: '1.2.392.200103.20080913.113635.1.2009.6.22.21.43.10.23430.1',
      referencedInstances: 3,
      studyUid: '1.2.392.200103.20080913.113635.0.2009.6.22.21.43.10.22941.1',
      patientName: 'JANCT000',
      pixelSpacing: [0.810547, 0.810547],
      orientation: [1, 0, 0, 0, 1, 0],
    });
    expect(w.segments).toEqual([
      { number: 1, label: 'Liver', algorithmType: 'SEMIAUTOMATIC', algorithmName: 'SlicerEditor', category: 'Morphologically Altered Structure', type: 'Lesion', lab: expect.any(Array) },
    ]);
    const bits = raw('liver_written.dcm.u8', Uint8Array);
    const plane = 512 * 512;
    w.frames.forEach((f, n) => {
      expect(f.segment).toBe(1);
      expect(f.referencedSop).toBe(f.sopAtPosition);
      const k = Math.round((f.position[2] - liver.labelmap.origin[2]) / liver.labelmap.spacing[2]);
      expect(countDiff(bits.subarray(n * plane, (n + 1) * plane), liver.labelmap.data.subarray(k * plane, (k + 1) * plane))).toBe(0);
    });
    // The source slices' own ImagePositionPatient text, ordered along k.
    expect(w.frames.map((f) => f.position[2])).toEqual([-128.690002, -127.690002, -126.690002]);
  });

  it('two segments: frames only where a segment is present, each with its source slice', () => {
    const w = ref['tiny_written.dcm'] as WrittenSeg;
    expect(w.numberOfFrames).toBe(3);
    expect(w.frames.map((f) => [f.segment, f.position[2]])).toEqual([[1, -177.75], [1, -172.75], [2, -175.25]]);
    for (const f of w.frames) expect(f.referencedSop).toBe(f.sopAtPosition);
    expect(w.segments.map((s) => [s.number, s.label, s.algorithmType, s.algorithmName])).toEqual([
      [1, 'organ', 'MANUAL', null],
      [2, 'lesion', 'AUTOMATIC', 'COPLE-Net'],
    ]);
    const bits = raw('tiny_written.dcm.u8', Uint8Array);
    const plane = 24 * 38;
    const sliceOf = (z: number) => Math.round((z + 177.75) / 2.5);
    w.frames.forEach((f, n) => {
      const k = sliceOf(f.position[2]);
      const want = Array.from(tinyTwo.subarray(k * plane, (k + 1) * plane), (v) => (v === f.segment ? 1 : 0));
      expect(countDiff(bits.subarray(n * plane, (n + 1) * plane), want)).toBe(0);
    });
    expect(bits.subarray(2 * plane, 3 * plane).reduce((a, b) => a + b, 0)).toBe(25); // the 5×5 box
  });

  it('refuses a label map off the series grid, or with values that are no segment', () => {
    const moved = { ...liver.labelmap, origin: [0, 0, 0] as Vec3 };
    expect(() => writeDicomSeg(moved, ct3, [{ number: 1, label: 'x' }])).toThrow(/does not match the series' 512×512×3 grid/);
    expect(() => writeDicomSeg(liver.labelmap, ct3, [{ number: 2, label: 'x' }])).toThrow(/voxel value 1 is not one of the segments \(2\)/);
  });

  it('an empty label map still makes a valid SEG (one empty frame)', async () => {
    const empty = { ...liver.labelmap, data: new Uint8Array(liver.labelmap.data.length) };
    const bytes = writeDicomSeg(empty, ct3, [{ number: 1, label: 'nothing' }]);
    const back = await readDicomSeg({ name: 'empty.dcm', bytes }, ct3);
    expect(back.labelmap.data.every((v) => v === 0)).toBe(true);
    expect(back.segments.map((s) => s.label)).toEqual(['nothing']);
  });
});
