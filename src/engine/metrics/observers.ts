/**
 * Everything the Observers panel shows, in one call: every pairwise metric between the label
 * layers (observers, model, consensus), STAPLE with each observer's sensitivity/specificity, the
 * majority vote, the per-voxel agreement count, and per-slice Dice against a reference.
 */
import type { Vec3 } from '../volume';
import { compareMasks, type PairMetrics } from './compare';
import { perSliceDice } from './per-slice';
import { staple } from './staple';
import { agreementCount, majorityVote } from './vote';

export interface ObserverMask {
  id: string;
  name: string;
  data: Uint8Array;
  /** Only observers enter STAPLE, the vote and the agreement count; model/consensus are compared only. */
  isObserver: boolean;
}

export interface ObserverComparison {
  ids: string[];
  names: string[];
  /** metrics[r][c] = layer c compared with layer r as reference (null on the diagonal). */
  metrics: (PairMetrics | null)[][];
  staple: { ids: string[]; sensitivity: number[]; specificity: number[]; iterations: number; converged: boolean; prior: number } | null;
  consensus: Uint8Array | null;
  majority: Uint8Array | null;
  agreement: Uint8Array | null;
  /** perSlice[c] = Dice per axial slice of layer c against the reference layer (index `reference`). */
  perSlice: Float64Array[];
  reference: number;
}

export interface CompareObserversOptions {
  /** Index of the layer per-slice Dice is computed against. Default 0. */
  reference?: number;
  tie?: 'foreground' | 'background';
  onProgress?: (fraction: number) => void;
}

/** The same pair with reference and prediction exchanged: directed terms swap, symmetric ones stay. */
export function swapRoles(m: PairMetrics): PairMetrics {
  return {
    ...m,
    sensitivity: m.precision,
    precision: m.sensitivity,
    volumePredMl: m.volumeGtMl,
    volumeGtMl: m.volumePredMl,
    relativeVolumeDifference: m.voxelsPred === 0 ? NaN : (m.voxelsGt - m.voxelsPred) / m.voxelsPred,
    asdPredToGt: m.asdGtToPred,
    asdGtToPred: m.asdPredToGt,
    voxelsPred: m.voxelsGt,
    voxelsGt: m.voxelsPred,
    edgeVoxelsPred: m.edgeVoxelsGt,
    edgeVoxelsGt: m.edgeVoxelsPred,
  };
}

export function compareObservers(layers: ObserverMask[], grid: { dims: Vec3; spacing: Vec3 }, opts: CompareObserversOptions = {}): ObserverComparison {
  const n = layers.length;
  const reference = Math.min(Math.max(opts.reference ?? 0, 0), Math.max(n - 1, 0));
  const pairs = (n * (n - 1)) / 2;
  const observers = layers.filter((l) => l.isObserver);
  const steps = pairs + (observers.length >= 2 ? 1 : 0) + 1;
  let done = 0;
  const tick = () => opts.onProgress?.(++done / steps);

  const metrics: (PairMetrics | null)[][] = layers.map(() => layers.map(() => null));
  for (let r = 0; r < n; r++) {
    for (let c = r + 1; c < n; c++) {
      const m = compareMasks(layers[c].data, layers[r].data, grid, { ignoreEmpty: false });
      metrics[r][c] = m;
      metrics[c][r] = swapRoles(m);
      tick();
    }
  }
  let stapleOut: ObserverComparison['staple'] = null;
  let consensus: Uint8Array | null = null;
  let majority: Uint8Array | null = null;
  let agreement: Uint8Array | null = null;
  if (observers.length >= 2) {
    const s = staple(observers.map((o) => o.data));
    stapleOut = { ids: observers.map((o) => o.id), sensitivity: s.sensitivity, specificity: s.specificity, iterations: s.iterations, converged: s.converged, prior: s.prior };
    consensus = s.consensus;
    majority = majorityVote(observers.map((o) => o.data), { tie: opts.tie ?? 'background' });
    agreement = agreementCount(observers.map((o) => o.data));
    tick();
  }
  const perSlice = layers.map((l) => perSliceDice(l.data, layers[reference].data, grid.dims));
  tick();
  return { ids: layers.map((l) => l.id), names: layers.map((l) => l.name), metrics, staple: stapleOut, consensus, majority, agreement, perSlice, reference };
}
