/**
 * Fine-tuning the loaded model on the open scan's labels, inside the engine worker: the trainer
 * (training/trainer.ts) on patches of the scan's lower slices, validated on a held-out slab of its
 * upper slices against the chosen target, with checkpoints in IndexedDB so a run survives a reload.
 */
import { fnv1a } from '../hash';
import { InputError } from '../io/errors';
import type { CheckpointStore } from '../training/checkpoint';
import { casesFromScans, parseLabelSource, prepareCases, validationSlices, type PreparedCase } from '../training/data';
import { Trainer, type LossSpec, type StepInfo, type TrainerConfig } from '../training/trainer';
import { readWeights, writeTorchCheckpoint } from '../weights';
import type { Volume } from '../volume';
import { currentModel, currentWeights, loadModel } from './compute';

export interface FineTuneRequest {
  /** Checkpoint key: one run per scan. */
  scanKey: string;
  volume: Volume;
  observers: { name: string; mask: Uint8Array }[];
  /** 'observer:<name>' | 'each-observer' | 'staple' | 'majority'. */
  labels: string;
  loss: LossSpec;
  optimizer: 'adam' | 'sgd';
  learningRate: number;
  steps: number;
  batchSize: number;
  patchSize: number;
  batchNorm: 'train' | 'frozen';
  freezeEncoder: boolean;
  selfEnsembling: boolean;
  validateEvery: number;
  checkpointEvery: number;
  /** Fraction of the lung-cropped slices held out (the upper slab) for validation. */
  validationFraction: number;
}

export interface FineTuneSummary {
  state: 'finished' | 'cancelled';
  steps: number;
  /** Validation Dice of the starting weights and of the result, against the chosen target. */
  diceBefore: number;
  diceAfter: number;
}

let trainer: Trainer | null = null;
let store: CheckpointStore | null = null;

/** Checkpoint keys allow only a few characters; scan keys hold file names, so hash them. */
function keyOf(scanKey: string): string {
  return `finetune-${fnv1a(Array.from(scanKey, (c) => c.charCodeAt(0)))}`;
}

/** Tests (Node has no IndexedDB) put another store here. */
export function setCheckpointStore(s: CheckpointStore): void {
  store = s;
}

async function checkpointStore(): Promise<CheckpointStore> {
  // IndexedDB exists in browser workers; Node tests pass no store through here.
  if (!store) store = new (await import('../training/checkpoint-idb')).IdbCheckpointStore();
  return store;
}

/** Splits a prepared case into a training slab (lower slices) and a held-out slab (upper slices). */
export function splitSlabs(c: PreparedCase, fraction: number): { train: PreparedCase; validation: PreparedCase | null } {
  const [d, h, w] = c.shape;
  const held = Math.min(d - 1, Math.round(d * fraction));
  if (held < 1) return { train: c, validation: null };
  const cut = d - held;
  const plane = h * w;
  const part = (from: number, to: number, suffix: string): PreparedCase => ({
    ...c,
    id: `${c.id}${suffix}`,
    shape: [to - from, h, w],
    image: c.image.subarray(from * plane, to * plane),
    label: c.label.subarray(from * plane, to * plane),
  });
  return { train: part(0, cut, ''), validation: part(cut, d, ' (held out)') };
}

function configOf(req: FineTuneRequest, features: number[], contextSlices: number): TrainerConfig {
  return {
    model: { kind: 'coplenet', features },
    loss: req.loss,
    optimizer: { kind: req.optimizer, schedule: { kind: 'cosine', lr: req.learningRate, totalSteps: req.steps } },
    steps: req.steps,
    patches: { patchSize: req.patchSize, batchSize: req.batchSize, contextSlices },
    seed: 1,
    batchNorm: req.batchNorm,
    freezeEncoder: req.freezeEncoder,
    selfEnsembling: req.selfEnsembling ? {} : null,
    validateEvery: req.validateEvery,
    checkpointEvery: req.checkpointEvery,
  };
}

/** The run saved for this scan: updates done and the run's target, or null when there is none. */
export async function hasCheckpoint(scanKey: string): Promise<{ step: number; steps: number } | null> {
  const ckpt = await (await checkpointStore()).load(keyOf(scanKey)).catch(() => null);
  return ckpt ? { step: ckpt.step, steps: ckpt.config.steps } : null;
}

/** Trains (or resumes the saved run for this scan when `resume`), reporting every update. */
export async function startFineTune(req: FineTuneRequest, resume: boolean, onStep: (info: StepInfo) => void): Promise<FineTuneSummary> {
  const model = currentModel();
  const weights = currentWeights();
  if (!model || !weights) throw new InputError('fine-tuning', 'load a model (weights) first');
  if (trainer && (trainer.state === 'running' || trainer.state === 'paused')) throw new Error('a fine-tuning run is already going');
  // A finished or cancelled run not applied is replaced by the new one.
  trainer?.dispose();
  trainer = null;
  const store = await checkpointStore();
  const key = keyOf(req.scanKey);
  const saved = resume ? await store.load(key) : null;
  if (resume && !saved) throw new InputError('fine-tuning', 'no saved run for this scan to resume');
  // A resumed run trains on the target and slab it was started with, whatever the form says now.
  const labels = String(saved?.dataOptions?.labels ?? req.labels);
  const fraction = Number(saved?.dataOptions?.validationFraction ?? req.validationFraction);
  const scans = [{ id: 'scan', image: req.volume, observers: req.observers }];
  const cases = prepareCases(casesFromScans(scans, parseLabelSource(labels)));
  const { train, validation } = splitSlabs(cases[0], fraction);
  // The network's input: one slice, or a slice with its neighbours, as the loaded weights (or the saved run) take.
  const contextSlices = saved?.config.patches.contextSlices ?? model.contextSlices;
  const extraTrain = labels === 'each-observer' ? cases.slice(1).map((c) => splitSlabs(c, fraction).train) : [];
  const data = {
    train: [train, ...extraTrain],
    validation: validation ? validationSlices([validation], { maxSlicesPerCase: 16, contextSlices }) : [],
    store,
    key,
    dataOptions: { labels, validationFraction: fraction },
    onStep,
  };
  trainer = saved ? await Trainer.fromCheckpoint(saved, data) : await Trainer.create(configOf(req, model.features, contextSlices), data, readWeights(weights.bytes, weights.name).stateDict);
  // A resumed run's curves start with the saved history (the page showing them may be new).
  for (const h of trainer.history) onStep({ ...h, stepsPerSec: h.seconds > 0 ? 1 / h.seconds : 0 });
  try {
    const diceBefore = resume ? NaN : await trainer.validate();
    const state = await trainer.run();
    const diceAfter = await trainer.validate();
    if (state === 'finished') await trainer.save();
    return { state, steps: trainer.step, diceBefore, diceAfter };
  } catch (err) {
    trainer.dispose();
    trainer = null;
    throw err;
  }
}

/** Resolves once the run is paused with its checkpoint saved (or has ended). */
export async function pauseFineTune(): Promise<void> {
  await trainer?.pause();
}
export function resumeFineTune(): void {
  trainer?.resume();
}
export function cancelFineTune(): void {
  trainer?.cancel();
}

/** The fine-tuned weights as the app's safetensors or as a MONAI-compatible PyTorch `.pt`. */
export async function fineTunedWeights(format: 'safetensors' | 'pt'): Promise<Uint8Array> {
  if (!trainer) throw new Error('no fine-tuned model');
  if (format === 'safetensors') return trainer.weights();
  return writeTorchCheckpoint(readWeights(await trainer.weights(), 'fine-tuned').stateDict);
}

/** Makes the fine-tuned weights the model that segments, and ends the run. */
export async function applyFineTuned(): Promise<void> {
  if (!trainer) throw new Error('no fine-tuned model');
  const bytes = await trainer.weights();
  const step = trainer.step;
  trainer.dispose();
  trainer = null;
  await loadModel('coplenet', { name: `fine-tuned (step ${step})`, bytes });
}

/** Drops the run (and its checkpoint) without applying it. */
export async function discardFineTune(scanKey: string): Promise<void> {
  trainer?.dispose();
  trainer = null;
  await (await checkpointStore()).delete(keyOf(scanKey));
}

