import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const hex = (c: [number, number, number]) => `rgb(${c.join(',')})`;

/** Dice per axial slice for each layer against the reference; clicking a slice jumps there. */
export function SliceDicePlot({ series, onPick }: { series: { name: string; color: [number, number, number]; values: Float64Array }[]; onPick: (k: number) => void }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!host.current || series.length === 0) return;
    const n = series[0].values.length;
    const xs = Array.from({ length: n }, (_, k) => k + 1);
    const data: uPlot.AlignedData = [xs, ...series.map((s) => Array.from(s.values, (v) => (Number.isNaN(v) ? null : v)))];
    const plot = new uPlot(
      {
        width: host.current.clientWidth || 280,
        height: 140,
        scales: { y: { range: [0, 1] } },
        axes: [{ stroke: '#aaa', label: 'slice' }, { stroke: '#aaa', size: 36 }],
        series: [{}, ...series.map((s) => ({ label: s.name, stroke: hex(s.color), width: 1.5, spanGaps: false }))],
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
      },
      data,
      host.current,
    );
    const onClick = () => {
      const idx = plot.cursor.idx;
      if (idx != null) onPick(idx);
    };
    plot.over.addEventListener('click', onClick);
    return () => {
      plot.over.removeEventListener('click', onClick);
      plot.destroy();
    };
  }, [series, onPick]);
  return <div ref={host} className="slice-plot" data-testid="slice-dice-plot" />;
}
