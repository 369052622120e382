/**
 * DICOM Segmentation objects (SEG) read onto the voxel grid of the image series they segment.
 *
 * - BINARY: 1-bit frames, one segment each (SegmentIdentificationSequence).
 * - FRACTIONAL: 8-bit frames of probability or occupancy; a voxel belongs to the segment when its
 *   value is at least half of MaximumFractionalValue (the usual 0.5 threshold).
 * - LABELMAP (Label Map Segmentation Storage, 1.2.840.10008.5.1.4.1.1.66.7): 8/16-bit frames whose
 *   values are segment numbers; pixels equal to PixelPaddingValue (when it is not a segment number)
 *   are background.
 *
 * Frames are placed by their PlanePositionSequence on the nearest slice of the reference (within
 * half the gap to its neighbours, and within half a pixel in-plane); a frame without a position is
 * placed by the image it was derived from. The result is one label per voxel: where BINARY or
 * FRACTIONAL segments overlap, the later (higher-numbered) segment wins and a notice says so.
 */
import dcmjs from 'dcmjs';
import { voxelOfWorld, worldLPS, type Vec3, type Volume } from '../../volume';
import { InputError } from '../errors';
import type { NamedBytes } from '../named-bytes';
import {
  SEG_SOP_CLASSES,
  TAG,
  decimals,
  functionalGroup,
  isSegmentation,
  items,
  numberOfFrames,
  parseDataSet,
  sopClassOf,
  sopInstanceOf,
  str,
  uint,
  type DataSet,
} from './dataset';
import { frameFormat, hasPixelData, readFrame } from './pixels';
import { referencedInstanceOfFrame } from './slices';
import { dicomSeriesGeometry, type DicomSeries } from './series';

export { writeDicomSeg } from './seg-write';

export interface SegmentInfo {
  number: number;
  label: string;
  /** Recommended display colour, 0–255 sRGB. */
  color?: [number, number, number];
  algorithmType?: 'MANUAL' | 'SEMIAUTOMATIC' | 'AUTOMATIC';
  algorithmName?: string;
}

export interface DicomSegmentation {
  /** Segment numbers per voxel (0 = none), units 'label', on the reference's grid. */
  labelmap: Volume;
  segments: SegmentInfo[];
}

export type SegGrid = Pick<Volume, 'dims' | 'spacing' | 'origin' | 'direction'>;

/** The image series the SEG was drawn on, or the grid of a volume read from it. */
export type SegReference = DicomSeries | SegGrid;

interface Placement {
  grid: SegGrid;
  /** LPS position of each slice's first pixel (the real one for a series, even when spacing is uneven). */
  slicePositions: Vec3[];
  /** SOPInstanceUID (and frame, for multi-frame sources) → slice index. */
  sliceOfInstance: Map<string, number>;
  seriesUid?: string;
  frameOfReference?: string;
}

export async function readDicomSeg(file: NamedBytes, reference: SegReference): Promise<DicomSegmentation> {
  const ds = parseDataSet(file);
  if (!isSegmentation(ds)) throw new InputError(file.name, `not a DICOM SEG (modality ${str(ds, TAG.modality) || 'unknown'})`);
  if (!hasPixelData(ds)) throw new InputError(file.name, 'SEG without pixel data');
  const type = str(ds, TAG.segmentationType).toUpperCase() || 'BINARY';
  const labelmapClass = type === 'LABELMAP' || sopClassOf(ds) === SEG_SOP_CLASSES.labelmap;
  if (!labelmapClass && type !== 'BINARY' && type !== 'FRACTIONAL') throw new InputError(file.name, `unsupported SegmentationType ${type}`);

  const place = placementOf(reference);
  const { grid } = place;
  const [nx, ny, nz] = grid.dims;
  const f = frameFormat(ds);
  if (f.columns !== nx || f.rows !== ny) {
    throw new InputError(file.name, `SEG frames are ${f.columns}×${f.rows} pixels, the referenced images ${nx}×${ny}`);
  }
  const notices: string[] = [];
  checkReferences(ds, place, notices);

  const segments = segmentsOf(ds);
  const known = new Set(segments.map((s) => s.number));
  const frames = numberOfFrames(ds);
  // Frames in the order they are painted: by segment number, so the later segment wins overlaps.
  const order = Array.from({ length: frames }, (_, n) => ({
    n,
    segment: labelmapClass ? 0 : uint(functionalGroup(ds, n, TAG.segmentIdentificationSeq) ?? ds, TAG.referencedSegmentNumber) ?? 0,
  }));
  if (!labelmapClass) {
    const missing = order.find((x) => !known.has(x.segment));
    if (missing) throw new InputError(file.name, `frame ${missing.n + 1} refers to segment ${missing.segment}, which the SegmentSequence does not define`);
    order.sort((a, b) => a.segment - b.segment || a.n - b.n);
  }
  const maxLabel = Math.max(0, ...segments.map((s) => s.number));
  const plane = nx * ny;
  const data = maxLabel > 255 ? new Uint16Array(plane * nz) : new Uint8Array(plane * nz);
  const threshold = type === 'FRACTIONAL' ? (uint(ds, TAG.maxFractionalValue) ?? 255) / 2 : 1;
  const padding = labelmapClass ? uint(ds, 'x00280120') : undefined;
  const background = padding !== undefined && !known.has(padding) ? padding : undefined;
  let overlaps = 0;

  for (const { n, segment } of order) {
    const k = sliceOfFrame(file.name, ds, n, place);
    const values = await readFrame(file.name, ds, n);
    const base = k * plane;
    for (let p = 0; p < plane; p++) {
      const v = values[p];
      if (labelmapClass) {
        if (v !== 0 && v !== background) data[base + p] = v;
      } else if (v >= threshold) {
        if (data[base + p] !== 0 && data[base + p] !== segment) overlaps++;
        data[base + p] = segment;
      }
    }
  }
  if (overlaps > 0) notices.push(`segments overlap in ${overlaps} voxels; each keeps the later (higher-numbered) segment`);

  return {
    labelmap: { data, ...grid, units: 'label', notices, source: { format: 'DICOM SEG', name: file.name } },
    segments: segments.filter((s) => s.number !== 0),
  };
}

function placementOf(reference: SegReference): Placement {
  if ('instances' in reference) {
    const { grid, stack } = dicomSeriesGeometry(reference);
    const sliceOfInstance = new Map<string, number>();
    stack.slices.forEach((s, k) => {
      const uid = sopInstanceOf(s.ds);
      sliceOfInstance.set(numberOfFrames(s.ds) > 1 ? `${uid}#${s.frame + 1}` : uid, k);
    });
    const first = reference.instances[0].dataSet;
    return {
      grid,
      slicePositions: stack.slices.map((s, k) => s.position ?? worldLPS(grid, 0, 0, k)),
      sliceOfInstance,
      seriesUid: str(first, TAG.seriesUid) || undefined,
      frameOfReference: str(first, TAG.frameOfReference) || undefined,
    };
  }
  const grid = { dims: reference.dims, spacing: reference.spacing, origin: reference.origin, direction: reference.direction };
  return { grid, slicePositions: Array.from({ length: grid.dims[2] }, (_, k) => worldLPS(grid, 0, 0, k)), sliceOfInstance: new Map() };
}

/** A SEG made on another series is still placed by position, with a notice; the user may know better. */
function checkReferences(ds: DataSet, place: Placement, notices: string[]): void {
  const referenced = items(ds, TAG.referencedSeries).map((it) => str(it, TAG.seriesUid)).filter(Boolean);
  if (place.seriesUid && referenced.length && !referenced.includes(place.seriesUid)) {
    notices.push(`the SEG references series ${referenced.join(', ')}, not the open series ${place.seriesUid}; placed by position`);
  }
  const frame = str(ds, TAG.frameOfReference);
  if (place.frameOfReference && frame && frame !== place.frameOfReference) {
    notices.push(`the SEG's frame of reference ${frame} differs from the series' ${place.frameOfReference}; placed by position`);
  }
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>, bo = 0) => a[0] * b[bo] + a[1] * b[bo + 1] + a[2] * b[bo + 2];

/** The reference slice a frame lies on; InputError when it matches none. */
function sliceOfFrame(fileName: string, ds: DataSet, n: number, place: Placement): number {
  const { grid, slicePositions } = place;
  const d = grid.direction;
  const orientation = decimals(functionalGroup(ds, n, TAG.planeOrientationSeq), TAG.imageOrientation) ?? decimals(ds, TAG.imageOrientation);
  if (orientation?.length === 6) {
    const rowLen = Math.hypot(orientation[0], orientation[1], orientation[2]);
    const colLen = Math.hypot(orientation[3], orientation[4], orientation[5]);
    if (dot(orientation, d, 0) / rowLen < 0.9999 || dot(orientation.slice(3), d, 3) / colLen < 0.9999) {
      throw new InputError(fileName, `frame ${n + 1} orientation (${orientation.join(', ')}) differs from the referenced images' (${d.slice(0, 6).map((x) => +x.toFixed(4)).join(', ')})`);
    }
  }
  const position = decimals(functionalGroup(ds, n, TAG.planePositionSeq), TAG.imagePosition);
  if (position?.length !== 3) {
    const uid = referencedInstanceOfFrame(ds, n);
    const k = uid === undefined ? undefined : place.sliceOfInstance.get(uid);
    if (k === undefined) throw new InputError(fileName, `frame ${n + 1} has no PlanePositionSequence and references no image of the series`);
    return k;
  }
  const t = dot(position, d, 6);
  const offsets = slicePositions.map((p) => dot(p, d, 6));
  let k = 0;
  for (let c = 1; c < offsets.length; c++) if (Math.abs(offsets[c] - t) < Math.abs(offsets[k] - t)) k = c;
  const neighbourGap = Math.min(...[offsets[k - 1], offsets[k + 1]].filter((x) => x !== undefined).map((x) => Math.abs(x - offsets[k])), grid.spacing[2]);
  const inPlane = voxelOfWorld({ ...grid, origin: slicePositions[k] }, position as Vec3);
  if (Math.abs(offsets[k] - t) > neighbourGap / 2 + 1e-3 || Math.abs(inPlane[0]) > 0.5 || Math.abs(inPlane[1]) > 0.5) {
    throw new InputError(
      fileName,
      `frame ${n + 1} at (${position.map((x) => +x.toFixed(2)).join(', ')}) lies on no slice of the referenced images (nearest: slice ${k + 1}, ${+Math.abs(offsets[k] - t).toFixed(2)} mm away along the normal)`,
    );
  }
  return k;
}

function segmentsOf(ds: DataSet): SegmentInfo[] {
  return items(ds, TAG.segmentSequence).map((it) => {
    const number = uint(it, TAG.segmentNumber) ?? 0;
    const lab = it.elements[TAG.recommendedCIELab] ? [0, 1, 2].map((c) => it.uint16(TAG.recommendedCIELab, c) ?? 0) : undefined;
    const type = str(it, TAG.segmentAlgorithmType).toUpperCase();
    const info: SegmentInfo = { number, label: str(it, TAG.segmentLabel) || `Segment ${number}` };
    if (lab) info.color = (dcmjs.data.Colors.dicomlab2RGB(lab) as number[]).map((x) => Math.round(Math.min(1, Math.max(0, x)) * 255)) as [number, number, number];
    if (type === 'MANUAL' || type === 'SEMIAUTOMATIC' || type === 'AUTOMATIC') info.algorithmType = type;
    const name = str(it, 'x00620009');
    if (name) info.algorithmName = name;
    return info;
  });
}
