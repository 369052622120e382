import { useEffect, useState } from 'react';
import { applyFineTuned, cancelFineTune, DEFAULT_FINETUNE, diceChange, downloadFineTuned, exportForMonai, pauseFineTune, resumeFineTune, startFineTune, useFineTune, type FineTuneOptions } from '../finetune';
import { engine } from '../engine-client';
import { useStore } from '../store';
import { TrainingChart } from './TrainingChart';

function NumberField({ label, value, onChange, step }: { label: string; value: number; onChange: (v: number) => void; step?: number }) {
  return (
    <label className="field">
      {label}
      <input type="number" value={value} step={step} onChange={(e) => onChange(Number(e.target.value))} />
    </label>
  );
}

/** Fine-tune COPLE-Net on this scan's observer labels, on the local GPU (or CPU), with live curves. */
export function FineTunePanel() {
  const scan = useStore((s) => s.scan);
  const model = useStore((s) => s.model);
  const layers = useStore((s) => s.layers);
  const { status, total, history, summary } = useFineTune();
  const [o, setO] = useState<FineTuneOptions>(DEFAULT_FINETUNE);
  const [saved, setSaved] = useState<{ step: number; steps: number } | null>(null);
  const set = (patch: Partial<FineTuneOptions>) => setO((x) => ({ ...x, ...patch }));
  const last = history.at(-1);

  // Checkpoints are written on pause, at the end and every `checkpointEvery` updates.
  const lastStep = last?.step ?? 0;
  const checkpointDue = status !== 'running' || (o.checkpointEvery > 0 && lastStep % o.checkpointEvery === 0);
  useEffect(() => {
    if (scan && checkpointDue) void engine().hasFineTuneCheckpoint(scan.key).then(setSaved);
  }, [scan, status, lastStep, checkpointDue]);

  if (!scan) return null;
  const dice = summary && diceChange(summary);
  const targets = [
    ...layers.filter((l) => l.kind === 'observer').map((l) => ({ value: `observer:${l.name}`, label: l.name })),
    { value: 'each-observer', label: 'each observer as a sample' },
    { value: 'staple', label: 'STAPLE consensus' },
    { value: 'majority', label: 'majority vote' },
  ];
  return (
    <details className="panel" data-testid="finetune-panel">
      <summary>Fine-tune on these labels</summary>
      {!model && <p className="hint">Load a model first (Lesion segmentation).</p>}
      <div className="form">
        <label className="field">
          Target
          <select value={o.labels} onChange={(e) => set({ labels: e.target.value })}>
            {targets.map((t) => (
              <option key={t.value} value={t.value}>
                {t.label}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          Loss
          <select
            value={o.loss.kind}
            onChange={(e) => set({ loss: e.target.value === 'nrdice' ? { kind: 'nrdice', gamma: 1.5 } : ({ kind: e.target.value } as FineTuneOptions['loss']) })}
          >
            <option value="nrdice">noise-robust Dice</option>
            <option value="dice">Dice</option>
            <option value="ce">cross-entropy</option>
            <option value="dicece">Dice + CE</option>
          </select>
        </label>
        {o.loss.kind === 'nrdice' && <NumberField label="γ" value={o.loss.gamma ?? 1.5} step={0.1} onChange={(gamma) => set({ loss: { kind: 'nrdice', gamma } })} />}
        <label className="field">
          Optimizer
          <select value={o.optimizer} onChange={(e) => set({ optimizer: e.target.value as 'adam' | 'sgd' })}>
            <option value="adam">Adam</option>
            <option value="sgd">SGD + momentum</option>
          </select>
        </label>
        <NumberField label="learning rate" value={o.learningRate} step={1e-5} onChange={(learningRate) => set({ learningRate })} />
        <NumberField label="steps" value={o.steps} onChange={(steps) => set({ steps })} />
        <NumberField label="batch" value={o.batchSize} onChange={(batchSize) => set({ batchSize })} />
        <NumberField label="patch" value={o.patchSize} step={16} onChange={(patchSize) => set({ patchSize })} />
        <NumberField label="checkpoint every" value={o.checkpointEvery} onChange={(checkpointEvery) => set({ checkpointEvery })} />
        <NumberField label="validate every" value={o.validateEvery} onChange={(validateEvery) => set({ validateEvery })} />
        <NumberField label="held-out fraction" value={o.validationFraction} step={0.05} onChange={(validationFraction) => set({ validationFraction })} />
        <label className="field">
          <input type="checkbox" checked={o.selfEnsembling} onChange={(e) => set({ selfEnsembling: e.target.checked })} /> adaptive self-ensembling
        </label>
        <label className="field">
          <input type="checkbox" checked={o.batchNorm === 'frozen'} onChange={(e) => set({ batchNorm: e.target.checked ? 'frozen' : 'train' })} /> freeze BatchNorm
        </label>
        <label className="field">
          <input type="checkbox" checked={o.freezeEncoder} onChange={(e) => set({ freezeEncoder: e.target.checked })} /> freeze encoder
        </label>
      </div>
      <div className="row wrap">
        {status === 'idle' || status === 'done' ? (
          <>
            <button disabled={!model} onClick={() => startFineTune(o)}>
              Train
            </button>
            {saved && saved.step < saved.steps && status === 'idle' && (
              <button disabled={!model} onClick={() => startFineTune(o, true)}>
                Resume from step {saved.step}
              </button>
            )}
          </>
        ) : (
          <>
            {status === 'running' ? <button onClick={pauseFineTune}>Pause</button> : <button onClick={resumeFineTune}>Resume</button>}
            <button onClick={cancelFineTune}>Cancel</button>
          </>
        )}
      </div>
      {(history.length > 0 || status === 'running') && (
        <>
          <p className="hint" data-testid="finetune-status">
            {status} · step {lastStep}/{total} · loss {last ? last.loss.toFixed(4) : '–'} · {last ? last.stepsPerSec.toFixed(2) : '–'} steps/s
          </p>
          <TrainingChart history={history} />
        </>
      )}
      {saved && (
        <p className="hint" data-testid="finetune-checkpoint">
          Checkpoint in this browser: step {saved.step} of {saved.steps}
        </p>
      )}
      <div className="row">
        <button title="Scan, labels (observers → training, consensus → validation) and weights as a MONAI datalist zip" onClick={exportForMonai}>
          Export dataset for MONAI…
        </button>
      </div>
      {summary && (
        <div data-testid="finetune-summary">
          <p className="hint">{dice ? `Validation Dice on the held-out slices: ${dice}.` : 'No slices held out for validation.'}</p>
          <div className="row wrap">
            <button onClick={applyFineTuned}>Use the new weights</button>
            <button onClick={() => downloadFineTuned('pt')}>Download .pt (MONAI)</button>
            <button onClick={() => downloadFineTuned('safetensors')}>Download .safetensors</button>
          </div>
        </div>
      )}
    </details>
  );
}
