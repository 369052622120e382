import { describe, expect, it } from 'vitest';
import { averageStateDicts } from './average';
import type { StateDict, TensorData } from './tensor';

const f32 = (shape: number[], values: number[]): TensorData => ({ dtype: 'float32', shape, data: Float32Array.from(values) });
const dict = (w: number[], bias: number, runs: bigint): StateDict =>
  new Map<string, TensorData>([
    ['conv.weight', f32([2, 2], w)],
    ['bn.running_mean', { dtype: 'float16', shape: [1], data: Float32Array.of(bias) }],
    ['bn.num_batches_tracked', { dtype: 'int64', shape: [], data: BigInt64Array.of(runs) }],
  ]);

describe('averageStateDicts', () => {
  it('averages floating-point tensors with normalised weights, keeps float16 and takes counters from the first', () => {
    const a = dict([1, 2, 3, 4], 0.5, 10n);
    const b = dict([5, 6, 7, 8], 1.5, 99n);
    const out = averageStateDicts([a, b], [1, 3], ['a', 'b']);
    // (1·a + 3·b) / 4
    expect(Array.from(out.get('conv.weight')!.data as Float32Array)).toEqual([4, 5, 6, 7]);
    expect(out.get('conv.weight')!.shape).toEqual([2, 2]);
    expect(out.get('bn.running_mean')).toMatchObject({ dtype: 'float16', data: Float32Array.of(1.25) });
    expect(out.get('bn.num_batches_tracked')!.data).toEqual(BigInt64Array.of(10n));
    expect([...out.keys()]).toEqual([...a.keys()]);
    // Equal weights: the plain mean; the inputs are left as they were.
    expect(Array.from(averageStateDicts([a, b, dict([0, 0, 0, 0], 0, 0n)], [1, 1, 1], ['a', 'b', 'c']).get('conv.weight')!.data as Float32Array)).toEqual([2, 8 / 3, 10 / 3, 4].map(Math.fround));
    expect(Array.from(a.get('conv.weight')!.data as Float32Array)).toEqual([1, 2, 3, 4]);
  });

  it('refuses files of different networks and bad weights, naming the file and the tensor', () => {
    const a = dict([1, 2, 3, 4], 0, 0n);
    const other = new Map(a);
    other.set('conv.weight', f32([4], [1, 2, 3, 4]));
    expect(() => averageStateDicts([a, other], [1, 1], ['a.safetensors', 'b.safetensors'])).toThrow('b.safetensors: conv.weight has shape [4], a.safetensors [2, 2]');
    const fewer = new Map(a);
    fewer.delete('bn.running_mean');
    expect(() => averageStateDicts([a, fewer], [1, 1], ['a', 'b'])).toThrow('b: not the same network as a (missing bn.running_mean)');
    expect(() => averageStateDicts([a, a], [1], ['a', 'a'])).toThrow('1 weights for 2 files');
    expect(() => averageStateDicts([a, a], [1, 0], ['a', 'a'])).toThrow('weights must be positive, got 1, 0');
    expect(() => averageStateDicts([], [], [])).toThrow('nothing to average');
  });
});
