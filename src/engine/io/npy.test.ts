import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { InputError } from './errors';
import { readNpy, writeNpy } from './npy';

const py = (code: string, input?: Uint8Array) => execFileSync('/usr/bin/python3', ['-c', `import numpy as np, io, sys\n${code}`], input ? { input } : {});

describe('.npy', () => {
  it('numpy reads what we write (shape, dtype, values, 64-byte aligned header)', () => {
    const data = Float32Array.from({ length: 24 }, (_, i) => i / 8 - 1);
    const bytes = writeNpy(data, [1, 2, 3, 4]);
    expect((bytes[8] + 10) % 64).toBe(0);
    const out = py('a = np.load(io.BytesIO(sys.stdin.buffer.read())); print(a.dtype, a.shape, float(a[0, 1, 2, 3]), float(a.sum()))', bytes).toString().trim();
    expect(out).toBe(`float32 (1, 2, 3, 4) ${data[23]} ${data.reduce((a, b) => a + b, 0)}`);
  });

  it('reads what numpy writes: float64, int64, uint8, bool, 1-D and 0-D shapes, format 2.0', () => {
    const save = (expr: string, version = '(1, 0)') =>
      new Uint8Array(py(`b = io.BytesIO(); np.lib.format.write_array(b, ${expr}, version=${version}); sys.stdout.buffer.write(b.getvalue())`));
    const f64 = readNpy(save('np.arange(6, dtype=np.float64).reshape(2, 3) / 4'), 'a.npy');
    expect([f64.dtype, f64.shape, Array.from(f64.data as Float64Array)]).toEqual(['float64', [2, 3], [0, 0.25, 0.5, 0.75, 1, 1.25]]);
    const i64 = readNpy(save('np.array([-3, 2**40], dtype=np.int64)', '(2, 0)'), 'b.npy');
    expect([i64.dtype, i64.shape, Array.from(i64.data as BigInt64Array)]).toEqual(['int64', [2], [-3n, 2n ** 40n]]);
    expect(Array.from(readNpy(save('np.array([0, 255], dtype=np.uint8)'), 'c.npy').data as Uint8Array)).toEqual([0, 255]);
    expect(readNpy(save('np.array([True, False])'), 'd.npy').dtype).toBe('bool');
    const scalar = readNpy(save('np.float32(2.5)'), 'e.npy');
    expect([scalar.shape, Array.from(scalar.data as Float32Array)]).toEqual([[], [2.5]]);
  });

  it('rejects bad files with InputError naming the file', () => {
    expect(() => readNpy(new Uint8Array(20), 'zeros.npy')).toThrow(InputError);
    expect(() => readNpy(new Uint8Array(20), 'zeros.npy')).toThrow('zeros.npy: not a .npy file');
    const fortran = new Uint8Array(py("b = io.BytesIO(); np.save(b, np.asfortranarray(np.ones((2, 3), np.float32))); sys.stdout.buffer.write(b.getvalue())"));
    expect(() => readNpy(fortran, 'f.npy')).toThrow('f.npy: Fortran-order');
    const good = writeNpy(new Float32Array(8), [8]);
    expect(() => readNpy(good.subarray(0, good.length - 4), 'cut.npy')).toThrow('cut.npy: .npy data truncated');
    const big = new Uint8Array(py("b = io.BytesIO(); np.save(b, np.ones(2, '>f4')); sys.stdout.buffer.write(b.getvalue())"));
    expect(() => readNpy(big, 'be.npy')).toThrow('be.npy: unsupported .npy dtype >f4');
  });
});
