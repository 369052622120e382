import { describe, expect, it } from 'vitest';
import { channelsLast, contextChannels, stackSlices } from './slice-context';

describe('slice context', () => {
  // 3 slices of 1×2: slice k holds [10k, 10k + 1].
  const stack = Float32Array.from([0, 1, 10, 11, 20, 21]);

  it('stacks each slice with its neighbours as channels k−r … k+r, repeating the end slices', () => {
    expect(contextChannels(0)).toBe(1);
    expect(contextChannels(2)).toBe(5);
    // Slices 0 and 2 with r = 1: (2, 1, 2, 3) channel-last.
    expect(Array.from(stackSlices(stack, [3, 1, 2], [0, 2], 1))).toEqual([0, 0, 10, 1, 1, 11, 10, 20, 20, 11, 21, 21]);
    // r = 2 on the middle slice reaches past both ends.
    expect(Array.from(stackSlices(stack, [3, 1, 2], [1], 2))).toEqual([0, 0, 10, 20, 20, 1, 1, 11, 21, 21]);
    // r = 0 is a copy of the slices.
    expect(Array.from(stackSlices(stack, [3, 1, 2], [1, 0], 0))).toEqual([10, 11, 0, 1]);
  });

  it('moves channel-first data to channel-last', () => {
    expect(Array.from(channelsLast([1, 2, 3, 4, 5, 6], 3))).toEqual([1, 3, 5, 2, 4, 6]);
    expect(Array.from(channelsLast([1, 2, 3], 1))).toEqual([1, 2, 3]);
  });
});
