/**
 * `npm run convert -- <file-or-folder> <out.nii.gz> [--series UID] [--resample]`: any readable
 * input (NIfTI, DICOM series, NRRD) written as NIfTI-1 with the correct affine.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadFiles } from '../engine/io/load';
import { writeNifti } from '../engine/io/nifti';
import { readPath, runCli } from './files';

runCli(async () => {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { series: { type: 'string' }, resample: { type: 'boolean', default: false } },
  });
  if (positionals.length !== 2) throw new Error('usage: npm run convert -- <file-or-folder> <out.nii.gz> [--series UID] [--resample]');
  const [input, output] = positionals;
  if (!/\.nii(\.gz)?$/i.test(output)) throw new Error(`${output}: output must end in .nii or .nii.gz`);
  const result = await loadFiles(await readPath(input), { seriesUid: values.series, resample: values.resample });
  if (result.kind === 'choose-series') {
    const list = result.series.map((s) => `${s.uid} (${s.modality}, ${s.images} images, ${s.description || 'no description'})`).join('; ');
    throw new Error(`${input}: ${result.series.length} series found; pick one with --series: ${list}`);
  }
  const bytes = await writeNifti(result.volume, { gzip: /\.gz$/i.test(output) });
  await writeFile(output, bytes);
  for (const n of result.volume.notices) process.stderr.write(`note: ${n}\n`);
  process.stdout.write(`${output}: ${result.volume.dims.join('x')} written\n`);
});
