/**
 * From a set of image planes to a voxel grid: order along the slice normal, slice gap, and the two
 * ways real series break the regular-grid model — uneven gaps and gantry tilt.
 *
 * Conventions (the same as ITK, Slicer and dcm2niix): i runs along the row direction (first three
 * numbers of ImageOrientationPatient), j along the column direction, k along row × column. Slices are
 * sorted by their position projected on that normal, so k increases along the sorted positions and
 * the origin is the position of the first sorted slice.
 */
import { InputError } from '../errors';
import type { Mat3, Vec3 } from '../../volume';
import type { Slice } from './slices';

export interface Stack {
  /** Slices in k order. */
  slices: Slice[];
  origin: Vec3;
  direction: Mat3;
  spacing: Vec3;
  /** Offset of each sorted slice along the normal, from the first (mm). */
  offsets: number[];
  /** In-plane shift of each slice (mm along i and j) from where a stack along the normal would put it; non-zero only with gantry tilt. */
  shifts: [number, number][];
  /** Smallest and largest gap between neighbouring slices (mm). */
  gaps: { min: number; max: number; mean: number; median: number };
  uneven: boolean;
  /** Angle between the slice normal and the line through the slice positions (degrees). */
  tiltDegrees: number;
  notices: string[];
}

/** Gaps differing by more than this (mm, or this fraction of the median gap) count as uneven. */
const GAP_TOLERANCE_MM = 0.01;
const GAP_TOLERANCE_FRACTION = 0.01;
/** Tilt below this is rounding in the stored positions, not a tilted gantry. */
const TILT_TOLERANCE_DEGREES = 0.05;

const dot = (a: Vec3, b: Vec3) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const sub = (a: Vec3, b: Vec3): Vec3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const cross = (a: Vec3, b: Vec3): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const unit = (a: Vec3): Vec3 => {
  const n = Math.hypot(...a);
  return [a[0] / n, a[1] / n, a[2] / n];
};

export function buildStack(slices: Slice[], where: string): Stack {
  if (slices.length === 0) throw new InputError(where, 'no image slices');
  const notices: string[] = [];
  const first = slices[0];
  let pixel = first.pixelSpacing;
  if (!pixel) {
    notices.push('no PixelSpacing: 1 mm pixels assumed');
    pixel = [1, 1];
  }
  if (slices.some((s) => s.pixelSpacing && (Math.abs(s.pixelSpacing[0] - pixel[0]) > 1e-4 || Math.abs(s.pixelSpacing[1] - pixel[1]) > 1e-4))) {
    throw new InputError(where, 'slices have different pixel spacings; not one volume');
  }
  const located = slices.every((s) => s.position && s.orientation);
  if (!located) return unlocatedStack(slices, where, pixel, notices);

  const o = first.orientation!;
  const row = unit([o[0], o[1], o[2]]);
  const col = unit([o[3], o[4], o[5]]);
  if (Math.abs(dot(row, col)) > 1e-3) throw new InputError(where, 'ImageOrientationPatient row and column directions are not perpendicular');
  const normal = unit(cross(row, col));
  for (const s of slices) {
    const r = unit(s.orientation!.slice(0, 3) as Vec3);
    const c = unit(s.orientation!.slice(3, 6) as Vec3);
    if (dot(r, row) < 0.9999 || dot(c, col) < 0.9999) throw new InputError(s.name, 'slices have different orientations; not one volume');
  }

  const sorted = slices
    .map((s) => ({ s, t: dot(s.position!, normal) }))
    .sort((a, b) => a.t - b.t || (a.s.instanceNumber ?? 0) - (b.s.instanceNumber ?? 0));
  const origin = sorted[0].s.position!;
  const offsets = sorted.map((x) => x.t - sorted[0].t);
  const gapList = offsets.slice(1).map((t, n) => t - offsets[n]);
  const duplicates = gapList.filter((g) => g < 1e-3).length;
  if (duplicates > 0) {
    throw new InputError(where, `${duplicates + 1} images share a slice position (several acquisitions, phases or echoes in one series?); not one volume`);
  }
  const gaps = gapStats(gapList);
  const uneven = gapList.length > 1 && gaps.max - gaps.min > Math.max(GAP_TOLERANCE_MM, GAP_TOLERANCE_FRACTION * gaps.median);

  let sliceGap: number;
  if (sorted.length > 1) sliceGap = gaps.mean;
  else sliceGap = first.spacingBetweenSlices ?? first.thickness ?? 1;

  // Tilt: the in-plane part of each position's offset from the first slice.
  const shifts = sorted.map(({ s }, n): [number, number] => {
    const d = sub(sub(s.position!, origin), [normal[0] * offsets[n], normal[1] * offsets[n], normal[2] * offsets[n]]);
    return [dot(d, row), dot(d, col)];
  });
  let tiltDegrees = 0;
  if (sorted.length > 1) {
    const along = sub(sorted[sorted.length - 1].s.position!, origin);
    tiltDegrees = (Math.acos(Math.min(1, dot(along, normal) / Math.hypot(...along))) * 180) / Math.PI;
    if (tiltDegrees < TILT_TOLERANCE_DEGREES) tiltDegrees = 0;
  }

  return {
    slices: sorted.map((x) => x.s),
    origin,
    direction: [...row, ...col, ...normal] as Mat3,
    // PixelSpacing is [row spacing (between rows: along j), column spacing (along i)].
    spacing: [pixel[1], pixel[0], sliceGap],
    offsets,
    shifts,
    gaps,
    uneven,
    tiltDegrees,
    notices,
  };
}

function gapStats(gaps: number[]): Stack['gaps'] {
  if (gaps.length === 0) return { min: 0, max: 0, mean: 0, median: 0 };
  const sorted = gaps.slice().sort((a, b) => a - b);
  return {
    min: sorted[0],
    max: sorted[sorted.length - 1],
    mean: gaps.reduce((a, b) => a + b, 0) / gaps.length,
    median: sorted[Math.floor(sorted.length / 2)],
  };
}

/** No ImagePositionPatient/ImageOrientationPatient: identity axes, slices in instance-number order. */
function unlocatedStack(slices: Slice[], where: string, pixel: [number, number], notices: string[]): Stack {
  const sorted = slices.slice().sort((a, b) => (a.instanceNumber ?? 0) - (b.instanceNumber ?? 0) || a.frame - b.frame);
  const gap = sorted[0].spacingBetweenSlices ?? sorted[0].thickness ?? 1;
  const origin: Vec3 = sorted.length === 1 && sorted[0].position ? sorted[0].position : [0, 0, 0];
  notices.push(
    sorted.length === 1
      ? `${where}: no ImagePositionPatient/ImageOrientationPatient; identity orientation assumed`
      : `${where}: slices without ImagePositionPatient/ImageOrientationPatient; identity orientation assumed, stacked in instance-number order ${gap} mm apart`,
  );
  return {
    slices: sorted,
    origin,
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    spacing: [pixel[1], pixel[0], gap],
    offsets: sorted.map((_, n) => n * gap),
    shifts: sorted.map(() => [0, 0]),
    gaps: { min: gap, max: gap, mean: gap, median: gap },
    uneven: false,
    tiltDegrees: 0,
    notices,
  };
}

const mm = (x: number) => `${+x.toFixed(3)} mm`;

/** The notices for a stack read as is (no resampling). */
export function irregularityNotices(st: Stack): string[] {
  const out: string[] = [];
  if (st.uneven) {
    out.push(
      `uneven slice spacing: gaps from ${mm(st.gaps.min)} to ${mm(st.gaps.max)}; the volume uses the mean gap ${mm(st.gaps.mean)}, ` +
        'so slice positions in between are approximate (open with resampling for a regular grid)',
    );
  }
  if (st.tiltDegrees > 0) {
    const worst = Math.max(...st.shifts.map(([a, b]) => Math.hypot(a, b)));
    out.push(
      `gantry tilt of ${st.tiltDegrees.toFixed(2)}°: slices are stacked along the slice normal, ignoring their in-plane shift ` +
        `of up to ${mm(worst)} (open with resampling to correct)`,
    );
  }
  return out;
}

/**
 * Resamples a tilted or unevenly spaced stack onto a regular orthogonal grid, keeping the in-plane
 * grid of the first slice. Output slices lie along the normal at the median gap (so the common
 * spacing of a series with a few gaps is kept, and those slices map 1:1). Each output voxel is
 * interpolated linearly between the two input slices bracketing it along the normal, each sampled
 * bilinearly at the in-plane point that the tilt shift maps it to: trilinear in all. Points that
 * fall outside an input slice take `fill` (the series minimum: air or scanner padding).
 *
 * `planes[k]` holds slice k's values (already rescaled), nx·ny each.
 */
export function resampleStack(
  st: Stack,
  planes: ArrayLike<number>[],
  nx: number,
  ny: number,
  fill: number,
): { values: Float32Array; nz: number; gap: number; notice: string } {
  const gap = st.uneven ? st.gaps.median : st.gaps.mean;
  const extent = st.offsets[st.offsets.length - 1];
  const nz = Math.round(extent / gap) + 1;
  const [sx, sy] = st.spacing;
  const values = new Float32Array(nx * ny * nz);
  // Shifts computed from stored positions carry rounding (0.7 / 0.7 = 1.0000000000000002): snap
  // coordinates within 1e-6 of a pixel centre so whole-pixel shifts copy pixels exactly.
  const snap = (x: number) => (Math.abs(x - Math.round(x)) < 1e-6 ? Math.round(x) : x);
  const sample = (k: number, xf: number, yf: number): number => {
    const plane = planes[k];
    const x = snap(xf);
    const y = snap(yf);
    const x0 = Math.floor(x);
    const y0 = Math.floor(y);
    if (x0 < 0 || y0 < 0 || x0 > nx - 1 || y0 > ny - 1) return fill;
    const fx = x - x0;
    const fy = y - y0;
    const x1 = Math.min(x0 + 1, nx - 1);
    const y1 = Math.min(y0 + 1, ny - 1);
    const a = plane[x0 + nx * y0] * (1 - fx) + plane[x1 + nx * y0] * fx;
    const b = plane[x0 + nx * y1] * (1 - fx) + plane[x1 + nx * y1] * fx;
    return a * (1 - fy) + b * fy;
  };
  let lower = 0;
  for (let k = 0; k < nz; k++) {
    const t = Math.min(k * gap, extent);
    while (lower < st.offsets.length - 2 && st.offsets[lower + 1] <= t) lower++;
    const upper = Math.min(lower + 1, st.offsets.length - 1);
    const span = st.offsets[upper] - st.offsets[lower];
    const w = span > 0 ? Math.min(1, Math.max(0, (t - st.offsets[lower]) / span)) : 0;
    const [ua, va] = st.shifts[lower];
    const [ub, vb] = st.shifts[upper];
    const base = k * nx * ny;
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const a = sample(lower, i - ua / sx, j - va / sy);
        const b = w > 0 ? sample(upper, i - ub / sx, j - vb / sy) : 0;
        values[base + i + nx * j] = a * (1 - w) + b * w;
      }
    }
  }
  const why = [st.uneven ? `uneven slice gaps (${mm(st.gaps.min)} to ${mm(st.gaps.max)})` : '', st.tiltDegrees > 0 ? `gantry tilt of ${st.tiltDegrees.toFixed(2)}°` : '']
    .filter(Boolean)
    .join(' and ');
  const notice =
    `resampled for ${why}: ${st.slices.length} slices → ${nz} slices ${mm(gap)} apart along the slice normal ` +
    '(trilinear: linear between neighbouring slices, bilinear in-plane after the tilt shift; points outside the scanned slices get the series minimum)';
  return { values, nz, gap, notice };
}
