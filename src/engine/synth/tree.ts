/**
 * Branching tubes (pulmonary vessels, bronchi): a recursive binary tree grown from the hilum, and
 * its rasterisation onto the voxel grid.
 *
 * Each segment is a tapered tube (a capsule whose radius goes linearly from r0 to r1). A segment
 * splits into a major and a minor child at random angles about a random axis, with radii shrinking
 * by fixed ratios, so calibre falls with every generation towards the periphery; growth stops below
 * a minimum radius or where no direction keeps the branch inside the lung.
 */
import type { Rng } from '../random';
import type { Vec3 } from '../volume';

export interface Segment {
  a: Vec3;
  b: Vec3;
  r0: number;
  r1: number;
}

export interface TreeParams {
  rootRadius: number;
  rootLength: number;
  minRadius: number;
  maxGenerations: number;
  /** Child radius / parent radius for the major and the minor child. */
  majorRatio: number;
  minorRatio: number;
}

const add = (p: Vec3, d: Vec3, s: number): Vec3 => [p[0] + s * d[0], p[1] + s * d[1], p[2] + s * d[2]];
const norm = (d: Vec3): Vec3 => {
  const l = Math.hypot(d[0], d[1], d[2]) || 1;
  return [d[0] / l, d[1] / l, d[2] / l];
};
const cross = (a: Vec3, b: Vec3): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];

/** Rodrigues rotation of the unit vector d by `angle` about the unit `axis`. */
function rotate(d: Vec3, axis: Vec3, angle: number): Vec3 {
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const k = cross(axis, d);
  const dot = axis[0] * d[0] + axis[1] * d[1] + axis[2] * d[2];
  return norm([0, 1, 2].map((n) => d[n] * c + k[n] * s + axis[n] * dot * (1 - c)) as Vec3);
}

/** A random unit vector perpendicular to d. */
function perpendicular(d: Vec3, rng: Rng): Vec3 {
  const r: Vec3 = [rng.normal(), rng.normal(), rng.normal()];
  return norm(cross(d, r));
}

/** Grows the tree from its roots; `inside(p)` says whether a point (same mm frame) may hold a branch. */
export function growTree(roots: { origin: Vec3; dir: Vec3 }[], inside: (p: Vec3) => boolean, params: TreeParams, rng: Rng): Segment[] {
  const segments: Segment[] = [];
  type Bud = { p: Vec3; d: Vec3; r: number; len: number; gen: number; root: Vec3 };
  const stack: Bud[] = roots.map((r) => ({ p: r.origin, d: norm(r.dir), r: params.rootRadius, len: params.rootLength, gen: 0, root: r.origin }));
  while (stack.length) {
    const bud = stack.pop()!;
    if (bud.r < params.minRadius || bud.gen > params.maxGenerations) continue;
    let end: Vec3 | null = null;
    let dir = bud.d;
    for (let attempt = 0; attempt < 6 && !end; attempt++) {
      dir = attempt === 0 ? bud.d : rotate(bud.d, perpendicular(bud.d, rng), 0.3 * attempt);
      for (const len of [bud.len, 0.55 * bud.len]) {
        const e = add(bud.p, dir, len);
        if (inside(e) && inside(add(bud.p, dir, len / 2))) {
          end = e;
          break;
        }
      }
    }
    if (!end) continue;
    segments.push({ a: bud.p, b: end, r0: bud.r, r1: bud.r * 0.93 });
    // Children turn away from each other about one axis, and lean outwards from the root.
    const axis = perpendicular(dir, rng);
    const outward = norm([end[0] - bud.root[0], end[1] - bud.root[1], end[2] - bud.root[2]]);
    const lean = (d: Vec3): Vec3 => norm(add(d, outward, 0.25));
    const major = lean(rotate(dir, axis, rng.uniform(0.2, 0.5)));
    const minor = lean(rotate(dir, axis, -rng.uniform(0.4, 0.9)));
    const next = (d: Vec3, ratio: number): Bud => ({ p: end!, d, r: bud.r * ratio, len: bud.len * rng.uniform(0.75, 0.92), gen: bud.gen + 1, root: bud.root });
    stack.push(next(minor, params.minorRatio), next(major, params.majorRatio));
  }
  return segments;
}

export interface RasterGrid {
  dims: Vec3;
  spacing: Vec3;
  /** World mm of voxel (0,0,0); axes are the world axes (identity direction). */
  origin: Vec3;
}

/**
 * Calls `visit(index, excess)` for every voxel whose centre lies within r(t) + `extraMm`(r) of the
 * segment's axis, where `excess` = distance − r(t) (≤ 0 inside the tube). Segment coordinates are in
 * the same world mm as the grid, after multiplying by `scale`.
 */
export function rasterizeSegment(seg: Segment, grid: RasterGrid, scale: number, extraMm: (r: number) => number, visit: (index: number, excess: number) => void): void {
  const a = seg.a.map((v) => v * scale) as Vec3;
  const b = seg.b.map((v) => v * scale) as Vec3;
  const r0 = seg.r0 * scale;
  const r1 = seg.r1 * scale;
  const reach = Math.max(r0 + extraMm(r0), r1 + extraMm(r1));
  const ab: Vec3 = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
  const ab2 = ab[0] * ab[0] + ab[1] * ab[1] + ab[2] * ab[2] || 1;
  const { dims, spacing, origin } = grid;
  const lo = [0, 1, 2].map((n) => Math.max(0, Math.floor((Math.min(a[n], b[n]) - reach - origin[n]) / spacing[n])));
  const hi = [0, 1, 2].map((n) => Math.min(dims[n] - 1, Math.ceil((Math.max(a[n], b[n]) + reach - origin[n]) / spacing[n])));
  for (let k = lo[2]; k <= hi[2]; k++) {
    const z = origin[2] + k * spacing[2] - a[2];
    for (let j = lo[1]; j <= hi[1]; j++) {
      const y = origin[1] + j * spacing[1] - a[1];
      let x = lo[0] + dims[0] * (j + dims[1] * k);
      for (let i = lo[0]; i <= hi[0]; i++, x++) {
        const px = origin[0] + i * spacing[0] - a[0];
        const t = Math.min(1, Math.max(0, (px * ab[0] + y * ab[1] + z * ab[2]) / ab2));
        const dx = px - t * ab[0];
        const dy = y - t * ab[1];
        const dz = z - t * ab[2];
        const d = Math.sqrt(dx * dx + dy * dy + dz * dz);
        const r = r0 + t * (r1 - r0);
        if (d <= r + extraMm(r)) visit(x, d - r);
      }
    }
  }
}
