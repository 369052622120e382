/**
 * What each image plane of a DICOM object says about itself: position, orientation, pixel spacing,
 * rescale. A classic image has one plane; an enhanced multi-frame image one per frame, described by
 * its functional groups (per-frame first, shared otherwise).
 */
import type { Vec3 } from '../../volume';
import { TAG, decimal, decimals, functionalGroup, items, numberOfFrames, str, type DataSet } from './dataset';

export interface Slice {
  /** File it comes from (for messages). */
  name: string;
  ds: DataSet;
  /** Frame index within the file. */
  frame: number;
  /** ImagePositionPatient: LPS centre of the first pixel. */
  position?: Vec3;
  /** ImageOrientationPatient: row direction (along i) then column direction (along j). */
  orientation?: [number, number, number, number, number, number];
  /** PixelSpacing as stored: [between rows (along j), between columns (along i)]. */
  pixelSpacing?: [number, number];
  thickness?: number;
  spacingBetweenSlices?: number;
  slope: number;
  intercept: number;
  rescaleType: string;
  instanceNumber?: number;
}

export function isEnhanced(ds: DataSet): boolean {
  return !!ds.elements[TAG.perFrameGroups] || !!ds.elements[TAG.sharedGroups];
}

/** One Slice per frame of the file. */
export function slicesOf(name: string, ds: DataSet): Slice[] {
  const frames = numberOfFrames(ds);
  const instanceNumber = ds.intString(TAG.instanceNumber);
  const out: Slice[] = [];
  for (let frame = 0; frame < frames; frame++) {
    // Enhanced objects keep plane attributes in functional groups; classic ones at top level.
    // Reading the macro first and the top level second covers both, and the odd hybrids.
    const plane = isEnhanced(ds) ? functionalGroup(ds, frame, TAG.planePositionSeq) : undefined;
    const orient = isEnhanced(ds) ? functionalGroup(ds, frame, TAG.planeOrientationSeq) : undefined;
    const measures = isEnhanced(ds) ? functionalGroup(ds, frame, TAG.pixelMeasuresSeq) : undefined;
    const transform = isEnhanced(ds) ? functionalGroup(ds, frame, TAG.pixelValueTransformSeq) : undefined;
    const position = decimals(plane, TAG.imagePosition) ?? decimals(ds, TAG.imagePosition);
    const orientation = decimals(orient, TAG.imageOrientation) ?? decimals(ds, TAG.imageOrientation);
    const spacing = decimals(measures, TAG.pixelSpacing) ?? decimals(ds, TAG.pixelSpacing);
    out.push({
      name,
      ds,
      frame,
      position: position?.length === 3 ? (position as Vec3) : undefined,
      orientation: orientation?.length === 6 && isUsableOrientation(orientation) ? (orientation as Slice['orientation']) : undefined,
      pixelSpacing: spacing?.length === 2 && spacing.every((s) => s > 0) ? (spacing as [number, number]) : undefined,
      thickness: decimal(measures, TAG.sliceThickness) ?? decimal(ds, TAG.sliceThickness),
      spacingBetweenSlices: decimal(measures, TAG.spacingBetweenSlices) ?? decimal(ds, TAG.spacingBetweenSlices),
      slope: decimal(transform, TAG.rescaleSlope) ?? decimal(ds, TAG.rescaleSlope) ?? 1,
      intercept: decimal(transform, TAG.rescaleIntercept) ?? decimal(ds, TAG.rescaleIntercept) ?? 0,
      rescaleType: str(transform ?? ds, TAG.rescaleType) || str(ds, TAG.rescaleType),
      instanceNumber,
    });
  }
  return out;
}

/** Two direction vectors of about unit length (some writers store all zeros when they do not know). */
function isUsableOrientation(o: number[]): boolean {
  return Math.abs(Math.hypot(o[0], o[1], o[2]) - 1) < 0.01 && Math.abs(Math.hypot(o[3], o[4], o[5]) - 1) < 0.01;
}

/** Orientation key for grouping planes: row and column cosines rounded to 1e-3. */
export function orientationKey(s: Pick<Slice, 'orientation'>): string {
  return s.orientation ? s.orientation.map((v) => (Math.round(v * 1000) / 1000 || 0).toFixed(3)).join(',') : 'none';
}

/** The source image each frame of a derived object (SEG) points at, if it says. */
export function referencedInstanceOfFrame(ds: DataSet, frame: number): string | undefined {
  const derivation = functionalGroup(ds, frame, TAG.derivationImage);
  const source = items(derivation, TAG.sourceImage)[0];
  return source ? str(source, TAG.referencedSopInstance) || undefined : undefined;
}
