/** Weight files: PyTorch checkpoints in, safetensors (the app's own format) in and out. */
import { InputError } from '../io/errors';
import { isSafetensors, readSafetensors } from './safetensors';
import type { StateDict } from './tensor';
import { readTorchCheckpoint } from './torch-checkpoint';

export * from './tensor';
export { readTorchCheckpoint, writeTorchCheckpoint, type TorchCheckpoint, type TorchSaveOptions } from './torch-checkpoint';
export { readSafetensors, writeSafetensors, isSafetensors, type SafetensorsOptions } from './safetensors';
export { matchStateDict, formatReport, type ExpectedTensor, type StateDictMatch, type StateDictReport, type WrongShape } from './key-map';

export type WeightsFormat = 'torch-zip' | 'torch-legacy' | 'safetensors';

/** Reads any supported weights file, recognised by content rather than extension. */
export function readWeights(bytes: Uint8Array, file: string): { stateDict: StateDict; format: WeightsFormat; metadata: Record<string, string> } {
  if (isSafetensors(bytes)) return { ...readSafetensors(bytes, file), format: 'safetensors' };
  if (bytes.length < 4) throw new InputError(file, 'file too short to be a weights file');
  const ckpt = readTorchCheckpoint(bytes, file);
  // A torch checkpoint carries no metadata we read.
  return { stateDict: ckpt.stateDict, format: ckpt.format === 'zip' ? 'torch-zip' : 'torch-legacy', metadata: {} };
}
