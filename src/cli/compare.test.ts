import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../tests/shared';
import { readNifti, writeNifti } from '../engine/io/nifti';
import { compareMasks, staple } from '../engine/metrics';
import { type Mat3, type Vec3, type Volume, affineToRAS } from '../engine/volume';
import { expectOneLineError } from './cli-errors.test-util';

const dims: Vec3 = [12, 10, 8];
const spacing: Vec3 = [0.5, 1, 2];
const direction: Mat3 = [0, 1, 0, -1, 0, 0, 0, 0, 1]; // rotated in-plane: the CLI must not care

function mask(f: (i: number, j: number, k: number) => number): Uint8Array {
  const d = new Uint8Array(dims[0] * dims[1] * dims[2]);
  for (let k = 0, x = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++, x++) d[x] = f(i, j, k);
  return d;
}
const box = (i: number, j: number, k: number, lo: Vec3, hi: Vec3) => i >= lo[0] && i < hi[0] && j >= lo[1] && j < hi[1] && k >= lo[2] && k < hi[2];
const ref = mask((i, j, k) => (box(i, j, k, [3, 3, 2], [7, 7, 5]) ? 1 : 0));
const shifted = mask((i, j, k) => (box(i, j, k, [4, 3, 2], [8, 7, 5]) ? 1 : 0)); // one voxel (0.5 mm) along i
const empty = new Uint8Array(ref.length);
// label maps: label 1 as ref/shifted, label 2 a small block present in both
const refLabels = ref.map((v, x) => (v ? 1 : x < 30 ? 2 : 0));
const otherLabels = shifted.map((v, x) => (v ? 1 : x < 20 ? 2 : 0));

let dir = '';
const file = (name: string) => join(dir, name);
async function save(name: string, data: Uint8Array, s: Vec3 = spacing): Promise<void> {
  const v: Volume = { data, dims, spacing: s, origin: [10, -20, 5], direction, units: 'label', notices: [] };
  writeFileSync(file(name), await writeNifti(v));
}
function compare(...args: string[]) {
  return spawnSync('npx', ['tsx', 'src/cli/compare.ts', ...args], { cwd: ROOT, encoding: 'utf8' });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'compare-cli-'));
  await save('ref.nii.gz', ref);
  await save('shifted.nii.gz', shifted);
  await save('empty.nii.gz', empty);
  await save('ref-labels.nii.gz', refLabels);
  await save('other-labels.nii.gz', otherLabels);
  await save('other-grid.nii.gz', shifted, [0.5, 1, 2.5]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm run compare', () => {
  it('--json: every metric per mask, MONAI empty-mask values as strings, and a STAPLE consensus file', async () => {
    const r = compare(file('ref.nii.gz'), file('shifted.nii.gz'), file('empty.nii.gz'), '--json', '--staple', file('consensus.nii.gz'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.grid).toEqual({ dims, spacing });
    const [vsShifted, vsEmpty] = out.comparisons;
    // shift of one voxel along i (0.5 mm): overlap 3/4, every surface distance ≤ 0.5 mm
    expect(vsShifted.metrics.dice).toBeCloseTo(0.75, 12);
    expect(vsShifted.metrics.hausdorff).toBeCloseTo(0.5, 12);
    expect(vsShifted.metrics.volumeGtMl).toBeCloseTo((48 * 0.5 * 1 * 2) / 1000, 15);
    const direct = compareMasks(shifted, ref, { dims, spacing });
    expect(vsShifted.metrics.assd).toBeCloseTo(direct.assd, 12);
    expect(vsShifted.metrics.hausdorff95).toBeCloseTo(direct.hausdorff95, 12);
    expect(vsEmpty.metrics.dice).toBe(0);
    expect(vsEmpty.metrics.hausdorff).toBe('Infinity');
    expect(vsEmpty.metrics.hausdorff95).toBe('NaN');

    const s = staple([ref, shifted, empty]);
    expect(out.staple.observers.map((o: { sensitivity: number }) => o.sensitivity)).toEqual(s.sensitivity);
    expect(out.staple.observers[2].sensitivity).toBe(0);
    expect(out.staple.converged).toBe(true);
    const written = await readNifti({ name: 'consensus.nii.gz', bytes: new Uint8Array(readFileSync(file('consensus.nii.gz'))) });
    expect([...written.data]).toEqual([...s.consensus]);
    expect(affineToRAS(written).map((x) => Number(x.toFixed(4)))).toEqual(affineToRAS({ spacing, origin: [10, -20, 5], direction }).map((x) => Number(x.toFixed(4))));
  });

  it('--labels all: per-label metrics and their mean', () => {
    const r = compare(file('ref-labels.nii.gz'), file('other-labels.nii.gz'), '--labels', 'all', '--json');
    expect(r.status).toBe(0);
    const c = JSON.parse(r.stdout).comparisons[0];
    expect(c.labels).toEqual([1, 2]);
    expect(c.perLabel[0].metrics.dice).toBeCloseTo(0.75, 12);
    expect(c.perLabel[1].metrics.dice).toBeCloseTo((2 * 20) / (20 + 30), 12);
    expect(c.mean.dice).toBeCloseTo((0.75 + 0.8) / 2, 12);
  });

  it('text output with --labels N', () => {
    const r = compare(file('ref-labels.nii.gz'), file('other-labels.nii.gz'), '--labels', '2');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/other-labels\.nii\.gz vs reference \(label 2\)/);
    expect(r.stdout).toMatch(/^ {2}dice +0\.8$/m);
    expect(r.stdout).toMatch(/^ {2}hausdorff95 +\d/m);
  });

  it('different grids: exit 1 with a one-line reason', () => {
    const r = compare(file('ref.nii.gz'), file('other-grid.nii.gz'));
    expectOneLineError(r, /other-grid\.nii\.gz: not on the grid of/);
  });
});
