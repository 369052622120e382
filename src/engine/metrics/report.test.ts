import { describe, expect, it } from 'vitest';
import { compareObservers } from './observers';
import { comparisonCsv, comparisonJson } from './report';

describe('comparison reports', () => {
  const a = new Uint8Array(27);
  a[13] = 1;
  const b = new Uint8Array(27);
  const res = compareObservers(
    [
      { id: 'a', name: 'reader, one', data: a, isObserver: true },
      { id: 'b', name: 'empty', data: b, isObserver: true },
    ],
    { dims: [3, 3, 3], spacing: [1, 1, 2] },
  );
  it('writes one CSV row per ordered pair with every metric, quoting names', () => {
    const lines = comparisonCsv(res, { scan: 's.nii.gz', spacing: [1, 1, 2] }).trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0].startsWith('scan,spacing_mm,reference,layer,dice,iou')).toBe(true);
    expect(lines[1]).toMatch(/^s\.nii\.gz,1x1x2,"reader, one",empty,0,0,/);
  });
  it('writes JSON with non-finite numbers as strings and STAPLE per observer', () => {
    const j = JSON.parse(comparisonJson(res, { scan: 's', spacing: [1, 1, 2] }));
    expect(j.pairs).toHaveLength(2);
    expect(j.pairs[0].hausdorff).toBe('Infinity');
    expect(j.pairs[0].hausdorff95).toBe('NaN');
    expect(j.staple.observers.map((o: { layer: string }) => o.layer)).toEqual(['reader, one', 'empty']);
  });
});
