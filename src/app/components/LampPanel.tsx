import { useState } from 'react';
import { unetPipeInputSize } from '../../engine/parallel/input-size';
import type { PipelinePlan } from '../../engine/parallel';
import type { LampPlanRequest, LampRunResult, LampTrainCheckResult, LampWeightsInfo } from '../../engine/worker/lamp';
import { engine } from '../engine-client';
import { checkLampTrainingOnWorkers, loadLampWeightsFile, runLampOnScan } from '../lamp';
import { useStore } from '../store';
import { WeightsFileInput } from './WeightsFileInput';

/** Bytes as MiB, or KiB below one MiB (tiny test networks). */
const mem = (b: number) => (b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 1024).toFixed(1)} KiB`);
/** Checking against the unpartitioned network is on by default up to this padded size. */
const CHECK_DEFAULT_VOXELS = 128 ** 3;

function PlanTable({ plan }: { plan: PipelinePlan }) {
  return (
    <>
      <table className="matrix" data-testid="lamp-stages">
        <thead>
          <tr>
            <th>stage</th>
            <th>layers</th>
            <th>first … last layer</th>
            <th>params</th>
            <th>activations</th>
            <th>total</th>
            <th>fits</th>
          </tr>
        </thead>
        <tbody>
          {plan.stages.map((s) => (
            <tr key={s.index} data-bytes={s.bytes}>
              <th>{s.index}</th>
              <td title={s.layers.join(', ')}>
                {s.from}–{s.to - 1}
              </td>
              <td>
                {s.layers[0]} … {s.layers[s.layers.length - 1]}
              </td>
              <td>{mem(s.paramBytes)}</td>
              <td>{mem(plan.parkSkips ? s.parkedActivationBytes : s.activationBytes)}</td>
              <td>{mem(s.bytes)}</td>
              <td>{s.fits ? 'yes' : 'no'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="hint" data-testid="lamp-skips">
        {plan.crossing.length > 0
          ? `Skips crossing stages${plan.parkSkips ? ' (parked in CPU memory between stages)' : ' (kept on the device)'}: ` +
            plan.crossing.map((c) => `${c.stashLayer} (stage ${c.stashStage}) → ${c.popLayer} (stage ${c.popStage}), ${mem(c.bytes)}`).join('; ')
          : 'No skip crosses a stage boundary.'}
      </p>
    </>
  );
}

/** LAMP: how a large 3D U-Net splits into stages under a memory budget, and a staged run on the open scan. */
export function LampPanel() {
  const notify = useStore((s) => s.notify);
  const scan = useStore((s) => s.scan);
  const busy = useStore((s) => s.busy);
  const [req, setReq] = useState<LampPlanRequest>({ nFeat: 32, outChannels: 2, size: [64, 64, 64], mode: 'inference', batch: 1, microBatches: 1, budgetMiB: 256 });
  const [result, setResult] = useState<{ plan: PipelinePlan; parameters: number; maxBufferBytes: number | null } | null>(null);
  const [planning, setPlanning] = useState(false);
  const [weights, setWeights] = useState<LampWeightsInfo | null>(null);
  const [check, setCheck] = useState<boolean | null>(null);
  const [progress, setProgress] = useState<string | null>(null);
  const [run, setRun] = useState<LampRunResult | null>(null);
  const [placement, setPlacement] = useState<'one' | 'workers'>('one');
  const [workers, setWorkers] = useState(2);
  const [workerBackend, setWorkerBackend] = useState<'' | 'webgpu' | 'wasm' | 'cpu'>('');
  const [trainCheck, setTrainCheck] = useState<LampTrainCheckResult | null>(null);
  const set = (patch: Partial<LampPlanRequest>) => setReq((r) => ({ ...r, ...patch }));
  const scanSize = scan ? unetPipeInputSize(scan.volume.dims) : null;
  const checkWhole = check ?? (scanSize ? scanSize[0] * scanSize[1] * scanSize[2] <= CHECK_DEFAULT_VOXELS : true);

  const plan = async () => {
    if (req.size.some((s) => s % 32 !== 0 || s < 32)) {
      notify('error', 'LAMP: input sizes must be multiples of 32 (five stride-2 stages).');
      return;
    }
    setPlanning(true);
    try {
      setResult(await engine().planLamp(req));
    } catch (err) {
      notify('error', `LAMP plan failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      setPlanning(false);
    }
  };
  const runStaged = async () => {
    setRun(null);
    setProgress('starting');
    const res = await runLampOnScan({ nFeat: req.nFeat, outChannels: req.outChannels, budgetMiB: req.budgetMiB, compareWhole: checkWhole, placement, workers, workerBackend: workerBackend || undefined }, setProgress);
    setProgress(null);
    if (res) {
      setRun(res);
      setResult({ plan: res.plan, parameters: res.parameters, maxBufferBytes: result?.maxBufferBytes ?? null });
    }
  };

  const checkTraining = async () => {
    setTrainCheck(null);
    setProgress('starting');
    const res = await checkLampTrainingOnWorkers({ nFeat: req.nFeat, outChannels: req.outChannels, size: req.size, batch: req.batch, microBatches: req.microBatches, workers, workerBackend: workerBackend || undefined }, setProgress);
    setProgress(null);
    setTrainCheck(res);
  };

  return (
    <details className="panel" data-testid="lamp-panel">
      <summary>LAMP model partitioning (3D U-Net)</summary>
      <div className="form">
        <label className="field">
          base filters
          <select value={req.nFeat} disabled={!!weights} onChange={(e) => set({ nFeat: Number(e.target.value) })}>
            {[2, 4, 8, 16, 32, 64, 128].map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
        </label>
        <label className="field">
          classes
          <input type="number" min={2} max={255} value={req.outChannels} disabled={!!weights} onChange={(e) => set({ outChannels: Number(e.target.value) })} />
        </label>
        <label className="field">
          input size (voxels)
          <input value={req.size.join(',')} onChange={(e) => set({ size: e.target.value.split(',').map(Number) as [number, number, number] })} />
        </label>
        {scanSize && (
          <button onClick={() => set({ size: scanSize, mode: 'inference', batch: 1, microBatches: 1 })} title="the open scan as (k, j, i), padded to multiples of 32">
            This scan's size
          </button>
        )}
        <label className="field">
          mode
          <select value={req.mode} onChange={(e) => set({ mode: e.target.value as LampPlanRequest['mode'] })}>
            <option value="inference">inference</option>
            <option value="training">training (Adam)</option>
          </select>
        </label>
        <label className="field">
          stage budget (MiB)
          <input type="number" value={req.budgetMiB} onChange={(e) => set({ budgetMiB: Number(e.target.value) })} />
        </label>
        <label className="field">
          batch
          <input type="number" value={req.batch} onChange={(e) => set({ batch: Number(e.target.value) })} />
        </label>
        <label className="field">
          micro-batches
          <input type="number" value={req.microBatches} onChange={(e) => set({ microBatches: Number(e.target.value) })} />
        </label>
      </div>
      <button disabled={planning} onClick={plan}>
        {planning ? 'Profiling…' : 'Profile and plan'}
      </button>
      {result && (
        <div data-testid="lamp-plan">
          <p className="hint">
            {result.parameters.toLocaleString('en')} parameters · {result.plan.stages.length} stage(s) · whole network {mem(result.plan.wholeBytes)}
            {result.maxBufferBytes ? ` · largest buffer allowed ${mem(result.maxBufferBytes)}` : ''}
            {result.plan.parkSkips ? ' · skips parked in CPU memory' : ''}
          </p>
          <PlanTable plan={result.plan} />
        </div>
      )}

      <h4>Staged inference on the open scan</h4>
      {!scan && <p className="hint">Open a scan to run UNetPipe on it stage by stage.</p>}
      <p className="hint" data-testid="lamp-weights">
        {weights
          ? `Weights: ${weights.name} (base filters ${weights.nFeat}, ${weights.outChannels} classes, ${weights.parameters.toLocaleString('en')} parameters)`
          : `Weights: random (seed 1), base filters ${req.nFeat}, ${req.outChannels} classes`}
      </p>
      <div className="row wrap">
        <WeightsFileInput
          label="UNetPipe weights (.pt)…"
          testId="lamp-weights-input"
          onFile={async (f) => {
            const info = await loadLampWeightsFile(f);
            if (info) setWeights(info);
          }}
        />
        {weights && (
          <button
            onClick={async () => {
              await engine().clearLampWeights();
              setWeights(null);
            }}
          >
            Random weights
          </button>
        )}
      </div>
      <div className="form">
        <label className="field" title="On workers, each stage runs in its own Web Worker with its own TF.js backend (for WebGPU its own GPU device); stages overlap on a stream of micro-batches">
          stages run
          <select value={placement} onChange={(e) => setPlacement(e.target.value as 'one' | 'workers')}>
            <option value="one">in turn on this device</option>
            <option value="workers">on workers, one device each</option>
          </select>
        </label>
        {placement === 'workers' && (
          <label className="field">
            workers (stages)
            <input type="number" min={1} max={30} value={workers} onChange={(e) => setWorkers(Number(e.target.value))} />
          </label>
        )}
        {placement === 'workers' && (
          <label className="field" title="wasm workers spread the stages over CPU cores; webgpu workers each hold a GPU device (on a software adapter a training step can trip the browser's GPU watchdog)">
            worker backend
            <select value={workerBackend} onChange={(e) => setWorkerBackend(e.target.value as typeof workerBackend)}>
              <option value="">same as the app</option>
              <option value="webgpu">webgpu</option>
              <option value="wasm">wasm</option>
              <option value="cpu">cpu</option>
            </select>
          </label>
        )}
      </div>
      <label className="row">
        <input type="checkbox" checked={checkWhole} onChange={(e) => setCheck(e.target.checked)} /> check against the unpartitioned model
      </label>
      <div className="row">
        <button disabled={!scan || !!busy} onClick={runStaged}>
          Run staged on this scan
        </button>
        {placement === 'workers' && (
          <button disabled={!!busy} onClick={checkTraining} title="One training step (Adam, random batch of the size, batch and micro-batches above) on the stage workers and on one worker holding the whole network; the weights after both are compared">
            Check a training step on the workers
          </button>
        )}
        {progress !== null && <button onClick={() => void engine().cancelLamp()}>Cancel</button>}
      </div>
      {progress !== null && (
        <p className="hint" data-testid="lamp-progress">
          {progress}
        </p>
      )}
      {run && (
        <p className="hint" data-testid="lamp-run">
          On {run.workers ? <span data-testid="lamp-workers">{run.workers.length} workers ({run.workers.join('; ')})</span> : run.backend}: {run.plan.stages.length} stage(s) for the padded {run.paddedSize.join('×')} input ({run.normalisation}),{' '}
          {run.plan.crossing.length} crossing skip(s){run.plan.parkSkips ? ' parked in CPU memory' : ''}; staged {(run.stagedMs / 1000).toFixed(2)} s
          {run.stageBusyMs && ` (stages busy ${run.stageBusyMs.map((b) => (b / 1000).toFixed(2)).join(' / ')} s)`}
          {run.maxAbsDiff !== undefined && (
            <>
              ; whole network {(run.wholeMs! / 1000).toFixed(2)} s; max |Δlogit| staged vs whole = <span data-testid="lamp-delta">{run.maxAbsDiff.toExponential(2)}</span>
            </>
          )}
          . Mask layer added: {run.classVoxels.map((n, c) => `class ${c} ${n.toLocaleString('en')}`).join(', ')} voxels.
        </p>
      )}
      {trainCheck && (
        <p className="hint" data-testid="lamp-train-check">
          Training step (Adam, lr {trainCheck.lr}) on {trainCheck.workers.length} stage workers ({trainCheck.workers.join('; ')}), stages{' '}
          {trainCheck.stages.map((s) => `${s.from}–${s.to - 1}`).join(' / ')}: loss {trainCheck.stagedLoss.toFixed(5)} in {(trainCheck.stagedMs / 1000).toFixed(2)} s (stages busy{' '}
          {trainCheck.stageBusyMs.map((b) => (b / 1000).toFixed(2)).join(' / ')} s); whole network on
          one worker: loss {trainCheck.wholeLoss.toFixed(5)} in {(trainCheck.wholeMs / 1000).toFixed(2)} s; max |Δweight| ={' '}
          <span data-testid="lamp-train-delta">{trainCheck.maxAbsWeightDiff.toExponential(2)}</span>.
        </p>
      )}
    </details>
  );
}
