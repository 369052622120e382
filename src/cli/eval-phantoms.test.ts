import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../tests/shared';
import { choosePeakCut, PEAK_CUT_CANDIDATES, PEAK_CUT_KEY } from '../engine/inference';
import { readSafetensors } from '../engine/weights';
import { itRefusesBadArguments, runBundled } from './cli-errors.test-util';

const run = (...args: string[]) => runBundled('eval-phantoms.ts', ...args);
const WEIGHTS = 'public/weights/coplenet.safetensors';
const card = readFileSync(resolve(ROOT, 'public/weights/MODEL_CARD.md'), 'utf8');
// The card's held-out table: | case | seed | lesions | truth mL | pred mL | Dice | Dice (float32) | HD95 | FP | Dice with the cut | FP with the cut |
const cardRows = [...card.matchAll(/^\| (test_\d+) \| \d+ \| \d+ \| [\d.]+ \| [\d.]+ \| ([\d.]+) \| [\d.]+ \| [\d.]+ \| \d+ \| ([\d.]+) \| \d+ \|$/gm)];
const cardDice = new Map(cardRows.map((m) => [m[1], Number(m[2])]));
const cardDiceCut = new Map(cardRows.map((m) => [m[1], Number(m[3])]));
const cardCut = /\*\*Cut: ([\d.]+)\*\*/.exec(card)?.[1];
const caseLines = (out: string) => [...out.matchAll(/^\[(\w+)\] (\w+_\d+): \d+ lesions, truth ([\d.]+) mL, pred ([\d.]+) mL, Dice ([\d.]+|NaN), HD95 ([\d.]+|NaN) mm, (\d+) FP components/gm)];

/** What the shipped weights' pixel size adds to the run options. */
const PX = "slices resampled to 2×2 mm (the weights' pixel size)";

describe('eval:phantoms', () => {
  it('reproduces the model card’s held-out Dice of the shipped weights on the same phantoms, with and without their peak cut, and summarises them', () => {
    const r = run('--weights', WEIGHTS, '--stream', 'test', '--cases', '2', '--min-peak', 'none');
    expect(r.status, r.stderr).toBe(0);
    // The card says whether the shipped weights take each slice with neighbours, and their cut; the CLI reads both from the weights.
    const context = /\d+ input channels \(each axial slice with its (\d+) neighbour/.exec(card)?.[1];
    expect(r.stdout).toContain(`(COPLE-Net 32, 64, 128, 256, 512${context ? `, each slice with ${context} neighbour${context === '1' ? '' : 's'} on either side` : ''}, peak cut ${cardCut})`);
    // The shipped weights' pixel size is these phantoms': an identity resampling, on by default as in the app.
    expect(r.stdout).toContain(`stream "test" seed 1, 2 cases, 160×160×24 at 2×2×5 mm; run options: ${PX}\n`);
    const lines = caseLines(r.stdout);
    expect(lines.map((m) => m[2])).toEqual(['test_000', 'test_001']);
    for (const m of lines) expect(Number(m[5])).toBeCloseTo(cardDice.get(m[2])!, 3);
    // By default the weights' cut applies, as in the app: the card's other column.
    const sure = run('--weights', WEIGHTS, '--stream', 'test', '--cases', '2');
    expect(sure.stdout).toContain(`run options: ${PX}, components peaking under ${cardCut} removed (the weights' cut)`);
    for (const m of caseLines(sure.stdout)) expect(Number(m[5])).toBeCloseTo(cardDiceCut.get(m[2])!, 3);
    const mean = (Number(lines[0][5]) + Number(lines[1][5])) / 2;
    const summary = /^mean Dice ([\d.]+) over 2 cases with lesions; pooled Dice ([\d.]+);/m.exec(r.stdout);
    expect(Number(summary![1])).toBeCloseTo(mean, 3);
    // Pooled Dice lies between the two cases' Dice.
    expect(Number(summary![2])).toBeGreaterThanOrEqual(Math.min(Number(lines[0][5]), Number(lines[1][5])) - 1e-3);
    expect(Number(summary![2])).toBeLessThanOrEqual(Math.max(Number(lines[0][5]), Number(lines[1][5])) + 1e-3);
    const bins = [...r.stdout.matchAll(/^lesions (.+?): (\d+), detected (\d+)/gm)];
    expect(bins.map((b) => b[1])).toEqual(['< 5 mm', '5–10 mm', '10–20 mm', '≥ 20 mm']);
    const lesionCount = [...r.stdout.matchAll(/^\[test\] test_\d+: (\d+) lesions/gm)].reduce((s, m) => s + Number(m[1]), 0);
    expect(bins.reduce((s, b) => s + Number(b[2]), 0)).toBe(lesionCount);
  }, 120_000);

  it('applies the run options: removing components under 1000 mL leaves no prediction', () => {
    const r = run('--weights', WEIGHTS, '--stream', 'fresh', '--cases', '1', '--seed', '7', '--min-ml', '1000', '--size', '96,96,12', '--spacing', '3,3,6');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`stream "fresh" seed 7, 1 cases, 96×96×12 at 3×3×6 mm; run options: ${PX}, components < 1000 mL removed`);
    const [line] = caseLines(r.stdout);
    expect(line[2]).toBe('fresh_000');
    expect(Number(line[4])).toBe(0);
    if (Number(line[3]) > 0) expect(Number(line[5])).toBe(0);
  }, 120_000);

  it('removes the components that never reach --min-peak: never more prediction or false positives than without', () => {
    const args = ['--weights', WEIGHTS, '--stream', 'fresh', '--cases', '2', '--seed', '7', '--size', '96,96,12', '--spacing', '3,3,6'];
    const plain = run(...args, '--min-peak', 'none');
    const sure = run(...args, '--min-peak', '0.99999');
    expect(sure.status, sure.stderr).toBe(0);
    expect(sure.stdout).toContain(`run options: ${PX}, components peaking under 0.99999 removed`);
    const a = caseLines(plain.stdout);
    const b = caseLines(sure.stdout);
    expect(b.map((l) => l[2])).toEqual(['fresh_000', 'fresh_001']);
    for (let n = 0; n < 2; n++) {
      expect(Number(b[n][4])).toBeLessThanOrEqual(Number(a[n][4]));
      expect(Number(b[n][7])).toBeLessThanOrEqual(Number(a[n][7]));
    }
    // These two phantoms have unsure specks (35 false-positive components without the filter).
    const fps = (lines: RegExpExecArray[]) => lines.reduce((s, l) => s + Number(l[7]), 0);
    expect(fps(b)).toBeLessThan(fps(a));
  }, 120_000);

  it('--tune-peak scores every cut, chooses one on a plateau and writes it into a copy of the weights, which then apply it by default', () => {
    const phantoms = ['--stream', 'fresh', '--cases', '2', '--seed', '7', '--size', '96,96,12', '--spacing', '3,3,6'];
    const out = join(mkdtempSync(join(tmpdir(), 'tune-peak-')), 'tuned.safetensors');
    const r = run('--weights', WEIGHTS, ...phantoms, '--tune-peak', '--out', out);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('choosing the peak cut');
    const curve = [...r.stdout.matchAll(/^cut (none|[\d.]+): mean Dice ([\d.]+), pooled Dice ([\d.]+), ([\d.]+) false-positive components per case$/gm)];
    expect(curve.map((m) => m[1])).toEqual(['none', ...PEAK_CUT_CANDIDATES.map(String)]);
    // Stricter cuts never leave more false-positive components.
    const fps = curve.map((m) => Number(m[4]));
    fps.slice(1).forEach((f, n) => expect(f).toBeLessThanOrEqual(fps[n]));
    const chosen = choosePeakCut(curve.map((m) => ({ cut: m[1] === 'none' ? 0 : Number(m[1]), meanDice: Number(m[2]), pooledDice: Number(m[3]), falsePositives: Number(m[4]) })));
    expect(chosen).not.toBeNull();
    expect(r.stdout).toContain(`chosen cut: ${chosen}`);
    // The copy: the same tensors and dtypes, the cut in the metadata.
    const before = readSafetensors(new Uint8Array(readFileSync(resolve(ROOT, WEIGHTS))), WEIGHTS);
    const after = readSafetensors(new Uint8Array(readFileSync(out)), out);
    expect(after.metadata[PEAK_CUT_KEY]).toBe(String(chosen));
    expect([...after.stateDict.keys()]).toEqual([...before.stateDict.keys()]);
    for (const [k, t] of before.stateDict) {
      expect(after.stateDict.get(k)!.dtype).toBe(t.dtype);
      expect(after.stateDict.get(k)!.data).toEqual(t.data);
    }
    // Scored with the copy, the cut applies unless --min-peak none; as the original weights with that cut.
    const own = run('--weights', out, ...phantoms);
    expect(own.stdout).toContain(`run options: ${PX}, components peaking under ${chosen} removed (the weights' cut)`);
    const given = run('--weights', WEIGHTS, ...phantoms, '--min-peak', String(chosen));
    expect(caseLines(own.stdout).map((m) => m.slice(2))).toEqual(caseLines(given.stdout).map((m) => m.slice(2)));
    const off = run('--weights', out, ...phantoms, '--min-peak', 'none', '--pixel-spacing', 'none');
    expect(off.stdout).toContain('run options: none\n');
    expect(caseLines(off.stdout).map((m) => m.slice(2))).toEqual(caseLines(run('--weights', WEIGHTS, ...phantoms, '--min-peak', 'none', '--pixel-spacing', 'none').stdout).map((m) => m.slice(2)));
  }, 180_000);

  itRefusesBadArguments(run, 'eval:phantoms', [
    [[], 'error: --weights is required; usage: npm run eval:phantoms -- --weights FILE [--stream NAME] [--cases N] [--seed X] [--size X,Y,Z] [--spacing X,Y,Z] [--features a,b,c,d,e] [--flips] [--min-ml ML] [--min-peak P|none] [--pixel-spacing X[,Y]|none] [--backend wasm|webgpu|cpu] [--tune-peak [--out FILE]]'],
    [['--weights', WEIGHTS, '--cases', '0'], 'error: --cases must be an integer in 1…10000, got "0"'],
    [['--weights', WEIGHTS, '--stream', 'a b'], 'error: --stream must be a name of letters, digits and dashes (test, val, or a new one), got "a b"'],
    [['--weights', WEIGHTS, '--min-ml', 'x'], 'error: --min-ml must be a positive number, got "x"'],
    [['--weights', WEIGHTS, '--min-peak', '1.5'], 'error: --min-peak must be a probability in (0, 1] or none, got "1.5"'],
    [['--weights', WEIGHTS, '--pixel-spacing', '2,2,5'], 'error: --pixel-spacing must be a pixel size in mm ("2" or "2,2") or none, got "2,2,5"'],
    [['--weights', WEIGHTS, '--tune-peak', '--flips'], 'error: --tune-peak chooses the cut on the plain pipeline: leave out --flips, --min-ml and --min-peak'],
    [['--weights', WEIGHTS, '--out', 'x.safetensors'], 'error: --out writes the weights with a tuned cut: it needs --tune-peak'],
    [['--weights', WEIGHTS, '--size', '96,96'], 'error: --size must be 3 positive numbers separated by commas, got "96,96"'],
    [['--weights', 'nope.safetensors'], 'error: nope.safetensors: no such file'],
  ]);
});
