import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, readNpy, readShared, sharedPath } from '../../tests/shared';
import { writeNpy } from '../engine/io/npy';

const tmp = mkdtempSync(join(tmpdir(), 'segment-'));
const ref = readNpy(readShared('fixtures/monai/coplenet/logits.npy'));
const refData = ref.data as Float32Array;
const TOLERANCE = 1e-3 * refData.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

function segment(...args: string[]) {
  return spawnSync(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'src/cli/segment.ts'), ...args], { cwd: ROOT, encoding: 'utf8' });
}

describe('segment --network-only', () => {
  it('reproduces the MONAI COPLE-Net logits from the 5D fixture (N, 1, D, H, W)', () => {
    const out = join(tmp, 'logits.npy');
    const r = segment('--network-only', sharedPath('fixtures/monai/coplenet/input.npy'), out, '--weights', sharedPath('fixtures/monai/coplenet/weights.pt'), '--features', '8,16,32,64,128', '--backend', 'cpu');
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({ backend: 'cpu', model: 'coplenet', weightsFormat: 'torch-zip', input: [1, 1, 2, 64, 96], output: [1, 2, 2, 64, 96] });
    const got = readNpy(new Uint8Array(readFileSync(out)));
    expect(got.shape).toEqual([1, 2, 2, 64, 96]);
    let maxErr = 0;
    (got.data as Float32Array).forEach((v, i) => (maxErr = Math.max(maxErr, Math.abs(v - refData[i]))));
    expect(maxErr).toBeLessThanOrEqual(TOLERANCE);
  });

  it('takes a 4D (N, 1, H, W) slice, infers --features from the weights, and keeps the layout', () => {
    const input = readNpy(readShared('fixtures/monai/coplenet/input.npy')).data as Float32Array;
    const slice = input.slice(64 * 96, 2 * 64 * 96); // depth index 1
    const inFile = join(tmp, 'slice.npy');
    const out = join(tmp, 'slice-logits.npy');
    writeFileSync(inFile, writeNpy(slice, [1, 1, 64, 96]));
    const r = segment('--network-only', inFile, out, '--weights', sharedPath('fixtures/monai/coplenet/weights_legacy.pt'), '--backend', 'cpu');
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!).features).toEqual([8, 16, 32, 64, 128]);
    const got = readNpy(new Uint8Array(readFileSync(out)));
    expect(got.shape).toEqual([1, 2, 64, 96]);
    let maxErr = 0;
    const hw = 64 * 96;
    for (let c = 0; c < 2; c++) for (let i = 0; i < hw; i++) maxErr = Math.max(maxErr, Math.abs((got.data as Float32Array)[c * hw + i] - refData[c * 2 * hw + hw + i]));
    expect(maxErr).toBeLessThanOrEqual(TOLERANCE);
  });

  it('fails with one line naming the file when H, W are not divisible by 16', () => {
    const bad = join(tmp, 'bad.npy');
    writeFileSync(bad, writeNpy(new Float32Array(40 * 48), [1, 1, 40, 48]));
    const r = segment('--network-only', bad, join(tmp, 'never.npy'), '--weights', sharedPath('fixtures/monai/coplenet/weights.pt'), '--backend', 'cpu');
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toBe(`error: ${bad}: spatial size 40x48 must be divisible by 16 for coplenet; pad it first`);
  });
});

describe('segment (whole pipeline)', () => {
  it('runs the scan pipeline when --network-only is absent and reports a bad scan in one line', () => {
    const r = segment('/no/such/scan.nii.gz', join(tmp, 'out.nii.gz'), '--weights', sharedPath('fixtures/monai/coplenet/weights.pt'), '--backend', 'cpu');
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^error: \/no\/such\/scan\.nii\.gz: /);
  });
});
