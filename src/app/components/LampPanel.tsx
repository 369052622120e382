import { useState } from 'react';
import type { PipelinePlan } from '../../engine/parallel';
import type { LampPlanRequest } from '../../engine/worker/lamp';
import { engine } from '../engine-client';
import { useStore } from '../store';

const mib = (b: number) => (b / 2 ** 20).toFixed(1);

/** LAMP: how a large 3D U-Net splits into stages for an input size under a memory budget. */
export function LampPanel() {
  const notify = useStore((s) => s.notify);
  const [req, setReq] = useState<LampPlanRequest>({ nFeat: 32, outChannels: 2, size: [64, 64, 64], mode: 'inference', batch: 1, microBatches: 1, budgetMiB: 256 });
  const [result, setResult] = useState<{ plan: PipelinePlan; parameters: number; maxBufferBytes: number | null } | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (patch: Partial<LampPlanRequest>) => setReq((r) => ({ ...r, ...patch }));
  const plan = async () => {
    if (req.size.some((s) => s % 32 !== 0 || s < 32)) {
      notify('error', 'LAMP: input sizes must be multiples of 32 (five stride-2 stages).');
      return;
    }
    setBusy(true);
    try {
      setResult(await engine().planLamp(req));
    } catch (err) {
      notify('error', `LAMP plan failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <details className="panel" data-testid="lamp-panel">
      <summary>LAMP model partitioning (3D U-Net)</summary>
      <div className="form">
        <label className="field">
          base filters
          <select value={req.nFeat} onChange={(e) => set({ nFeat: Number(e.target.value) })}>
            {[8, 16, 32, 64, 128].map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
        </label>
        <label className="field">
          input size (voxels)
          <input value={req.size.join(',')} onChange={(e) => set({ size: e.target.value.split(',').map(Number) as [number, number, number] })} />
        </label>
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
      <button disabled={busy} onClick={plan}>
        {busy ? 'Profiling…' : 'Profile and plan'}
      </button>
      {result && (
        <div data-testid="lamp-plan">
          <p className="hint">
            {result.parameters.toLocaleString('en')} parameters · {result.plan.stages.length} stage(s) · whole network {mib(result.plan.wholeBytes)} MiB
            {result.maxBufferBytes ? ` · largest buffer allowed ${mib(result.maxBufferBytes)} MiB` : ''}
            {result.plan.parkSkips ? ' · skips parked in CPU memory' : ''}
          </p>
          <table className="matrix">
            <thead>
              <tr>
                <th>stage</th>
                <th>layers</th>
                <th>params MiB</th>
                <th>activ. MiB</th>
                <th>fits</th>
              </tr>
            </thead>
            <tbody>
              {result.plan.stages.map((s) => (
                <tr key={s.index}>
                  <th>{s.index}</th>
                  <td title={s.layers.join(', ')}>
                    {s.from}–{s.to - 1}
                  </td>
                  <td>{mib(s.paramBytes)}</td>
                  <td>{mib(result.plan.parkSkips ? s.parkedActivationBytes : s.activationBytes)}</td>
                  <td>{s.fits ? 'yes' : 'no'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {result.plan.crossing.length > 0 && (
            <p className="hint">
              Skips crossing stages:{' '}
              {result.plan.crossing.map((c) => `${c.stashLayer} (stage ${c.stashStage}) → ${c.popLayer} (stage ${c.popStage}), ${mib(c.bytes)} MiB`).join('; ')}
            </p>
          )}
        </div>
      )}
    </details>
  );
}
