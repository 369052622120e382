/**
 * `npm run phantoms -- --cases 20 --observers 3 --seed S --out DIR [--size 256,256,64]
 *  [--spacing 1.5,1.5,5] [--profiles profiles.json]`: synthetic chest CT cases with exact lesion
 * masks and simulated observers, as DIR/case_NNN/*.nii.gz and DIR/dataset.json.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { caseFolder, writeDataset } from '../engine/synth/dataset';
import { resolvePhantomOptions } from '../engine/synth/phantom';
import { DEFAULT_PROFILES, parseProfiles } from '../engine/synth/profiles';
import type { Vec3 } from '../engine/volume';
import { intArg, parseCliArgs } from './args';
import { runCli } from './files';

const USAGE = 'usage: npm run phantoms -- --cases N --observers N --seed S --out DIR [--size X,Y,Z] [--spacing X,Y,Z] [--profiles FILE]';

function triple(name: string, text: string, integers: boolean): Vec3 {
  const parts = text.split(',').map((p) => p.trim());
  const values = parts.map(Number);
  const ok = parts.length === 3 && parts.every((p) => p !== '') && values.every((v) => Number.isFinite(v) && v > 0 && (!integers || Number.isInteger(v)));
  if (!ok) throw new Error(`--${name} must be three positive ${integers ? 'integers' : 'numbers'} separated by commas, got "${text}"`);
  return values as Vec3;
}

/** The options, refused on one line that ends with the usage (parseCliArgs). */
function parse() {
  return parseCliArgs(
    {
      allowPositionals: true,
      options: {
        cases: { type: 'string' },
        observers: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        size: { type: 'string', default: '256,256,64' },
        spacing: { type: 'string', default: '1.5,1.5,5' },
        profiles: { type: 'string' },
      },
    },
    USAGE,
  );
}

runCli(async () => {
  const { values, positionals } = parse();
  if (positionals.length) throw new Error(`unexpected argument "${positionals[0]}"; ${USAGE}`);
  const cases = intArg('cases', values.cases, 1, 100000, USAGE);
  const observers = intArg('observers', values.observers, 0, 1000, USAGE);
  const seed = intArg('seed', values.seed, 0, 4294967295, USAGE);
  if (!values.out) throw new Error(`--out is required; ${USAGE}`);
  const out = values.out;
  const size = triple('size', values.size, true);
  const spacing = triple('spacing', values.spacing, false);
  const profiles = values.profiles ? parseProfiles(await readFile(values.profiles, 'utf8').catch(() => { throw new Error(`${values.profiles}: cannot read the profiles file`); }), values.profiles) : DEFAULT_PROFILES;

  const phantom = resolvePhantomOptions({ size, spacing }); // checked before anything is written
  await mkdir(out, { recursive: true });
  let started = performance.now();
  const manifest = await writeDataset(
    { cases, seed, observers, profiles, phantom },
    async (file) => {
      const path = join(out, ...file.path.split('/'));
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, file.bytes);
    },
    (n, c) => {
      const ml = c.lesions.reduce((s, l) => s + l.volumeMl, 0);
      process.stdout.write(`${caseFolder(n)}: ${c.lesions.length} lesions, ${ml.toFixed(1)} mL, ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
      started = performance.now();
    },
  );
  process.stdout.write(`wrote ${manifest.numTraining} cases with ${observers} observers each to ${join(out, 'dataset.json')}\n`);
});
