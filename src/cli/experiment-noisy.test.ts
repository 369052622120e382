import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateCase } from '../engine/synth/dataset';
import { DEFAULT_PROFILES } from '../engine/synth/profiles';
import { deriveSeed } from '../engine/synth/seeds';
import { itRefusesBadArguments, runBundled } from './cli-errors.test-util';

const tmp = mkdtempSync(join(tmpdir(), 'experiment-noisy-'));
const SIZE: [number, number, number] = [96, 96, 8];
const SPACING: [number, number, number] = [3.5, 3.5, 8];
const TINY = ['--features', '4,8,16,32,64', '--patch', '32', '--batch', '2', '--size', SIZE.join(','), '--spacing', SPACING.join(','), '--cases', '3', '--test-cases', '2', '--seed', '3'];

const run = (...args: string[]) => runBundled('experiment-noisy.ts', ...args);

describe('experiment:noisy', () => {
  it('trains the chosen arms on turn-taking observer labels, scores student and teacher, and writes the table and JSON', () => {
    const out = join(tmp, 'run');
    const r = run('--out', out, '--steps', '2', '--arms', 'c,a', ...TINY);
    expect(r.status, r.stderr).toBe(0);
    const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(json.arms.map((a: { row: string }) => a.row)).toEqual(['a', 'c', 'c′ (teacher)']);
    for (const a of json.arms) {
      expect(a.steps).toBe(2);
      expect(a.cases).toHaveLength(2);
      expect(a.diceMean).toBeGreaterThanOrEqual(0);
      expect(a.diceMean).toBeLessThanOrEqual(1);
    }
    expect(json.arms[1].teacherSuppressed).toBe(0); // the loss gate needs 10 losses before it can suppress
    expect(r.stdout).toMatch(/^\[a\] test_001: \d+ lesions/m);
    expect(r.stdout).toMatch(/^\[c teacher\] test_001: \d+ lesions/m);

    // The label-noise figure, recomputed independently: training scan n labelled by observer n mod 2.
    const names = ['fast_nonexpert', 'over_segmenter'];
    const profiles = DEFAULT_PROFILES.filter((p) => names.includes(p.name));
    let inter = 0;
    let sum = 0;
    for (let n = 0; n < 3; n++) {
      const c = generateCase({ size: SIZE, spacing: SPACING, observers: profiles }, deriveSeed(3, 'train', n));
      const label = c.observers.find((o) => o.name === names[n % 2])!.mask.data;
      const truth = c.truth.data;
      for (let x = 0; x < truth.length; x++) {
        inter += label[x] && truth[x] ? 1 : 0;
        sum += (label[x] ? 1 : 0) + (truth[x] ? 1 : 0);
      }
    }
    expect(json.labelNoise.trainingLabels).toBeCloseTo((2 * inter) / sum, 12);
    expect(json.labelNoise.trainingLabels).toBeLessThan(1);

    // The markdown table carries the JSON's numbers.
    const md = readFileSync(join(out, 'results.md'), 'utf8');
    const a = json.arms[0];
    expect(md).toContain(`| a | Dice | observers (fast_nonexpert / over_segmenter) | ${a.diceMean.toFixed(3)} ± ${a.diceSd.toFixed(3)} (2) | ${a.pooledDice.toFixed(3)} |`);
    expect(md).toMatch(/\| c′ \(teacher\) \| NR-Dice \(γ 1\.5, PyMIC form\) \+ adaptive self-ensembling \|/);
    expect(md).toContain('Command: `npm run experiment:noisy -- --out');
  });

  itRefusesBadArguments((...args) => run('--out', tmp, ...args), 'experiment:noisy', [
    [['--arms', 'a,x'], 'error: --arms: expected a comma-separated subset of a,b,c,d, got "a,x"'],
    [['--patch', '40'], "error: --patch must be a multiple of 16 (COPLE-Net's size divisor), got 40"],
    [['--nrdice', 'pyMIC'], 'error: --nrdice must be pymic (Σ(p + g) denominator) or paper (Σp² + Σg²), got "pyMIC"'],
    [['--observers', 'fast_nonexpert,nobody'], 'error: --observers: unknown observer "nobody" (have: careful_expert, fast_nonexpert, over_segmenter)'],
  ]);
});
