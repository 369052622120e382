import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import type { StepInfo } from '../../engine/training/trainer';

/** Live training curves: loss, validation Dice (0…1) and steps/s against the step. */
export function TrainingChart({ history }: { history: StepInfo[] }) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    if (!host.current) return;
    plot.current = new uPlot(
      {
        width: host.current.clientWidth || 320,
        height: 150,
        scales: { x: { time: false }, dice: { range: [0, 1] } },
        axes: [{ stroke: '#aaa' }, { stroke: '#aaa', size: 40 }, { stroke: '#8c8', side: 1, scale: 'dice', size: 36 }],
        series: [
          { label: 'step' },
          { label: 'loss', stroke: '#e6a040', width: 1.5 },
          { label: 'val Dice', stroke: '#60c060', width: 2, scale: 'dice', points: { show: true } },
          { label: 'steps/s', stroke: '#6090e0', width: 1, scale: 'dice' },
        ],
      },
      [[], [], [], []],
      host.current,
    );
    return () => plot.current?.destroy();
  }, []);
  useEffect(() => {
    if (!plot.current || !host.current) return;
    plot.current.setData([
      history.map((h) => h.step),
      history.map((h) => h.loss),
      history.map((h) => h.valDice ?? null),
      history.map((h) => h.stepsPerSec),
    ]);
    // What the chart plots, readable from outside the canvas (tests, assistive tools).
    const [steps, losses] = plot.current.data;
    host.current.dataset.points = String(steps.length);
    host.current.dataset.steps = steps.join(',');
    host.current.dataset.losses = (losses as (number | null)[]).map((v) => (v == null ? '' : v.toPrecision(6))).join(',');
  }, [history]);
  return <div ref={host} className="slice-plot" data-testid="training-chart" />;
}
