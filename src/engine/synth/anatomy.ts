/**
 * A coarse adult chest, described analytically in "body millimetres" and sampled on the voxel grid.
 *
 * Frame: LPS world mm (x = patient left, y = posterior, z = superior), the grid centred on the
 * origin with identity direction, so i runs right→left, j anterior→posterior, k inferior→superior.
 * The body is drawn at adult size (about 330 mm wide) and shrunk by `scale` ≤ 1 when the in-plane
 * field of view is smaller; the lungs span body z = −125…+125 mm around the grid's centre.
 *
 * Structures, outside in: skin, subcutaneous fat, muscle, ribs (oblique bands with cortex and
 * cancellous core), sternum, spine (vertebral bodies with discs, canal, arch, spinous process), the
 * thoracic cavity with the mediastinum (fat, heart with chambers, ascending/arch/descending aorta,
 * esophagus, trachea), both lungs above the diaphragm domes, and the abdomen below them (liver on
 * the right). Vessel and airway trees are added by `tree.ts`.
 */
import type { Rng } from '../random';
import type { Vec3 } from '../volume';
import { TISSUE } from './tissue';

export const LUNG_TOP = 125;
export const LUNG_HEIGHT = 250;
const RIB_TOP = 128;
const RIB_STEP = 22;
const RIB_HALF_HEIGHT = 5;
const RIB_DROP = 75;
const DISC_PERIOD = 28;
// Local copies: the classifier runs once per voxel, and module-object lookups cost there.
const { AIR, FAT, MUSCLE, SOFT, LIVER, CORTICAL_BONE, CANCELLOUS_BONE, CARTILAGE, BLOOD, MYOCARDIUM, CSF, LUNG, AIRWAY, AIRWAY_WALL } = TISSUE;

const sq = (v: number) => v * v;

/** Per-case anatomy, drawn at random around an average adult. */
export interface ChestShape {
  bodyA: number;
  bodyB: number;
  fat: number;
  muscle: number;
  heart: { x: number; y: number; z: number; a: number; b: number; c: number };
  /** Peak heights (body z, mm) of the right and left diaphragm domes. */
  domeRight: number;
  domeLeft: number;
  lungHU: number;
  /** Posterior lung is denser than anterior by about this much (gravity-dependent perfusion). */
  lungGradientHU: number;
  corticalHU: number;
  cancellousHU: number;
  bloodHU: number;
}

export function drawChestShape(rng: Rng, bloodHU: number): ChestShape {
  const size = rng.uniform(0.92, 1.06);
  const domeRight = rng.uniform(-65, -45);
  return {
    bodyA: 165 * size * rng.uniform(0.96, 1.04),
    bodyB: 120 * size * rng.uniform(0.96, 1.04),
    fat: rng.uniform(5, 15),
    muscle: rng.uniform(8, 12),
    heart: { x: 20 + rng.uniform(-5, 5), y: -12 + rng.uniform(-4, 4), z: -50 + rng.uniform(-6, 6), a: 62 * rng.uniform(0.92, 1.08), b: 50 * rng.uniform(0.92, 1.08), c: 48 },
    domeRight,
    domeLeft: domeRight - rng.uniform(8, 20),
    lungHU: rng.uniform(-865, -835),
    lungGradientHU: 25,
    corticalHU: rng.uniform(700, 1000),
    cancellousHU: rng.uniform(220, 280),
    bloodHU,
  };
}

/** Derived landmarks (body mm). */
export class ChestModel {
  readonly wall: number;
  /** Cavity: ellipse centred (0, cy) with semi-axes ac, bc; thicker wall at the back for the paraspinal muscles. */
  readonly cy = -6;
  readonly ac: number;
  readonly bc: number;
  readonly spineY: number;
  readonly canalY: number;
  readonly esophagusY: number;
  readonly tracheaY: number;
  readonly carinaZ = 30;
  readonly aortaDesc: [number, number];
  readonly aortaAsc: [number, number];
  readonly archZ = 50;
  readonly hila: { right: Vec3; left: Vec3 };

  constructor(readonly shape: ChestShape) {
    this.wall = 2 + shape.fat + shape.muscle + 12;
    this.ac = shape.bodyA - this.wall;
    this.bc = shape.bodyB - this.wall + this.cy;
    this.spineY = this.cy + this.bc - 10;
    this.canalY = this.spineY + 16 + 9;
    this.esophagusY = this.spineY - 16 - 8;
    this.tracheaY = this.esophagusY - 19;
    this.aortaDesc = [21, this.spineY - 22];
    this.aortaAsc = [-12, this.cy - 30];
    this.hila = {
      right: [-48, this.tracheaY + 2, this.carinaZ - 22],
      left: [50, this.tracheaY - 2, this.carinaZ - 35],
    };
  }

  /** Height (body z) of the diaphragm under (x, y): each dome peaks at its own height and falls to the costophrenic recess. */
  diaphragmZ(x: number, y: number): number {
    const right = x < 0;
    const peak = right ? this.shape.domeRight : this.shape.domeLeft;
    const q = Math.min(1, sq((x - (right ? -60 : 60)) / 80) + sq((y - this.cy) / this.bc));
    return peak - (peak + 135) * q;
  }

  /** The classifier of one axial level: (x, y) body mm → tissue class. */
  sliceAt(z: number): (x: number, y: number) => number {
    const s = this.shape;
    const { ac, bc, cy } = this;
    const u = (LUNG_TOP - z) / LUNG_HEIGHT;
    // The lung apex is a dome: the lung-bearing ellipse shrinks to nothing over the top quarter.
    const cap = u < 0 ? 0 : u < 0.25 ? Math.sqrt(1 - ((0.25 - u) / 0.25) ** 2) : 1;
    const lungA = ac * cap;
    const lungB = bc * cap;
    const disc = (((z % DISC_PERIOD) + DISC_PERIOD) % DISC_PERIOD) < 6;
    const antEdge = cy - bc;
    const sternum = z > -80 && z < 105;
    const sternumHalf = z > 75 ? 22 : 14;
    const h = s.heart;
    const hz = (z - h.z) / h.c;
    const heartScale = Math.abs(hz) < 1 ? Math.sqrt(1 - hz * hz) : 0;
    const ha = h.a * heartScale;
    const hb = h.b * heartScale;
    const archR2 = Math.abs(z - this.archZ) < 13 ? 169 - (z - this.archZ) ** 2 : 0;
    const ascending = z > h.z + 10 && z <= this.archZ;
    const descending = z <= this.archZ;
    const trachea = z > this.carinaZ;
    // Above the heart the mediastinum holds the great vessels and is wider.
    const columnHalf = z > h.z + h.c ? 22 : 12;
    const [adx, ady] = this.aortaDesc;
    const [aax, aay] = this.aortaAsc;
    const archDx = adx - aax;
    const archDy = ady - aay;
    const archL2 = archDx * archDx + archDy * archDy;

    return (x, y) => {
      const rb2 = sq(x / s.bodyA) + sq(y / s.bodyB);
      if (rb2 > 1) return AIR;

      // Spine, at every level.
      const vy = y - this.spineY;
      const v2 = x * x + vy * vy;
      if (v2 < 256) return disc ? CARTILAGE : v2 > 196 ? CORTICAL_BONE : CANCELLOUS_BONE;
      const cyy = y - this.canalY;
      const c2 = x * x + cyy * cyy;
      if (c2 < 64) return CSF;
      if (c2 < 169 && cyy > -3) return CORTICAL_BONE;
      if (Math.abs(x) < 3.5 && cyy > 12 && cyy < 26) return CORTICAL_BONE;

      const ex = x / ac;
      const ey = (y - cy) / bc;
      const rho2 = ex * ex + ey * ey;
      if (rho2 > 1) {
        // Chest wall.
        if (sternum && Math.abs(x) < sternumHalf && y > antEdge - 12 && y < antEdge - 1) {
          const edge = Math.min(sternumHalf - Math.abs(x), y - (antEdge - 12), antEdge - 1 - y);
          return edge < 1.5 ? CORTICAL_BONE : CANCELLOUS_BONE;
        }
        const rho = Math.sqrt(rho2);
        const out = Math.sqrt(x * x + (y - cy) * (y - cy)) * (1 - 1 / rho);
        if (out > 1 && out < 11) {
          const phi = Math.atan2(Math.abs(x) / ac, ey);
          if (phi > 0.2 && phi < 2.6) {
            const top = RIB_TOP - (RIB_DROP * (1 - Math.cos(phi))) / 2;
            const n = Math.round((top - z) / RIB_STEP);
            if (n >= 0 && n < 12) {
              const dz = Math.abs(z - (top - n * RIB_STEP));
              if (dz < RIB_HALF_HEIGHT) {
                return out < 2.5 || out > 9.5 || dz > RIB_HALF_HEIGHT - 1.5 ? CORTICAL_BONE : CANCELLOUS_BONE;
              }
            }
          }
          return MUSCLE;
        }
        const depth = Math.sqrt(x * x + y * y) * (1 / Math.sqrt(rb2) - 1);
        if (depth < 2) return SOFT;
        if (depth < 2 + s.fat) return FAT;
        return MUSCLE;
      }

      // Thoracic cavity.
      if (descending) {
        const d2 = sq(x - adx) + sq(y - ady);
        if (d2 < 100) return BLOOD;
        if (d2 < 144) return SOFT;
        if (d2 < 225) return FAT;
      }
      if (sq(x + 2) + sq(y - this.esophagusY) < 49) return SOFT;
      if (z < this.diaphragmZ(x, y)) return x < 0 ? LIVER : SOFT;
      if (heartScale > 0) {
        const q = sq((x - h.x) / ha) + sq((y - cy - h.y) / hb);
        if (q < 1) {
          const septum = Math.abs(0.6 * (x - h.x) + 0.8 * (y - cy - h.y)) < 4;
          return q < 0.55 && !septum ? BLOOD : MYOCARDIUM;
        }
        if (sq((x - h.x) / (ha + 5)) + sq((y - cy - h.y) / (hb + 5)) < 1) return FAT;
      }
      if (ascending) {
        const d2 = sq(x - aax) + sq(y - aay);
        if (d2 < 169) return BLOOD;
        if (d2 < 225) return SOFT;
        if (d2 < 324) return FAT;
      }
      if (archR2 > 0) {
        const t = Math.min(1, Math.max(0, ((x - aax) * archDx + (y - aay) * archDy) / archL2));
        const d2 = sq(x - aax - t * archDx) + sq(y - aay - t * archDy);
        if (d2 < archR2) return BLOOD;
        if (d2 < archR2 + 60) return FAT;
      }
      if (trachea) {
        const d2 = x * x + sq(y - this.tracheaY);
        if (d2 < 81) return AIRWAY;
        if (d2 < 121) return AIRWAY_WALL;
      }
      if (Math.abs(x) < columnHalf) return FAT;
      if (cap > 0 && sq(x / lungA) + sq((y - cy) / lungB) <= 1) return LUNG;
      return SOFT;
    };
  }

  /** Half-width (body mm) of the body at body y; negative where the row misses the body. */
  bodyHalfWidth(y: number): number {
    const t = 1 - sq(y / this.shape.bodyB);
    return t > 0 ? this.shape.bodyA * Math.sqrt(t) : -1;
  }

  isLung(p: Vec3): boolean {
    return this.sliceAt(p[2])(p[0], p[1]) === LUNG;
  }

  /** Lung HU at body y: posterior (dependent) lung is a little denser. */
  lungHUAt(y: number): number {
    const t = Math.max(-1, Math.min(1, (y - this.cy) / this.bc));
    return this.shape.lungHU + (this.shape.lungGradientHU / 2) * t;
  }
}
