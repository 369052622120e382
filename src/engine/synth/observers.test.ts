import { describe, expect, it } from 'vitest';
import { Rng } from '../random';
import type { Vec3 } from '../volume';
import { connectedComponents, countVoxels, signedDistance } from './morphology';
import { boundaryBias, boundaryJitter, coarsePolygon, drawnSlices, missSmall, observe, sliceSkip, vesselFalsePositives, type ObserverContext } from './observers';
import { DEFAULT_PROFILES } from './profiles';

const dims: Vec3 = [40, 36, 20];
const spacing: Vec3 = [1, 1, 2];
const n = dims[0] * dims[1] * dims[2];
const at = (i: number, j: number, k: number) => i + dims[0] * (j + dims[1] * k);

function ball(c: Vec3, r: number, into: Uint8Array = new Uint8Array(n)): Uint8Array {
  for (let k = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++) {
    if (Math.hypot((i - c[0]) * spacing[0], (j - c[1]) * spacing[1], (k - c[2]) * spacing[2]) <= r) into[at(i, j, k)] = 1;
  }
  return into;
}

function context(): ObserverContext {
  const lungs = new Uint8Array(n);
  for (let k = 1; k < dims[2] - 1; k++) for (let j = 2; j < dims[1] - 2; j++) for (let i = 2; i < dims[0] - 2; i++) lungs[at(i, j, k)] = 1;
  const vessels = new Uint8Array(n);
  // Two vessels along i, at rows j = 8 and j = 28, slice 10 and 11.
  for (let i = 4; i < 36; i++) for (const j of [8, 28]) for (const k of [10, 11]) vessels[at(i, j, k)] = 1;
  return { dims, spacing, lungs, vessels };
}

const dice = (a: Uint8Array, b: Uint8Array) => {
  let both = 0;
  for (let x = 0; x < a.length; x++) if (a[x] && b[x]) both++;
  return (2 * both) / (countVoxels(a) + countVoxels(b));
};

describe('boundaryBias', () => {
  const truth = ball([20, 18, 10], 7);
  it('dilates by r mm: volume grows, and every added voxel lies within r of the truth', () => {
    const out = boundaryBias(truth.slice(), { kind: 'boundaryBias', minMm: 2, maxMm: 2, clipToLungs: true }, context(), new Rng(1));
    expect(countVoxels(out)).toBeGreaterThan(countVoxels(truth));
    const sdf = signedDistance(truth, dims, spacing);
    for (let x = 0; x < n; x++) {
      if (truth[x]) expect(out[x]).toBe(1);
      // Within 2 mm of a truth voxel ⇔ in the dilated mask (the ball is far from the lung edge).
      expect(out[x]).toBe(sdf[x] <= 2 + 1e-9 ? 1 : 0);
    }
    // A ball of radius 7 dilated by 2 is about a ball of radius 9: volume ratio ≈ (9/7)³ = 2.13.
    expect(countVoxels(out) / countVoxels(truth)).toBeGreaterThan(1.8);
    expect(countVoxels(out) / countVoxels(truth)).toBeLessThan(2.4);
  });

  it('erodes for negative radii, and draws the radius from [min, max]', () => {
    const out = boundaryBias(truth.slice(), { kind: 'boundaryBias', minMm: -2, maxMm: -2, clipToLungs: true }, context(), new Rng(1));
    expect(countVoxels(out)).toBeLessThan(countVoxels(truth));
    for (let x = 0; x < n; x++) if (out[x]) expect(truth[x]).toBe(1);
    const sizes = [1, 2, 3, 4, 5].map((s) => countVoxels(boundaryBias(truth.slice(), { kind: 'boundaryBias', minMm: 0.5, maxMm: 3, clipToLungs: true }, context(), new Rng(s))));
    expect(new Set(sizes).size).toBeGreaterThan(1);
  });

  it('stays inside the lungs when clipping', () => {
    const edge = ball([4, 18, 10], 4); // touches the lung border at i = 2
    const ctx = context();
    const out = boundaryBias(edge, { kind: 'boundaryBias', minMm: 3, maxMm: 3, clipToLungs: true }, ctx, new Rng(1));
    for (let x = 0; x < n; x++) if (out[x]) expect(ctx.lungs[x]).toBe(1);
  });
});

describe('boundaryJitter', () => {
  const truth = ball([20, 18, 10], 8);
  it('amplitude 0 changes nothing', () => {
    expect(boundaryJitter(truth.slice(), { kind: 'boundaryJitter', amplitudeMm: 0, scaleMm: 4, clipToLungs: false }, context(), new Rng(2))).toEqual(truth);
  });

  it('moves the outline both ways, only near the boundary', () => {
    const out = boundaryJitter(truth.slice(), { kind: 'boundaryJitter', amplitudeMm: 1.5, scaleMm: 4, clipToLungs: false }, context(), new Rng(2));
    const sdf = signedDistance(truth, dims, spacing);
    let added = 0;
    let removed = 0;
    for (let x = 0; x < n; x++) {
      if (out[x] === truth[x]) continue;
      if (out[x]) added++;
      else removed++;
      expect(Math.abs(sdf[x])).toBeLessThanOrEqual(3.5 * 1.5 + 1);
    }
    expect(added).toBeGreaterThan(10);
    expect(removed).toBeGreaterThan(10);
    const d = dice(out, truth);
    expect(d).toBeGreaterThan(0.75);
    expect(d).toBeLessThan(0.98);
  });
});

describe('coarsePolygon', () => {
  /** Convex hull test by brute force: p is inside the hull of `pts` iff no line through two points separates it from all of them. */
  function insideHull(p: [number, number], pts: [number, number][]): boolean {
    // Monotone chain hull, then the same point-in-convex-polygon test written independently.
    const s = [...pts].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const cross = (o: number[], a: number[], b: number[]) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
    const half = (list: [number, number][]) => {
      const h: [number, number][] = [];
      for (const q of list) {
        while (h.length >= 2 && cross(h[h.length - 2], h[h.length - 1], q) <= 0) h.pop();
        h.push(q);
      }
      return h.slice(0, -1);
    };
    const hull = [...half(s), ...half([...s].reverse())];
    return hull.every((a, v) => cross(a, hull[(v + 1) % hull.length], p) >= -1e-9);
  }

  it('replaces each region of a slice by a convex polygon inside its hull, filling concavities', () => {
    const truth = new Uint8Array(n);
    // An L shape on slice 5 (concave corner at 20..29 × 14..23), and a separate square on slice 6.
    for (let j = 5; j < 25; j++) for (let i = 10; i < 16; i++) truth[at(i, j, 5)] = 1;
    for (let j = 19; j < 25; j++) for (let i = 10; i < 30; i++) truth[at(i, j, 5)] = 1;
    for (let j = 5; j < 10; j++) for (let i = 25; i < 30; i++) truth[at(i, j, 6)] = 1;
    const out = coarsePolygon(truth.slice(), { kind: 'coarsePolygon', minVertices: 6, maxVertices: 6 }, context(), new Rng(4));
    const slice = (m: Uint8Array, k: number) => m.subarray(k * dims[0] * dims[1], (k + 1) * dims[0] * dims[1]);
    const pts: [number, number][] = [];
    for (let p = 0; p < dims[0] * dims[1]; p++) if (slice(truth, 5)[p]) pts.push([p % dims[0], Math.floor(p / dims[0])]);
    let filledCorner = 0;
    for (let p = 0; p < dims[0] * dims[1]; p++) {
      if (!slice(out, 5)[p]) continue;
      const q: [number, number] = [p % dims[0], Math.floor(p / dims[0])];
      expect(insideHull(q, pts)).toBe(true);
      if (q[0] >= 17 && q[1] <= 17) filledCorner++;
    }
    expect(filledCorner).toBeGreaterThan(10);
    expect(connectedComponents(slice(out, 5).slice(), [dims[0], dims[1], 1])).toHaveLength(1);
    // A square stays (nearly) a square: its corners are extreme points.
    expect(dice(slice(out, 6), slice(truth, 6))).toBeGreaterThan(0.85);
    for (const k of [0, 4, 7, 19]) expect(countVoxels(slice(out, k))).toBe(0);
  });

  it('with many vertices it reproduces a convex region', () => {
    const truth = ball([20, 18, 10], 8);
    const out = coarsePolygon(truth.slice(), { kind: 'coarsePolygon', minVertices: 48, maxVertices: 48 }, context(), new Rng(4));
    expect(dice(out, truth)).toBeGreaterThan(0.97);
    const few = coarsePolygon(truth.slice(), { kind: 'coarsePolygon', minVertices: 4, maxVertices: 4 }, context(), new Rng(4));
    // An inscribed quadrilateral of a disc keeps at most 2/π of its area.
    expect(countVoxels(few) / countVoxels(truth)).toBeLessThan(0.8);
  });
});

describe('missSmall', () => {
  // Cubes of 1, 8, 27, 125 voxels of 2 mm³: 0.002, 0.016, 0.054, 0.25 mL.
  function cubes(): Uint8Array {
    const m = new Uint8Array(n);
    const cube = (i0: number, j0: number, k0: number, s: number) => {
      for (let k = k0; k < k0 + s; k++) for (let j = j0; j < j0 + s; j++) for (let i = i0; i < i0 + s; i++) m[at(i, j, k)] = 1;
    };
    cube(3, 3, 3, 1);
    cube(10, 3, 3, 2);
    cube(20, 3, 3, 3);
    cube(10, 15, 8, 5);
    return m;
  }

  it('drops exactly the components under the volume when probability is 1', () => {
    const truth = cubes();
    const out = missSmall(truth.slice(), { kind: 'missSmall', maxVolumeMl: 0.06, probability: 1 }, context(), new Rng(1));
    const kept = connectedComponents(out, dims);
    expect(kept).toHaveLength(1);
    expect(kept[0].length).toBe(125);
    for (let x = 0; x < n; x++) if (out[x]) expect(truth[x]).toBe(1);
    const keepAll = missSmall(truth.slice(), { kind: 'missSmall', maxVolumeMl: 0.06, probability: 0 }, context(), new Rng(1));
    expect(keepAll).toEqual(truth);
    const threshold = missSmall(truth.slice(), { kind: 'missSmall', maxVolumeMl: 0.016, probability: 1 }, context(), new Rng(1));
    expect(countVoxels(threshold)).toBe(countVoxels(truth) - 1); // 8 voxels = 0.016 mL is not under 0.016
  });

  it('drops about `probability` of the small ones', () => {
    const truth = new Uint8Array(n);
    for (let k = 1; k < 19; k += 2) for (let j = 1; j < 35; j += 2) for (let i = 1; i < 39; i += 2) truth[at(i, j, k)] = 1;
    const total = countVoxels(truth);
    const out = missSmall(truth.slice(), { kind: 'missSmall', maxVolumeMl: 0.01, probability: 0.3 }, context(), new Rng(9));
    const dropped = (total - countVoxels(out)) / total;
    expect(dropped).toBeGreaterThan(0.25);
    expect(dropped).toBeLessThan(0.35);
  });
});

describe('vesselFalsePositives', () => {
  it('adds blobs on vessel voxels only, within the radius of a seed', () => {
    const ctx = context();
    const truth = ball([20, 18, 10], 4);
    const out = vesselFalsePositives(truth.slice(), { kind: 'vesselFalsePositives', meanCount: 4, radiusMm: 3 }, ctx, new Rng(6));
    let added = 0;
    for (let x = 0; x < n; x++) {
      if (truth[x]) expect(out[x]).toBe(1);
      else if (out[x]) {
        added++;
        expect(ctx.vessels[x]).toBe(1);
      }
    }
    expect(added).toBeGreaterThan(0);
    // Each blob is at most the vessel voxels in a 3 mm ball: 7 along i × 2 slices (k within 1.5 steps of 2 mm).
    const blobs = connectedComponents(out.map((v, x) => (v && !truth[x] ? 1 : 0)), dims);
    for (const b of blobs) expect(b.length).toBeLessThanOrEqual(7 * 2 * 4);
    expect(vesselFalsePositives(truth.slice(), { kind: 'vesselFalsePositives', meanCount: 0, radiusMm: 3 }, ctx, new Rng(6))).toEqual(truth);
  });
});

describe('sliceSkip', () => {
  const truth = ball([20, 18, 10], 9);
  const plane = dims[0] * dims[1];
  const slice = (m: Uint8Array, k: number) => m.subarray(k * plane, (k + 1) * plane);

  it('draws only every n-th slice before interpolation', () => {
    expect(drawnSlices(20, 3, 1)).toEqual([1, 4, 7, 10, 13, 16, 19]);
    const out = sliceSkip(truth.slice(), { kind: 'sliceSkip', every: 3, offset: 1, interpolation: 'none' }, context(), new Rng(1));
    for (let k = 0; k < dims[2]; k++) {
      if (k % 3 === 1) expect(slice(out, k)).toEqual(slice(truth, k));
      else expect(countVoxels(slice(out, k))).toBe(0);
    }
  });

  it('nearest copies the closest drawn slice (ties below), and only within every/2 at the ends', () => {
    const out = sliceSkip(truth.slice(), { kind: 'sliceSkip', every: 4, offset: 3, interpolation: 'nearest' }, context(), new Rng(1));
    // Drawn: 3, 7, 11, 15, 19.
    const source = [null, 3, 3, 3, 3, 3, 7, 7, 7, 7, 11, 11, 11, 11, 15, 15, 15, 15, 19, 19];
    for (let k = 0; k < dims[2]; k++) {
      const s = source[k];
      if (s === null) expect(countVoxels(slice(out, k))).toBe(0);
      else expect(slice(out, k), `slice ${k}`).toEqual(slice(truth, s));
    }
  });

  it('shape interpolation lies between its two drawn neighbours for a ball', () => {
    const out = sliceSkip(truth.slice(), { kind: 'sliceSkip', every: 4, offset: 2, interpolation: 'shape' }, context(), new Rng(1));
    for (let k = 0; k < dims[2]; k++) {
      if (k % 4 === 2) {
        expect(slice(out, k)).toEqual(slice(truth, k));
        continue;
      }
      const a = Math.floor((k - 2) / 4) * 4 + 2;
      const b = a + 4;
      if (a < 0 || b >= dims[2]) continue;
      const [small, large] = countVoxels(slice(truth, a)) < countVoxels(slice(truth, b)) ? [a, b] : [b, a];
      const s = slice(out, k);
      let count = 0;
      for (let p = 0; p < plane; p++) {
        if (slice(truth, small)[p]) expect(s[p]).toBe(1);
        if (s[p]) {
          expect(slice(truth, large)[p]).toBe(1);
          count++;
        }
      }
      if (countVoxels(slice(truth, small)) > 0) expect(count).toBeGreaterThan(0);
    }
    // Linear distance interpolation cuts the ball's curvature between drawn slices (measured 0.85),
    // but recovers far more than the drawn slices alone.
    const drawnOnly = sliceSkip(truth.slice(), { kind: 'sliceSkip', every: 4, offset: 2, interpolation: 'none' }, context(), new Rng(1));
    expect(dice(out, truth)).toBeGreaterThan(0.8);
    expect(dice(drawnOnly, truth)).toBeLessThan(0.6);
  });

  it('shape interpolation shrinks towards an empty drawn slice', () => {
    const small = ball([20, 18, 4], 5); // slices 2…6
    const out = sliceSkip(small.slice(), { kind: 'sliceSkip', every: 4, offset: 0, interpolation: 'shape' }, context(), new Rng(1));
    // Drawn 0 (empty), 4 (full disc), 8 (empty): slices 5–7 taper from the disc to nothing.
    const sizes = [4, 5, 6, 7, 8].map((k) => countVoxels(slice(out, k)));
    expect(sizes[0]).toBe(countVoxels(slice(small, 4)));
    for (let t = 1; t < sizes.length; t++) expect(sizes[t]).toBeLessThanOrEqual(sizes[t - 1]);
    expect(sizes[4]).toBe(0);
    expect(sizes[1]).toBeGreaterThan(0);
  });
});

describe('observe', () => {
  it('applies the profile in order from its own stream, reproducibly', () => {
    const truth = ball([20, 18, 10], 6);
    ball([8, 8, 4], 1.2, truth); // a small lesion
    const ctx = context();
    for (const profile of DEFAULT_PROFILES) {
      const a = observe(truth, profile, ctx, new Rng(11));
      const b = observe(truth, profile, ctx, new Rng(11));
      expect(a).toEqual(b);
      expect(dice(a, truth)).toBeGreaterThan(0.4);
    }
    // The input is not modified.
    expect(countVoxels(truth)).toBe(countVoxels(ball([20, 18, 10], 6)) + countVoxels(ball([8, 8, 4], 1.2)));
  });
});
