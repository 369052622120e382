/**
 * Parsing one DICOM file with dicom-parser, and typed access to its attributes.
 *
 * Everything here is synchronous and cheap: pixel data is located, never decoded (see pixels.ts).
 */
import dicomParser, { type DataSet } from 'dicom-parser';
import { inflateSync } from 'fflate';
import { InputError } from '../errors';
import type { NamedBytes } from '../named-bytes';

export type { DataSet };

export const TS = {
  implicitLE: '1.2.840.10008.1.2',
  explicitLE: '1.2.840.10008.1.2.1',
  deflated: '1.2.840.10008.1.2.1.99',
  explicitBE: '1.2.840.10008.1.2.2',
  rle: '1.2.840.10008.1.2.5',
} as const;

/** Transfer syntaxes by UID, with the names users see in viewers and in DICOM conformance statements. */
export const TRANSFER_SYNTAX_NAMES: Record<string, string> = {
  '1.2.840.10008.1.2': 'Implicit VR Little Endian',
  '1.2.840.10008.1.2.1': 'Explicit VR Little Endian',
  '1.2.840.10008.1.2.1.98': 'Encapsulated Uncompressed Explicit VR Little Endian',
  '1.2.840.10008.1.2.1.99': 'Deflated Explicit VR Little Endian',
  '1.2.840.10008.1.2.2': 'Explicit VR Big Endian',
  '1.2.840.10008.1.2.5': 'RLE Lossless',
  '1.2.840.10008.1.2.4.50': 'JPEG Baseline (Process 1)',
  '1.2.840.10008.1.2.4.51': 'JPEG Extended (Process 2 & 4)',
  '1.2.840.10008.1.2.4.57': 'JPEG Lossless, Non-Hierarchical (Process 14)',
  '1.2.840.10008.1.2.4.70': 'JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS Lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS Lossy (Near-Lossless)',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 (Lossless Only)',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.4.100': 'MPEG2 Main Profile',
  '1.2.840.10008.1.2.4.102': 'MPEG-4 AVC/H.264',
  '1.2.840.10008.1.2.4.201': 'High-Throughput JPEG 2000 (Lossless Only)',
  '1.2.840.10008.1.2.4.202': 'High-Throughput JPEG 2000 with RPCL Options (Lossless Only)',
  '1.2.840.10008.1.2.4.203': 'High-Throughput JPEG 2000',
};

export function transferSyntaxName(uid: string): string {
  const name = TRANSFER_SYNTAX_NAMES[uid];
  return name ? `${name} (${uid})` : `transfer syntax ${uid || '(none)'}`;
}

/** Tags in dicom-parser's key form. */
export const TAG = {
  transferSyntax: 'x00020010',
  mediaSopClass: 'x00020002',
  mediaSopInstance: 'x00020003',
  imageType: 'x00080008',
  sopClass: 'x00080016',
  sopInstance: 'x00080018',
  studyDate: 'x00080020',
  modality: 'x00080060',
  studyDescription: 'x00081030',
  seriesDescription: 'x0008103e',
  referencedSeries: 'x00081115',
  referencedInstances: 'x0008114a',
  referencedSopClass: 'x00081150',
  referencedSopInstance: 'x00081155',
  sourceImage: 'x00082112',
  derivationImage: 'x00089124',
  patientName: 'x00100010',
  patientId: 'x00100020',
  sliceThickness: 'x00180050',
  spacingBetweenSlices: 'x00180088',
  studyUid: 'x0020000d',
  seriesUid: 'x0020000e',
  seriesNumber: 'x00200011',
  instanceNumber: 'x00200013',
  imagePosition: 'x00200032',
  imageOrientation: 'x00200037',
  frameOfReference: 'x00200052',
  planePositionSeq: 'x00209113',
  planeOrientationSeq: 'x00209116',
  samplesPerPixel: 'x00280002',
  photometric: 'x00280004',
  numberOfFrames: 'x00280008',
  rows: 'x00280010',
  columns: 'x00280011',
  pixelSpacing: 'x00280030',
  bitsAllocated: 'x00280100',
  bitsStored: 'x00280101',
  pixelRepresentation: 'x00280103',
  planarConfiguration: 'x00280006',
  rescaleIntercept: 'x00281052',
  rescaleSlope: 'x00281053',
  rescaleType: 'x00281054',
  pixelMeasuresSeq: 'x00289110',
  pixelValueTransformSeq: 'x00289145',
  segmentationType: 'x00620001',
  segmentSequence: 'x00620002',
  segmentNumber: 'x00620004',
  segmentLabel: 'x00620005',
  segmentAlgorithmType: 'x00620008',
  recommendedCIELab: 'x0062000d',
  segmentIdentificationSeq: 'x0062000a',
  referencedSegmentNumber: 'x0062000b',
  maxFractionalValue: 'x0062000e',
  fractionalType: 'x00620010',
  sharedGroups: 'x52009229',
  perFrameGroups: 'x52009230',
  pixelData: 'x7fe00010',
  floatPixelData: 'x7fe00008',
  doubleFloatPixelData: 'x7fe00009',
} as const;

/** DICM at byte 128, or a preamble-less file that starts with a plausible group-0008 element. */
export function isDicom(bytes: Uint8Array): boolean {
  return hasDicmMarker(bytes) || rawTransferSyntax(bytes) !== undefined;
}

function hasDicmMarker(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

const VRS = new Set('AE AS AT CS DA DS DT FL FD IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV'.split(' '));

/**
 * Old files written without the Part 10 header (no preamble, no DICM, no meta group) start directly
 * with the data set, whose first element is normally in group 0008 (little endian). An explicit VR
 * is two capital letters of a known VR at byte 4; otherwise the 4-byte implicit length must fit.
 */
function rawTransferSyntax(bytes: Uint8Array): string | undefined {
  if (bytes.length < 8 || bytes[0] !== 0x08 || bytes[1] !== 0x00) return undefined;
  const element = bytes[2] | (bytes[3] << 8);
  if (element > 0x1fff && element !== 0xffff) return undefined;
  const vr = String.fromCharCode(bytes[4], bytes[5]);
  if (VRS.has(vr)) return TS.explicitLE;
  const length = (bytes[4] | (bytes[5] << 8) | (bytes[6] << 16) | (bytes[7] << 24)) >>> 0;
  return length < bytes.length ? TS.implicitLE : undefined;
}

/** Parses a file; anything dicom-parser rejects is an InputError naming the file. */
export function parseDataSet(file: NamedBytes): DataSet {
  const part10 = hasDicmMarker(file.bytes);
  const raw = part10 ? undefined : rawTransferSyntax(file.bytes);
  if (!part10 && !raw) throw new InputError(file.name, 'not a DICOM file (no DICM marker at byte 128)');
  try {
    return dicomParser.parseDicom(file.bytes, {
      ...(raw ? { TransferSyntaxUID: raw } : {}),
      // Deflated Explicit VR Little Endian: everything after the meta group is one raw deflate stream.
      // dicom-parser wants the whole file back, header bytes unchanged, the rest inflated.
      inflater: ((bytes: Uint8Array, position: number) => {
        const inflated = inflateSync(bytes.subarray(position));
        const whole = new Uint8Array(position + inflated.length);
        whole.set(bytes.subarray(0, position));
        whole.set(inflated, position);
        return whole;
      }) as unknown as (arr: Uint8Array, position: number) => void,
    });
  } catch (e) {
    throw new InputError(file.name, `not a readable DICOM file (${parserMessage(e)})`);
  }
}

/** dicom-parser throws strings, Errors, or `{ exception, dataSet }`. */
function parserMessage(e: unknown): string {
  if (typeof e === 'string') return e.replace(/^dicomParser\.\w+:\s*/, '');
  if (e instanceof Error) return e.message;
  if (e && typeof e === 'object' && 'exception' in e) return parserMessage((e as { exception: unknown }).exception);
  return String(e);
}

export function transferSyntaxOf(ds: DataSet): string {
  return str(ds, TAG.transferSyntax) || TS.implicitLE;
}

/** A text value, trimmed ('' when absent). */
export function str(ds: DataSet, tag: string, index?: number): string {
  return (ds.string(tag, index) ?? '').trim();
}

/** All values of a multi-valued text attribute (backslash-separated), e.g. ImageType. */
export function strings(ds: DataSet, tag: string): string[] {
  const s = ds.string(tag);
  return s ? s.split('\\').map((x) => x.trim()) : [];
}

/** All numbers of a DS/IS attribute, or undefined when absent, empty or not numeric. */
export function decimals(ds: DataSet | undefined, tag: string): number[] | undefined {
  if (!ds?.elements[tag] || !ds.elements[tag].length) return undefined;
  const n = ds.numStringValues(tag) ?? 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(ds.floatString(tag, i) ?? NaN);
  return out.length && out.every(Number.isFinite) ? out : undefined;
}

export function decimal(ds: DataSet | undefined, tag: string): number | undefined {
  return decimals(ds, tag)?.[0];
}

/** US/UL/IS value, whichever the element holds. */
export function uint(ds: DataSet, tag: string): number | undefined {
  const el = ds.elements[tag];
  if (!el || !el.length) return undefined;
  if (el.vr === 'IS' || el.vr === 'DS') return ds.intString(tag);
  if (el.vr === 'UL') return ds.uint32(tag);
  if (el.vr === 'US' || el.length === 2) return ds.uint16(tag);
  // Implicit VR: no VR known. IS is text; US is the common binary case for the attributes read here.
  return el.length === 4 ? ds.uint32(tag) : ds.uint16(tag);
}

/** Items of a sequence (empty when absent). */
export function items(ds: DataSet | undefined, tag: string): DataSet[] {
  return (ds?.elements[tag]?.items ?? []).map((it) => it.dataSet).filter((d): d is DataSet => !!d);
}

/**
 * The item of a functional group macro (e.g. PlanePositionSequence) that applies to one frame of an
 * enhanced multi-frame object: the per-frame group's if present, else the shared group's.
 */
export function functionalGroup(ds: DataSet, frame: number, macroTag: string): DataSet | undefined {
  const perFrame = items(ds, TAG.perFrameGroups)[frame];
  return items(perFrame, macroTag)[0] ?? items(items(ds, TAG.sharedGroups)[0], macroTag)[0];
}

export function numberOfFrames(ds: DataSet): number {
  const n = ds.intString(TAG.numberOfFrames);
  return n && n > 0 ? n : 1;
}

export function sopClassOf(ds: DataSet): string {
  return str(ds, TAG.sopClass) || str(ds, TAG.mediaSopClass);
}

export function sopInstanceOf(ds: DataSet): string {
  return str(ds, TAG.sopInstance) || str(ds, TAG.mediaSopInstance);
}

export const SEG_SOP_CLASSES = {
  binaryOrFractional: '1.2.840.10008.5.1.4.1.1.66.4',
  labelmap: '1.2.840.10008.5.1.4.1.1.66.7',
} as const;

export function isSegmentation(ds: DataSet): boolean {
  const sop = sopClassOf(ds);
  return str(ds, TAG.modality) === 'SEG' || sop === SEG_SOP_CLASSES.binaryOrFractional || sop === SEG_SOP_CLASSES.labelmap;
}
