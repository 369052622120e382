/**
 * Per-voxel agreement of N observers on one grid, and the majority vote.
 * Foreground per observer is "value ≠ 0", or "value = label" when a label is given.
 */
import type { VoxelArray } from '../volume';
import { checkLabel, isForeground } from './mask';

export interface VoteOptions {
  label?: number;
  /** What an exact tie (N even, N/2 votes) becomes. Default 'background'. */
  tie?: 'foreground' | 'background';
}

function checkObservers(observers: VoxelArray[], max: number): number {
  if (observers.length === 0) throw new RangeError('need at least one observer');
  if (observers.length > max) throw new RangeError(`at most ${max} observers are supported, got ${observers.length}`);
  const n = observers[0].length;
  for (const o of observers) if (o.length !== n) throw new RangeError(`observers differ in voxel count (${o.length} vs ${n})`);
  return n;
}

/** Number of observers marking each voxel as foreground (0 … N, N ≤ 255). */
export function agreementCount(observers: VoxelArray[], label?: number): Uint8Array {
  const n = checkObservers(observers, 255);
  checkLabel(label);
  const count = new Uint8Array(n);
  for (const o of observers) {
    for (let x = 0; x < n; x++) {
      const v = o[x];
      if (v !== 0 && isForeground(v, label)) count[x]++;
    }
  }
  return count;
}

/** 0/1 majority vote: foreground when more than half of the observers say so; ties per `tie`. */
export function majorityVote(observers: VoxelArray[], options: VoteOptions = {}): Uint8Array {
  const count = agreementCount(observers, options.label);
  const r = observers.length;
  const tieWins = (options.tie ?? 'background') === 'foreground';
  const out = new Uint8Array(count.length);
  for (let x = 0; x < count.length; x++) {
    const twice = 2 * count[x];
    out[x] = twice > r || (twice === r && tieWins) ? 1 : 0;
  }
  return out;
}
