/** Fine-tuning from the UI: starts, pauses, resumes and cancels the worker's trainer, and keeps its curves. */
import * as Comlink from 'comlink';
import { create } from 'zustand';
import type { StepInfo } from '../engine/training/trainer';
import type { FineTuneRequest, FineTuneSummary } from '../engine/worker/finetune';
import { download } from './download';
import { engine } from './engine-client';
import { useStore } from './store';

export type FineTuneOptions = Omit<FineTuneRequest, 'scanKey' | 'volume' | 'observers'>;

export const DEFAULT_FINETUNE: FineTuneOptions = {
  labels: 'staple',
  loss: { kind: 'nrdice', gamma: 1.5 },
  optimizer: 'adam',
  learningRate: 1e-4,
  steps: 100,
  batchSize: 4,
  patchSize: 96,
  batchNorm: 'train',
  freezeEncoder: false,
  selfEnsembling: true,
  validateEvery: 10,
  checkpointEvery: 20,
  validationFraction: 0.2,
};

interface FineTuneState {
  status: 'idle' | 'running' | 'paused' | 'done';
  /** Updates the run aims at (a resumed run keeps its saved target). */
  total: number;
  history: StepInfo[];
  summary: FineTuneSummary | null;
}

/** The run's live state, kept apart from the main store so 10 updates a second don't touch the rest. */
export const useFineTune = create<FineTuneState>(() => ({ status: 'idle', total: 0, history: [], summary: null }));

/** "0.412 → 0.530", or null when no validation slab was held out (the Dice is then NaN). */
export function diceChange(s: FineTuneSummary): string | null {
  const f = (d: number) => (Number.isNaN(d) ? '–' : d.toFixed(3));
  return Number.isNaN(s.diceAfter) ? null : `${f(s.diceBefore)} → ${f(s.diceAfter)}`;
}

export async function startFineTune(opts: FineTuneOptions, resume = false): Promise<void> {
  const { scan, layers, notify } = useStore.getState();
  if (!scan) return;
  const observers = layers.filter((l) => l.kind === 'observer').map((l) => ({ name: l.name, mask: l.data.slice() }));
  const saved = resume ? await engine().hasFineTuneCheckpoint(scan.key) : null;
  // The worker replays a resumed run's saved history, so the curves always start empty here.
  useFineTune.setState({ status: 'running', total: saved?.steps ?? opts.steps, history: [], summary: null });
  try {
    const summary = await engine().startFineTune(
      { ...opts, scanKey: scan.key, volume: scan.volume, observers },
      resume,
      Comlink.proxy((info: StepInfo) => useFineTune.setState((s) => ({ history: [...s.history, info] }))),
    );
    useFineTune.setState({ status: 'done', summary });
    const dice = diceChange(summary);
    notify('info', `Fine-tuning ${summary.state} after ${summary.steps} steps${dice ? `: validation Dice ${dice}` : ''}`);
  } catch (err) {
    useFineTune.setState({ status: 'idle' });
    notify('error', `Fine-tuning failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Resolves once the worker has paused and saved its checkpoint. */
export async function pauseFineTune(): Promise<void> {
  await engine().pauseFineTune();
  // Unless the run ended during the update the pause waited for.
  if (useFineTune.getState().status === 'running') useFineTune.setState({ status: 'paused' });
}

export async function resumeFineTune(): Promise<void> {
  await engine().resumeFineTune();
  useFineTune.setState({ status: 'running' });
}

export async function cancelFineTune(): Promise<void> {
  await engine().cancelFineTune();
}

export async function applyFineTuned(): Promise<void> {
  const { notify, setModel } = useStore.getState();
  try {
    await engine().applyFineTuned();
    const info = await engine().currentModelInfo();
    setModel(info);
    useFineTune.setState({ status: 'idle', summary: null });
    notify('info', 'The fine-tuned weights now segment; run "Segment lesions" to compare with the previous model layer.');
  } catch (err) {
    notify('error', err instanceof Error ? err.message : String(err));
  }
}

export async function downloadFineTuned(format: 'safetensors' | 'pt'): Promise<void> {
  download(await engine().fineTunedWeights(format), format === 'pt' ? 'coplenet_finetuned_monai_dict.pt' : 'coplenet_finetuned.safetensors');
}

/** Scan, labels and weights as a MONAI datalist zip, to continue training with PyTorch elsewhere. */
export async function exportForMonai(): Promise<void> {
  const { scan, layers, notify } = useStore.getState();
  if (!scan) return;
  const chosen = layers.filter((l) => l.kind === 'observer' || l.kind === 'consensus');
  if (chosen.length === 0) {
    notify('info', 'Nothing to export: add observer or consensus layers first.');
    return;
  }
  try {
    const zip = await engine().exportDataset(
      scan.name,
      scan.volume,
      chosen.map((l) => ({ name: l.name, mask: l.data.slice() })),
      chosen.filter((l) => l.kind === 'consensus').map((l) => l.name),
    );
    download(zip, `${scan.name.replace(/[^A-Za-z0-9._-]+/g, '_')}_monai_dataset.zip`, 'application/zip');
  } catch (err) {
    notify('error', `Export failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}
