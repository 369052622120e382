import { describe, expect, it } from 'vitest';
import { readShared } from '../../../tests/shared';
import { BlockPartitionCycleError, balanceBySize, balanceCost, layerSizes, minMaxPartition, solveBlockPartition } from './partition';

const meta = JSON.parse(new TextDecoder().decode(readShared('fixtures/lamp/meta.json'))) as {
  gpipe: { balance: number[]; profile: { layer: string; latent_bytes: number; param_bytes: number; size: number }[] };
};

describe("torchgpipe's blockpartition.solve", () => {
  it("torchgpipe's own tests", () => {
    expect(solveBlockPartition([1, 2, 3, 4, 5, 6], 2)).toEqual([[1, 2, 3, 4], [5, 6]]);
    expect(solveBlockPartition([0, 0], 2)).toEqual([[0], [0]]);
    expect(() => solveBlockPartition([42], 0)).toThrow(/positive integer/);
    expect(() => solveBlockPartition([42], -1)).toThrow(/positive integer/);
    expect(() => solveBlockPartition([], 1)).toThrow(/shorter/);
    expect(() => solveBlockPartition([42], 2)).toThrow(/shorter/);
  });

  it('a hand-worked case: [3,1,4,1,5,9,2,6,5,3,5] into 3', () => {
    // normalised (x−1)/8: [.25,0,.375,0,.5,1,.125,.625,.5,.25,.5]; equal splits [3,6,11] give block
    // sums .625, 1.5, 2.0. p = 2 (max 2.0), q = 0: 2.0 > .625+1, so block 1's first element moves to
    // block 0 (splits [4,6,11]: .625, 1.5, 2.0), and again ([5,6,11]: 1.125, 1.0, 2.0); now q = 1 and
    // 2.0 ≤ 1.0 + 1: stop.
    expect(solveBlockPartition([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5], 3)).toEqual([[3, 1, 4, 1, 5], [9], [2, 6, 5, 3, 5]]);
  });

  it('matches torchgpipe 0.0.7 on cases run through its Python code (ties, equal costs, empty blocks)', () => {
    const cases: [number[], number, number[]][] = [
      [[10, 0, 0, 0, 0, 0, 0, 10], 3, [2, 2, 4]],
      [[5, 5, 5, 5, 5, 5, 5], 3, [2, 2, 3]],
      [[1, 100, 1, 1, 1, 1, 1, 1, 1, 100], 4, [2, 2, 2, 4]],
      [[7, 2, 9, 4, 4, 8, 1, 3, 6, 5, 2, 8], 4, [3, 3, 3, 3]],
      // torchgpipe may leave a block empty (GPipe then rejects the balance)
      [[0, 1048576, 0, 1048576, 0, 1048576, 1048576, 512, 0, 3, 0, 1048576, 0, 0, 3, 512, 0, 0, 3, 3, 3, 512, 0, 512, 0, 1048576, 0, 3, 0, 1048576], 18, [2, 2, 2, 1, 1, 2, 2, 3, 1, 3, 1, 1, 1, 2, 2, 2, 0, 2]],
    ];
    for (const [seq, k, balance] of cases) expect(balanceCost(seq, k), seq.join(',')).toEqual(balance);
  });

  it('stops with an error where torchgpipe never returns', () => {
    // torchgpipe 0.0.7 spins forever here: a split point runs past the end of the sequence.
    expect(() => balanceCost([512, 0, 0, 3, 4096, 0, 0, 512, 3, 1048576], 9)).toThrow(BlockPartitionCycleError);
  });
});

describe('balance_by_size', () => {
  it('the LAMP fixture: size = latent + 2·param_bytes, split [22, 8] for two GPUs', () => {
    const layers = meta.gpipe.profile.map((p) => ({ latentBytes: p.latent_bytes, paramBytes: p.param_bytes }));
    expect(layerSizes(layers, { paramScale: 2 })).toEqual(meta.gpipe.profile.map((p) => p.size));
    expect(balanceBySize(layers, 2, { paramScale: 2 })).toEqual(meta.gpipe.balance);
    expect(meta.gpipe.balance).toEqual([22, 8]);
  });

  it("torchgpipe's tests: latent-heavy layers first or last, and param_scale trading parameters for latents", () => {
    // Expand(i): i new tensors of a 1-sample [100, 100] float each.
    const expand = (ts: number[]) => ts.map((t) => ({ latentBytes: t * 40000, paramBytes: 0 }));
    expect(balanceBySize(expand([1, 2, 3, 4, 5, 6]), 2, { profiledBatch: 1, batch: 10 })).toEqual([4, 2]);
    expect(balanceBySize(expand([6, 5, 4, 3, 2, 1]), 2, { profiledBatch: 1, batch: 10 })).toEqual([2, 4]);
    // Tradeoff(param_size p, latent L): Linear(p, p) = (p² + p) floats; L one-float tensors, 512 B each on CUDA.
    const tradeoff = [1, 2, 3, 4, 5, 6].map((p, i) => ({ paramBytes: 4 * (p * p + p), latentBytes: 512 * (6 - i) }));
    expect(balanceBySize(tradeoff, 2, { paramScale: 0 })).toEqual([2, 4]);
    expect(layerSizes(tradeoff, { paramScale: 100 })).toEqual([3872, 4960, 6848, 9536, 13024, 17312]);
    expect(balanceBySize(tradeoff, 2, { paramScale: 100 })).toEqual([4, 2]);
  });

  it('latent scale is batch / chunks per profiled sample, truncated like int()', () => {
    expect(layerSizes([{ latentBytes: 10, paramBytes: 3 }], { profiledBatch: 2, batch: 8, chunks: 4, paramScale: 2.5 })).toEqual([Math.trunc(10 * 1 + 7.5)]);
  });
});

describe('min-max partition (the fallback)', () => {
  it('minimises the largest block over all contiguous splits into non-empty blocks', () => {
    expect(minMaxPartition([1, 2, 3, 4, 5, 6], 2)).toEqual([4, 2]); // 10 | 11
    expect(minMaxPartition([5, 1, 1, 1, 1, 5], 3)).toEqual([1, 4, 1]); // 5 | 4 | 5
    expect(minMaxPartition([0, 0, 0, 0], 4)).toEqual([1, 1, 1, 1]);
    expect(minMaxPartition([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5], 3)).toEqual([5, 3, 3]); // 14 | 17 | 13
    expect(() => minMaxPartition([1], 2)).toThrow(/shorter/);
  });
});
