import { describe, expect, it } from 'vitest';
import { readShared } from '../../../tests/shared';
import type { Vec3 } from '../volume';
import { PAIR_METRIC_KEYS, compareLabelMaps, compareMasks } from './compare';
import type { Grid } from './mask';
import { surfaceDistances, surfaceVoxels } from './surface';

interface FixtureCase {
  name: string;
  kind: string;
  shape: Vec3;
  spacing_mm: Vec3;
  files: { pred: string[]; gt: string[] };
  voxels_pred: number;
  voxels_gt: number;
  voxels_intersection: number;
  volume_ml_pred: number;
  volume_ml_gt: number;
  edge_voxels_pred: number;
  edge_voxels_gt: number;
  monai: Record<string, number | string | Record<string, number | string>>;
  crosscheck_scipy_float64: { directed_mm: Record<string, number> };
}

const fixture = JSON.parse(new TextDecoder().decode(readShared('fixtures/monai/metrics/metrics.json'))) as { cases: FixtureCase[] };
const num = (v: unknown) => Number(v);

/** C-order [s0, s1, s2] with spacing per array axis ≡ i-fastest dims [s2, s1, s0]. */
function gridOf(c: FixtureCase, unitSpacing = false): Grid {
  const s = unitSpacing ? [1, 1, 1] : c.spacing_mm;
  return { dims: [c.shape[2], c.shape[1], c.shape[0]], spacing: [s[2], s[1], s[0]] };
}

describe('MONAI HEAD parity (fixtures/monai/metrics)', () => {
  it('covers every case of metrics.json', () => {
    expect(fixture.cases.map((c) => c.name)).toEqual(['case_0', 'case_1', 'case_2']);
  });

  for (const c of fixture.cases) {
    it(`${c.name} (${c.kind})`, () => {
      const pred = readShared('fixtures/monai/metrics', c.files.pred[0]);
      const gt = readShared('fixtures/monai/metrics', c.files.gt[0]);
      const m = compareMasks(pred, gt, gridOf(c));
      const monai = c.monai;
      expect(m.voxelsPred).toBe(c.voxels_pred);
      expect(m.voxelsGt).toBe(c.voxels_gt);
      expect(m.voxelsIntersection).toBe(c.voxels_intersection);
      expect(m.edgeVoxelsPred).toBe(c.edge_voxels_pred);
      expect(m.edgeVoxelsGt).toBe(c.edge_voxels_gt);
      expect(Math.abs(m.volumePredMl - c.volume_ml_pred)).toBeLessThanOrEqual(1e-9 * c.volume_ml_pred);
      expect(Math.abs(m.volumeGtMl - c.volume_ml_gt)).toBeLessThanOrEqual(1e-9 * c.volume_ml_gt);
      expect(Math.abs(m.dice - num(monai.dice))).toBeLessThanOrEqual(1e-6);
      expect(Math.abs(m.iou - num(monai.iou))).toBeLessThanOrEqual(1e-6);
      expect(Math.abs(m.hausdorff95 - num(monai.hd95_mm))).toBeLessThanOrEqual(1e-4);
      expect(Math.abs(m.hausdorff - num(monai.hd_mm))).toBeLessThanOrEqual(1e-4);
      expect(Math.abs(m.assd - num(monai.assd_mm))).toBeLessThanOrEqual(1e-4);
      expect(Math.abs(m.asdPredToGt - num(monai.asd_pred_to_gt_mm))).toBeLessThanOrEqual(1e-4);
      const directed = c.crosscheck_scipy_float64.directed_mm;
      expect(Math.abs(m.asdGtToPred - directed.mean_gt_to_pred)).toBeLessThanOrEqual(1e-6);
      expect(Math.abs(m.sensitivity - c.voxels_intersection / c.voxels_gt)).toBeLessThanOrEqual(1e-12);
      expect(Math.abs(m.precision - c.voxels_intersection / c.voxels_pred)).toBeLessThanOrEqual(1e-12);
      expect(m.relativeVolumeDifference).toBeCloseTo((c.voxels_pred - c.voxels_gt) / c.voxels_gt, 12);

      const vox = monai.voxel_units_no_spacing as Record<string, number>;
      const u = compareMasks(pred, gt, gridOf(c, true));
      expect(Math.abs(u.hausdorff95 - num(vox.hd95))).toBeLessThanOrEqual(1e-4);
      expect(Math.abs(u.hausdorff - num(vox.hd))).toBeLessThanOrEqual(1e-4);
      expect(Math.abs(u.assd - num(vox.assd))).toBeLessThanOrEqual(1e-4);
    });
  }

  it('a label map reading of a fixture gives the same numbers as the binary masks', () => {
    const c = fixture.cases[1];
    const pred = readShared('fixtures/monai/metrics', c.files.pred[0]).map((v) => v * 3);
    const gt = readShared('fixtures/monai/metrics', c.files.gt[0]).map((v) => v * 3);
    const r = compareLabelMaps(pred, gt, gridOf(c));
    expect(r.labels).toEqual([3]);
    expect(Math.abs(r.mean.hausdorff95 - num(c.monai.hd95_mm))).toBeLessThanOrEqual(1e-4);
    expect(Math.abs(r.mean.dice - num(c.monai.dice))).toBeLessThanOrEqual(1e-6);
  });
});

/** Grid helper for hand-made cases: mask of nx×ny×nz from a predicate on (i, j, k). */
function maskOf(dims: Vec3, inside: (i: number, j: number, k: number) => boolean): Uint8Array {
  const m = new Uint8Array(dims[0] * dims[1] * dims[2]);
  for (let k = 0, x = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++, x++) m[x] = inside(i, j, k) ? 1 : 0;
  return m;
}

describe('hand-computed cases', () => {
  it('single voxel vs a shifted single voxel: every distance is the shift in mm', () => {
    const grid: Grid = { dims: [9, 8, 7], spacing: [0.7, 1.3, 2.5] };
    const a = maskOf(grid.dims, (i, j, k) => i === 2 && j === 3 && k === 1);
    const b = maskOf(grid.dims, (i, j, k) => i === 5 && j === 1 && k === 4);
    const shift = Math.hypot(3 * 0.7, 2 * 1.3, 3 * 2.5);
    const m = compareMasks(a, b, grid);
    expect(m.hausdorff).toBeCloseTo(shift, 12);
    expect(m.hausdorff95).toBeCloseTo(shift, 12);
    expect(m.assd).toBeCloseTo(shift, 12);
    expect(m.asdPredToGt).toBeCloseTo(shift, 12);
    expect(m.dice).toBe(0);
    expect(m.iou).toBe(0);
    expect(m.volumePredMl).toBeCloseTo((0.7 * 1.3 * 2.5) / 1000, 15);
  });

  it('cube vs the cube dilated by one voxel (6-cross), anisotropic spacing', () => {
    // Cube [3,7)³ vs its dilation with the cross: the dilation's faces are one voxel out along an
    // axis, its edges/corners (not in the cross dilation) are cut away.
    const grid: Grid = { dims: [10, 11, 12], spacing: [0.5, 1.0, 2.0] };
    const inCube = (i: number, j: number, k: number) => i >= 3 && i < 7 && j >= 3 && j < 7 && k >= 3 && k < 7;
    const cube = maskOf(grid.dims, inCube);
    const dil = maskOf(grid.dims, (i, j, k) => inCube(i, j, k) || inCube(i - 1, j, k) || inCube(i + 1, j, k) || inCube(i, j - 1, k) || inCube(i, j + 1, k) || inCube(i, j, k - 1) || inCube(i, j, k + 1));
    const m = compareMasks(dil, cube, grid);
    expect(m.voxelsGt).toBe(64);
    expect(m.voxelsPred).toBe(64 + 6 * 16);
    expect(m.dice).toBeCloseTo((2 * 64) / (64 + 160), 12);
    const d = surfaceDistances(dil, cube, grid);
    // Every cube voxel's 6 neighbours stay inside the dilation, so the dilation's edges are exactly
    // its 96 face voxels; the cube's edges are its 64 − 2³ = 56 surface voxels.
    expect(d.edgeVoxelsPred).toBe(96);
    expect(d.edgeVoxelsGt).toBe(56);
    // A face voxel is one step outside the cube along its face's axis: 0.5, 1 or 2 mm.
    const count = (v: Float64Array, mm: number) => [...v].filter((x) => Math.abs(x - mm) < 1e-12).length;
    expect([0.5, 1, 2].map((mm) => count(d.predToGt, mm))).toEqual([32, 32, 32]);
    // Cube surface voxel → nearest face voxel: on an i-boundary (i = 3 or 6, 32 voxels) 0.5 mm;
    // every other one (24) reaches an i-face two steps along i, 1 mm (a k-face would be 2 mm).
    expect([0.5, 1, 2].map((mm) => count(d.gtToPred, mm))).toEqual([32, 24, 0]);
    expect(m.hausdorff).toBeCloseTo(2, 12);
    expect(m.assd).toBeCloseTo((32 * 0.5 + 32 * 1 + 32 * 2 + 32 * 0.5 + 24 * 1) / (96 + 56), 12);
    // HD95: pred→gt position 0.95·95 = 90.25 falls in the 2 mm block; gt→pred position 52.25 in the 1 mm block.
    expect(m.hausdorff95).toBeCloseTo(2, 12);
    expect(m.asdGtToPred).toBeCloseTo((32 * 0.5 + 24) / 56, 12);
  });

  it('hollow shell: walls of the internal hole are edges too', () => {
    const grid: Grid = { dims: [9, 9, 9], spacing: [1, 1, 1] };
    const r2 = (i: number, j: number, k: number) => (i - 4) ** 2 + (j - 4) ** 2 + (k - 4) ** 2;
    const shell = maskOf(grid.dims, (i, j, k) => Math.abs(i - 4) <= 3 && Math.abs(j - 4) <= 3 && Math.abs(k - 4) <= 3 && r2(i, j, k) > 2);
    const edges = surfaceVoxels(shell, grid.dims);
    // voxels next to the hole (r² ≤ 2 removed) are edges: e.g. (4,4,6) has neighbour (4,4,5) in the hole.
    expect(edges[4 + 9 * (4 + 9 * 6)]).toBe(1);
    // a voxel deep in the wall with all 6 neighbours in the shell is not: (4,6,6).
    expect(edges[4 + 9 * (6 + 9 * 6)]).toBe(0);
  });

  it('foreground on the image border counts as edge', () => {
    const grid: Grid = { dims: [5, 5, 5], spacing: [1, 1, 1] };
    const full = new Uint8Array(125).fill(1);
    const e = surfaceVoxels(full, grid.dims);
    expect(e.reduce((a, b) => a + b, 0)).toBe(125 - 27);
    const m = compareMasks(full, full, grid);
    expect(m.hausdorff).toBe(0);
    expect(m.dice).toBe(1);
  });
});

describe('empty masks follow MONAI', () => {
  const grid: Grid = { dims: [6, 6, 6], spacing: [1, 2, 3] };
  const empty = new Uint8Array(216);
  const blob = maskOf(grid.dims, (i, j, k) => i > 1 && i < 4 && j > 1 && j < 5 && k === 2);

  it('empty prediction, non-empty GT: Dice 0, HD/ASSD Infinity, HD95 NaN', () => {
    const m = compareMasks(empty, blob, grid);
    expect(m.dice).toBe(0);
    expect(m.iou).toBe(0);
    expect(m.sensitivity).toBe(0);
    expect(m.precision).toBeNaN();
    expect(m.hausdorff).toBe(Infinity);
    expect(m.assd).toBe(Infinity);
    expect(m.asdPredToGt).toBe(Infinity);
    expect(m.hausdorff95).toBeNaN();
    const d = surfaceDistances(empty, blob, grid);
    expect(d.predToGt.length).toBe(6); // one +inf per GT edge voxel, as MONAI
    expect(d.gtToPred.length).toBe(6);
  });

  it('empty GT: Dice NaN by default (ignore_empty), 0 with ignoreEmpty false; distances as above', () => {
    const m = compareMasks(blob, empty, grid);
    expect(m.dice).toBeNaN();
    expect(m.iou).toBeNaN();
    expect(m.relativeVolumeDifference).toBeNaN();
    expect(m.hausdorff).toBe(Infinity);
    expect(m.hausdorff95).toBeNaN();
    expect(compareMasks(blob, empty, grid, { ignoreEmpty: false }).dice).toBe(0);
  });

  it('both empty: every distance NaN; Dice NaN, or 1 with ignoreEmpty false', () => {
    const m = compareMasks(empty, empty, grid);
    for (const k of ['hausdorff', 'hausdorff95', 'assd', 'asdPredToGt', 'asdGtToPred'] as const) expect(m[k]).toBeNaN();
    expect(m.dice).toBeNaN();
    expect(compareMasks(empty, empty, grid, { ignoreEmpty: false }).dice).toBe(1);
    expect(m.volumePredMl).toBe(0);
  });
});

describe('label maps', () => {
  it('per-label metrics and the NaN-skipping mean, background excluded', () => {
    const grid: Grid = { dims: [8, 8, 4], spacing: [1, 1, 1] };
    // label 1: identical; label 2: only in pred (GT empty → Dice NaN, skipped in the mean); label 5: half overlap
    const gt = maskOf(grid.dims, (i) => i < 2).map((v) => v * 1);
    const pred = Uint8Array.from(gt);
    const n = 8 * 8 * 4;
    for (let x = 0; x < n; x++) {
      const i = x % 8;
      const j = Math.floor(x / 8) % 8;
      if (i >= 4 && i < 6 && j < 4) gt[x] = 5;
      if (i >= 4 && i < 6 && j < 2) pred[x] = 5;
      if (i === 7 && j === 7) pred[x] = 2;
    }
    const r = compareLabelMaps(pred, gt, grid);
    expect(r.labels).toEqual([1, 2, 5]);
    const by = new Map(r.perLabel.map((p) => [p.label, p.metrics]));
    expect(by.get(1)!.dice).toBe(1);
    expect(by.get(2)!.dice).toBeNaN();
    expect(by.get(5)!.dice).toBeCloseTo((2 * 16) / (16 + 32), 12);
    expect(r.mean.dice).toBeCloseTo((1 + 2 / 3) / 2, 12);
    expect(r.mean.hausdorff).toBe(Infinity); // label 2 has an empty reference: Infinity is kept
    expect(compareLabelMaps(pred, gt, grid, { labels: [5] }).perLabel).toHaveLength(1);
    expect(PAIR_METRIC_KEYS.length).toBe(Object.keys(by.get(1)!).length);
  });
});
