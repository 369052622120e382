/**
 * DICOM files → series → Volume, as a user of 3D Slicer or dcm2niix would expect: files grouped by
 * SeriesInstanceUID, scouts and stray orientations left out with a notice, slices ordered along the
 * slice normal, rescale applied, irregular stacks reported (and resampled on request).
 */
import type { Volume, VoxelArray } from '../../volume';
import { InputError } from '../errors';
import type { NamedBytes } from '../named-bytes';
import {
  TAG,
  isDicom,
  isSegmentation,
  parseDataSet,
  sopInstanceOf,
  str,
  strings,
  numberOfFrames,
  type DataSet,
} from './dataset';
import { hasPixelData, pixelProblem, readFrame, frameFormat, type StoredArray } from './pixels';
import { orientationKey, slicesOf, type Slice } from './slices';
import { buildStack, irregularityNotices, resampleStack, type Stack } from './stack';

export { isDicom };

export interface DicomInstance {
  name: string;
  dataSet: DataSet;
}

export interface DicomSeries {
  /** SeriesInstanceUID, or a key built from other attributes when the files have none (anonymised data). */
  uid: string;
  description: string;
  /** 'CT', 'MR', … and 'SEG' for segmentation objects. */
  modality: string;
  /** Number of images (slices): frames of multi-frame files count one each. */
  count: number;
  /** "Name (ID)" as plain text; '' when absent. */
  patient: string;
  /** "Date · description" as plain text; '' when absent. */
  study: string;
  rows: number;
  cols: number;
  instances: DicomInstance[];
  /** What scanning left out or assumed for this series. */
  notices: string[];
}

export interface DicomScan {
  series: DicomSeries[];
  skipped: { name: string; reason: string }[];
}

/** Groups files into series; files that cannot be part of a volume are listed in `skipped`, never thrown. */
export function scanDicom(files: NamedBytes[]): DicomScan {
  const skipped: DicomScan['skipped'] = [];
  const groups = new Map<string, { instances: DicomInstance[]; notices: string[]; localizers: number }>();
  for (const file of files) {
    if (!isDicom(file.bytes)) {
      skipped.push({ name: file.name, reason: 'not a DICOM file' });
      continue;
    }
    let dataSet: DataSet;
    try {
      dataSet = parseDataSet(file);
    } catch (e) {
      skipped.push({ name: file.name, reason: e instanceof InputError ? e.reason : String(e) });
      continue;
    }
    if (!hasPixelData(dataSet)) {
      const what = str(dataSet, TAG.modality) || 'no modality';
      skipped.push({ name: file.name, reason: `no pixel data (${what}; e.g. a DICOMDIR, report or RT structure set)` });
      continue;
    }
    const key = seriesKey(dataSet);
    const group = groups.get(key) ?? { instances: [], notices: [], localizers: 0 };
    groups.set(key, group);
    if (strings(dataSet, TAG.imageType).some((t) => t.toUpperCase() === 'LOCALIZER')) {
      skipped.push({ name: file.name, reason: 'localizer (scout) image, not part of a volume' });
      group.localizers++;
      continue;
    }
    group.instances.push({ name: file.name, dataSet });
  }

  const series: DicomSeries[] = [];
  for (const [key, group] of groups) {
    const notices = group.notices;
    if (group.localizers) notices.push(`${group.localizers} localizer (scout) image(s) left out`);
    let instances = dropDuplicates(group.instances, notices);
    const first = instances[0]?.dataSet;
    if (!first) continue;
    const seg = isSegmentation(first);
    if (!seg) instances = keepMajorityPlane(instances, notices, skipped);
    if (!str(first, TAG.seriesUid)) notices.push('the files have no SeriesInstanceUID; grouped by study, series number, description and frame of reference');
    const f = frameFormat(first);
    series.push({
      uid: key,
      description: str(first, TAG.seriesDescription),
      modality: seg ? 'SEG' : str(first, TAG.modality),
      count: instances.reduce((n, x) => n + numberOfFrames(x.dataSet), 0),
      patient: [str(first, TAG.patientName).replace(/\^+/g, ' ').trim(), str(first, TAG.patientId) ? `(${str(first, TAG.patientId)})` : '']
        .filter(Boolean)
        .join(' '),
      study: [formatDate(str(first, TAG.studyDate)), str(first, TAG.studyDescription)].filter(Boolean).join(' · '),
      rows: f.rows,
      cols: f.columns,
      instances,
      notices,
    });
  }
  return { series, skipped };
}

function seriesKey(ds: DataSet): string {
  const uid = str(ds, TAG.seriesUid);
  if (uid) return uid;
  const parts = [TAG.studyUid, TAG.seriesNumber, TAG.seriesDescription, TAG.frameOfReference, TAG.modality].map((t) => str(ds, t));
  return `(no SeriesInstanceUID) ${parts.join(' | ')}`;
}

function formatDate(da: string): string {
  return /^\d{8}$/.test(da) ? `${da.slice(0, 4)}-${da.slice(4, 6)}-${da.slice(6)}` : da;
}

/** The same instance dropped twice (same SOPInstanceUID) is read once. */
function dropDuplicates(instances: DicomInstance[], notices: string[]): DicomInstance[] {
  const seen = new Set<string>();
  const out = instances.filter((x) => {
    const uid = sopInstanceOf(x.dataSet);
    if (!uid) return true;
    if (seen.has(uid)) return false;
    seen.add(uid);
    return true;
  });
  if (out.length < instances.length) notices.push(`${instances.length - out.length} duplicate file(s) (same SOPInstanceUID) read once`);
  return out;
}

/**
 * Images whose plane differs from the series' majority (orientation or matrix size) cannot join
 * the volume: typically scouts without the LOCALIZER flag, or reformats saved into the series.
 */
function keepMajorityPlane(instances: DicomInstance[], notices: string[], skipped: DicomScan['skipped']): DicomInstance[] {
  const keyOf = (x: DicomInstance) => {
    const f = frameFormat(x.dataSet);
    return `${orientationKey(slicesOf(x.name, x.dataSet)[0])} ${f.rows}x${f.columns}`;
  };
  const counts = new Map<string, number>();
  for (const x of instances) counts.set(keyOf(x), (counts.get(keyOf(x)) ?? 0) + 1);
  if (counts.size < 2) return instances;
  const majority = [...counts.entries()].sort((a, b) => b[1] - a[1])[0][0];
  const kept = instances.filter((x) => keyOf(x) === majority);
  for (const x of instances) if (keyOf(x) !== majority) skipped.push({ name: x.name, reason: 'slice orientation or size differs from the rest of its series (localizer?)' });
  notices.push(`${instances.length - kept.length} image(s) with a different orientation or size left out (localizer?)`);
  return kept;
}

/** The series' voxel grid as read without resampling, and its slices in k order; no pixels decoded. */
export function dicomSeriesGeometry(series: DicomSeries): { grid: Pick<Volume, 'dims' | 'spacing' | 'origin' | 'direction'>; stack: Stack } {
  const where = series.description || series.instances[0]?.name || series.uid;
  if (series.instances.length === 0) throw new InputError(where, 'series has no images');
  const stack = buildStack(series.instances.flatMap((x) => slicesOf(x.name, x.dataSet)), where);
  const { rows, columns } = frameFormat(series.instances[0].dataSet);
  return { grid: { dims: [columns, rows, stack.slices.length], spacing: stack.spacing, origin: stack.origin, direction: stack.direction }, stack };
}

export interface ReadDicomOptions {
  /** Resample a tilted or unevenly spaced series onto a regular grid (otherwise: mean gap, with a notice). */
  resample?: boolean;
}

/** Reads one image series into a Volume (LPS, i along rows, k along the slice normal). */
export async function readDicomSeries(series: DicomSeries, opts: ReadDicomOptions = {}): Promise<Volume> {
  const where = series.description || series.instances[0]?.name || series.uid;
  if (series.instances.length === 0) throw new InputError(where, 'series has no images');
  const keys = [...new Set(series.instances.map((x) => seriesKey(x.dataSet)))];
  if (keys.length > 1) throw new InputError(where, `files from ${keys.length} series (${keys.join(', ')}); read one series at a time`);
  if (series.modality === 'SEG' || isSegmentation(series.instances[0].dataSet)) {
    throw new InputError(where, 'is a DICOM segmentation (SEG), not an image series; open it over its image series');
  }
  for (const x of series.instances) {
    if (!hasPixelData(x.dataSet)) throw new InputError(x.name, 'no pixel data');
    const problem = pixelProblem(x.dataSet);
    if (problem) throw new InputError(x.name, problem);
  }
  const { rows, columns } = frameFormat(series.instances[0].dataSet);
  for (const x of series.instances) {
    const f = frameFormat(x.dataSet);
    if (f.rows !== rows || f.columns !== columns) throw new InputError(x.name, `image size ${f.columns}×${f.rows} differs from ${columns}×${rows}; not one volume`);
  }
  const slices: Slice[] = series.instances.flatMap((x) => slicesOf(x.name, x.dataSet));
  const stack = buildStack(slices, where);
  const plane = rows * columns;

  // Decode every slice once; track the rescaled range to pick the output type.
  const stored: StoredArray[] = [];
  let min = Infinity;
  let max = -Infinity;
  let integral = true;
  for (const s of stack.slices) {
    const values = await readFrame(s.name, s.ds, s.frame);
    let lo = Infinity;
    let hi = -Infinity;
    for (let n = 0; n < plane; n++) {
      const v = values[n];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const a = lo * s.slope + s.intercept;
    const b = hi * s.slope + s.intercept;
    min = Math.min(min, a, b);
    max = Math.max(max, a, b);
    if (!Number.isInteger(s.slope) || !Number.isInteger(s.intercept)) integral = false;
    stored.push(values);
  }
  const asInt16 = integral && min >= -32768 && max <= 32767;
  const notices = [...series.notices, ...stack.notices];
  const irregular = stack.uneven || stack.tiltDegrees > 0;
  let data: VoxelArray;
  let nz = stack.slices.length;
  let spacing = stack.spacing;

  if (irregular && opts.resample) {
    const planes = stack.slices.map((s, k) => rescalePlane(stored[k], s, new Float32Array(plane)));
    const r = resampleStack(stack, planes, columns, rows, min);
    nz = r.nz;
    spacing = [stack.spacing[0], stack.spacing[1], r.gap];
    // Interpolated values of an integer series are rounded, keeping int16 (as ITK's resampler keeps the pixel type).
    data = asInt16 ? Int16Array.from(r.values, Math.round) : r.values;
    notices.push(r.notice);
  } else {
    const out = asInt16 ? new Int16Array(plane * nz) : new Float32Array(plane * nz);
    stack.slices.forEach((s, k) => rescalePlane(stored[k], s, out.subarray(k * plane, (k + 1) * plane)));
    data = out;
    notices.push(...irregularityNotices(stack));
  }

  const modality = str(series.instances[0].dataSet, TAG.modality);
  const rescaleType = stack.slices[0].rescaleType.toUpperCase();
  return {
    data,
    dims: [columns, rows, nz],
    spacing,
    origin: stack.origin,
    direction: stack.direction,
    units: modality === 'CT' && (rescaleType === '' || rescaleType === 'HU') ? 'HU' : 'unknown',
    notices,
    source: { format: 'DICOM', name: series.description || series.instances[0].name },
  };
}

function rescalePlane<T extends Int16Array | Float32Array>(values: ArrayLike<number>, s: Slice, out: T): T {
  const { slope, intercept } = s;
  for (let n = 0; n < out.length; n++) out[n] = values[n] * slope + intercept;
  return out;
}

/** Scan, and read the one image series there is; several → InputError listing them. */
export async function readDicomFiles(files: NamedBytes[], opts: ReadDicomOptions = {}): Promise<Volume> {
  const where = files.length === 1 ? files[0].name : `${files.length} files`;
  const { series, skipped } = scanDicom(files);
  const images = series.filter((s) => s.modality !== 'SEG');
  if (images.length === 0) {
    const why = skipped.length ? `: ${skipped.slice(0, 3).map((s) => `${s.name} (${s.reason})`).join('; ')}` : '';
    throw new InputError(where, `no DICOM image series with pixel data${why}`);
  }
  if (images.length > 1) {
    const list = images.map((s) => `${s.modality} "${s.description || '(no description)'}" (${s.count} images, ${s.uid})`).join('; ');
    throw new InputError(where, `${images.length} series: pick one: ${list}`);
  }
  const volume = await readDicomSeries(images[0], opts);
  if (skipped.length) volume.notices.push(`${skipped.length} file(s) skipped: ${skipped.slice(0, 5).map((s) => `${s.name} (${s.reason})`).join('; ')}${skipped.length > 5 ? '; …' : ''}`);
  return volume;
}
