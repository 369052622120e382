/**
 * One synthetic chest CT with known lesions: anatomy sampled on the grid, vessel and airway trees,
 * lesions, then partial-volume blur, CT noise and quantisation to Int16 HU.
 *
 * Grid: LPS with identity direction (i → patient left, j → posterior, k → superior), centred on the
 * world origin. Everything is seeded: the same options and seed give the same bytes.
 */
import { IDENTITY3, voxelCount, type Vec3, type Volume } from '../volume';
import { InputError } from '../io/errors';
import { ChestModel, drawChestShape, type ChestShape } from './anatomy';
import { gaussianBlur } from './blur';
import { addLesions, DEFAULT_LESION_OPTIONS, LESION_KINDS, type LesionOptions, type LesionRecord } from './lesions';
import { between, fillNormal, streamFor } from './seeds';
import { TISSUE, tissueHU } from './tissue';
import type { Rng } from '../random';

const LUNG = TISSUE.LUNG;
import { growTree, rasterizeSegment, type RasterGrid, type Segment, type TreeParams } from './tree';

export interface PhantomOptions {
  /** Voxels along i, j, k. */
  size: Vec3;
  /** mm along i, j, k. */
  spacing: Vec3;
  /** Standard deviation of the white CT noise (HU), drawn per case in this range. */
  noiseHU: [number, number];
  /** Partial-volume blur: σ of the separable Gaussian, in voxels along each axis. */
  blurSigmaVoxels: number;
  /** Blood and vessel CT number (45 ≈ non-contrast; ~300 imitates a contrast-enhanced scan). */
  bloodHU: number;
  lesions: LesionOptions;
}

export const DEFAULT_PHANTOM_OPTIONS: PhantomOptions = {
  size: [256, 256, 64],
  spacing: [1.5, 1.5, 5],
  noiseHU: [15, 25],
  blurSigmaVoxels: 0.6,
  bloodHU: 45,
  lesions: DEFAULT_LESION_OPTIONS,
};

export type PhantomOptionsInput = Partial<Omit<PhantomOptions, 'lesions'>> & { lesions?: Partial<LesionOptions> };

const bad = (reason: string) => new InputError('phantom options', reason);
const isRange = (r: unknown): r is [number, number] => Array.isArray(r) && r.length === 2 && r.every((v) => typeof v === 'number' && Number.isFinite(v)) && r[0] <= r[1];

/** Defaults filled in and every value checked; bad values are an InputError naming the option. */
export function resolvePhantomOptions(input: PhantomOptionsInput = {}): PhantomOptions {
  const o: PhantomOptions = {
    ...DEFAULT_PHANTOM_OPTIONS,
    ...input,
    lesions: { ...DEFAULT_LESION_OPTIONS, ...input.lesions, kinds: { ...DEFAULT_LESION_OPTIONS.kinds, ...input.lesions?.kinds } },
  };
  if (!Array.isArray(o.size) || o.size.length !== 3 || !o.size.every((d) => Number.isInteger(d) && d >= 8 && d <= 2048)) {
    throw bad(`size must be three integers in 8…2048, got ${JSON.stringify(o.size)}`);
  }
  if (!Array.isArray(o.spacing) || o.spacing.length !== 3 || !o.spacing.every((s) => typeof s === 'number' && s > 0 && s <= 50)) {
    throw bad(`spacing must be three numbers in (0, 50] mm, got ${JSON.stringify(o.spacing)}`);
  }
  if (!isRange(o.noiseHU) || o.noiseHU[0] < 0) throw bad(`noiseHU must be a [min, max] range ≥ 0, got ${JSON.stringify(o.noiseHU)}`);
  if (!(o.blurSigmaVoxels >= 0 && o.blurSigmaVoxels <= 5)) throw bad(`blurSigmaVoxels must be in [0, 5], got ${o.blurSigmaVoxels}`);
  if (!(Math.abs(o.bloodHU) <= 2000)) throw bad(`bloodHU must be a number in [−2000, 2000], got ${o.bloodHU}`);
  const l = o.lesions;
  if (!(l.noneProbability >= 0 && l.noneProbability <= 1)) throw bad(`lesions.noneProbability must be in [0, 1], got ${l.noneProbability}`);
  if (!isRange(l.count) || !l.count.every((c) => Number.isInteger(c) && c >= 0 && c <= 100)) throw bad(`lesions.count must be an integer [min, max] range in 0…100, got ${JSON.stringify(l.count)}`);
  if (!isRange(l.radiusMm) || l.radiusMm[0] <= 0) throw bad(`lesions.radiusMm must be a [min, max] range > 0, got ${JSON.stringify(l.radiusMm)}`);
  if (!LESION_KINDS.every((k) => l.kinds[k] >= 0) || !(LESION_KINDS.reduce((s, k) => s + l.kinds[k], 0) > 0)) throw bad(`lesions.kinds weights must be ≥ 0 and not all 0, got ${JSON.stringify(l.kinds)}`);
  if (!isRange(l.ggoHU) || !isRange(l.consolidationHU)) throw bad('lesions.ggoHU and lesions.consolidationHU must be [min, max] ranges');
  if (!(l.subpleuralMm > 0)) throw bad(`lesions.subpleuralMm must be > 0, got ${l.subpleuralMm}`);
  return o;
}

export interface Phantom {
  scan: Volume;
  /** Tissue class per voxel (`TISSUE`), after lesions. */
  tissue: Volume;
  lungs: Volume;
  truth: Volume;
  lesions: LesionRecord[];
  /** Body → grid size factor (1 = adult size). */
  scale: number;
  /** The noise σ (HU) this case got. */
  noiseHU: number;
  shape: ChestShape;
}

/** Adult vessel tree: ~5 mm lobar arteries down to ~0.5 mm. Airways: lobar bronchi of 4 mm lumen down to 0.9 mm. */
const VESSEL_TREE: TreeParams = { rootRadius: 5, rootLength: 26, minRadius: 0.45, maxGenerations: 11, majorRatio: 0.84, minorRatio: 0.66 };
const AIRWAY_TREE: TreeParams = { rootRadius: 4, rootLength: 22, minRadius: 0.9, maxGenerations: 6, majorRatio: 0.82, minorRatio: 0.66 };
/** Bronchial wall thickness (grid mm) for a lumen radius r (grid mm). */
const airwayWall = (r: number, scale: number) => 0.25 * r + 0.5 * scale;

export function buildPhantom(options: PhantomOptions, seed: number): Phantom {
  const { size: dims, spacing } = options;
  const origin = dims.map((d, a) => (-(d - 1) / 2) * spacing[a]) as Vec3;
  const grid: RasterGrid = { dims, spacing, origin };
  const n = voxelCount(dims);

  const shape = drawChestShape(streamFor(seed, 'anatomy'), options.bloodHU);
  const model = new ChestModel(shape);
  const fov = dims.map((d, a) => d * spacing[a]);
  const scale = Math.min(1, (0.94 * fov[0]) / (2 * shape.bodyA), (0.94 * fov[1]) / (2 * shape.bodyB));

  const tissue = new Uint8Array(n);
  const lungs = new Uint8Array(n);
  for (let k = 0, x = 0; k < dims[2]; k++) {
    const at = model.sliceAt((origin[2] + k * spacing[2]) / scale);
    for (let j = 0; j < dims[1]; j++, x += dims[0]) {
      const y = (origin[1] + j * spacing[1]) / scale;
      // Only the voxels of the row that fall inside the body need classifying; the rest stay AIR (0).
      const half = model.bodyHalfWidth(y) * scale;
      const i0 = Math.max(0, Math.ceil((-half - origin[0]) / spacing[0]));
      const i1 = Math.min(dims[0] - 1, Math.floor((half - origin[0]) / spacing[0]));
      for (let i = i0; i <= i1; i++) {
        const t = at((origin[0] + i * spacing[0]) / scale, y);
        tissue[x + i] = t;
        if (t === LUNG) lungs[x + i] = 1;
      }
    }
  }
  addTrees(model, grid, scale, tissue, lungs, seed);

  const table = tissueHU(shape);
  const hu = new Float32Array(n);
  for (let k = 0, x = 0; k < dims[2]; k++) {
    for (let j = 0; j < dims[1]; j++) {
      const lungHU = model.lungHUAt((origin[1] + j * spacing[1]) / scale);
      for (let i = 0; i < dims[0]; i++, x++) hu[x] = tissue[x] === LUNG ? lungHU : table[tissue[x]];
    }
  }

  const truth = new Uint8Array(n);
  const lesions = addLesions({ grid, scale, hu, tissue, lungs, truth }, options.lesions, streamFor(seed, 'lesions'));

  const s = options.blurSigmaVoxels;
  if (s > 0) gaussianBlur(hu, dims, [s, s, s]);
  const noiseRng = streamFor(seed, 'noise');
  const noiseHU = between(noiseRng, options.noiseHU);
  const scan = new Int16Array(n);
  addNoiseAndQuantize(hu, noiseHU, noiseRng, scan);

  const geometry = { dims, spacing, origin, direction: [...IDENTITY3] as Volume['direction'], notices: [] as string[] };
  const volume = (data: Volume['data'], units: Volume['units'], name: string): Volume => ({ ...geometry, dims: [...dims] as Vec3, spacing: [...spacing] as Vec3, origin: [...origin] as Vec3, notices: [], data, units, source: { format: 'synthetic', name } });
  return {
    scan: volume(scan, 'HU', 'scan'),
    tissue: volume(tissue, 'label', 'tissue'),
    lungs: volume(lungs, 'label', 'lungs'),
    truth: volume(truth, 'label', 'truth'),
    lesions,
    scale,
    noiseHU: Number(noiseHU.toFixed(2)),
    shape,
  };
}

/** scan = round(hu + σ·N(0,1)), clamped to the Int16 CT range −1024…3071 (noise drawn in chunks). */
function addNoiseAndQuantize(hu: Float32Array, sigma: number, rng: Rng, scan: Int16Array): void {
  const chunk = new Float32Array(65536);
  for (let start = 0; start < hu.length; start += chunk.length) {
    const len = Math.min(chunk.length, hu.length - start);
    fillNormal(chunk, rng);
    for (let t = 0; t < len; t++) {
      const v = hu[start + t] + sigma * chunk[t];
      scan[start + t] = Math.round(v < -1024 ? -1024 : v > 3071 ? 3071 : v);
    }
  }
}

/** Pulmonary vessel trees, then bronchial walls, then lumens (so a child's wall never closes its parent's lumen). */
function addTrees(model: ChestModel, grid: RasterGrid, scale: number, tissue: Uint8Array, lungs: Uint8Array, seed: number): void {
  const inside = (p: Vec3) => model.isLung(p);
  const trunks = (side: number): Vec3[] => [
    [0.2 * side, 0, 1],
    [side, 0, 0.8],
    [side, 0.2, 0],
    [side, -0.5, -0.2],
    [side, 0, -0.8],
    [0.3 * side, 0.8, -0.6],
    [0.4 * side, -0.8, -0.5],
  ];
  const roots = (rngName: string) => {
    const rng = streamFor(seed, rngName);
    return ([['right', -1], ['left', 1]] as const).flatMap(([name, side]) =>
      trunks(side).map((d) => ({ origin: model.hila[name], dir: d.map((v) => v + 0.15 * rng.normal()) as Vec3 })),
    );
  };
  const vessels = growTree(roots('vessel-roots'), inside, VESSEL_TREE, streamFor(seed, 'vessels'));
  for (const seg of vessels) {
    rasterizeSegment(seg, grid, scale, () => 0, (x) => {
      if (lungs[x]) tissue[x] = TISSUE.VESSEL;
    });
  }
  const carina: Vec3 = [0, model.tracheaY, model.carinaZ];
  const mainBronchi: Segment[] = [
    { a: carina, b: model.hila.right, r0: 6.5, r1: 5.5 },
    { a: carina, b: model.hila.left, r0: 5.5, r1: 5 },
  ];
  const bronchi = [...mainBronchi, ...growTree(roots('airway-roots').filter((_, n) => n % 7 !== 5), inside, AIRWAY_TREE, streamFor(seed, 'airways'))];
  // Main bronchi cross the mediastinum; they may replace fat, soft tissue, lung and vessels, never the heart, aorta or bone.
  const open = (x: number) => {
    const t = tissue[x];
    return lungs[x] === 1 || t === TISSUE.FAT || t === TISSUE.SOFT || t === TISSUE.AIRWAY || t === TISSUE.AIRWAY_WALL;
  };
  for (const seg of bronchi) {
    rasterizeSegment(seg, grid, scale, (r) => airwayWall(r, scale), (x) => {
      if (open(x) && tissue[x] !== TISSUE.AIRWAY) tissue[x] = TISSUE.AIRWAY_WALL;
    });
  }
  for (const seg of bronchi) {
    rasterizeSegment(seg, grid, scale, () => 0, (x) => {
      if (open(x)) tissue[x] = TISSUE.AIRWAY;
    });
  }
}
