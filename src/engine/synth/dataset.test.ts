import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNifti } from '../io/nifti';
import { affineToRAS } from '../volume';
import { generateCase, observerRoster, type DatasetManifest } from './dataset';
import { DEFAULT_PROFILES } from './profiles';
import { deriveSeed } from './seeds';

const dir = mkdtempSync(join(tmpdir(), 'phantoms-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (...args: string[]) => spawnSync('npx', ['tsx', 'src/cli/phantoms.ts', ...args], { encoding: 'utf8' });

describe('observerRoster', () => {
  it('takes the first profiles and cycles with numbered names', () => {
    expect(observerRoster(DEFAULT_PROFILES, 2).map((p) => p.name)).toEqual(['careful_expert', 'fast_nonexpert']);
    expect(observerRoster(DEFAULT_PROFILES, 5).map((p) => p.name)).toEqual(['careful_expert', 'fast_nonexpert', 'over_segmenter', 'careful_expert_2', 'fast_nonexpert_2']);
    expect(observerRoster(DEFAULT_PROFILES, 5)[3].models).toBe(DEFAULT_PROFILES[0].models);
  });
});

describe('phantoms CLI', () => {
  it('writes cases, NIfTI files and a datalist that nibabel and readNifti read back', async () => {
    const profiles = join(dir, 'profiles.json');
    writeFileSync(profiles, JSON.stringify([{ name: 'skipper', models: [{ kind: 'sliceSkip', every: 2, interpolation: 'none' }] }, { name: 'exact', models: [] }]));
    const out = join(dir, 'ds');
    const r = cli('--cases', '2', '--observers', '2', '--seed', '11', '--out', out, '--size', '48,40,12', '--spacing', '7,7,25', '--profiles', profiles);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/case_001: \d+ lesions/);

    const manifest = JSON.parse(readFileSync(join(out, 'dataset.json'), 'utf8')) as DatasetManifest;
    expect(manifest.numTraining).toBe(2);
    expect(manifest.generator.phantom.size).toEqual([48, 40, 12]);
    expect(manifest.generator.observers.map((o) => o.name)).toEqual(['skipper', 'exact']);
    expect(manifest.training[1]).toMatchObject({
      image: 'case_001/scan.nii.gz',
      label: 'case_001/truth.nii.gz',
      lungs: 'case_001/lungs.nii.gz',
      observers: { skipper: 'case_001/observer_skipper.nii.gz', exact: 'case_001/observer_exact.nii.gz' },
      seed: deriveSeed(11, 'case', 1),
    });

    // The files hold exactly what generateCase makes for the recorded seed.
    const entry = manifest.training[1];
    const again = generateCase({ size: [48, 40, 12], spacing: [7, 7, 25], observers: manifest.generator.observers }, entry.seed);
    expect(entry.lesions).toEqual(again.lesions);
    const scan = await readNifti({ name: 'scan.nii.gz', bytes: new Uint8Array(readFileSync(join(out, entry.image))) });
    expect(scan.data).toEqual(again.scan.data);
    expect(scan.spacing).toEqual([7, 7, 25]);
    const exact = await readNifti({ name: 'exact.nii.gz', bytes: new Uint8Array(readFileSync(join(out, entry.observers.exact))) });
    const truth = await readNifti({ name: 'truth.nii.gz', bytes: new Uint8Array(readFileSync(join(out, entry.label))) });
    expect(exact.data).toEqual(truth.data);
    expect(Array.from(truth.data)).toEqual(Array.from(again.truth.data));

    // Independent reader: nibabel sees the same shape, affine, dtype and values.
    const py = `
import json, sys, nibabel as nib, numpy as np
img = nib.load(sys.argv[1]); skip = nib.load(sys.argv[2])
a = np.asarray(img.dataobj); s = np.asarray(skip.dataobj)
print(json.dumps({"shape": list(img.shape), "dtype": str(a.dtype), "affine": img.affine.tolist(), "codes": "".join(nib.aff2axcodes(img.affine)),
  "sum": int(a.astype(np.int64).sum()), "drawn": [int(s[:, :, k].sum() > 0) for k in range(s.shape[2])]}))`;
    const nib = JSON.parse(execFileSync('/usr/bin/python3', ['-c', py, join(out, entry.image), join(out, entry.observers.skipper)], { encoding: 'utf8' }));
    expect(nib.shape).toEqual([48, 40, 12]);
    expect(nib.dtype).toBe('int16');
    expect(nib.codes).toBe('LPS');
    const ras = affineToRAS(again.scan);
    for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(nib.affine[r][c]).toBeCloseTo(ras[4 * r + c], 4);
    expect(nib.sum).toBe(Array.from(again.scan.data).reduce((s, v) => s + v, 0));
    // The slice skipper drew every other slice only (k ≡ offset mod 2), nothing in between.
    const drawn = nib.drawn as number[];
    const lit = drawn.flatMap((v, k) => (v ? [k % 2] : []));
    expect(new Set(lit).size).toBeLessThanOrEqual(1);
  }, 120_000);

  it.each([
    [['--cases', '2', '--observers', '1', '--seed', '1'], /--out is required/],
    [['--cases', '1', '--observers', '1', '--seed', '1.5', '--out', join(dir, 'bad')], /--seed must be an integer/],
    [['--cases', '1', '--observers', '1', '--seed', '-3', '--out', join(dir, 'bad')], /'--seed'/],
    [['--cases', '1', '--observers', '1', '--seed', '1', '--out', join(dir, 'bad'), '--size', '64,64'], /--size must be three positive integers/],
    [['--cases', '1', '--observers', '1', '--seed', '1', '--out', join(dir, 'bad'), '--profiles', '/nonexistent.json'], /nonexistent\.json: cannot read/],
    [['--cases', '1', '--observers', '1', '--seed', '1', '--out', join(dir, 'bad'), '--size', '4,64,64'], /phantom options: size must be three integers in 8…2048/],
  ])('exits non-zero with one line for %j', (args, message) => {
    const r = cli(...(args as string[]));
    expect(r.status).not.toBe(0);
    expect(existsSync(join(dir, 'bad'))).toBe(false);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
