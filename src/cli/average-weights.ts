/**
 * `npm run average:weights -- --out FILE [--weights W1,W2,…] A.safetensors B.safetensors …`
 *
 * Writes the weighted average of weight files of one network (src/engine/weights/average.ts: a model
 * soup of runs fine-tuned from the same weights) as safetensors. The metadata is the first file's, less
 * its KeepConfidentComponentsd cut, which belongs to those weights alone: choose the average's own with
 * `npm run eval:phantoms -- --weights FILE --stream tune --cases 24 --tune-peak --out FILE`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { PEAK_CUT_KEY } from '../engine/inference';
import { readWeights, writeSafetensors } from '../engine/weights';
import { averageStateDicts } from '../engine/weights/average';
import { positiveNumbers, parseCliArgs } from './args';
import { runCli } from './files';

const USAGE = 'usage: npm run average:weights -- --out FILE.safetensors [--weights W1,W2,…] A.safetensors B.safetensors …';

runCli(async () => {
  const { values: v, positionals: files } = parseCliArgs({ allowPositionals: true, options: { out: { type: 'string' }, weights: { type: 'string' } } }, USAGE);
  if (!v.out) throw new Error(`--out is required; ${USAGE}`);
  if (!/\.safetensors$/i.test(v.out)) throw new Error(`--out must end in .safetensors, got "${v.out}"`);
  if (files.length < 2) throw new Error(`give at least two weight files to average; ${USAGE}`);
  const weights = v.weights ? positiveNumbers('weights', v.weights, files.length) : files.map(() => 1);
  const read = await Promise.all(files.map(async (f) => readWeights(new Uint8Array(await readFile(f).catch(() => { throw new Error(`${f}: no such file`); })), f)));
  const averaged = averageStateDicts(read.map((r) => r.stateDict), weights, files);
  const { [PEAK_CUT_KEY]: cut, ...metadata } = read[0].metadata;
  const bytes = writeSafetensors(averaged, { metadata: { ...metadata, averaged_from: files.map((f, i) => `${weights[i]}×${f}`).join(' + ') } });
  await writeFile(v.out, bytes);
  process.stdout.write(`${v.out}: average of ${files.length} files (weights ${weights.join(', ')}), ${(bytes.length / 1e6).toFixed(1)} MB${cut ? `; ${files[0]}'s peak cut ${cut} left out (choose the average's own with eval:phantoms --tune-peak)` : ''}\n`);
});
