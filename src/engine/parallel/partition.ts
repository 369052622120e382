/**
 * Contiguous partition of a layer sequence into K blocks of balanced cost, as torchgpipe 0.0.7 does
 * it (`balance/blockpartition.py`: Bárány et al., "Block partitions of sequences", arXiv:1308.2452),
 * and its `balance_by_size` cost (spec §4.2). Written by hand: no JS library implements this
 * algorithm, and LAMP's stage boundaries (hence its GPipe checkpoint keys) depend on its exact
 * tie-breaking.
 *
 * The algorithm:
 *   1. Normalise costs to [0, 1]: (c − min) / (max − min); all zero when every cost is equal.
 *   2. Start from equal-length blocks: split points ⌊n/k⌋·(j+1) for j < k−1, then n.
 *   3. Take the maximal block p (ties: the LAST such block). Then repeatedly take the minimal block
 *      q (ties: the FIRST such block — torchgpipe's `min` over (size, index) pairs, not "the one
 *      closest to p" of the paper); stop when max ≤ min + 1 (with p's size as taken in this step);
 *      else move the boundary element of the neighbour h of q on p's side into q. When h = p, take
 *      a new maximal block (step 3), otherwise keep p and its size and find a new q.
 */

/** Thrown where torchgpipe's `solve` would never return. */
export class BlockPartitionCycleError extends Error {
  constructor(n: number, partitions: number) {
    super(`torchgpipe's block partition does not terminate for these ${n} costs into ${partitions} blocks`);
    this.name = 'BlockPartitionCycleError';
  }
}

/**
 * torchgpipe `blockpartition.solve`: the blocks (contiguous slices of `sequence`). Like torchgpipe,
 * it may return empty blocks (when many costs are equal); `minMaxPartition` never does.
 */
export function solveBlockPartition(sequence: readonly number[], partitions: number): number[][] {
  if (!(Number.isInteger(partitions) && partitions >= 1)) throw new Error(`partitions must be a positive integer, got ${partitions}`);
  const n = sequence.length;
  if (n < partitions) throw new Error(`sequence is shorter than intended partitions (${n} < ${partitions})`);

  const minimum = Math.min(...sequence);
  const range = Math.max(...sequence) - minimum;
  const normal = sequence.map((x) => (range === 0 ? 0 : (x - minimum) / range));
  const splits = Array.from({ length: partitions - 1 }, (_, j) => Math.floor(n / partitions) * (j + 1));
  splits.push(n);

  // Python slice semantics: split points may leave [0, n] (or cross) while the algorithm runs; a
  // slice index is wrapped once if negative, then clamped to [0, n], and start >= stop is empty.
  const py = (x: number) => Math.min(Math.max(x < 0 ? x + n : x, 0), n);
  // Summed left to right, like Python's sum over the slice (the comparisons are float-exact).
  const blockSize = (i: number) => {
    let s = 0;
    for (let k = py(i > 0 ? splits[i - 1] : 0); k < py(splits[i]); k++) s += normal[k];
    return s;
  };
  const blocks = () => splits.map((stop, i) => sequence.slice(py(i > 0 ? splits[i - 1] : 0), Math.max(py(stop), py(i > 0 ? splits[i - 1] : 0))));

  // torchgpipe never returns on some inputs (many zero costs, k close to n): a split point runs off
  // the sequence and keeps moving without changing any block (the same empty block stays the
  // minimum), or the state (split points, p, p's size) repeats. We stop there with an error instead.
  const seen = new Set<string>();
  for (;;) {
    // (1) a maximal block p; ties go to the largest index, as Python's max over (size, i) tuples.
    let maxSize = -Infinity;
    let p = 0;
    for (let i = 0; i < partitions; i++) {
      const s = blockSize(i);
      if (s >= maxSize) [maxSize, p] = [s, i];
    }
    for (;;) {
      const state = `${splits.join(',')}|${p}|${maxSize}`;
      if (seen.has(state)) throw new BlockPartitionCycleError(sequence.length, partitions);
      seen.add(state);
      // (2) a minimal block q; ties go to the smallest index (Python's min over (size, i) tuples).
      let minSize = Infinity;
      let q = 0;
      for (let i = 0; i < partitions; i++) {
        const s = blockSize(i);
        if (s < minSize) [minSize, q] = [s, i];
      }
      if (maxSize <= minSize + 1) return blocks();
      // (3) move one element into q from its neighbour h on p's side.
      const h = p < q ? q - 1 : q + 1;
      const moved = p < q ? h : q;
      const before = py(splits[moved]);
      splits[moved] += p < q ? -1 : 1;
      if (p === h) break;
      // Nothing changed, so the next step picks the same q and makes the same move, forever.
      if (py(splits[moved]) === before) throw new BlockPartitionCycleError(n, partitions);
    }
  }
}

/** torchgpipe `balance_cost`: the number of layers in each block. */
export function balanceCost(costs: readonly number[], partitions: number): number[] {
  return solveBlockPartition(costs, partitions).map((b) => b.length);
}

export interface SizedLayer {
  /** Activation bytes the layer keeps alive in its forward pass, for the profiled batch. */
  latentBytes: number;
  /** Bytes of the layer's trainable parameters. */
  paramBytes: number;
}

export interface BalanceBySizeOptions {
  /** Samples the latent bytes were measured with (torchgpipe profiles one sample). Default 1. */
  profiledBatch?: number;
  /** Mini-batch size to train with. Default `profiledBatch`. */
  batch?: number;
  /** GPipe micro-batches per mini-batch. Default 1 (train.py keeps this default). */
  chunks?: number;
  /**
   * Copies of the parameters training allocates: 2 = weights + gradients (torchgpipe's default),
   * 4–5 for Adam (plus its two moments). Default 2.
   */
  paramScale?: number;
}

/** torchgpipe `profile_sizes`: size_l = ⌊latent_l·(batch/chunks) + param_bytes_l·param_scale⌋ (latent per sample). */
export function layerSizes(layers: readonly SizedLayer[], opts: BalanceBySizeOptions = {}): number[] {
  const profiled = opts.profiledBatch ?? 1;
  const latentScale = (opts.batch ?? profiled) / (opts.chunks ?? 1) / profiled;
  const paramScale = opts.paramScale ?? 2;
  return layers.map((l) => Math.trunc(l.latentBytes * latentScale + l.paramBytes * paramScale));
}

/** torchgpipe `balance_by_size` on measured layers: layers per partition. */
export function balanceBySize(layers: readonly SizedLayer[], partitions: number, opts: BalanceBySizeOptions = {}): number[] {
  return balanceCost(layerSizes(layers, opts), partitions);
}

/**
 * The contiguous partition into exactly `partitions` non-empty blocks whose largest block sum is
 * smallest (dynamic programming, O(k·n²)); among equal optima each last block starts as early as possible. The
 * planner's fallback where torchgpipe's heuristic gives no usable answer (empty blocks, no end).
 */
export function minMaxPartition(costs: readonly number[], partitions: number): number[] {
  const n = costs.length;
  if (!(Number.isInteger(partitions) && partitions >= 1)) throw new Error(`partitions must be a positive integer, got ${partitions}`);
  if (n < partitions) throw new Error(`sequence is shorter than intended partitions (${n} < ${partitions})`);
  const prefix = [0];
  for (const c of costs) prefix.push(prefix[prefix.length - 1] + c);
  // best[k][i]: smallest max block sum splitting the first i costs into k blocks; cut[k][i]: last block's start.
  const best = Array.from({ length: partitions + 1 }, () => new Array<number>(n + 1).fill(Infinity));
  const cut = Array.from({ length: partitions + 1 }, () => new Array<number>(n + 1).fill(0));
  best[0][0] = 0;
  for (let k = 1; k <= partitions; k++) {
    for (let i = k; i <= n; i++) {
      for (let j = k - 1; j < i; j++) {
        const v = Math.max(best[k - 1][j], prefix[i] - prefix[j]);
        if (v < best[k][i]) [best[k][i], cut[k][i]] = [v, j];
      }
    }
  }
  const sizes: number[] = [];
  for (let k = partitions, i = n; k > 0; k--) {
    sizes.unshift(i - cut[k][i]);
    i = cut[k][i];
  }
  return sizes;
}
