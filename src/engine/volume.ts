/**
 * The one volume type of the engine, and the conversions between world conventions.
 *
 * World frame: **LPS** millimetres (DICOM, ITK, Cornerstone3D): +x = patient Left,
 * +y = Posterior, +z = Superior. NIfTI stores RAS; its readers and writers convert here,
 * through `affineFromRAS` / `affineToRAS`, and nowhere else.
 *
 * Voxel order: `i` (column) varies fastest, then `j`, then `k`: index = i + nx·(j + ny·k).
 * This is NIfTI's on-disk order and DICOM's row-major frame order stacked by slice.
 */

export type VoxelArray =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array;

export type Vec3 = [number, number, number];
/** Direction cosines: [i-axis unit vector (3), j-axis (3), k-axis (3)], each in LPS. Same layout as Cornerstone3D's `direction`. */
export type Mat3 = [number, number, number, number, number, number, number, number, number];
/** Row-major 4×4 homogeneous matrix. */
export type Mat4 = number[];

/** What the stored numbers mean once scaled: Hounsfield units, label ids, or unknown intensities. */
export type IntensityUnits = 'HU' | 'label' | 'unknown';

export interface Volume {
  data: VoxelArray;
  dims: Vec3;
  /** Voxel size in mm along i, j, k. */
  spacing: Vec3;
  /** LPS position (mm) of the centre of voxel (0,0,0). */
  origin: Vec3;
  direction: Mat3;
  units: IntensityUnits;
  /** Things the reader wants the user to know (dropped 4th dimension, tilt, non-uniform spacing…). */
  notices: string[];
  /** Where it came from, for display and for the writers (never interpreted as HTML). */
  source?: { format: string; name: string };
}

export const IDENTITY3: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];

export function voxelCount(dims: Vec3): number {
  return dims[0] * dims[1] * dims[2];
}

export function voxelIndex(dims: Vec3, i: number, j: number, k: number): number {
  return i + dims[0] * (j + dims[1] * k);
}

/** Voxel (i,j,k) → LPS world affine, row-major 4×4. */
export function affineLPS(v: Pick<Volume, 'spacing' | 'origin' | 'direction'>): Mat4 {
  const { spacing: s, origin: o, direction: d } = v;
  return [
    d[0] * s[0], d[3] * s[1], d[6] * s[2], o[0],
    d[1] * s[0], d[4] * s[1], d[7] * s[2], o[1],
    d[2] * s[0], d[5] * s[1], d[8] * s[2], o[2],
    0, 0, 0, 1,
  ];
}

/** Voxel → RAS world affine (what NIfTI stores and nibabel reports). */
export function affineToRAS(v: Pick<Volume, 'spacing' | 'origin' | 'direction'>): Mat4 {
  return flipLR_AP(affineLPS(v));
}

/** Geometry (spacing, origin, direction) from a voxel → LPS affine. Shear is not representable and throws. */
export function geometryFromLPS(a: Mat4): Pick<Volume, 'spacing' | 'origin' | 'direction'> {
  const cols: Vec3[] = [0, 1, 2].map((c) => [a[c], a[4 + c], a[8 + c]] as Vec3);
  const spacing = cols.map((c) => Math.hypot(c[0], c[1], c[2])) as Vec3;
  if (spacing.some((s) => !(s > 0) || !Number.isFinite(s))) {
    throw new Error(`affine has a zero or invalid voxel size (${spacing.join(' × ')})`);
  }
  const dir = cols.map((c, n) => c.map((x) => x / spacing[n]) as Vec3);
  for (let p = 0; p < 3; p++) {
    for (let q = p + 1; q < 3; q++) {
      const dot = dir[p][0] * dir[q][0] + dir[p][1] * dir[q][1] + dir[p][2] * dir[q][2];
      if (Math.abs(dot) > 1e-4) throw new Error('affine has shear (axes not orthogonal); not supported');
    }
  }
  return { spacing, origin: [a[3], a[7], a[11]], direction: [...dir[0], ...dir[1], ...dir[2]] as Mat3 };
}

/** Geometry from a voxel → RAS affine (NIfTI qform/sform). */
export function geometryFromRAS(a: Mat4): Pick<Volume, 'spacing' | 'origin' | 'direction'> {
  return geometryFromLPS(flipLR_AP(a));
}

/** RAS ↔ LPS: negate the x and y rows. Its own inverse. */
function flipLR_AP(a: Mat4): Mat4 {
  const out = a.slice();
  for (let c = 0; c < 4; c++) {
    out[c] = -out[c];
    out[4 + c] = -out[4 + c];
  }
  return out;
}

/** LPS world position of voxel (i,j,k) (fractional indices allowed). */
export function worldLPS(v: Pick<Volume, 'spacing' | 'origin' | 'direction'>, i: number, j: number, k: number): Vec3 {
  const a = affineLPS(v);
  return [
    a[0] * i + a[1] * j + a[2] * k + a[3],
    a[4] * i + a[5] * j + a[6] * k + a[7],
    a[8] * i + a[9] * j + a[10] * k + a[11],
  ];
}

/** Continuous voxel index of an LPS point (inverse of worldLPS; direction is orthonormal). */
export function voxelOfWorld(v: Pick<Volume, 'spacing' | 'origin' | 'direction'>, p: Vec3): Vec3 {
  const d = v.direction;
  const q = [p[0] - v.origin[0], p[1] - v.origin[1], p[2] - v.origin[2]];
  return [0, 1, 2].map(
    (c) => (d[3 * c] * q[0] + d[3 * c + 1] * q[1] + d[3 * c + 2] * q[2]) / v.spacing[c],
  ) as Vec3;
}

/**
 * Axis codes as nibabel's `aff2axcodes` gives them (RAS letters: the direction each array axis
 * points to, e.g. "LAS" for a radiological NIfTI, "LPS" for a DICOM series).
 */
export function axisCodes(v: Pick<Volume, 'direction'>): string {
  const letters = [
    ['L', 'R'],
    ['P', 'A'],
    ['S', 'I'],
  ];
  let codes = '';
  const used = new Set<number>();
  for (let c = 0; c < 3; c++) {
    const axis = [v.direction[3 * c], v.direction[3 * c + 1], v.direction[3 * c + 2]];
    let best = -1;
    for (let w = 0; w < 3; w++) {
      if (used.has(w)) continue;
      if (best < 0 || Math.abs(axis[w]) > Math.abs(axis[best])) best = w;
    }
    used.add(best);
    codes += letters[best][axis[best] >= 0 ? 0 : 1];
  }
  return codes;
}

/** Two volumes share a voxel grid when dims match and every voxel centre agrees within `tolMm`. */
export function sameGrid(a: Omit<Volume, 'data' | 'units' | 'notices'>, b: Omit<Volume, 'data' | 'units' | 'notices'>, tolMm = 1e-3): boolean {
  if (a.dims.some((d, n) => d !== b.dims[n])) return false;
  const corners: Vec3[] = [];
  for (const i of [0, a.dims[0] - 1]) for (const j of [0, a.dims[1] - 1]) for (const k of [0, a.dims[2] - 1]) corners.push([i, j, k]);
  return corners.every((c) => {
    const p = worldLPS(a, ...c);
    const q = worldLPS(b, ...c);
    return Math.hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]) <= tolMm;
  });
}

/** Minimum and maximum and mean of the voxel values (NaN skipped). */
export function intensityStats(data: ArrayLike<number>): { min: number; max: number; mean: number } {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let n = 0;
  for (let x = 0; x < data.length; x++) {
    const val = data[x];
    if (Number.isNaN(val)) continue;
    if (val < min) min = val;
    if (val > max) max = val;
    sum += val;
    n++;
  }
  return { min, max, mean: n ? sum / n : NaN };
}
