import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { readShared } from '../../../tests/shared';
import { UNetPipe } from '../../models/unetpipe';
import { planPipeline, skipRoutes, stagesOf } from './plan';
import type { LayerProfile, NetworkProfile } from './profile';

/**
 * Six layers, one long skip (namespace 0: stashed by layer 1, popped by layer 4), 1-sample profile,
 * network input 100 bytes. Columns: in, out, latent, peak, largest, params, buffers, trainPeak.
 */
function layer(index: number, name: string, v: number[], extra: Partial<LayerProfile> = {}): LayerProfile {
  const [inputBytes, outputBytes, latentBytes, peakBytes, largestTensorBytes, paramBytes, bufferBytes, trainPeakBytes] = v;
  return { index, name, type: 'x', outputShape: [], inputBytes, outputBytes, latentBytes, peakBytes, largestTensorBytes, stashedBytes: 0, stashAliveBytes: 0, paramBytes, bufferBytes, trainPeakBytes, forwardMs: 0, ...extra };
}
const PROFILE: NetworkProfile = {
  network: 'toy',
  inputShape: [1, 1, 1, 1, 25],
  batch: 1,
  inputBytes: 100,
  training: false,
  layers: [
    layer(0, 'a', [100, 200, 400, 400, 200, 40, 0, 800]),
    layer(1, 's', [200, 200, 0, 0, 200, 0, 0, 0], { stashes: 0, stashedBytes: 200 }),
    layer(2, 'b', [200, 50, 150, 160, 60, 400, 0, 300]),
    layer(3, 'c', [50, 50, 100, 400, 50, 800, 0, 250]),
    layer(4, 'p', [50, 250, 250, 250, 250, 0, 0, 500], { pops: 0 }),
    layer(5, 'd', [250, 100, 100, 100, 100, 20, 8, 200]),
  ],
};

// Inference, per layer, s = 1: in + peak + resident skip (200 while stashed; not at layer 2, whose
// input IS the stashed tensor): 500, 200, 360, 650, 500, 350. Parked (skip off the device outside
// its own stage and its pop): layer 3 of a stage without the stash needs 450.
describe('planPipeline, inference on one device', () => {
  it('K = 1 fits when the budget holds the whole network: params 1268 + max working set 650', () => {
    // wholeBytes is Network.apply in one tidy: params + input + Σ latent = 1268 + 100 + 1000.
    const plan = planPipeline(PROFILE, { mode: 'inference', stageBudgetBytes: 2000 });
    expect(plan.balance).toEqual([6]);
    expect(plan.stages[0]).toMatchObject({ from: 0, to: 6, paramBytes: 1268, activationBytes: 650, bytes: 1918, fits: true });
    expect(plan.parkSkips).toBe(false);
    expect(plan.crossing).toEqual([]);
    expect(plan.wholeBytes).toBe(2368);
    expect(plan.fits).toBe(true);
  });

  it('smallest K that fits: sizes latent + params = [440, 0, 550, 900, 250, 120] split [3, 3]', () => {
    const plan = planPipeline(PROFILE, { mode: 'inference', stageBudgetBytes: 1500 });
    expect(plan.sizes).toEqual([440, 0, 550, 900, 250, 120]);
    expect(plan.balance).toEqual([3, 3]);
    expect(plan.stages.map((s) => [s.paramBytes, s.activationBytes, s.parkedActivationBytes, s.bytes])).toEqual([
      [440, 500, 500, 940],
      [828, 650, 500, 1478],
    ]);
    expect(plan.stages[1].layers).toEqual(['c', 'p', 'd']);
    expect(plan.parkSkips).toBe(false);
    expect(plan.crossing).toEqual([{ namespace: 0, stashLayer: 's', popLayer: 'p', stashIndex: 1, popIndex: 4, stashStage: 0, popStage: 1, crosses: true, bytes: 200 }]);
    expect(plan.singleDeviceBytes).toBe(1268 + 650);
  });

  it('parks the crossing skip when only that makes a stage fit', () => {
    const plan = planPipeline(PROFILE, { mode: 'inference', stageBudgetBytes: 1400 });
    expect(plan.balance).toEqual([3, 3]);
    expect(plan.parkSkips).toBe(true);
    expect(plan.stages.map((s) => s.bytes)).toEqual([940, 1328]);
    expect(plan.singleDeviceBytes).toBe(1268 + 500);
    expect(plan.fits).toBe(true);
  });

  it('reports what does not fit: stage budget, and the largest tensor against the adapter limit', () => {
    // K = 3 is [2, 1, 3] (hand-worked in the partition's steps) and no better than K = 2 (1328).
    const plan = planPipeline(PROFILE, { mode: 'inference', stageBudgetBytes: 1000, maxBufferBytes: 200, maxStages: 3 });
    expect(plan.balance).toEqual([3, 3]);
    expect(plan.fits).toBe(false);
    expect(plan.problems).toEqual([
      'stage 1 (c … d) needs 1328 bytes, over its budget of 1000',
      'the largest tensor (p, 250 bytes) exceeds the largest buffer the adapter allows (200); use a smaller input (sliding window)',
    ]);
    const k3 = planPipeline(PROFILE, { mode: 'inference', stageBudgetBytes: 1000, maxStages: 3, devices: [{ memoryBytes: 1e9 }, { memoryBytes: 1e9 }, { memoryBytes: 1e9 }] });
    expect(k3.balance).toEqual([2, 1, 3]);
  });

  it('micro-batches scale activations: batch 4 in 2 chunks = 2 samples at a time, plus the first chunk’s logits', () => {
    const plan = planPipeline(PROFILE, { mode: 'inference', batch: 4, microBatches: 2, stageBudgetBytes: 1e9 });
    expect(plan.microBatchSize).toBe(2);
    expect(plan.stages[0]).toMatchObject({ paramBytes: 1268, activationBytes: 2 * 650 + 2 * 100 });
    expect(plan.largestTensorBytes).toBe(500);
  });
});

// Training, batch 2 in M = 2 micro-batches (s = 1), Adam (4 copies of the parameters).
// sizes latent + 4·params = [560, 0, 1750, 3300, 250, 180] -> [3, 3].
// Stage 0: params 440·4 = 1760; checkpoints 2·100; recompute Σ trainPeak 800+0+300 -> 3060.
// Stage 1: params 820·4 + 8 = 3288; checkpoints 2·(50 + 200 skip); recompute 250+500+200 -> 4738.
describe('planPipeline, training (GPipe, checkpointing)', () => {
  it('one device: K = 1 (5048 + 200 + 2050) is over 5000, K = 2 fits', () => {
    const plan = planPipeline(PROFILE, { mode: 'training', batch: 2, microBatches: 2, optimizer: 'adam', stageBudgetBytes: 5000 });
    expect(plan.sizes).toEqual([560, 0, 1750, 3300, 250, 180]);
    expect(plan.balance).toEqual([3, 3]);
    expect(plan.stages.map((s) => [s.paramBytes, s.checkpointBytes, s.activationBytes, s.bytes])).toEqual([
      [1760, 200, 1300, 3060],
      [3288, 500, 1450, 4738],
    ]);
    expect(plan.singleDeviceBytes).toBe(5048 + 700 + 1100);
    expect(plan.wholeBytes).toBe(5048 + 2 * (100 + 2050));
    const one = planPipeline(PROFILE, { mode: 'training', batch: 2, microBatches: 2, stageBudgetBytes: 1e9 });
    expect(one.stages.map((s) => s.bytes)).toEqual([5048 + 200 + 2050]);
    const untrained = { ...PROFILE, layers: PROFILE.layers.map((l) => ({ ...l, trainPeakBytes: undefined })) };
    expect(() => planPipeline(untrained, { mode: 'training' })).toThrow(/training: true/);
  });

  it('several devices: one stage each, checked against each device', () => {
    const devices = [
      { name: 'gpu0', memoryBytes: 3100 },
      { name: 'gpu1', memoryBytes: 4700 },
    ];
    const plan = planPipeline(PROFILE, { mode: 'training', batch: 2, microBatches: 2, devices });
    expect(plan.stages.map((s) => [s.device, s.bytes, s.budgetBytes, s.fits])).toEqual([
      ['gpu0', 3060, 3100, true],
      ['gpu1', 4738, 4700, false],
    ]);
    expect(plan.problems).toEqual(['stage 1 (c … d) needs 4738 bytes, over its budget of 4700']);
    const small = planPipeline(PROFILE, { mode: 'training', batch: 2, microBatches: 2, devices: [{ memoryBytes: 1e9, maxBufferBytes: 200 }, { memoryBytes: 1e9, maxBufferBytes: 200 }] });
    // s = 1: stage 0's largest tensor is 200 bytes (fits), stage 1's is p's 250.
    expect(small.stages.map((s) => s.fits)).toEqual([true, false]);
    expect(small.problems).toEqual(['stage 1 has a 250-byte tensor, over the largest buffer its device allows (200); use a smaller input (sliding window)']);
    expect(() => planPipeline(PROFILE, { mode: 'training', batch: 2, microBatches: 3 })).toThrow(/micro-batches/);
  });
});

describe('skip routes of UNetPipe', () => {
  it("the fixture's GPipe balance [22, 8]: only namespace 0 crosses, partition 0 -> 1", () => {
    const net = new UNetPipe({ nFeat: 2, outChannels: 2, seed: 1 });
    const layers = net.layers.map((l, i) => layer(i, l.name, [0, 0, 0, 0, 0, 0, 0], { stashes: l.stashes, pops: l.pops, stashedBytes: l.stashes !== undefined ? 1 : 0 }));
    const meta = JSON.parse(new TextDecoder().decode(readShared('fixtures/lamp/meta.json'))) as {
      gpipe: { skip_routes: { namespace_index: number; stash_layer: string; pop_layer: string; stash_partition: number; pop_partition: number; crosses_partitions: boolean }[] };
    };
    const routes = skipRoutes(layers, stagesOf([22, 8]));
    expect(routes.map((r) => ({ namespace_index: r.namespace, stash_layer: r.stashLayer, pop_layer: r.popLayer, stash_partition: r.stashStage, pop_partition: r.popStage, crosses_partitions: r.crosses }))).toEqual(meta.gpipe.skip_routes);
    net.dispose();
  });
});
