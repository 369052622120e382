/**
 * Training checkpoints: what a paused or interrupted run needs to continue exactly where it stopped
 * (network weights, optimizer slots, mean-teacher state, step, configuration, history), and the
 * `CheckpointStore` interface the trainer saves through. Stores: `MemoryCheckpointStore` here,
 * `NodeCheckpointStore` (files, checkpoint-node.ts) and `IdbCheckpointStore` (IndexedDB, checkpoint-idb.ts).
 *
 * Tensors travel as safetensors bytes (the app's weight format), keyed by state-dict names, so a
 * checkpoint does not depend on tfjs's per-session variable names. Everything else is plain JSON,
 * so a checkpoint can be structured-cloned to and from a Web Worker or IndexedDB.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../io/errors';
import { readSafetensors, writeSafetensors, type StateDict } from '../weights';
import type { ScheduledOptimizer } from './optim';
import type { StepRecord, TrainerConfig } from './trainer';

/** How a caller picked its training data (the trainer only stores it): e.g. fine-tuning's target and held-out fraction. */
export type DataOptions = Record<string, string | number | boolean>;

export interface TrainingCheckpoint {
  /** The student network's state dict (PyTorch layout, float32), safetensors bytes. */
  weights: Uint8Array;
  /** Optimizer slots keyed `<state-dict key>/<slot>`, safetensors bytes (see `saveOptimizerState`). */
  optimizerState: Uint8Array;
  /** Updates done so far; the next update is number `step` (0-based). */
  step: number;
  config: TrainerConfig;
  history: StepRecord[];
  /** Mean-teacher weights and gate state, when self-ensembling is on. */
  teacher?: { weights: Uint8Array; updates: number; recentLosses: number[] };
  /** The caller's choice of training data (`TrainerData.dataOptions`), so a resumed run rebuilds the same data. */
  dataOptions?: DataOptions;
  /** ISO time of the save. */
  savedAt: string;
}

export interface CheckpointStore {
  save(key: string, checkpoint: TrainingCheckpoint): Promise<void>;
  /** null when there is no checkpoint under `key`. */
  load(key: string): Promise<TrainingCheckpoint | null>;
  list(): Promise<string[]>;
  delete(key: string): Promise<void>;
}

/** Keys become file and database names: letters, digits, '.', '_', '-' (1–100 characters, not starting with '.'). */
export function checkKey(key: string): string {
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$/.test(key)) throw new InputError('checkpoint', `bad checkpoint key "${key}" (letters, digits, '.', '_', '-'; at most 100)`);
  return key;
}

/** Keeps checkpoints in memory (tests, and a worker without IndexedDB). Stores copies. */
export class MemoryCheckpointStore implements CheckpointStore {
  private readonly items = new Map<string, TrainingCheckpoint>();
  async save(key: string, c: TrainingCheckpoint): Promise<void> {
    this.items.set(checkKey(key), structuredClone(c));
  }
  async load(key: string): Promise<TrainingCheckpoint | null> {
    const c = this.items.get(checkKey(key));
    return c ? structuredClone(c) : null;
  }
  async list(): Promise<string[]> {
    return [...this.items.keys()].sort();
  }
  async delete(key: string): Promise<void> {
    this.items.delete(checkKey(key));
  }
}

/**
 * The optimizer's slot variables (Adam m and v, or SGD momentum) as safetensors. tfjs keeps slots by
 * position in the gradient map (the trainable variables' order) and names them after its own
 * variable names, which differ between sessions; we store them under `<state-dict key>/<slot>` in
 * that order, with the iteration count and the schedule's step as metadata.
 */
export async function saveOptimizerState(opt: ScheduledOptimizer, stateKeyOf: ReadonlyMap<string, string>): Promise<Uint8Array> {
  const weights = await opt.optimizer.getWeights();
  const sd: StateDict = new Map();
  let iterations = 0;
  for (const { name, tensor } of weights) {
    if (name === 'iter') {
      iterations = (await tensor.data())[0];
      continue;
    }
    const slash = name.lastIndexOf('/');
    const key = stateKeyOf.get(name.slice(0, slash));
    if (key === undefined) throw new Error(`optimizer slot ${name} belongs to no network parameter`);
    sd.set(`${key}/${name.slice(slash + 1)}`, { dtype: 'float32', shape: tensor.shape.slice(), data: new Float32Array(await tensor.data()) });
  }
  tf.dispose(weights.filter((w) => w.name === 'iter').map((w) => w.tensor));
  return writeSafetensors(sd, { metadata: { kind: opt.options.kind, iterations: String(iterations), step: String(opt.step) } });
}

/** Restores `saveOptimizerState` bytes into a fresh optimizer of the same kind; `tfNameOf` maps state-dict keys to this session's variables. */
export async function loadOptimizerState(opt: ScheduledOptimizer, bytes: Uint8Array, tfNameOf: ReadonlyMap<string, string>): Promise<void> {
  const { stateDict, metadata } = readSafetensors(bytes, 'optimizer state');
  if (metadata.kind !== opt.options.kind) throw new InputError('optimizer state', `saved for ${metadata.kind}, the optimizer is ${opt.options.kind}`);
  const named: { name: string; tensor: tf.Tensor }[] = [{ name: 'iter', tensor: tf.scalar(Number(metadata.iterations), 'int32') }];
  for (const [key, t] of stateDict) {
    const slash = key.lastIndexOf('/');
    const name = tfNameOf.get(key.slice(0, slash));
    if (name === undefined) throw new InputError('optimizer state', `slot ${key} fits no parameter of this network`);
    named.push({ name: `${name}/${key.slice(slash + 1)}`, tensor: tf.tensor(t.data as Float32Array, t.shape, 'float32') });
  }
  await opt.optimizer.setWeights(named);
  // setWeights wraps each tensor's data in a new variable (shared data, own reference): ours can go.
  tf.dispose(named.map((n) => n.tensor));
  opt.step = Number(metadata.step);
}
