/**
 * Simulated annotators: each observer turns the exact lesion mask into the mask a human with given
 * habits would draw. An observer is a named list of noise models applied in order; every model draws
 * from the observer's own random stream, so observers are independent and reproducible.
 */
import type { Rng } from '../random';
import type { Vec3 } from '../volume';
import { smoothNoise } from './blur';
import { boundingBox, boxDims, connectedComponents, cropMask, growBox, offsetMask, pasteMask, signedDistance, type Box } from './morphology';
import { between, intBetween, poisson } from './seeds';

/**
 * Boundary bias: a systematic over- or under-segmentation. One radius r is drawn per case in
 * [minMm, maxMm]; the mask is dilated by r mm (r > 0) or eroded by −r mm (r < 0) with exact
 * Euclidean balls on the anisotropic grid. Growth is kept inside the lungs when `clipToLungs`.
 */
export interface BoundaryBias {
  kind: 'boundaryBias';
  minMm: number;
  maxMm: number;
  clipToLungs: boolean;
}

/**
 * Boundary jitter: an irregular, wavy outline. The mask's signed distance is perturbed by a smooth
 * random field of standard deviation `amplitudeMm` and correlation length `scaleMm`, and thresholded
 * again at zero; amplitude 0 returns the mask unchanged.
 */
export interface BoundaryJitter {
  kind: 'boundaryJitter';
  amplitudeMm: number;
  scaleMm: number;
  clipToLungs: boolean;
}

/**
 * Coarse polygons: per axial slice, each connected region (8-connected) is replaced by the polygon
 * through a few of its boundary points, as drawn with a polygon tool with few clicks. The points are
 * the region's extreme pixels along `minVertices…maxVertices` evenly spaced directions (random
 * start angle), so the polygon is convex: concavities get filled and bulges between clicks cut off.
 */
export interface CoarsePolygon {
  kind: 'coarsePolygon';
  minVertices: number;
  maxVertices: number;
}

/**
 * Missed small lesions: each connected lesion (26-connected) smaller than `maxVolumeMl` is dropped
 * with probability `probability`; larger ones are never touched.
 */
export interface MissSmall {
  kind: 'missSmall';
  maxVolumeMl: number;
  probability: number;
}

/**
 * False positives on vessels: a Poisson(`meanCount`) number of vessel cross-sections taken for
 * nodules. Each picks a random vessel voxel outside the mask and adds the vessel voxels within
 * `radiusMm` of it, and only those.
 */
export interface VesselFalsePositives {
  kind: 'vesselFalsePositives';
  meanCount: number;
  radiusMm: number;
}

/**
 * Slice skipping: only every `every`-th axial slice is drawn (slices k ≡ offset mod every; offset
 * random per case unless given), the others are filled by `interpolation`: 'none' leaves them empty,
 * 'nearest' copies the nearest drawn slice, 'shape' interpolates the signed distance maps of the two
 * drawn slices around it (an empty side shrinks the shape towards it). Slices beyond the first or
 * last drawn one copy it only when it lies within every/2 slices.
 */
export interface SliceSkip {
  kind: 'sliceSkip';
  every: number;
  interpolation: 'none' | 'nearest' | 'shape';
  offset?: number;
}

export type ObserverModel = BoundaryBias | BoundaryJitter | CoarsePolygon | MissSmall | VesselFalsePositives | SliceSkip;
export type ModelKind = ObserverModel['kind'];

export interface ObserverProfile {
  /** Used in file names: letters, digits, '_' and '-'. */
  name: string;
  models: ObserverModel[];
}

/** What a model may look at besides the mask: the grid, the lungs and the vessels of the case. */
export interface ObserverContext {
  dims: Vec3;
  spacing: Vec3;
  lungs: Uint8Array;
  vessels: Uint8Array;
}

/** Parameter defaults, used for what a profile leaves out. */
export const MODEL_DEFAULTS: { [K in ModelKind]: Omit<Extract<ObserverModel, { kind: K }>, 'kind'> } = {
  boundaryBias: { minMm: -1, maxMm: 1, clipToLungs: true },
  boundaryJitter: { amplitudeMm: 1, scaleMm: 5, clipToLungs: true },
  coarsePolygon: { minVertices: 5, maxVertices: 8 },
  missSmall: { maxVolumeMl: 0.5, probability: 0.5 },
  vesselFalsePositives: { meanCount: 1, radiusMm: 2.5 },
  sliceSkip: { every: 3, interpolation: 'shape' },
};

/** The observer's mask: the models applied in order to a copy of the truth. */
export function observe(truth: Uint8Array, profile: ObserverProfile, ctx: ObserverContext, rng: Rng): Uint8Array {
  let mask: Uint8Array = truth.slice();
  for (const model of profile.models) mask = applyModel(mask, model, ctx, rng);
  return mask;
}

export function applyModel(mask: Uint8Array, model: ObserverModel, ctx: ObserverContext, rng: Rng): Uint8Array {
  switch (model.kind) {
    case 'boundaryBias':
      return boundaryBias(mask, model, ctx, rng);
    case 'boundaryJitter':
      return boundaryJitter(mask, model, ctx, rng);
    case 'coarsePolygon':
      return coarsePolygon(mask, model, ctx, rng);
    case 'missSmall':
      return missSmall(mask, model, ctx, rng);
    case 'vesselFalsePositives':
      return vesselFalsePositives(mask, model, ctx, rng);
    case 'sliceSkip':
      return sliceSkip(mask, model, ctx, rng);
  }
}

function clip(mask: Uint8Array, lungs: Uint8Array): void {
  for (let x = 0; x < mask.length; x++) if (!lungs[x]) mask[x] = 0;
}

export function boundaryBias(mask: Uint8Array, m: BoundaryBias, ctx: ObserverContext, rng: Rng): Uint8Array {
  const r = between(rng, [m.minMm, m.maxMm]);
  offsetMask(mask, ctx.dims, ctx.spacing, r);
  if (r > 0 && m.clipToLungs) clip(mask, ctx.lungs);
  return mask;
}

export function boundaryJitter(mask: Uint8Array, m: BoundaryJitter, ctx: ObserverContext, rng: Rng): Uint8Array {
  const box = boundingBox(mask, ctx.dims);
  if (!box || m.amplitudeMm <= 0) return mask;
  const b = growBox(box, ctx.spacing.map((s) => Math.ceil((3.5 * m.amplitudeMm) / s) + 1) as Vec3, ctx.dims);
  const bd = boxDims(b);
  const crop = cropMask(mask, ctx.dims, b);
  const sdf = signedDistance(crop, bd, ctx.spacing);
  const noise = smoothNoise(bd, ctx.spacing, m.scaleMm, rng);
  for (let x = 0; x < crop.length; x++) crop[x] = sdf[x] + m.amplitudeMm * noise[x] < 0 ? 1 : 0;
  pasteMask(mask, ctx.dims, b, crop);
  if (m.clipToLungs) clip(mask, ctx.lungs);
  return mask;
}

export function coarsePolygon(mask: Uint8Array, m: CoarsePolygon, ctx: ObserverContext, rng: Rng): Uint8Array {
  const box = boundingBox(mask, ctx.dims);
  if (!box) return mask;
  const [nx, ny] = ctx.dims;
  const [sx, sy] = ctx.spacing;
  for (let k = box.lo[2]; k < box.hi[2]; k++) {
    const slice = mask.subarray(k * nx * ny, (k + 1) * nx * ny);
    const regions = connectedComponents(slice, [nx, ny, 1]);
    if (!regions.length) continue;
    const out = new Uint8Array(nx * ny);
    for (const region of regions) {
      const vertices = intBetween(rng, [m.minVertices, m.maxVertices]);
      fillPolygon(out, nx, region, supportPolygon(region, nx, sx, sy, vertices, rng.uniform(0, (2 * Math.PI) / vertices)), sx, sy);
    }
    slice.set(out);
  }
  return mask;
}

/** The region's extreme pixels (mm, pixel centres) along n directions, in counter-clockwise order, repeats removed. */
function supportPolygon(region: Int32Array, nx: number, sx: number, sy: number, n: number, start: number): [number, number][] {
  const poly: [number, number][] = [];
  for (let v = 0; v < n; v++) {
    const a = start + (2 * Math.PI * v) / n;
    const ux = Math.cos(a);
    const uy = Math.sin(a);
    let best = -Infinity;
    let px = 0;
    let py = 0;
    for (const p of region) {
      const x = (p % nx) * sx;
      const y = Math.floor(p / nx) * sy;
      const d = x * ux + y * uy;
      if (d > best) {
        best = d;
        px = x;
        py = y;
      }
    }
    const last = poly[poly.length - 1];
    if (!last || last[0] !== px || last[1] !== py) poly.push([px, py]);
  }
  if (poly.length > 1 && poly[0][0] === poly[poly.length - 1][0] && poly[0][1] === poly[poly.length - 1][1]) poly.pop();
  return poly;
}

/** Sets the pixels whose centre is inside the convex polygon (edges included); a degenerate polygon keeps the region as drawn. */
function fillPolygon(out: Uint8Array, nx: number, region: Int32Array, poly: [number, number][], sx: number, sy: number): void {
  let area = 0;
  for (let v = 0; v < poly.length; v++) {
    const [ax, ay] = poly[v];
    const [bx, by] = poly[(v + 1) % poly.length];
    area += ax * by - bx * ay;
  }
  if (poly.length < 3 || Math.abs(area) < 1e-9) {
    for (const p of region) out[p] = 1;
    return;
  }
  let i0 = Infinity;
  let i1 = -Infinity;
  let j0 = Infinity;
  let j1 = -Infinity;
  for (const [x, y] of poly) {
    i0 = Math.min(i0, Math.round(x / sx));
    i1 = Math.max(i1, Math.round(x / sx));
    j0 = Math.min(j0, Math.round(y / sy));
    j1 = Math.max(j1, Math.round(y / sy));
  }
  const eps = 1e-9 * (sx + sy);
  for (let j = j0; j <= j1; j++) {
    for (let i = i0; i <= i1; i++) {
      const x = i * sx;
      const y = j * sy;
      let inside = true;
      for (let v = 0; v < poly.length && inside; v++) {
        const [ax, ay] = poly[v];
        const [bx, by] = poly[(v + 1) % poly.length];
        inside = (bx - ax) * (y - ay) - (by - ay) * (x - ax) >= -eps * Math.hypot(bx - ax, by - ay);
      }
      if (inside) out[i + nx * j] = 1;
    }
  }
}

export function missSmall(mask: Uint8Array, m: MissSmall, ctx: ObserverContext, rng: Rng): Uint8Array {
  const voxelMl = (ctx.spacing[0] * ctx.spacing[1] * ctx.spacing[2]) / 1000;
  const box = boundingBox(mask, ctx.dims);
  if (!box) return mask;
  // Components are found on the mask's box, then mapped back to grid indices.
  const bd = boxDims(box);
  for (const region of connectedComponents(cropMask(mask, ctx.dims, box), bd)) {
    if (region.length * voxelMl >= m.maxVolumeMl || !(rng.random() < m.probability)) continue;
    for (const p of region) mask[gridIndex(p, bd, box, ctx.dims)] = 0;
  }
  return mask;
}

function gridIndex(p: number, bd: Vec3, box: Box, dims: Vec3): number {
  const i = (p % bd[0]) + box.lo[0];
  const j = (Math.floor(p / bd[0]) % bd[1]) + box.lo[1];
  const k = Math.floor(p / (bd[0] * bd[1])) + box.lo[2];
  return i + dims[0] * (j + dims[1] * k);
}

export function vesselFalsePositives(mask: Uint8Array, m: VesselFalsePositives, ctx: ObserverContext, rng: Rng): Uint8Array {
  const count = poisson(rng, m.meanCount);
  if (count === 0) return mask;
  const candidates: number[] = [];
  for (let x = 0; x < ctx.vessels.length; x++) if (ctx.vessels[x] && !mask[x]) candidates.push(x);
  if (!candidates.length) return mask;
  const [nx, ny, nz] = ctx.dims;
  const [sx, sy, sz] = ctx.spacing;
  const r = m.radiusMm;
  const reach = [Math.floor(r / sx), Math.floor(r / sy), Math.floor(r / sz)];
  for (let c = 0; c < count; c++) {
    const seed = candidates[rng.int(candidates.length)];
    const si = seed % nx;
    const sj = Math.floor(seed / nx) % ny;
    const sk = Math.floor(seed / (nx * ny));
    for (let k = Math.max(0, sk - reach[2]); k <= Math.min(nz - 1, sk + reach[2]); k++) {
      for (let j = Math.max(0, sj - reach[1]); j <= Math.min(ny - 1, sj + reach[1]); j++) {
        for (let i = Math.max(0, si - reach[0]); i <= Math.min(nx - 1, si + reach[0]); i++) {
          const x = i + nx * (j + ny * k);
          const d2 = ((i - si) * sx) ** 2 + ((j - sj) * sy) ** 2 + ((k - sk) * sz) ** 2;
          if (d2 <= r * r && ctx.vessels[x]) mask[x] = 1;
        }
      }
    }
  }
  return mask;
}

/** Which slices a slice-skipping observer draws: k ≡ offset (mod every). */
export function drawnSlices(nz: number, every: number, offset: number): number[] {
  const out: number[] = [];
  for (let k = offset % every; k < nz; k += every) out.push(k);
  return out;
}

export function sliceSkip(mask: Uint8Array, m: SliceSkip, ctx: ObserverContext, rng: Rng): Uint8Array {
  const [nx, ny, nz] = ctx.dims;
  const plane = nx * ny;
  const offset = (m.offset ?? rng.int(m.every)) % m.every;
  const drawn = drawnSlices(nz, m.every, offset);
  const out = new Uint8Array(mask.length);
  for (const k of drawn) out.set(mask.subarray(k * plane, (k + 1) * plane), k * plane);
  if (m.interpolation === 'none' || drawn.length === 0) return out;
  const reach = Math.floor(m.every / 2);
  for (let k = 0; k < nz; k++) {
    if ((k - offset) % m.every === 0) continue;
    const below = drawn.filter((d) => d < k).pop();
    const above = drawn.find((d) => d > k);
    if (m.interpolation === 'shape' && below !== undefined && above !== undefined) {
      interpolateSlice(out, ctx, below, above, k);
      continue;
    }
    // Nearest drawn slice (ties go to the one below), if close enough.
    const candidates = [below, above].filter((d): d is number => d !== undefined && Math.abs(d - k) <= reach);
    candidates.sort((a, b) => Math.abs(a - k) - Math.abs(b - k) || a - b);
    if (candidates.length) out.copyWithin(k * plane, candidates[0] * plane, (candidates[0] + 1) * plane);
  }
  return out;
}

/** Slice k between drawn slices a < k < b: zero level of the linearly interpolated signed distances. */
function interpolateSlice(out: Uint8Array, ctx: ObserverContext, a: number, b: number, k: number): void {
  const [nx, ny] = ctx.dims;
  const plane = nx * ny;
  const sa = out.subarray(a * plane, (a + 1) * plane);
  const sb = out.subarray(b * plane, (b + 1) * plane);
  const dims2: Vec3 = [nx, ny, 1];
  const boxA = boundingBox(sa, dims2);
  const boxB = boundingBox(sb, dims2);
  if (!boxA && !boxB) return;
  const union: Box = {
    lo: [0, 1, 2].map((n) => Math.min(boxA?.lo[n] ?? Infinity, boxB?.lo[n] ?? Infinity)) as Vec3,
    hi: [0, 1, 2].map((n) => Math.max(boxA?.hi[n] ?? -Infinity, boxB?.hi[n] ?? -Infinity)) as Vec3,
  };
  const box = growBox(union, [2, 2, 0], dims2);
  const bd = boxDims(box);
  const sdf = (slice: Uint8Array, present: boolean, other: Float64Array | null): Float64Array => {
    if (present) return signedDistance(cropMask(slice, dims2, box), bd, [ctx.spacing[0], ctx.spacing[1], 1]);
    // An empty side: a constant just beyond the other side's deepest point, so the shape shrinks to nothing there.
    let deepest = 0;
    for (const v of other!) deepest = Math.max(deepest, -v);
    return new Float64Array(bd[0] * bd[1]).fill(deepest + Math.min(ctx.spacing[0], ctx.spacing[1]));
  };
  const da = boxA ? sdf(sa, true, null) : null;
  const db = boxB ? sdf(sb, true, null) : null;
  const fa = da ?? sdf(sa, false, db);
  const fb = db ?? sdf(sb, false, da);
  const t = (k - a) / (b - a);
  const crop = new Uint8Array(bd[0] * bd[1]);
  for (let p = 0; p < crop.length; p++) crop[p] = (1 - t) * fa[p] + t * fb[p] < 0 ? 1 : 0;
  pasteMask(out, ctx.dims, { lo: [box.lo[0], box.lo[1], k], hi: [box.hi[0], box.hi[1], k + 1] }, crop);
}
