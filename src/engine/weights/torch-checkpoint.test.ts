import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readShared, sharedPath } from '../../../tests/shared';
import { InputError } from '../io/errors';
import { readWeights } from './index';
import { arrayBytes, type StateDict, type TensorData } from './tensor';
import { readTorchCheckpoint, writeTorchCheckpoint } from './torch-checkpoint';

const TORCHLESS = join(__dirname, 'testdata', 'torchless.py');
const tmp = mkdtempSync(join(tmpdir(), 'ckpt-'));
const meta = JSON.parse(readFileSync(sharedPath('fixtures/monai/coplenet/meta.json'), 'utf8')) as { state_dict: { key: string; shape: number[]; dtype: string }[] };

interface PyEntry {
  key?: string;
  dtype: string;
  shape: number[];
  values: number[];
}

function python(...args: string[]): unknown {
  return JSON.parse(execFileSync('/usr/bin/python3', [TORCHLESS, ...args], { maxBuffer: 1 << 28 }).toString());
}

/** Same dtype, shape and bytes (deep toEqual on big typed arrays is slow). */
function sameTensor(a: TensorData | undefined, b: TensorData | undefined): boolean {
  if (!a || !b || a.dtype !== b.dtype || a.shape.join() !== b.shape.join()) return false;
  return Buffer.compare(arrayBytes(a.data), arrayBytes(b.data)) === 0;
}

function values(sd: StateDict, key: string): number[] {
  return Array.from(sd.get(key)!.data as ArrayLike<number | bigint>, Number);
}

describe('readTorchCheckpoint on the MONAI fixtures', () => {
  const zip = readTorchCheckpoint(readShared('fixtures/monai/coplenet/weights.pt'), 'weights.pt');
  const legacy = readTorchCheckpoint(readShared('fixtures/monai/coplenet/weights_legacy.pt'), 'weights_legacy.pt');

  it('finds the 215-entry state dict under model_state_dict, in module order, with shapes and dtypes', () => {
    for (const ckpt of [zip, legacy]) {
      expect(ckpt.path).toEqual(['model_state_dict']);
      expect([...ckpt.stateDict.keys()]).toEqual(meta.state_dict.map((e) => e.key));
      for (const e of meta.state_dict) {
        const t = ckpt.stateDict.get(e.key)!;
        expect(t.shape).toEqual(e.shape);
        expect(t.dtype).toBe(e.dtype);
      }
    }
    expect(zip.format).toBe('zip');
    expect(legacy.format).toBe('legacy');
    expect(zip.stateDict.get('up4.conv.conv_conv_se.3.fc.2.weight')!.data.length).toBe(8 * 4);
    expect(zip.stateDict.get('bridge2.norm.num_batches_tracked')!.data).toEqual(new BigInt64Array([4321n]));
  });

  it('reads the same numbers from both formats', () => {
    for (const [k, t] of zip.stateDict) expect(sameTensor(legacy.stateDict.get(k), t), k).toBe(true);
  });

  it('agrees with an independent Python reader of the zip file (every value)', () => {
    const py = python('read', sharedPath('fixtures/monai/coplenet/weights.pt')) as { entries: PyEntry[] };
    expect(py.entries.length).toBe(215);
    let mismatches = 0;
    for (const e of py.entries) {
      const ours = values(zip.stateDict, e.key!);
      if (ours.length !== e.values.length || ours.some((v, i) => v !== e.values[i])) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it('returns zero-copy views for aligned float32 data', () => {
    const bytes = readShared('fixtures/monai/coplenet/weights.pt');
    const t = readTorchCheckpoint(bytes, 'weights.pt').stateDict.get('down4.conv.conv_conv_se.0.conv.weight')!;
    expect(t.data.buffer).toBe(bytes.buffer);
  });
});

describe('readTorchCheckpoint on tricky tensors (file made by a torch-free Python writer)', () => {
  it('handles strides, storage offsets, shared storages, float16, float64, int64 scalars and nested dicts', () => {
    const file = join(tmp, 'tricky.pt');
    const expected = python('make', file) as Record<string, PyEntry>;
    const ckpt = readTorchCheckpoint(new Uint8Array(readFileSync(file)), 'tricky.pt');
    expect(ckpt.path).toEqual(['state_dict']);
    expect([...ckpt.stateDict.keys()]).toEqual(Object.keys(expected));
    for (const [k, e] of Object.entries(expected)) {
      const t = ckpt.stateDict.get(k)!;
      expect(t.shape).toEqual(e.shape);
      expect(t.dtype).toBe(e.dtype);
      expect(values(ckpt.stateDict, k)).toEqual(e.values);
    }
  });
});

describe('writeTorchCheckpoint', () => {
  const sd: StateDict = new Map([
    ['conv.weight', { dtype: 'float32', shape: [2, 1, 3, 3], data: Float32Array.from({ length: 18 }, (_, i) => i / 7 - 1) }],
    ['conv.bias', { dtype: 'float32', shape: [2], data: new Float32Array([0.25, -1e-8]) }],
    ['norm.num_batches_tracked', { dtype: 'int64', shape: [], data: new BigInt64Array([123456789012n]) }],
    ['fc.weight', { dtype: 'float64', shape: [1, 3], data: new Float64Array([1 / 3, 2, -3]) }],
  ]);

  it('round-trips through our reader', () => {
    const back = readTorchCheckpoint(writeTorchCheckpoint(sd), 'x.pt');
    expect(back.path).toEqual(['model_state_dict']);
    expect(back.stateDict).toEqual(sd);
    const bare = readTorchCheckpoint(writeTorchCheckpoint(sd, { wrapKey: null }), 'bare.pt');
    expect(bare.path).toEqual([]);
    expect(bare.stateDict).toEqual(sd);
  });

  it('round-trips the whole fixture state dict byte-exactly', () => {
    const orig = readTorchCheckpoint(readShared('fixtures/monai/coplenet/weights.pt'), 'weights.pt').stateDict;
    const back = readTorchCheckpoint(writeTorchCheckpoint(orig, { archiveName: 'coplenet' }), 'y.pt').stateDict;
    expect([...back.keys()]).toEqual([...orig.keys()]);
    for (const [k, t] of orig) expect(sameTensor(back.get(k), t), k).toBe(true);
  });

  it('is read by Python the way torch.load reads it: {"model_state_dict": OrderedDict}, aligned stored entries', () => {
    const file = join(tmp, 'ours.pt');
    writeFileSync(file, writeTorchCheckpoint(sd));
    const py = python('read', file) as { names: string[]; top_type: string; top_keys: string[]; sd_type: string; version: string; data_offsets_aligned: boolean; entries: PyEntry[] };
    expect(py.top_type).toBe('dict');
    expect(py.top_keys).toEqual(['model_state_dict']);
    expect(py.sd_type).toBe('OrderedDict');
    expect(py.version).toBe('3\n');
    expect(py.names).toEqual(['archive/data.pkl', 'archive/byteorder', 'archive/data/0', 'archive/data/1', 'archive/data/2', 'archive/data/3', 'archive/version']);
    expect(py.data_offsets_aligned).toBe(true);
    expect(py.entries.map((e) => [e.key, e.dtype, e.shape])).toEqual([
      ['conv.weight', 'float32', [2, 1, 3, 3]],
      ['conv.bias', 'float32', [2]],
      ['norm.num_batches_tracked', 'int64', []],
      ['fc.weight', 'float64', [1, 3]],
    ]);
    for (const e of py.entries) expect(e.values).toEqual(values(sd, e.key!));
  });

  it('writes a pickle that pickletools disassembles as protocol 2', () => {
    const file = join(tmp, 'dis.pt');
    writeFileSync(file, writeTorchCheckpoint(sd, { wrapKey: null }));
    const code = `import zipfile, pickletools, io; o = io.StringIO(); pickletools.dis(zipfile.ZipFile('${file}').read('archive/data.pkl'), o); print(o.getvalue().splitlines()[-1])`;
    expect(execFileSync('/usr/bin/python3', ['-c', code]).toString().trim()).toBe('highest protocol among opcodes = 2');
  });
});

describe('bad checkpoints give InputError naming the file', () => {
  const good = readShared('fixtures/monai/coplenet/weights.pt');

  it('truncated zip', () => {
    expect(() => readTorchCheckpoint(good.subarray(0, good.length >> 1), 'half.pt')).toThrow(InputError);
    expect(() => readTorchCheckpoint(good.subarray(0, good.length >> 1), 'half.pt')).toThrow(/^half\.pt: ZIP end-of-central-directory record not found/);
  });

  it('truncated legacy file', () => {
    const legacy = readShared('fixtures/monai/coplenet/weights_legacy.pt');
    expect(() => readTorchCheckpoint(legacy.subarray(0, legacy.length - 100), 'cut.pt')).toThrow(/^cut\.pt: legacy checkpoint truncated in storage/);
  });

  it('not a checkpoint at all', () => {
    expect(() => readWeights(new TextEncoder().encode('hello world, not weights'), 'notes.txt')).toThrow(/^notes\.txt: not a PyTorch checkpoint/);
  });

  it('a checkpoint without a state dict lists its top-level keys', () => {
    const pkl = execFileSync('/usr/bin/python3', ['-c', "import pickle,sys; sys.stdout.buffer.write(pickle.dumps({'epoch': 3, 'best': 0.5}, protocol=2))"]);
    const file = join(tmp, 'nosd.pt');
    execFileSync('/usr/bin/python3', ['-c', `import zipfile,sys; z=zipfile.ZipFile('${file}','w'); z.writestr('nosd/data.pkl', sys.stdin.buffer.read()); z.writestr('nosd/version','3\\n'); z.close()`], { input: pkl });
    expect(() => readTorchCheckpoint(new Uint8Array(readFileSync(file)), 'nosd.pt')).toThrow('nosd.pt: no state dict found in the checkpoint (top-level keys: epoch, best)');
  });
});
