import { useEffect, useRef, useState } from 'react';
import type { PreviewStep } from '../../engine/inference';
import { engine } from '../engine-client';
import { useStore } from '../store';
import { getViewer } from '../viewer-instance';

/** One step's slice as a grey-scale image, scaled to its own min..max. */
function StepImage({ step }: { step: PreviewStep }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const c = canvas.current;
    if (!c || !step.data) return;
    const [rows, cols] = step.dims;
    c.width = cols;
    c.height = rows;
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of step.data) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const img = new ImageData(cols, rows);
    const scale = hi > lo ? 255 / (hi - lo) : 0;
    step.data.forEach((v, n) => {
      const g = (v - lo) * scale;
      img.data.set([g, g, g, 255], 4 * n);
    });
    c.getContext('2d')!.putImageData(img, 0, 0);
  }, [step]);
  return (
    <figure className="step">
      {step.data ? <canvas ref={canvas} /> : <div className="cropped">cropped away</div>}
      <figcaption>
        {step.name} · {step.shape.join('×')} {step.axes && `(${step.axes})`}
      </figcaption>
    </figure>
  );
}

/** The inference pipeline stored with the model, editable as JSON, with a per-step preview. */
export function PipelinePanel() {
  const scan = useStore((s) => s.scan);
  const notify = useStore((s) => s.notify);
  const [text, setText] = useState('');
  const [steps, setSteps] = useState<PreviewStep[] | null>(null);
  const [busy, setBusy] = useState(false);

  // Reloaded when the model changes: loading weights may set the pipeline's "context_slices".
  const model = useStore((s) => s.model);
  useEffect(() => {
    void engine()
      .currentPipeline()
      .then((p) => setText(JSON.stringify(p, null, 2)));
  }, [model]);

  if (!scan) return null;
  const apply = async () => {
    try {
      const p = await engine().setPipeline(JSON.parse(text));
      setText(JSON.stringify(p, null, 2));
      notify('info', `Pipeline "${p.name}" applied`);
      return true;
    } catch (err) {
      notify('error', `Pipeline not applied: ${err instanceof Error ? err.message : String(err)}`);
      return false;
    }
  };
  const preview = async () => {
    if (!(await apply())) return;
    setBusy(true);
    try {
      const k = getViewer()?.currentAxialSlice() ?? 0;
      const res = await engine().previewPipeline(scan.volume, k);
      setSteps(res);
    } catch (err) {
      notify('error', `Preview failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <details className="panel" data-testid="pipeline-panel">
      <summary>Pipeline (MONAI transforms, JSON)</summary>
      <textarea className="pipeline-json" spellCheck={false} value={text} onChange={(e) => setText(e.target.value)} rows={14} data-testid="pipeline-json" />
      <div className="row">
        <button onClick={apply}>Apply</button>
        <button onClick={preview} disabled={busy}>
          Preview on this slice
        </button>
      </div>
      {steps && (
        <div className="steps" data-testid="pipeline-steps">
          {steps.map((s, n) => (
            <StepImage key={n} step={s} />
          ))}
        </div>
      )}
    </details>
  );
}

