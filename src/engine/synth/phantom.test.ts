import { describe, expect, it } from 'vitest';
import { writeNifti } from '../io/nifti';
import { InputError } from '../io/errors';
import { axisCodes, type Vec3 } from '../volume';
import { generateCase } from './dataset';
import { countVoxels, offsetMask } from './morphology';
import { resolvePhantomOptions } from './phantom';
import { DEFAULT_PROFILES } from './profiles';
import { TISSUE } from './tissue';

const tiny = { size: [64, 64, 16] as Vec3, spacing: [6, 6, 20] as Vec3 };
/** Fine enough (2.5 mm, 5 mm slices) for tissue interiors of a few voxels. */
const fine = { size: [96, 96, 32] as Vec3, spacing: [2.5, 2.5, 5] as Vec3 };

describe('generateCase: determinism', () => {
  it('gives identical bytes for the same seed and different ones for another seed', async () => {
    const a = generateCase(tiny, 42);
    const b = generateCase(tiny, 42);
    const c = generateCase(tiny, 43);
    expect(b.scan.data).toEqual(a.scan.data);
    expect(b.truth.data).toEqual(a.truth.data);
    expect(b.lungs.data).toEqual(a.lungs.data);
    expect(b.observers.map((o) => o.mask.data)).toEqual(a.observers.map((o) => o.mask.data));
    expect(b.lesions).toEqual(a.lesions);
    expect(await writeNifti(b.scan)).toEqual(await writeNifti(a.scan));
    expect(c.scan.data).not.toEqual(a.scan.data);
    expect(c.lesions).not.toEqual(a.lesions);
  });

  it('keeps the scan and the other observers when an observer is added', () => {
    const two = generateCase({ ...tiny, observers: DEFAULT_PROFILES.slice(0, 2) }, 5);
    const three = generateCase({ ...tiny, observers: DEFAULT_PROFILES }, 5);
    expect(three.scan.data).toEqual(two.scan.data);
    expect(three.observers[0].mask.data).toEqual(two.observers[0].mask.data);
    expect(three.observers[1].mask.data).toEqual(two.observers[1].mask.data);
  });
});

describe('generateCase: geometry and anatomy', () => {
  // Larger lesions of every kind, so that each class has voxels away from its edges.
  const c = generateCase({ ...fine, lesions: { noneProbability: 0, count: [4, 6], radiusMm: [8, 30], kinds: { ggo: 1, consolidation: 1, mixed: 1 } } }, 5);
  const { dims } = c.scan;
  const [nx, ny, nz] = dims;
  const tissue = c.tissue.data as Uint8Array;
  const scan = c.scan.data as Int16Array;

  it('is an Int16 HU volume on an LPS grid centred on the origin, with label volumes on the same grid', () => {
    expect(c.scan.data).toBeInstanceOf(Int16Array);
    expect(c.scan.units).toBe('HU');
    expect(axisCodes(c.scan)).toBe('LPS');
    expect(c.scan.origin).toEqual([-(95 / 2) * 2.5, -(95 / 2) * 2.5, -(31 / 2) * 5]);
    for (const v of [c.truth, c.lungs, c.tissue, ...c.observers.map((o) => o.mask)]) {
      expect(v.data).toBeInstanceOf(Uint8Array);
      expect(v.units).toBe('label');
      expect(v.dims).toEqual(dims);
      expect(v.origin).toEqual(c.scan.origin);
    }
    // 240 mm field of view: the adult body (~330 mm wide) is shrunk to fit.
    expect(c.scale).toBeGreaterThan(0.6);
    expect(c.scale).toBeLessThan(0.75);
  });

  it('puts the heart to the patient’s left (high i), the spinal canal posterior (high j), air outside the body', () => {
    expect(tissue[0]).toBe(TISSUE.AIR);
    expect(scan[0]).toBeLessThan(-900);
    const mean = (cls: number) => {
      const sum = [0, 0, 0];
      let count = 0;
      for (let k = 0, x = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++, x++) {
        if (tissue[x] !== cls) continue;
        sum[0] += i;
        sum[1] += j;
        sum[2] += k;
        count++;
      }
      expect(count, `class ${cls}`).toBeGreaterThan(50);
      return sum.map((v) => v / count);
    };
    const heart = mean(TISSUE.MYOCARDIUM);
    expect(heart[0]).toBeGreaterThan(nx / 2 + 2);
    expect(heart[2]).toBeLessThan(nz / 2); // below the carina, above the diaphragm's lowest point
    expect(mean(TISSUE.CSF)[1]).toBeGreaterThan(0.6 * ny);
    const liver = mean(TISSUE.LIVER);
    expect(liver[0]).toBeLessThan(nx / 2); // the liver is on the patient's right
    expect(liver[2]).toBeLessThan(heart[2]);
    const lungs = mean(TISSUE.LUNG);
    expect(Math.abs(lungs[0] - (nx - 1) / 2)).toBeLessThan(5);
  });

  it('has tissue CT numbers in their intended ranges (interior voxels, away from partial volume)', () => {
    const truth = c.truth.data as Uint8Array;
    const near = truth.slice();
    offsetMask(near, dims, c.scan.spacing, 10);
    const sums = new Map<number, [number, number]>();
    for (let k = 1; k < nz - 1; k++) for (let j = 1; j < ny - 1; j++) for (let i = 1; i < nx - 1; i++) {
      const x = i + nx * (j + ny * k);
      const t = tissue[x];
      // Interior: the six neighbours are of the same class; for ground glass, inside the lesion (vessels
      // cross it). The 0.6-voxel blur takes ~70% of a voxel's value from its neighbours.
      const ggo = t === TISSUE.GGO;
      if (![1, -1, nx, -nx, nx * ny, -nx * ny].every((d) => (ggo ? truth[x + d] === 1 : tissue[x + d] === t))) continue;
      if (t === TISSUE.LUNG && near[x]) continue; // ground-glass haze reaches beyond the lesion
      const s = sums.get(t) ?? [0, 0];
      sums.set(t, [s[0] + scan[x], s[1] + 1]);
    }
    const mean = (t: number) => {
      const [s, n] = sums.get(t)!;
      expect(n, `voxels of class ${t}`).toBeGreaterThan(30);
      return s / n;
    };
    expect(mean(TISSUE.LUNG)).toBeGreaterThan(-890);
    expect(mean(TISSUE.LUNG)).toBeLessThan(-810);
    expect(mean(TISSUE.FAT)).toBeCloseTo(-100, -1.5);
    expect(mean(TISSUE.MUSCLE)).toBeCloseTo(40, -1.5);
    expect(mean(TISSUE.BLOOD)).toBeCloseTo(45, -1.5);
    expect(mean(TISSUE.AIR)).toBeLessThan(-990);
    expect(mean(TISSUE.GGO)).toBeGreaterThan(-700);
    expect(mean(TISSUE.GGO)).toBeLessThan(-300);
    expect(mean(TISSUE.CONSOLIDATION)).toBeGreaterThan(-100);
    expect(mean(TISSUE.CONSOLIDATION)).toBeLessThan(50);
    // Noise: the spread of interior air is the case's noise σ (15–25 HU).
    let s = 0;
    let s2 = 0;
    let n = 0;
    for (let x = 0; x < nx * 4; x++) {
      s += scan[x];
      s2 += scan[x] * scan[x];
      n++;
    }
    const sd = Math.sqrt(s2 / n - (s / n) ** 2);
    expect(sd).toBeGreaterThan(0.8 * c.noiseHU);
    expect(sd).toBeLessThan(1.2 * c.noiseHU);
    expect(c.noiseHU).toBeGreaterThanOrEqual(15);
    expect(c.noiseHU).toBeLessThanOrEqual(25);
  });

  it('has branching vessels and airways inside the lungs', () => {
    let vessels = 0;
    let airways = 0;
    const lungs = c.lungs.data as Uint8Array;
    for (let x = 0; x < tissue.length; x++) {
      if (tissue[x] === TISSUE.VESSEL) {
        vessels++;
        expect(lungs[x]).toBe(1);
      }
      if (tissue[x] === TISSUE.AIRWAY) airways++;
    }
    const lungVoxels = countVoxels(lungs);
    expect(vessels / lungVoxels).toBeGreaterThan(0.01);
    expect(vessels / lungVoxels).toBeLessThan(0.2);
    expect(airways).toBeGreaterThan(50);
  });
});

describe('generateCase: lesions', () => {
  const cases = [1, 2, 3, 4].map((seed) => generateCase({ ...tiny, size: [80, 80, 24], spacing: [4, 4, 12], observers: [], lesions: { noneProbability: 0, count: [4, 6] } }, seed));

  it('lies inside the lungs only, and its records add up to the truth', () => {
    for (const c of cases) {
      const truth = c.truth.data as Uint8Array;
      const lungs = c.lungs.data as Uint8Array;
      for (let x = 0; x < truth.length; x++) if (truth[x]) expect(lungs[x]).toBe(1);
      expect(c.lesions.length).toBeGreaterThanOrEqual(1);
      const voxelMl = (4 * 4 * 12) / 1000;
      const sum = c.lesions.reduce((s, l) => s + l.voxels, 0);
      expect(sum).toBeGreaterThanOrEqual(countVoxels(truth)); // overlapping lesions count twice
      expect(countVoxels(truth)).toBeGreaterThan(0);
      for (const l of c.lesions) {
        expect(l.volumeMl).toBeCloseTo(l.voxels * voxelMl, 3);
        expect(l.equivalentDiameterMm).toBeCloseTo(2 * Math.cbrt((3 * l.voxels * 192) / (4 * Math.PI)), 1);
        expect(['ggo', 'consolidation', 'mixed']).toContain(l.kind);
      }
    }
  });

  it('includes small lesions (a few mm) as well as large ones', () => {
    const diameters = cases.flatMap((c) => c.lesions.map((l) => l.equivalentDiameterMm));
    expect(Math.min(...diameters)).toBeLessThan(10);
    expect(Math.max(...diameters)).toBeGreaterThan(25);
  });

  it('is placed near the pleura more often than lung voxels are', () => {
    const opts = { size: [64, 64, 16] as Vec3, spacing: [6, 6, 20] as Vec3, observers: [] };
    const mean = (lambda: number) => {
      const d = [1, 2].flatMap((seed) => generateCase({ ...opts, lesions: { noneProbability: 0, count: [12, 12], radiusMm: [2, 3], subpleuralMm: lambda } }, seed).lesions.map((l) => l.pleuraDistanceMm));
      return d.reduce((s, v) => s + v, 0) / d.length;
    };
    const peripheral = mean(4);
    const uniform = mean(1e6);
    expect(peripheral).toBeLessThan(0.6 * uniform);
  });

  it('is absent when the none-probability is 1', () => {
    const c = generateCase({ ...tiny, lesions: { noneProbability: 1 } }, 9);
    expect(c.lesions).toEqual([]);
    expect(countVoxels(c.truth.data as Uint8Array)).toBe(0);
    for (const o of c.observers) {
      // Only vessel false positives can appear on an empty truth.
      const mask = o.mask.data as Uint8Array;
      for (let x = 0; x < mask.length; x++) if (mask[x]) expect((c.tissue.data as Uint8Array)[x]).toBe(TISSUE.VESSEL);
    }
  });
});

describe('resolvePhantomOptions', () => {
  it('fills defaults and rejects bad values with an InputError', () => {
    const o = resolvePhantomOptions({ lesions: { count: [2, 3] } });
    expect(o.size).toEqual([256, 256, 64]);
    expect(o.spacing).toEqual([1.5, 1.5, 5]);
    expect(o.lesions.count).toEqual([2, 3]);
    expect(o.lesions.kinds.ggo).toBe(0.6);
    expect(() => resolvePhantomOptions({ size: [64, 64, 0] as Vec3 })).toThrow(InputError);
    expect(() => resolvePhantomOptions({ spacing: [1, -1, 1] })).toThrow(/spacing/);
    expect(() => resolvePhantomOptions({ lesions: { noneProbability: 2 } })).toThrow(/noneProbability/);
    expect(() => resolvePhantomOptions({ lesions: { count: [3, 1] } })).toThrow(/count/);
  });
});
