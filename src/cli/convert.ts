/**
 * `npm run convert -- <file-or-folder> <out.nii.gz> [--series UID] [--resample] [--reference DIR]`:
 * any readable input (NIfTI, DICOM series, NRRD, or a DICOM SEG placed on its referenced series,
 * given with --reference) written as NIfTI-1 with the correct affine.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { readDicomSeg } from '../engine/io/dicom/seg';
import { isDicom, scanDicom } from '../engine/io/dicom/series';
import { loadFiles } from '../engine/io/load';
import type { Volume } from '../engine/volume';
import { writeNifti } from '../engine/io/nifti';
import { readPath, runCli } from './files';

runCli(async () => {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { series: { type: 'string' }, resample: { type: 'boolean', default: false }, reference: { type: 'string' } },
  });
  if (positionals.length !== 2) {
    throw new Error('usage: npm run convert -- <file-or-folder> <out.nii.gz> [--series UID] [--resample] [--reference SERIES_DIR]');
  }
  const [input, output] = positionals;
  if (!/\.nii(\.gz)?$/i.test(output)) throw new Error(`${output}: output must end in .nii or .nii.gz`);
  const files = await readPath(input);
  const volume = values.reference ? await segOnReference(files, values.reference) : await readVolume(files, input, values.series, values.resample);
  await writeFile(output, await writeNifti(volume, { gzip: /\.gz$/i.test(output) }));
  for (const n of volume.notices) process.stderr.write(`note: ${n}\n`);
  process.stdout.write(`${output}: ${volume.dims.join('x')} written\n`);
});

async function readVolume(files: Awaited<ReturnType<typeof readPath>>, input: string, seriesUid?: string, resample?: boolean): Promise<Volume> {
  const result = await loadFiles(files, { seriesUid, resample });
  if (result.kind === 'choose-series') {
    const list = result.series.map((s) => `${s.uid} (${s.modality}, ${s.images} images, ${s.description || 'no description'})`).join('; ');
    throw new Error(`${input}: ${result.series.length} series found; pick one with --series: ${list}`);
  }
  return result.volume;
}

/** A DICOM SEG as a label map on the grid of the series it references (read from `referenceDir`). */
async function segOnReference(files: Awaited<ReturnType<typeof readPath>>, referenceDir: string): Promise<Volume> {
  if (files.length !== 1 || !isDicom(files[0].bytes)) throw new Error(`${files[0]?.name ?? 'input'}: --reference needs a single DICOM SEG file as input`);
  const { series } = scanDicom(await readPath(referenceDir));
  const images = series.filter((s) => s.modality !== 'SEG');
  if (images.length !== 1) throw new Error(`${referenceDir}: expected one image series, found ${images.length}`);
  const seg = await readDicomSeg(files[0], images[0]);
  const names = seg.segments.map((s) => `${s.number}=${s.label}`).join(', ');
  seg.labelmap.notices.push(`segments: ${names}`);
  return seg.labelmap;
}
