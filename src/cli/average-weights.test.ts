import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../tests/shared';
import { PEAK_CUT_KEY, PIXEL_SPACING_KEY } from '../engine/inference';
import { readSafetensors, writeSafetensors, type StateDict } from '../engine/weights';
import { expectOneLineError } from './cli-errors.test-util';

let dir = '';
const file = (name: string) => join(dir, name);
const average = (...args: string[]) => spawnSync('npx', ['tsx', 'src/cli/average-weights.ts', ...args], { cwd: ROOT, encoding: 'utf8' });
const weights = (values: number[], shape = [2, 2]): StateDict => new Map([['conv.weight', { dtype: 'float32', shape, data: Float32Array.from(values) }]]);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'average-cli-'));
  writeFileSync(file('a.safetensors'), writeSafetensors(weights([1, 2, 3, 4]), { metadata: { [PEAK_CUT_KEY]: '0.999', [PIXEL_SPACING_KEY]: '2,2' } }));
  writeFileSync(file('b.safetensors'), writeSafetensors(weights([3, 6, 9, 12])));
  writeFileSync(file('other.safetensors'), writeSafetensors(weights([1, 2, 3, 4], [4])));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm run average:weights', () => {
  it('writes the weighted average with the first file\'s metadata, less its peak cut', () => {
    const r = average('--out', file('soup.safetensors'), '--weights', '3,1', file('a.safetensors'), file('b.safetensors'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`peak cut 0.999 left out`);
    const { stateDict, metadata } = readSafetensors(new Uint8Array(readFileSync(file('soup.safetensors'))), 'soup');
    // (3·a + 1·b) / 4
    expect(Array.from(stateDict.get('conv.weight')!.data as Float32Array)).toEqual([1.5, 3, 4.5, 6]);
    expect(metadata[PIXEL_SPACING_KEY]).toBe('2,2');
    expect(metadata[PEAK_CUT_KEY]).toBeUndefined();
    expect(metadata.averaged_from).toBe(`3×${file('a.safetensors')} + 1×${file('b.safetensors')}`);
  });

  it.each([
    [['a.safetensors', 'b.safetensors'], /^error: --out is required; usage: npm run average:weights -- /],
    [['--out', 'x.pt', 'a.safetensors', 'b.safetensors'], /^error: --out must end in \.safetensors, got "x\.pt"\n$/],
    [['--out', 'x.safetensors', 'a.safetensors'], /^error: give at least two weight files to average; usage: /],
    [['--out', 'x.safetensors', '--weights', '1,0', 'a.safetensors', 'b.safetensors'], /^error: --weights must be 2 positive numbers separated by commas, got "1,0"\n$/],
    [['--out', 'x.safetensors', 'a.safetensors', 'missing.safetensors'], /^error: .*missing\.safetensors: no such file\n$/],
    [['--out', 'x.safetensors', 'a.safetensors', 'other.safetensors'], /^error: .*other\.safetensors: conv\.weight has shape \[4\], .*a\.safetensors \[2, 2\]\n$/],
  ])('%j → one line, exit 1', (args, message) => {
    expectOneLineError(average(...args.map((a) => (a.endsWith('.safetensors') && !a.startsWith('x') ? file(a) : a))), message);
  });
});
