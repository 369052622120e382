/**
 * `npm run compare -- <reference> <other> [<other>...] [--labels all|N] [--staple out.nii.gz] [--json]`
 *
 * Every metric of each mask against the reference (MONAI semantics, distances in mm from the
 * reference's spacing). Foreground is every nonzero voxel; `--labels N` uses label N only;
 * `--labels all` reports each nonzero label and the mean over labels (NaN skipped).
 * `--staple out.nii.gz` runs STAPLE over all the given masks (the reference included, as observer 1),
 * writes the consensus (uint8, reference geometry) and prints each observer's sensitivity/specificity.
 * Non-finite numbers appear in the JSON as the strings "Infinity" / "NaN".
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { readNifti, writeNifti } from '../engine/io/nifti';
import { type Grid, type LabelMapComparison, type PairMetrics, PAIR_METRIC_KEYS, compareLabelMaps, compareMasks, staple } from '../engine/metrics';
import { type Volume, sameGrid } from '../engine/volume';
import { readPath, runCli } from './files';

const USAGE = 'usage: npm run compare -- <reference> <other> [<other>...] [--labels all|N] [--staple out.nii.gz] [--json]';

async function readMask(path: string): Promise<Volume> {
  const [file, pair] = await readPath(path);
  return readNifti(file, pair);
}

function parseLabels(value: string | undefined): 'binary' | 'all' | number {
  if (value === undefined) return 'binary';
  if (value === 'all') return 'all';
  const n = Number(value);
  if (!Number.isFinite(n) || n === 0 || value.trim() === '') throw new Error(`--labels must be "all" or a nonzero label value, got "${value}"`);
  return n;
}

/** JSON with Infinity / NaN kept as strings (JSON.stringify would turn them into null). */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2);
}

const fmt = (v: number) => (Number.isFinite(v) ? String(Number(v.toPrecision(6))) : String(v));

function metricLines(m: PairMetrics, indent: string): string[] {
  return PAIR_METRIC_KEYS.map((k) => `${indent}${k.padEnd(26)}${fmt(m[k])}`);
}

runCli(async () => {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { labels: { type: 'string' }, staple: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  if (positionals.length < 2) throw new Error(USAGE);
  const labels = parseLabels(values.labels);
  if (values.staple && labels === 'all') throw new Error('--staple works on one foreground: use it without --labels or with --labels N');

  const [refPath, ...otherPaths] = positionals;
  const ref = await readMask(refPath);
  const others: Volume[] = [];
  for (const path of otherPaths) {
    const v = await readMask(path);
    if (!sameGrid(ref, v)) {
      const why = ref.dims.some((d, a) => d !== v.dims[a]) ? `dims ${v.dims.join('×')} vs ${ref.dims.join('×')}` : 'voxel positions differ by more than 0.001 mm';
      throw new Error(`${path}: not on the grid of ${refPath} (${why})`);
    }
    others.push(v);
  }
  const grid: Grid = { dims: ref.dims, spacing: ref.spacing };
  const label = typeof labels === 'number' ? labels : undefined;

  type Comparison = { file: string; metrics: PairMetrics } | ({ file: string } & LabelMapComparison);
  const comparisons = others.map((v, n): Comparison => {
    const file = otherPaths[n];
    if (labels === 'all') return { file, ...compareLabelMaps(v.data, ref.data, grid) };
    return { file, metrics: compareMasks(v.data, ref.data, grid, { label }) };
  });

  let stapleReport;
  if (values.staple) {
    const s = staple([ref.data, ...others.map((v) => v.data)], { label });
    const out: Volume = { ...ref, data: s.consensus, units: 'label', notices: [], source: { format: 'nifti', name: values.staple } };
    await writeFile(values.staple, await writeNifti(out, { gzip: /\.gz$/i.test(values.staple), description: 'STAPLE consensus' }));
    stapleReport = {
      output: values.staple,
      observers: positionals.map((file, j) => ({ file, sensitivity: s.sensitivity[j], specificity: s.specificity[j] })),
      prior: s.prior,
      iterations: s.iterations,
      converged: s.converged,
      consensusVoxels: s.consensus.reduce((a, b) => a + b, 0),
    };
  }

  if (values.json) {
    const report = { reference: refPath, grid, labels, comparisons, ...(stapleReport ? { staple: stapleReport } : {}) };
    process.stdout.write(toJson(report) + '\n');
    return;
  }
  const lines = [`reference ${refPath}: ${grid.dims.join('×')} voxels of ${grid.spacing.map((s) => fmt(s)).join('×')} mm`];
  for (const c of comparisons) {
    lines.push('', `${c.file} vs reference${label !== undefined ? ` (label ${label})` : ''}`);
    if ('metrics' in c) lines.push(...metricLines(c.metrics, '  '));
    else {
      for (const p of c.perLabel) lines.push(`  label ${p.label}`, ...metricLines(p.metrics, '    '));
      lines.push('  mean over labels (NaN skipped)', ...metricLines(c.mean, '    '));
    }
  }
  if (stapleReport) {
    lines.push('', `STAPLE consensus → ${stapleReport.output} (${stapleReport.consensusVoxels} voxels; prior ${fmt(stapleReport.prior)}; ${stapleReport.iterations} iterations, ${stapleReport.converged ? 'converged' : 'NOT converged'})`);
    for (const o of stapleReport.observers) lines.push(`  ${o.file}: sensitivity ${fmt(o.sensitivity)}, specificity ${fmt(o.specificity)}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
});
