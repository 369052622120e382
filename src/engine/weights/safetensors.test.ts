import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { InputError } from '../io/errors';
import { readWeights } from './index';
import { readSafetensors, writeSafetensors } from './safetensors';
import { floatToHalf, halfToFloat, type StateDict } from './tensor';

const sd: StateDict = new Map([
  ['z.first', { dtype: 'float32', shape: [2, 3], data: new Float32Array([0.1, -2.5, 3e-6, 65519, 1e6, -0]) }],
  ['a.second', { dtype: 'int64', shape: [], data: new BigInt64Array([4321n]) }],
  ['m.third', { dtype: 'float64', shape: [3], data: new Float64Array([1 / 3, -1e-9, 7]) }],
]);

/** Reads a safetensors file with numpy (independent parser) and prints {key: [dtype, shape, values]} in data order. */
function pyRead(bytes: Uint8Array): Record<string, [string, number[], number[]]> {
  const code = `
import json, math, struct, sys, numpy as np
fin = lambda x: x if math.isfinite(x) else str(x).replace('inf', 'Infinity').replace('nan', 'NaN')  # strict JSON
b = sys.stdin.buffer.read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n]); data = b[8 + n:]
assert (8 + n) % 8 == 0
dt = {'F32': np.float32, 'F16': np.float16, 'F64': np.float64, 'I64': np.int64}
out = {}
for k, v in sorted(((k, v) for k, v in h.items() if k != '__metadata__'), key=lambda kv: kv[1]['data_offsets'][0]):
    s, e = v['data_offsets']
    a = np.frombuffer(data[s:e], dtype=dt[v['dtype']]).reshape(v['shape'])
    out[k] = [v['dtype'], list(a.shape), [fin(x) for x in a.astype(np.float64).ravel().tolist()]]
out['__metadata__'] = h.get('__metadata__')
print(json.dumps(out))`;
  const out = JSON.parse(execFileSync('/usr/bin/python3', ['-c', code], { input: bytes }).toString());
  for (const k of Object.keys(out)) if (k !== '__metadata__') out[k][2] = out[k][2].map(Number);
  return out;
}

describe('safetensors', () => {
  it('round-trips keys in order, dtypes, shapes and exact values, with metadata', () => {
    const bytes = writeSafetensors(sd, { metadata: { model: 'coplenet', features: '8,16,32,64,128' } });
    const back = readSafetensors(bytes, 'w.safetensors');
    expect(back.stateDict).toEqual(sd);
    expect(back.metadata).toEqual({ model: 'coplenet', features: '8,16,32,64,128' });
    expect(readWeights(bytes, 'w.safetensors').format).toBe('safetensors');
  });

  it('is read identically by numpy', () => {
    const py = pyRead(writeSafetensors(sd, { metadata: { a: 'b' } }));
    expect(py['z.first']).toEqual(['F32', [2, 3], Array.from(sd.get('z.first')!.data as Float32Array)]);
    expect(py['a.second']).toEqual(['I64', [], [4321]]);
    expect(py['m.third']).toEqual(['F64', [3], [1 / 3, -1e-9, 7]]);
    expect(py.__metadata__).toEqual({ a: 'b' });
  });

  it('stores floats as float16 on request, rounding exactly like numpy', () => {
    const probe = new Float32Array([0.1, -2.5, 3e-6, 65519, 65520, 1e6, 6e-8, 2.98e-8, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 5.9604645e-8 * 1.5, NaN]);
    const half: StateDict = new Map([['w', { dtype: 'float32', shape: [probe.length], data: probe }], ['n', { dtype: 'int64', shape: [1], data: new BigInt64Array([7n]) }]]);
    const bytes = writeSafetensors(half, { float16: true });
    const py = pyRead(bytes);
    const code = `import numpy as np, json, sys; print(json.dumps([str(x) for x in np.array(json.load(sys.stdin), dtype=np.float32).astype(np.float16).astype(np.float64).tolist()]))`;
    const numpyHalf = (JSON.parse(execFileSync('/usr/bin/python3', ['-c', code], { input: JSON.stringify(Array.from(probe, (v) => (Number.isNaN(v) ? 0 : v))) }).toString()) as string[]).map((x) =>
      Number(x.replace('inf', 'Infinity')),
    );
    const ours = Array.from(readSafetensors(bytes, 'h').stateDict.get('w')!.data as Float32Array);
    expect(py.w[0]).toBe('F16');
    expect(py.n).toEqual(['I64', [1], [7]]);
    expect(ours.slice(0, -1)).toEqual(numpyHalf.slice(0, -1));
    expect(py.w[2].slice(0, -1)).toEqual(numpyHalf.slice(0, -1));
    expect(ours[ours.length - 1]).toBeNaN();
    expect(bytes.length).toBeLessThan(writeSafetensors(half).length);
  });

  it('float16 helpers: hand-checked bit patterns', () => {
    expect(floatToHalf(1)).toBe(0x3c00);
    expect(floatToHalf(-2)).toBe(0xc000);
    expect(floatToHalf(65504)).toBe(0x7bff);
    expect(floatToHalf(1e5)).toBe(0x7c00);
    expect(floatToHalf(-0)).toBe(0x8000);
    expect(floatToHalf(2 ** -24)).toBe(0x0001);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(halfToFloat(0x3555)).toBeCloseTo(0.333251953125, 12);
  });

  it('rejects a corrupt header with InputError naming the file', () => {
    const bytes = writeSafetensors(sd);
    const cut = bytes.slice(0, bytes.length - 4);
    expect(() => readSafetensors(cut, 'cut.safetensors')).toThrow(InputError);
    expect(() => readSafetensors(cut, 'cut.safetensors')).toThrow(/^cut\.safetensors: tensor m\.third: data_offsets/);
  });
});
