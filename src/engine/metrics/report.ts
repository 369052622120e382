/**
 * The observer comparison as files a user keeps: CSV (one row per reference × layer pair, every
 * metric) and JSON (the same plus STAPLE), both stating the scan, reference and spacing used.
 */
import { PAIR_METRIC_KEYS } from './compare';
import type { ObserverComparison } from './observers';

export interface ReportContext {
  scan: string;
  spacing: [number, number, number];
}

const cell = (v: string | number) => {
  const s = typeof v === 'number' ? (Number.isNaN(v) ? 'NaN' : String(v)) : v;
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

export function comparisonCsv(c: ObserverComparison, ctx: ReportContext): string {
  const head = ['scan', 'spacing_mm', 'reference', 'layer', ...PAIR_METRIC_KEYS];
  const rows = [head.join(',')];
  c.metrics.forEach((row, r) =>
    row.forEach((m, col) => {
      if (!m) return;
      rows.push([ctx.scan, ctx.spacing.join('x'), c.names[r], c.names[col], ...PAIR_METRIC_KEYS.map((k) => m[k])].map(cell).join(','));
    }),
  );
  return rows.join('\n') + '\n';
}

export function comparisonJson(c: ObserverComparison, ctx: ReportContext): string {
  const pairs = c.metrics.flatMap((row, r) => row.flatMap((m, col) => (m ? [{ reference: c.names[r], layer: c.names[col], ...m }] : [])));
  const staple = c.staple && {
    iterations: c.staple.iterations,
    converged: c.staple.converged,
    prior: c.staple.prior,
    observers: c.staple.ids.map((id, j) => ({ layer: c.names[c.ids.indexOf(id)], sensitivity: c.staple!.sensitivity[j], specificity: c.staple!.specificity[j] })),
  };
  // JSON has no Infinity/NaN: write them as strings, as MONAI's fixtures do.
  return JSON.stringify({ scan: ctx.scan, spacing_mm: ctx.spacing, layers: c.names, pairs, staple }, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2);
}
