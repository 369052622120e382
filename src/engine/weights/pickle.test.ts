import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { PickleWriter, PyGlobal, PyObject, unpickle } from './pickle';

/** Pickles `expr` with the system Python (independent of our writer), protocol `proto`. */
function pyPickle(expr: string, proto: number): Uint8Array {
  const code = `import pickle, sys, collections, datetime\nsys.stdout.buffer.write(pickle.dumps(${expr}, protocol=${proto}))`;
  return new Uint8Array(execFileSync('/usr/bin/python3', ['-c', code]));
}

const plain = { findClass: (m: string, n: string) => (m === 'collections' && n === 'OrderedDict' ? (items?: unknown) => new Map(items as [unknown, unknown][]) : new PyGlobal(m, n)) };

describe('unpickle (against pickles made by CPython)', () => {
  const expr = `{'ints': [0, 255, 65535, -1, 2**31 - 1, -2**31, 2**40, -2**70], 'f': 2.5e-3, 'flags': (True, False, None), 's': 'caf\\u00e9', 'b': b'xy', 't': ((1,), (1, 2), (1, 2, 3), ()), 'od': collections.OrderedDict([('z', 1), ('a', [1.5])])}`;
  for (const proto of [2, 3, 4, 5]) {
    it(`reads protocol ${proto}`, () => {
      const v = unpickle(pyPickle(expr, proto), plain).value as Map<string, unknown>;
      expect(v).toBeInstanceOf(Map);
      expect(v.get('ints')).toEqual([0, 255, 65535, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 40, -(2n ** 70n)]);
      expect(v.get('f')).toBe(2.5e-3);
      expect(v.get('flags')).toEqual([true, false, null]);
      expect(v.get('s')).toBe('café');
      // protocol 2 has no bytes opcode: CPython writes _codecs.encode('xy', 'latin1'), left inert here
      if (proto >= 3) expect(v.get('b')).toEqual(new Uint8Array([0x78, 0x79]));
      else expect((v.get('b') as PyObject).cls.qualifiedName).toBe('_codecs.encode');
      expect(v.get('t')).toEqual([[1], [1, 2], [1, 2, 3], []]);
      const od = v.get('od') as Map<string, unknown>;
      expect([...od.keys()]).toEqual(['z', 'a']);
      expect(od.get('a')).toEqual([1.5]);
    });
  }

  it('keeps shared references (memo) as the same object', () => {
    const v = unpickle(pyPickle('(lambda l: [l, l])([1, 2])', 4), plain).value as unknown[][];
    expect(v[0]).toBe(v[1]);
  });

  it('turns unknown globals into inert placeholders carrying their arguments and state', () => {
    const v = unpickle(pyPickle('datetime.date(2020, 1, 2)', 2), plain).value as PyObject;
    expect(v).toBeInstanceOf(PyObject);
    expect(v.cls.qualifiedName).toBe('datetime.date');
  });

  it('names an unsupported opcode and its offset', () => {
    // protocol 0 text opcodes are not used by torch.save: INT 'I1\n' at byte 2
    const bytes = new Uint8Array([0x80, 0x02, 0x49, 0x31, 0x0a, 0x2e]);
    expect(() => unpickle(bytes, plain)).toThrow('unsupported pickle opcode INT at byte 2');
    expect(() => unpickle(new Uint8Array([0x80, 0x02, 0xff]), plain)).toThrow('unsupported pickle opcode 0xff at byte 2');
  });

  it('reports truncation', () => {
    const b = pyPickle("'hello world'", 2);
    expect(() => unpickle(b.subarray(0, 8), plain)).toThrow(/truncated/);
  });
});

describe('PickleWriter', () => {
  it('writes what CPython unpickles to the same values', () => {
    const pk = new PickleWriter().emptyDict().str('k').mark().int(7).int(300).int(70000).int(-5).int(2 ** 40).tuple().setItem();
    pk.str('e').emptyTuple().setItem().str('g').global('collections', 'OrderedDict').emptyTuple().reduce().setItem();
    const bytes = pk.stop().finish();
    const code = 'import pickle, sys; v = pickle.loads(sys.stdin.buffer.read()); print(repr(v))';
    const out = execFileSync('/usr/bin/python3', ['-c', code], { input: bytes }).toString().trim();
    expect(out).toBe("{'k': (7, 300, 70000, -5, 1099511627776), 'e': (), 'g': OrderedDict()}");
  });
});
