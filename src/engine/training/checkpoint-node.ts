/**
 * Checkpoints as files (Node only: imports node:fs): `<dir>/<key>/` holds `weights.safetensors`,
 * `optimizer.safetensors`, `teacher.safetensors` (self-ensembling only) and `state.json` (step,
 * configuration, history, teacher gate, data options). Each file is written to a temporary name and renamed, and
 * state.json goes last, so an interrupted save leaves the previous checkpoint loadable.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../io/errors';
import { checkKey, type CheckpointStore, type TrainingCheckpoint } from './checkpoint';

interface StateFile {
  step: number;
  config: TrainingCheckpoint['config'];
  history: TrainingCheckpoint['history'];
  teacher?: { updates: number; recentLosses: number[] };
  dataOptions?: TrainingCheckpoint['dataOptions'];
  savedAt: string;
}

async function writeAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  await writeFile(`${path}.tmp`, bytes);
  await rename(`${path}.tmp`, path);
}

async function readOrNull(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

export class NodeCheckpointStore implements CheckpointStore {
  constructor(readonly dir: string) {}

  async save(key: string, c: TrainingCheckpoint): Promise<void> {
    const d = join(this.dir, checkKey(key));
    await mkdir(d, { recursive: true });
    await writeAtomic(join(d, 'weights.safetensors'), c.weights);
    await writeAtomic(join(d, 'optimizer.safetensors'), c.optimizerState);
    if (c.teacher) await writeAtomic(join(d, 'teacher.safetensors'), c.teacher.weights);
    const state: StateFile = { step: c.step, config: c.config, history: c.history, savedAt: c.savedAt };
    if (c.teacher) state.teacher = { updates: c.teacher.updates, recentLosses: c.teacher.recentLosses };
    if (c.dataOptions) state.dataOptions = c.dataOptions;
    await writeAtomic(join(d, 'state.json'), JSON.stringify(state));
  }

  async load(key: string): Promise<TrainingCheckpoint | null> {
    const d = join(this.dir, checkKey(key));
    const stateBytes = await readOrNull(join(d, 'state.json'));
    if (!stateBytes) return null;
    let state: StateFile;
    try {
      state = JSON.parse(stateBytes.toString('utf8')) as StateFile;
    } catch {
      throw new InputError(join(d, 'state.json'), 'not valid JSON');
    }
    const need = async (name: string) => {
      const b = await readOrNull(join(d, name));
      if (!b) throw new InputError(join(d, name), 'missing from the checkpoint');
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    };
    const c: TrainingCheckpoint = {
      weights: await need('weights.safetensors'),
      optimizerState: await need('optimizer.safetensors'),
      step: state.step,
      config: state.config,
      history: state.history,
      savedAt: state.savedAt,
    };
    if (state.teacher) c.teacher = { weights: await need('teacher.safetensors'), ...state.teacher };
    if (state.dataOptions) c.dataOptions = state.dataOptions;
    return c;
  }

  async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const keys: string[] = [];
    for (const n of names.sort()) if (await readOrNull(join(this.dir, n, 'state.json'))) keys.push(n);
    return keys;
  }

  async delete(key: string): Promise<void> {
    await rm(join(this.dir, checkKey(key)), { recursive: true, force: true });
  }
}
