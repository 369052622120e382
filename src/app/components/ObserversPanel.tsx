import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Enums as ToolEnums } from '@cornerstonejs/tools';
import { eventTarget } from '../../viewer/mpr-viewer';
import type { ObserverComparison } from '../../engine/metrics/observers';
import type { PairMetrics } from '../../engine/metrics/compare';
import { comparisonCsv, comparisonJson } from '../../engine/metrics/report';
import { addDerivedLayer, compareLayers, heatPalette } from '../compare';
import { download } from '../download';
import { useStore } from '../store';
import { getViewer } from '../viewer-instance';
import { SliceDicePlot } from './SliceDicePlot';

const METRICS: { key: keyof PairMetrics; label: string; digits: number }[] = [
  { key: 'dice', label: 'Dice', digits: 3 },
  { key: 'iou', label: 'IoU', digits: 3 },
  { key: 'hausdorff95', label: 'HD95 (mm)', digits: 1 },
  { key: 'assd', label: 'ASSD (mm)', digits: 2 },
  { key: 'relativeVolumeDifference', label: 'Vol. diff', digits: 3 },
];

const show = (v: number | undefined, digits: number) => (v === undefined ? '' : Number.isNaN(v) ? '–' : v === Infinity ? '∞' : v.toFixed(digits));

export function ObserversPanel() {
  const scan = useStore((s) => s.scan);
  const layers = useStore((s) => s.layers);
  const [result, setResult] = useState<ObserverComparison | null>(null);
  const [metric, setMetric] = useState(METRICS[0]);
  const [referenceId, setReferenceId] = useState<string | null>(null);

  const run = async () => setResult(await compareLayers(referenceId));
  // Once compared, the results follow the layers: recomputed (debounced) when a layer is added,
  // removed or painted, so the model's Dice against the chosen reference stays current.
  const shown = useRef(false);
  shown.current = result !== null;
  const rerun = useRef(run);
  rerun.current = run;
  useEffect(() => {
    if (!shown.current) return;
    const timer = setTimeout(() => void rerun.current(), 600);
    return () => clearTimeout(timer);
  }, [layers, referenceId]);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onPaint = () => {
      if (!shown.current) return;
      clearTimeout(timer);
      timer = setTimeout(() => void rerun.current(), 1500);
    };
    eventTarget.addEventListener(ToolEnums.Events.SEGMENTATION_DATA_MODIFIED, onPaint);
    return () => {
      clearTimeout(timer);
      eventTarget.removeEventListener(ToolEnums.Events.SEGMENTATION_DATA_MODIFIED, onPaint);
    };
  }, []);
  const colourOf = useCallback((id: string) => layers.find((l) => l.id === id)?.color ?? [200, 200, 200], [layers]);
  const plotSeries = useMemo(
    () => (result ? result.perSlice.map((values, c) => ({ name: result.names[c], color: colourOf(result.ids[c]), values })).filter((_, c) => c !== result.reference) : []),
    [result, colourOf],
  );
  const jump = useCallback((k: number) => {
    const v = getViewer();
    if (v && scan) v.jumpTo([Math.floor(scan.volume.dims[0] / 2), Math.floor(scan.volume.dims[1] / 2), k]);
  }, [scan]);

  if (!scan) return null;
  const compared = layers.filter((l) => !l.palette);
  return (
    <section className="panel" data-testid="observers-panel">
      <h3>Observers</h3>
      <div className="row wrap">
        <label>
          Reference{' '}
          <select value={referenceId ?? ''} onChange={(e) => setReferenceId(e.target.value || null)}>
            <option value="">{compared[0]?.name ?? '—'}</option>
            {compared.slice(1).map((l) => (
              <option key={l.id} value={l.id}>
                {l.name}
              </option>
            ))}
          </select>
        </label>
        <button onClick={run} disabled={compared.length < 2}>
          Compare
        </button>
      </div>
      {result && (
        <>
          <div className="row">
            Show{' '}
            <select value={metric.key} onChange={(e) => setMetric(METRICS.find((m) => m.key === e.target.value)!)}>
              {METRICS.map((m) => (
                <option key={m.key} value={m.key}>
                  {m.label}
                </option>
              ))}
            </select>
          </div>
          <table className="matrix" data-testid="metric-matrix">
            <thead>
              <tr>
                <th title="rows: reference; columns: compared layer">ref \ layer</th>
                {result.names.map((n) => (
                  <th key={n}>{n}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {result.metrics.map((row, r) => (
                <tr key={result.ids[r]}>
                  <th>{result.names[r]}</th>
                  {row.map((m, c) => (
                    <td key={c}>{m ? show(m[metric.key], metric.digits) : '·'}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          {result.staple && (
            <>
              <table className="matrix" data-testid="staple-table">
                <thead>
                  <tr>
                    <th>STAPLE</th>
                    <th>sensitivity</th>
                    <th>specificity</th>
                  </tr>
                </thead>
                <tbody>
                  {result.staple.ids.map((id, j) => (
                    <tr key={id}>
                      <th>{layers.find((l) => l.id === id)?.name ?? id}</th>
                      <td>{show(result.staple!.sensitivity[j], 3)}</td>
                      <td>{show(result.staple!.specificity[j], 4)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <p className="hint">
                EM {result.staple.converged ? 'converged' : 'stopped'} after {result.staple.iterations} iterations; prior {result.staple.prior.toExponential(2)}.
              </p>
              <div className="row wrap">
                <button onClick={() => addDerivedLayer('STAPLE consensus', 'consensus', result.consensus!.slice(), { color: [255, 255, 255] })}>Add STAPLE layer</button>
                <button onClick={() => addDerivedLayer('Majority vote', 'consensus', result.majority!.slice(), { color: [255, 215, 0] })}>Add majority layer</button>
                <button
                  onClick={() => {
                    const n = result.staple!.ids.length;
                    addDerivedLayer('Agreement', 'agreement', result.agreement!.slice(), { palette: heatPalette(n), opacity: 0.6 });
                  }}
                >
                  Agreement heat map
                </button>
              </div>
            </>
          )}
          <div className="row">
            Export
            <button onClick={() => download(comparisonCsv(result, { scan: scan.name, spacing: scan.volume.spacing }), 'observer-comparison.csv', 'text/csv')}>CSV</button>
            <button onClick={() => download(comparisonJson(result, { scan: scan.name, spacing: scan.volume.spacing }), 'observer-comparison.json', 'application/json')}>JSON</button>
          </div>
          <h4>Dice per slice vs {result.names[result.reference]}</h4>
          <SliceDicePlot series={plotSeries} onPick={jump} />
        </>
      )}
    </section>
  );
}
