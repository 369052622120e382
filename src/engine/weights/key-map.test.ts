import { describe, expect, it } from 'vitest';
import { formatReport, matchStateDict, type ExpectedTensor } from './key-map';
import type { StateDict, TensorData } from './tensor';

const f32 = (shape: number[], fill = 1): TensorData => ({ dtype: 'float32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(fill) });

const expected = new Map<string, ExpectedTensor>([
  ['in_conv.conv_conv_se.0.conv.weight', { shape: [8, 1, 3, 3], dtype: 'float32' }],
  ['in_conv.conv_conv_se.0.norm.weight', { shape: [8], dtype: 'float32' }],
  ['in_conv.conv_conv_se.0.norm.num_batches_tracked', { shape: [], dtype: 'int64' }],
  ['in_conv.conv_conv_se.3.fc.0.weight', { shape: [4, 8], dtype: 'float32' }],
  ['up1.up.upsample.0.weight', { shape: [32, 128, 1, 1], dtype: 'float32' }],
  ['aspp.conv_k1.conv.weight', { shape: [128, 128, 1, 1], dtype: 'float32' }],
  ['aspp.conv_k1.conv.bias', { shape: [128], dtype: 'float32', optional: 'current MONAI SimpleASPP has no bias' }],
  ['bridge0.norm.weight', { shape: [4], dtype: 'float32' }],
  ['out_conv.conv.weight', { shape: [2, 8, 3, 3], dtype: 'float32' }],
]);

function canonical(): StateDict {
  const sd: StateDict = new Map();
  for (const [k, e] of expected) sd.set(k, e.dtype === 'int64' ? { dtype: 'int64', shape: [], data: new BigInt64Array([5n]) } : f32(e.shape, 2));
  return sd;
}

describe('matchStateDict', () => {
  it('accepts MONAI 0.2.0 keys as they are, without notices', () => {
    const m = matchStateDict(canonical(), expected);
    expect(m.ok).toBe(true);
    expect(m.notices).toEqual([]);
    expect([...m.stateDict.keys()]).toEqual([...expected.keys()]);
  });

  it('maps current-MONAI names (adn.N, up.preconv) and fills the missing ASPP bias with zeros, with notices', () => {
    const src: StateDict = new Map();
    for (const [k, t] of canonical()) {
      if (k === 'aspp.conv_k1.conv.bias') continue;
      src.set(k.replace('.norm.', '.adn.N.').replace('up.upsample.0.', 'up.preconv.'), t);
    }
    expect(src.has('in_conv.conv_conv_se.0.adn.N.weight')).toBe(true);
    const m = matchStateDict(src, expected);
    expect(m.ok).toBe(true);
    expect(m.stateDict.get('up1.up.upsample.0.weight')!.shape).toEqual([32, 128, 1, 1]);
    expect(m.stateDict.get('aspp.conv_k1.conv.bias')!.data).toEqual(new Float32Array(128));
    expect(m.notices).toEqual([
      'current-MONAI names mapped to MONAI 0.2.0 (adn.N -> norm, adn.A -> act, up.preconv -> up.upsample.0)',
      'aspp.conv_k1.conv.bias missing (current MONAI SimpleASPP has no bias): set to zeros',
    ]);
  });

  it("maps the authors' HiLab names, reshaping 1x1-conv SE weights to Linear, and strips partitions./module. prefixes", () => {
    const src: StateDict = new Map([
      ['module.in_conv.conv_conv.0.weight', f32([8, 1, 3, 3])],
      ['module.in_conv.conv_conv.1.weight', f32([8])],
      ['module.in_conv.conv_conv.1.num_batches_tracked', { dtype: 'int64', shape: [], data: new BigInt64Array([1n]) }],
      ['partitions.0.in_conv.conv_conv.7.se_layers.1.weight', f32([4, 8, 1, 1])],
      ['up1.conv1x1.weight', f32([32, 128, 1, 1])],
      ['aspp.conv_1x1.0.weight', f32([128, 128, 1, 1])],
      ['aspp.conv_1x1.0.bias', f32([128])],
      ['bridge0.conv.1.weight', f32([4])],
      ['out_conv.weight', f32([2, 8, 3, 3])],
    ]);
    const m = matchStateDict(src, expected);
    expect(m.report).toEqual({ missing: [], unexpected: [], wrongShape: [] });
    expect(m.stateDict.get('in_conv.conv_conv_se.3.fc.0.weight')!.shape).toEqual([4, 8]);
    expect(m.notices).toContain("COPLE-Net authors' (HiLab) names mapped to MONAI 0.2.0");
    expect(m.notices).toContain('1x1 convolution weights reshaped to Linear weights');
    expect(m.notices).toContain('prefixes stripped (partitions.<j>. / module.)');
  });

  it('reports missing, unexpected and wrongly shaped keys', () => {
    const src = canonical();
    src.delete('bridge0.norm.weight');
    src.delete('in_conv.conv_conv_se.0.norm.num_batches_tracked');
    src.set('extra.head.weight', f32([3]));
    src.set('out_conv.conv.weight', f32([3, 8, 3, 3]));
    const m = matchStateDict(src, expected);
    expect(m.ok).toBe(false);
    expect(m.stateDict.size).toBe(0);
    expect(m.report).toEqual({
      missing: ['in_conv.conv_conv_se.0.norm.num_batches_tracked', 'bridge0.norm.weight'],
      unexpected: ['extra.head.weight'],
      wrongShape: [{ key: 'out_conv.conv.weight', expected: [2, 8, 3, 3], actual: [3, 8, 3, 3] }],
    });
    expect(formatReport(m.report)).toBe(
      'missing: in_conv.conv_conv_se.0.norm.num_batches_tracked, bridge0.norm.weight; unexpected: extra.head.weight; wrong shape: out_conv.conv.weight [3,8,3,3] (expected [2,8,3,3])',
    );
  });

  it('treats a second key mapping to the same name as unexpected', () => {
    const src = canonical();
    src.set('in_conv.conv_conv_se.0.adn.N.weight', f32([8]));
    expect(matchStateDict(src, expected).report.unexpected).toEqual(['in_conv.conv_conv_se.0.adn.N.weight']);
  });
});
