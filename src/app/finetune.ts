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
  history: StepInfo[];
  summary: FineTuneSummary | null;
}

/** The run's live state, kept apart from the main store so 10 updates a second don't touch the rest. */
export const useFineTune = create<FineTuneState>(() => ({ status: 'idle', history: [], summary: null }));

export async function startFineTune(opts: FineTuneOptions, resume = false): Promise<void> {
  const { scan, layers, notify } = useStore.getState();
  if (!scan) return;
  const observers = layers.filter((l) => l.kind === 'observer').map((l) => ({ name: l.name, mask: l.data.slice() }));
  useFineTune.setState({ status: 'running', history: resume ? useFineTune.getState().history : [], summary: null });
  try {
    const summary = await engine().startFineTune(
      { ...opts, scanKey: scan.key, volume: scan.volume, observers },
      resume,
      Comlink.proxy((info: StepInfo) => useFineTune.setState((s) => ({ history: [...s.history, info] }))),
    );
    useFineTune.setState({ status: 'done', summary });
    notify('info', `Fine-tuning ${summary.state} after ${summary.steps} steps: validation Dice ${summary.diceBefore.toFixed(3)} → ${summary.diceAfter.toFixed(3)}`);
  } catch (err) {
    useFineTune.setState({ status: 'idle' });
    notify('error', `Fine-tuning failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export async function pauseFineTune(): Promise<void> {
  await engine().pauseFineTune();
  useFineTune.setState({ status: 'paused' });
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
