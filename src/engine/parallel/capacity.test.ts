import { describe, expect, it } from 'vitest';
import { extrapolateProfile, largestCube, oneDeviceBytes, trainingMemory, trainingPlanForK } from './capacity';
import type { LayerProfile, NetworkProfile } from './profile';

/**
 * Two layers, no skips, measured at 32³ and 64³ (x = voxels). Per layer: input, output, latent = peak
 * = largest are linear in x; trainPeak = constant (parameter gradients) + linear part.
 *   L0: in 4x, out 8x, trainPeak 1000 + 40x, params 100 B, no buffers
 *   L1: in 8x, out 4x, trainPeak  500 + 40x, params 50 B, buffers 4 B
 * Adam: parameters count 4× (weights, gradients, 2 moments): 400 + 200 + 4 = 604 bytes.
 */
function profileAt(edge: number): NetworkProfile {
  const x = edge ** 3;
  const layer = (index: number, i: number, o: number, tp: [number, number], paramBytes: number, bufferBytes: number): LayerProfile => ({
    index,
    name: `l${index}`,
    type: 'Conv3d',
    outputShape: [1, edge / 2, edge / 2, edge / 2, 2],
    inputBytes: i * x,
    outputBytes: o * x,
    latentBytes: o * x,
    peakBytes: o * x,
    largestTensorBytes: o * x,
    stashedBytes: 0,
    stashAliveBytes: 0,
    paramBytes,
    bufferBytes,
    trainPeakBytes: tp[0] + tp[1] * x,
    forwardMs: x / 1000,
  });
  return {
    network: 'toy',
    inputShape: [1, edge, edge, edge, 1],
    batch: 1,
    inputBytes: 4 * x,
    training: true,
    layers: [layer(0, 4, 8, [1000, 40], 100, 0), layer(1, 8, 4, [500, 40], 50, 4)],
  };
}
const P32 = profileAt(32);
const P64 = profileAt(64);

describe('extrapolateProfile', () => {
  it('recovers the affine per-layer quantities at 128³ from 32³ and 64³', () => {
    const p = extrapolateProfile(P32, P64, [1, 128, 128, 128, 1]);
    const x = 128 ** 3; // 2,097,152
    expect(p.inputShape).toEqual([1, 128, 128, 128, 1]);
    expect(p.inputBytes).toBe(4 * x);
    expect(p.layers.map((l) => l.trainPeakBytes)).toEqual([1000 + 40 * x, 500 + 40 * x]); // 83,887,080 and 83,886,580
    expect(p.layers.map((l) => [l.inputBytes, l.outputBytes, l.peakBytes])).toEqual([[4 * x, 8 * x, 8 * x], [8 * x, 4 * x, 4 * x]]);
    expect(p.layers.map((l) => [l.paramBytes, l.bufferBytes])).toEqual([[100, 0], [50, 4]]);
    expect(p.layers[0].outputShape).toEqual([1, 64, 64, 64, 2]);
    expect(p.layers[1].forwardMs).toBeCloseTo(x / 1000, 6);
    // and reproduces the measured sizes themselves
    expect(extrapolateProfile(P32, P64, [1, 32, 32, 32, 1]).layers).toEqual(P32.layers);
  });

  it('rejects two profiles of the same size or of different networks', () => {
    expect(() => extrapolateProfile(P32, P32, [1, 64, 64, 64, 1])).toThrow(/two different sizes/);
    expect(() => extrapolateProfile(P32, { ...P64, layers: P64.layers.slice(1) }, [1, 64, 64, 64, 1])).toThrow(/same network/);
  });
});

describe('trainingMemory', () => {
  it('whole = params + input + Σ trainPeak; two stages on one device = params + both checkpoints + the larger recompute', () => {
    const x = 128 ** 3;
    const p = extrapolateProfile(P32, P64, [1, 128, 128, 128, 1]);
    // K = 1: 604 + 4x + (1500 + 80x) = 2104 + 84x
    expect(trainingPlanForK(p, 1).singleDeviceBytes).toBe(2104 + 84 * x);
    // K = 2 ([1, 1]): 604 + (4x + 8x) + max(1000 + 40x, 500 + 40x) = 1604 + 52x
    const two = trainingPlanForK(p, 2);
    expect(two.balance).toEqual([1, 1]);
    expect(two.singleDeviceBytes).toBe(1604 + 52 * x);
    expect(oneDeviceBytes(two)).toBe(two.singleDeviceBytes);
    const m = trainingMemory(p);
    expect(m).toMatchObject({ wholeBytes: 2104 + 84 * x, pipelineBytes: 1604 + 52 * x, pipelineStages: 2 });
  });

  it('the loss (headBytes) is added to the whole tape and to the last stage only', () => {
    const x = 128 ** 3;
    const p = extrapolateProfile(P32, P64, [1, 128, 128, 128, 1]);
    // K = 2: 604 + 12x + max(1000 + 40x, 500 + 40x + 1000) = 2104 + 52x; whole: 2104 + 84x + 1000
    expect(oneDeviceBytes(trainingPlanForK(p, 2), 1000)).toBe(2104 + 52 * x);
    expect(trainingMemory(p, { headBytes: 1000 })).toMatchObject({ wholeBytes: 3104 + 84 * x, pipelineBytes: 2104 + 52 * x, pipelineStages: 2 });
    // head 10x: K = 2 gives 604 + 12x + 500 + 40x + 10x = 1104 + 62x; K = 1 gives 2104 + 94x
    expect(trainingMemory(p, { headBytes: 10 * x }).pipelineBytes).toBe(1104 + 62 * x);
  });
});

describe('largestCube', () => {
  it('stops at the first edge that misses', () => {
    expect(largestCube((e) => (e <= 100 ? e * 2 : null))).toEqual({ edge: 96, at: 192, firstMiss: 128 });
    expect(largestCube(() => null)).toEqual({ edge: 0, firstMiss: 32 });
    expect(largestCube((e) => e, { step: 16, maxEdge: 48 })).toEqual({ edge: 48, at: 48 });
  });

  it('under 1.5e8 bytes the toy trains 96³ whole (2104 + 84x) but 128³ as two stages (1604 + 52x)', () => {
    const budget = 1.5e8;
    // whole: x ≤ 1,785,689 → edge ≤ 121.3 → 96;  two stages: x ≤ 2,884,584 → edge ≤ 142.3 → 128
    const at = (edge: number) => trainingMemory(extrapolateProfile(P32, P64, [1, edge, edge, edge, 1]));
    const whole = largestCube((e) => (at(e).wholeBytes <= budget ? at(e).wholeBytes : null));
    const piped = largestCube((e) => (at(e).pipelineBytes <= budget ? at(e) : null));
    expect([whole.edge, whole.firstMiss, whole.at]).toEqual([96, 128, 2104 + 84 * 96 ** 3]);
    expect([piped.edge, piped.firstMiss, piped.at!.pipelineStages, piped.at!.pipelineBytes]).toEqual([128, 160, 2, 1604 + 52 * 128 ** 3]);
  });
});
