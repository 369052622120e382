/**
 * COVID-19 pneumonia lesions: ground-glass opacities, consolidation, and mixed lesions (ground glass
 * around a consolidated core), placed inside the lungs with a bias towards the pleura.
 *
 * Shape: a smooth union of 1–4 random ellipsoids, F(x) = Σ 2^(−qᵢ(x)) with qᵢ the ellipsoid's quadratic
 * form (F = ½ on a lone ellipsoid's surface), lobulated by a smooth random field: F' = F·(1 + 0.3·n).
 * The lesion is F' > ½ inside the lung mask: that is the exact ground truth.
 * Appearance: the lesion's CT number is blended into the lung with a weight that rises smoothly with
 * F', so ground glass has soft edges (its haze reaches a little beyond the truth) and consolidation
 * sharper ones; a finer random field gives the texture. Vessels and airways inside a lesion keep
 * their own values (they stay visible through ground glass, and as air bronchograms in consolidation)
 * but count as lesion in the truth, as an annotator would paint them.
 * Placement: a lung voxel drawn uniformly is kept with probability exp(−d/λ), d its distance to the
 * pleura (anywhere the lung ends), so most lesions are peripheral and subpleural.
 */
import { distanceTransform } from '../metrics/distance-transform';
import type { Rng } from '../random';
import type { Vec3 } from '../volume';
import { smoothNoise } from './blur';
import { boundingBox } from './morphology';
import { between, intBetween } from './seeds';
import { TISSUE } from './tissue';
import type { RasterGrid } from './tree';

export type LesionKind = 'ggo' | 'consolidation' | 'mixed';
export const LESION_KINDS: LesionKind[] = ['ggo', 'consolidation', 'mixed'];

export interface LesionOptions {
  /** Probability that a case has no lesion at all. */
  noneProbability: number;
  /** Number of lesions when there are some: uniform integer in [min, max]. */
  count: [number, number];
  /** Equivalent-sphere radius, adult mm (scaled with the body), drawn log-uniformly in [min, max]. */
  radiusMm: [number, number];
  /** Relative frequency of each kind. */
  kinds: Record<LesionKind, number>;
  /** Core CT number of ground glass, drawn per lesion in this range. */
  ggoHU: [number, number];
  /** Core CT number of consolidation, drawn per lesion in this range. */
  consolidationHU: [number, number];
  /** λ (adult mm) of the placement bias exp(−d/λ) towards the pleura; larger spreads lesions inwards. */
  subpleuralMm: number;
}

export const DEFAULT_LESION_OPTIONS: LesionOptions = {
  noneProbability: 0.1,
  count: [1, 6],
  radiusMm: [2, 30],
  kinds: { ggo: 0.6, consolidation: 0.15, mixed: 0.25 },
  ggoHU: [-650, -350],
  consolidationHU: [-50, 30],
  subpleuralMm: 12,
};

export interface LesionRecord {
  id: number;
  kind: LesionKind;
  /** Centroid of the lesion's voxels, LPS mm and (rounded) voxel index. */
  centreLPS: Vec3;
  centreVoxel: Vec3;
  voxels: number;
  volumeMl: number;
  equivalentDiameterMm: number;
  /** Core CT number drawn for it (ground glass, or consolidation for that kind; mixed: [ggo, core]). */
  coreHU: number[];
  /** Distance from its seed point to the pleura, mm. */
  pleuraDistanceMm: number;
}

export interface LesionCanvas {
  grid: RasterGrid;
  /** Body → grid scale of the phantom (lesion sizes shrink with the body). */
  scale: number;
  hu: Float32Array;
  tissue: Uint8Array;
  lungs: Uint8Array;
  truth: Uint8Array;
}

const smoothstep = (t: number) => (t <= 0 ? 0 : t >= 1 ? 1 : t * t * (3 - 2 * t));

/** Draws and paints the case's lesions; returns their records (lesions clipped away entirely are redrawn or dropped). */
export function addLesions(canvas: LesionCanvas, opts: LesionOptions, rng: Rng): LesionRecord[] {
  const count = rng.random() < opts.noneProbability ? 0 : intBetween(rng, opts.count);
  if (count === 0) return [];
  const placer = new Placer(canvas, opts.subpleuralMm * canvas.scale);
  if (!placer.hasLung) return [];
  const records: LesionRecord[] = [];
  for (let n = 0; n < count; n++) {
    const kind = pickKind(opts.kinds, rng);
    const radius = canvas.scale * Math.exp(between(rng, [Math.log(opts.radiusMm[0]), Math.log(opts.radiusMm[1])]));
    const coreHU = kind === 'ggo' ? [between(rng, opts.ggoHU)] : kind === 'consolidation' ? [between(rng, opts.consolidationHU)] : [between(rng, opts.ggoHU), between(rng, opts.consolidationHU)];
    for (let attempt = 0; attempt < 5; attempt++) {
      const seed = placer.sample(rng);
      if (!seed) break;
      const painted = paintLesion(canvas, seed.voxel, radius, kind, coreHU, rng);
      if (painted) {
        records.push({ id: records.length + 1, kind, coreHU: coreHU.map(Math.round), pleuraDistanceMm: round(seed.distanceMm, 1), ...painted });
        break;
      }
    }
  }
  return records;
}

function pickKind(weights: Record<LesionKind, number>, rng: Rng): LesionKind {
  const total = LESION_KINDS.reduce((s, k) => s + weights[k], 0);
  let t = rng.uniform(0, total);
  for (const k of LESION_KINDS) {
    t -= weights[k];
    if (t < 0) return k;
  }
  return 'ggo';
}

const round = (v: number, digits: number) => Number(v.toFixed(digits));

/** Peripheral placement: distances to the pleura on a grid of about 3 mm cells (exact EDT there). */
class Placer {
  private readonly factor: Vec3;
  private readonly cdims: Vec3;
  private readonly distance: Float64Array;
  private lo: Vec3 = [0, 0, 0];
  private hi: Vec3 = [0, 0, 0];
  readonly hasLung: boolean;

  constructor(
    private readonly canvas: LesionCanvas,
    private readonly lambdaMm: number,
  ) {
    const { dims, spacing } = canvas.grid;
    this.factor = spacing.map((s) => Math.max(1, Math.floor(3 / s))) as Vec3;
    this.cdims = dims.map((d, a) => Math.ceil(d / this.factor[a])) as Vec3;
    const [cx, cy, cz] = this.cdims;
    const outside = new Uint8Array(cx * cy * cz);
    for (let k = 0, c = 0; k < cz; k++) {
      for (let j = 0; j < cy; j++) {
        for (let i = 0; i < cx; i++, c++) {
          const x = i * this.factor[0] + dims[0] * (j * this.factor[1] + dims[1] * k * this.factor[2]);
          outside[c] = canvas.lungs[x] ? 0 : 1;
        }
      }
    }
    const box = boundingBox(canvas.lungs, dims);
    if (box) {
      this.lo = box.lo;
      this.hi = box.hi;
    }
    this.hasLung = this.hi[0] > this.lo[0];
    this.distance = distanceTransform(outside, this.cdims, spacing.map((s, a) => s * this.factor[a]) as Vec3);
  }

  sample(rng: Rng): { voxel: Vec3; distanceMm: number } | null {
    const { dims } = this.canvas.grid;
    for (let tries = 0; tries < 20000; tries++) {
      const v = [0, 1, 2].map((a) => this.lo[a] + rng.int(this.hi[a] - this.lo[a])) as Vec3;
      if (!this.canvas.lungs[v[0] + dims[0] * (v[1] + dims[1] * v[2])]) continue;
      const c = v.map((x, a) => Math.floor(x / this.factor[a]));
      const d = this.distance[c[0] + this.cdims[0] * (c[1] + this.cdims[1] * c[2])];
      if (rng.random() < Math.exp(-d / this.lambdaMm)) return { voxel: v, distanceMm: d };
    }
    return null;
  }
}

interface Ellipsoid {
  c: Vec3;
  /** Rows of the rotation, each divided by its semi-axis: q = Σ (row·(x − c))². */
  rows: Vec3[];
}

function randomRotation(rng: Rng): Vec3[] {
  // Uniform random rotation from a normalised Gaussian quaternion.
  let [w, x, y, z] = [rng.normal(), rng.normal(), rng.normal(), rng.normal()];
  const l = Math.hypot(w, x, y, z) || 1;
  [w, x, y, z] = [w / l, x / l, y / l, z / l];
  return [
    [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
    [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
    [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
  ];
}

/** Paints one lesion centred near voxel `at`; null when nothing of it lies in the lung. */
function paintLesion(canvas: LesionCanvas, at: Vec3, radius: number, kind: LesionKind, coreHU: number[], rng: Rng): Omit<LesionRecord, 'id' | 'kind' | 'coreHU' | 'pleuraDistanceMm'> | null {
  const { dims, spacing, origin } = canvas.grid;
  const parts = radius < 4 ? 1 : 1 + rng.int(4);
  const ellipsoids: Ellipsoid[] = [];
  let extent = 0;
  for (let p = 0; p < parts; p++) {
    const semi = [0, 1, 2].map(() => radius * (parts === 1 ? rng.uniform(0.75, 1.25) : rng.uniform(0.5, 0.9)));
    const offsetLength = parts === 1 ? 0 : rng.uniform(0, 0.6 * radius);
    const dir = [rng.normal(), rng.normal(), rng.normal()];
    const dl = Math.hypot(dir[0], dir[1], dir[2]) || 1;
    const c = dir.map((v) => (v / dl) * offsetLength) as Vec3;
    const rot = randomRotation(rng);
    ellipsoids.push({ c, rows: rot.map((row, a) => row.map((v) => v / semi[a]) as Vec3) });
    extent = Math.max(extent, offsetLength + Math.max(...semi));
  }
  // F'·(1+0.3n) ≥ 0.35 needs F ≥ ~0.18, i.e. q ≤ 2.5: 1.6 semi-axes is enough.
  const reach = 1.6 * extent + 2 * Math.max(...spacing);
  const lo = at.map((v, a) => Math.max(0, v - Math.ceil(reach / spacing[a]))) as Vec3;
  const hi = at.map((v, a) => Math.min(dims[a], v + Math.ceil(reach / spacing[a]) + 1)) as Vec3;
  const bd = [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]] as Vec3;
  const lobes = smoothNoise(bd, spacing, Math.max(0.4 * radius, spacing[0]), rng);
  const texture = smoothNoise(bd, spacing, 2 * canvas.scale, rng);

  // Field F' over the box, in mm relative to the seed voxel.
  const field = new Float32Array(bd[0] * bd[1] * bd[2]);
  let fmax = 0;
  for (let k = 0, b = 0; k < bd[2]; k++) {
    const z = (lo[2] + k - at[2]) * spacing[2];
    for (let j = 0; j < bd[1]; j++) {
      const y = (lo[1] + j - at[1]) * spacing[1];
      for (let i = 0; i < bd[0]; i++, b++) {
        const x = (lo[0] + i - at[0]) * spacing[0];
        let f = 0;
        for (const e of ellipsoids) {
          const dx = x - e.c[0];
          const dy = y - e.c[1];
          const dz = z - e.c[2];
          let q = 0;
          for (const r of e.rows) {
            const t = r[0] * dx + r[1] * dy + r[2] * dz;
            q += t * t;
          }
          if (q < 30) f += Math.pow(2, -q);
        }
        const v = f * (1 + 0.3 * lobes[b]);
        field[b] = v;
        const g = lo[0] + i + dims[0] * (lo[1] + j + dims[1] * (lo[2] + k));
        if (canvas.lungs[g] && v > fmax) fmax = v;
      }
    }
  }
  if (fmax <= 0.5) return null;

  const core = kind === 'mixed' ? 0.5 + 0.5 * (fmax - 0.5) : 0.5;
  const [ggoHU, consHU] = kind === 'consolidation' ? [NaN, coreHU[0]] : [coreHU[0], coreHU[1] ?? NaN];
  let voxels = 0;
  const sum = [0, 0, 0];
  for (let k = 0, b = 0; k < bd[2]; k++) {
    for (let j = 0; j < bd[1]; j++) {
      let g = lo[0] + dims[0] * (lo[1] + j + dims[1] * (lo[2] + k));
      for (let i = 0; i < bd[0]; i++, b++, g++) {
        const f = field[b];
        if (f < 0.35 || !canvas.lungs[g]) continue;
        const inLesion = f > 0.5;
        if (inLesion) {
          canvas.truth[g] = 1;
          voxels++;
          sum[0] += lo[0] + i;
          sum[1] += lo[1] + j;
          sum[2] += lo[2] + k;
        }
        const t = canvas.tissue[g];
        if (t !== TISSUE.LUNG && t !== TISSUE.GGO && t !== TISSUE.CONSOLIDATION) continue;
        const base = canvas.hu[g];
        let v = base;
        if (kind !== 'consolidation') v += (ggoHU + 35 * texture[b] - v) * smoothstep((f - 0.35) / 0.25);
        if (kind === 'consolidation') v += (consHU + 15 * texture[b] - v) * smoothstep((f - 0.4) / 0.12);
        if (kind === 'mixed') v += (consHU + 15 * texture[b] - v) * smoothstep((f - (core - 0.12)) / 0.14);
        if (v > base) canvas.hu[g] = v;
        if (!inLesion) continue;
        const cls = kind === 'ggo' ? TISSUE.GGO : kind === 'consolidation' || f > core ? TISSUE.CONSOLIDATION : TISSUE.GGO;
        if (cls === TISSUE.CONSOLIDATION || t === TISSUE.LUNG) canvas.tissue[g] = cls;
      }
    }
  }
  if (voxels === 0) return null;
  const centreVoxel = sum.map((s) => Math.round(s / voxels)) as Vec3;
  const centreLPS = sum.map((s, a) => round(origin[a] + (s / voxels) * spacing[a], 2)) as Vec3;
  const volumeMm3 = voxels * spacing[0] * spacing[1] * spacing[2];
  return {
    centreLPS,
    centreVoxel,
    voxels,
    volumeMl: round(volumeMm3 / 1000, 4),
    equivalentDiameterMm: round(2 * Math.cbrt((3 * volumeMm3) / (4 * Math.PI)), 2),
  };
}
