/**
 * The io command-line tools end to end: `info` and `convert` spawned as a user runs them, with
 * nibabel (Debian's python3-nibabel) as the independent judge of what `convert` wrote.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, sharedPath } from '../../tests/shared';
import { expectOneLineError } from './cli-errors.test-util';

const run = (script: string, args: string[]) => spawnSync('npx', ['tsx', `src/cli/${script}.ts`, ...args], { cwd: ROOT, encoding: 'utf8' });
const real = (p: string) => sharedPath('data/real', p);
const python = (code: string) => JSON.parse(execFileSync('/usr/bin/python3', ['-c', code], { encoding: 'utf8' }));

describe('npm run info', () => {
  it('prints format, geometry, type, scaled statistics and warnings as JSON', () => {
    const nii = run('info', [real('totalsegmentator/example_ct_dicom_dcm2niix.nii.gz')]);
    expect(nii.status).toBe(0);
    const a = JSON.parse(nii.stdout);
    expect(a).toMatchObject({ format: 'NIfTI-1', dims: [512, 512, 20], axcodes: 'LAS', datatype: 'int16', units: 'HU', min: -1024, max: 1839 });
    expect(a.affine_ras[3]).toEqual([0, 0, 0, 1]);
    const dcm = JSON.parse(run('info', [real('pydicom/dicomdirtests_CT2')]).stdout);
    expect(dcm.format).toMatch(/^DICOM/);
    expect(dcm.dims).toEqual([16, 16, 4]);
    expect(dcm.warnings.join(' ')).toMatch(/1\.25 mm to 202\.5 mm/);
  });

  it('exits non-zero with a one-line reason on bad input', () => {
    const bad = run('info', [real('nifti_oddities/nifti-reader-js/not-nifti.nii')]);
    expectOneLineError(bad, /not-nifti\.nii: /);
    const missing = run('info', ['/no/such/file.nii']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/no such file/);
  });
});

describe('npm run convert', () => {
  const dir = mkdtempSync(join(tmpdir(), 'convert-'));

  it('writes a DICOM series as NIfTI that nibabel places exactly where dcm2niix did', () => {
    const out = join(dir, 'ct.nii.gz');
    const res = run('convert', [real('totalsegmentator/example_ct_dicom_j2k'), out]);
    expect(res.status).toBe(0);
    // Reorient both to RAS+ with nibabel: same affine and same HU everywhere.
    const check = python(`
import json, nibabel as nib, numpy as np
a = nib.as_closest_canonical(nib.load(${JSON.stringify(out)}))
b = nib.as_closest_canonical(nib.load(${JSON.stringify(real('totalsegmentator/example_ct_dicom_dcm2niix.nii.gz'))}))
print(json.dumps({"affine": float(np.abs(a.affine - b.affine).max()), "hu": float(np.abs(a.get_fdata() - b.get_fdata()).max()), "shape": list(a.shape)}))`);
    expect(check.shape).toEqual([512, 512, 20]);
    expect(check.affine).toBeLessThan(1e-3);
    expect(check.hu).toBe(0);
  });

  it('writes a DICOM SEG on its referenced series grid, equal to dcmqi\'s NRRD label map', () => {
    const out = join(dir, 'liver.nii.gz');
    const res = run('convert', [real('dcmqi/liver.dcm'), out, '--reference', real('dcmqi/ct-3slice')]);
    expect(res.status).toBe(0);
    const check = python(`
import json, gzip, re, nibabel as nib, numpy as np
img = nib.load(${JSON.stringify(out)})
raw = open(${JSON.stringify(real('dcmqi/liver_seg.nrrd'))}, 'rb').read()
head, body = raw.split(b'\\n\\n', 1)
nrrd = np.frombuffer(gzip.decompress(body), dtype='<i2').reshape(3, 512, 512).transpose(2, 1, 0)
origin = [float(x) for x in re.search(rb'space origin: \\(([^)]*)\\)', head).group(1).split(b',')]
print(json.dumps({"equal": bool((np.asarray(img.dataobj) == nrrd).all()), "voxels": int((np.asarray(img.dataobj) > 0).sum()),
  "origin_ras": [float(x) for x in img.affine[:3, 3]], "nrrd_origin_lps": origin}))`);
    expect(check.equal).toBe(true);
    expect(check.voxels).toBe(107098);
    // NRRD origin is LPS, NIfTI's is RAS: x and y negate.
    expect(check.origin_ras[0]).toBeCloseTo(-check.nrrd_origin_lps[0], 3);
    expect(check.origin_ras[1]).toBeCloseTo(-check.nrrd_origin_lps[1], 3);
    expect(check.origin_ras[2]).toBeCloseTo(check.nrrd_origin_lps[2], 3);
  });

  it('refuses a folder with several series, naming them', () => {
    const res = run('convert', [real('dcmqi'), join(dir, 'x.nii.gz')]);
    expect(res.status).toBe(1);
    expect(res.stderr).toMatch(/series found; pick one with --series/);
  });
});
