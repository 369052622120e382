/**
 * `npm run info -- <file-or-folder> [--series UID]`: what a scan is, as JSON (like nib-ls).
 * The affine is voxel → world in RAS (nibabel's convention) and in LPS (DICOM's); both are printed.
 */
import { parseArgs } from 'node:util';
import { loadFiles } from '../engine/io/load';
import { affineLPS, affineToRAS, axisCodes, intensityStats, type Mat4 } from '../engine/volume';
import { readPath, runCli } from './files';

const rows = (m: Mat4) => [0, 1, 2, 3].map((r) => m.slice(4 * r, 4 * r + 4).map((x) => Number(x.toFixed(6))));

runCli(async () => {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { series: { type: 'string' } } });
  if (positionals.length !== 1) throw new Error('usage: npm run info -- <file-or-folder> [--series UID]');
  const result = await loadFiles(await readPath(positionals[0]), { seriesUid: values.series });
  if (result.kind === 'choose-series') {
    process.stdout.write(JSON.stringify({ series: result.series }, null, 2) + '\n');
    throw new Error(`${positionals[0]}: ${result.series.length} series found; pick one with --series UID`);
  }
  const v = result.volume;
  const stats = intensityStats(v.data);
  const out = {
    file: positionals[0],
    format: v.source?.format,
    dims: v.dims,
    spacing: v.spacing,
    axcodes: axisCodes(v),
    affine_ras: rows(affineToRAS(v)),
    affine_lps: rows(affineLPS(v)),
    datatype: v.data.constructor.name.replace('Array', '').toLowerCase(),
    units: v.units,
    min: stats.min,
    max: stats.max,
    mean: Number(stats.mean.toFixed(4)),
    warnings: v.notices,
  };
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
});
