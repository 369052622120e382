/**
 * A label map written as a DICOM Segmentation (BINARY, Explicit VR Little Endian) over the image
 * series it was drawn on, built and serialised with dcmjs.
 *
 * One frame per segment and slice that contains the segment; each frame carries its plane position
 * (the source slice's own ImagePositionPatient, exact even for unevenly spaced series) and the
 * SOPInstanceUID of that slice. Patient and study attributes are copied from the source so archives
 * file the SEG with its images.
 */
import dcmjs from 'dcmjs';
import { sameGrid, type Volume } from '../../volume';
import { InputError } from '../errors';
import { TAG, numberOfFrames, sopClassOf, sopInstanceOf, str } from './dataset';
import type { Slice } from './slices';
import type { SegmentInfo } from './seg';
import { dicomSeriesGeometry, type DicomSeries } from './series';

const { DicomDict, DicomMetaDictionary, BitArray, Colors } = dcmjs.data;

const SEG_STORAGE = '1.2.840.10008.5.1.4.1.1.66.4';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const CODE_SEGMENTATION = { CodeValue: '113076', CodingSchemeDesignator: 'DCM', CodeMeaning: 'Segmentation' };
const CODE_SOURCE_IMAGE = { CodeValue: '121322', CodingSchemeDesignator: 'DCM', CodeMeaning: 'Source image for image processing operation' };
// The category and type of a lesion segment (SNOMED CT), as Slicer's terminology uses them.
const CATEGORY_MORPHOLOGY = { CodeValue: '49755003', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Morphologically Altered Structure' };
const TYPE_LESION = { CodeValue: '52988006', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Lesion' };

/** Grids within this many mm at every corner are the same grid. */
const GRID_TOLERANCE_MM = 1e-2;

/** Serialises `labelmap` (segment numbers per voxel, on the source series' own grid) as a SEG referencing `source`. */
export function writeDicomSeg(labelmap: Volume, source: DicomSeries, segments: SegmentInfo[]): Uint8Array {
  const where = labelmap.source?.name ?? 'label map';
  if (source.modality === 'SEG') throw new InputError(where, 'the source series is itself a SEG');
  if (segments.length === 0) throw new InputError(where, 'no segments to write');
  const { grid, stack } = dicomSeriesGeometry(source);
  const [nx, ny, nz] = grid.dims;
  if (!sameGrid(labelmap, grid, GRID_TOLERANCE_MM)) {
    throw new InputError(where, `label map grid ${labelmap.dims.join('×')} does not match the series' ${grid.dims.join('×')} grid; a SEG must lie on its source images`);
  }
  const numbers = new Set(segments.map((s) => s.number));
  if (numbers.size !== segments.length || segments.some((s) => !Number.isInteger(s.number) || s.number < 1 || s.number > 65535)) {
    throw new InputError(where, 'segment numbers must be distinct integers from 1 to 65535');
  }
  const plane = nx * ny;
  for (let n = 0; n < labelmap.data.length; n++) {
    const v = labelmap.data[n];
    if (v !== 0 && !numbers.has(v)) throw new InputError(where, `voxel value ${v} is not one of the segments (${[...numbers].join(', ')})`);
  }

  // Frames: for each segment, each slice where it appears.
  const frames: { segmentIndex: number; k: number }[] = [];
  segments.forEach((s, segmentIndex) => {
    for (let k = 0; k < nz; k++) {
      const slice = labelmap.data.subarray(k * plane, (k + 1) * plane);
      if (slice.some((v) => v === s.number)) frames.push({ segmentIndex, k });
    }
  });
  // NumberOfFrames must be at least 1: an empty label map is written as one empty frame of the first segment.
  if (frames.length === 0) frames.push({ segmentIndex: 0, k: 0 });

  const bits = new Uint8Array(frames.length * plane);
  frames.forEach(({ segmentIndex, k }, f) => {
    const number = segments[segmentIndex].number;
    const slice = labelmap.data.subarray(k * plane, (k + 1) * plane);
    for (let p = 0; p < plane; p++) if (slice[p] === number) bits[f * plane + p] = 1;
  });
  const packed: Uint8Array = BitArray.pack(bits);
  // Frames are packed back to back (no padding between them); the element itself has even length.
  const pixelData = new Uint8Array(packed.length + (packed.length & 1));
  pixelData.set(packed);

  const first = source.instances[0].dataSet;
  const sourceSlices = stack.slices;
  const copy = (tag: string) => str(first, tag);
  const now = new Date();
  const date = `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}`;
  const time = `${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
  const sopInstanceUID = DicomMetaDictionary.uid();
  const dimensionOrganizationUID = DicomMetaDictionary.uid();
  const seriesUid = str(first, TAG.seriesUid);
  const sliceRefs = sourceSlices.map((s) => {
    const ref: Record<string, unknown> = { ReferencedSOPClassUID: sopClassOf(s.ds), ReferencedSOPInstanceUID: sopInstanceOf(s.ds) };
    if (numberOfFrames(s.ds) > 1) ref.ReferencedFrameNumber = s.frame + 1;
    return ref;
  });
  const o = sourceSlices[0].orientation ?? [1, 0, 0, 0, 1, 0];

  const dataset: Record<string, unknown> = {
    SpecificCharacterSet: 'ISO_IR 192',
    ImageType: ['DERIVED', 'PRIMARY'],
    SOPClassUID: SEG_STORAGE,
    SOPInstanceUID: sopInstanceUID,
    StudyDate: copy(TAG.studyDate),
    SeriesDate: date,
    ContentDate: date,
    StudyTime: copy('x00080030'),
    SeriesTime: time,
    ContentTime: time,
    AccessionNumber: copy('x00080050'),
    Modality: 'SEG',
    Manufacturer: 'lesion-workbench',
    ReferringPhysicianName: copy('x00080090'),
    StudyDescription: copy(TAG.studyDescription),
    SeriesDescription: 'Segmentation',
    ManufacturerModelName: 'lesion-workbench',
    ReferencedSeriesSequence: [{ SeriesInstanceUID: seriesUid, ReferencedInstanceSequence: dedupe(sliceRefs) }],
    PatientName: copy(TAG.patientName),
    PatientID: copy(TAG.patientId),
    PatientBirthDate: copy('x00100030'),
    PatientSex: copy('x00100040'),
    DeviceSerialNumber: '1',
    SoftwareVersions: '1',
    StudyInstanceUID: copy(TAG.studyUid) || DicomMetaDictionary.uid(),
    SeriesInstanceUID: DicomMetaDictionary.uid(),
    StudyID: copy('x00200010'),
    SeriesNumber: 300,
    InstanceNumber: 1,
    FrameOfReferenceUID: copy(TAG.frameOfReference) || DicomMetaDictionary.uid(),
    PositionReferenceIndicator: '',
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: dimensionOrganizationUID }],
    DimensionIndexSequence: [
      {
        DimensionOrganizationUID: dimensionOrganizationUID,
        DimensionIndexPointer: 0x0062000b,
        FunctionalGroupPointer: 0x0062000a,
        DimensionDescriptionLabel: 'ReferencedSegmentNumber',
      },
      {
        DimensionOrganizationUID: dimensionOrganizationUID,
        DimensionIndexPointer: 0x00200032,
        FunctionalGroupPointer: 0x00209113,
        DimensionDescriptionLabel: 'ImagePositionPatient',
      },
    ],
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    NumberOfFrames: frames.length,
    Rows: ny,
    Columns: nx,
    BitsAllocated: 1,
    BitsStored: 1,
    HighBit: 0,
    PixelRepresentation: 0,
    LossyImageCompression: '00',
    SegmentationType: 'BINARY',
    SegmentsOverlap: 'NO',
    ContentLabel: 'SEGMENTATION',
    ContentDescription: 'lesion segmentation',
    ContentCreatorName: '',
    SegmentSequence: segments.map((s) => segmentItem(s)),
    SharedFunctionalGroupsSequence: [
      {
        PlaneOrientationSequence: [{ ImageOrientationPatient: o.map(ds16) }],
        PixelMeasuresSequence: [
          {
            PixelSpacing: [grid.spacing[1], grid.spacing[0]].map(ds16),
            SliceThickness: ds16(sourceSlices[0].thickness ?? grid.spacing[2]),
            SpacingBetweenSlices: ds16(grid.spacing[2]),
          },
        ],
      },
    ],
    PerFrameFunctionalGroupsSequence: frames.map(({ segmentIndex, k }) => ({
      DerivationImageSequence: [
        {
          SourceImageSequence: [{ ...sliceRefs[k], PurposeOfReferenceCodeSequence: [CODE_SOURCE_IMAGE] }],
          DerivationCodeSequence: [CODE_SEGMENTATION],
        },
      ],
      FrameContentSequence: [{ DimensionIndexValues: [segmentIndex + 1, k + 1] }],
      PlanePositionSequence: [{ ImagePositionPatient: positionText(sourceSlices[k]) }],
      SegmentIdentificationSequence: [{ ReferencedSegmentNumber: segments[segmentIndex].number }],
    })),
  };
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: SEG_STORAGE,
    MediaStorageSOPInstanceUID: sopInstanceUID,
    TransferSyntaxUID: EXPLICIT_LE,
    ImplementationClassUID: '1.2.826.0.1.3680043.10.1409.1',
    ImplementationVersionName: 'LESIONWB_1',
  };
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
  // 1-bit data is a byte stream (OB); dcmjs cannot tell OB from OW for Pixel Data by itself.
  dict.dict['7FE00010'] = { vr: 'OB', Value: [pixelData.buffer] };
  return new Uint8Array(dict.write() as ArrayBuffer);
}

function segmentItem(s: SegmentInfo): Record<string, unknown> {
  const type = s.algorithmType ?? 'MANUAL';
  const item: Record<string, unknown> = {
    SegmentedPropertyCategoryCodeSequence: [CATEGORY_MORPHOLOGY],
    SegmentNumber: s.number,
    SegmentLabel: s.label,
    SegmentAlgorithmType: type,
    SegmentedPropertyTypeCodeSequence: [TYPE_LESION],
  };
  if (type !== 'MANUAL') item.SegmentAlgorithmName = s.algorithmName || 'lesion-workbench';
  if (s.color) item.RecommendedDisplayCIELabValue = (Colors.rgb2DICOMLAB(s.color.map((c) => c / 255)) as number[]).map((v) => Math.round(v));
  return item;
}

/** The slice position as a classic image wrote it (the exact text), else formatted. */
function positionText(s: Slice): string[] {
  const text = numberOfFrames(s.ds) === 1 ? s.ds.string(TAG.imagePosition) : undefined;
  return text ? text.split('\\').map((x) => x.trim()) : (s.position ?? [0, 0, 0]).map(ds16);
}

/** A DS value: at most 16 characters. */
function ds16(x: number): string {
  for (let digits = 10; digits > 0; digits--) {
    const s = String(+x.toPrecision(digits));
    if (s.length <= 16) return s;
  }
  return String(Math.round(x));
}

function dedupe(refs: Record<string, unknown>[]): Record<string, unknown>[] {
  const seen = new Set<string>();
  return refs
    .filter((r) => {
      const uid = String(r.ReferencedSOPInstanceUID);
      if (seen.has(uid)) return false;
      seen.add(uid);
      return true;
    })
    .map((r) => ({ ReferencedSOPClassUID: r.ReferencedSOPClassUID, ReferencedSOPInstanceUID: r.ReferencedSOPInstanceUID }));
}

const pad = (n: number) => String(n).padStart(2, '0');
