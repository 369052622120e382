/**
 * PyTorch checkpoints (`torch.save`) without PyTorch: both the zip format (torch >= 1.6) and the
 * legacy concatenated-pickle format, read into an ordered StateDict; and a writer for the zip
 * format that `torch.load` reads back as `{"model_state_dict": OrderedDict(...)}`.
 * Tensors of any device (e.g. 'cuda:0') load: the device is only a label in the file.
 */
import { InputError } from '../io/errors';
import { PickleWriter, PyGlobal, PyObject, unpickle, type PyCallable } from './pickle';
import { arrayBytes, BYTES_PER_ELEMENT, contiguousStrides, decodeArray, floatToHalf, numel, type DType, type StateDict, type TensorArray, type TensorData } from './tensor';
import { isZip, readZipEntries, writeStoredZip } from './zip';

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

/** Where the state dict is usually kept inside a training checkpoint, most specific first. */
const STATE_DICT_KEYS = ['model_state_dict', 'state_dict', 'model', 'net', 'network', 'weights', 'module'];

export interface TorchCheckpoint {
  format: 'zip' | 'legacy';
  stateDict: StateDict;
  /** Keys leading from the checkpoint's top-level object to the state dict ([] when it is the state dict). */
  path: string[];
}

class StorageRef {
  bytes: Uint8Array | null = null;
  constructor(
    readonly dtype: DType,
    readonly key: string,
    /** Element offset into the root storage (legacy views), else 0. */
    readonly elementOffset = 0,
  ) {}
}

class StorageType {
  constructor(readonly dtype: DType) {}
}

class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

export function readTorchCheckpoint(bytes: Uint8Array, file: string): TorchCheckpoint {
  let root: unknown;
  let format: TorchCheckpoint['format'];
  try {
    if (isZip(bytes)) {
      format = 'zip';
      root = readZipFormat(bytes);
    } else if (bytes[0] === 0x80 && bytes[2] === 0x8a) {
      format = 'legacy';
      root = readLegacyFormat(bytes);
    } else {
      throw new Error('not a PyTorch checkpoint (neither a torch.save zip archive nor the legacy pickle format)');
    }
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(file, (e as Error).message);
  }
  const { dict, path } = findStateDict(root, file);
  const stateDict: StateDict = new Map();
  for (const [key, ref] of dict) {
    try {
      stateDict.set(key, materialize(ref));
    } catch (e) {
      throw new InputError(file, `tensor ${key}: ${(e as Error).message}`);
    }
  }
  return { format, stateDict, path };
}

/** The globals a state-dict checkpoint uses; any other global becomes an inert placeholder. */
function torchGlobals(storages: StorageRef[], lookup: (pid: unknown[]) => StorageRef) {
  const rebuildTensor: PyCallable = (storage, offset, shape, stride) => {
    if (!(storage instanceof StorageRef)) throw new Error('tensor rebuilt from something that is not a storage');
    return new TensorRef(storage, Number(offset), (shape as unknown[]).map(Number), (stride as unknown[]).map(Number));
  };
  const functions: Record<string, PyCallable> = {
    'collections.OrderedDict': (items?: unknown) => new Map(Array.isArray(items) ? (items as [unknown, unknown][]) : []),
    'torch._utils._rebuild_tensor_v2': rebuildTensor,
    'torch._utils._rebuild_tensor': rebuildTensor,
    'torch._utils._rebuild_parameter': (data) => data,
    'torch._utils._rebuild_parameter_with_state': (data) => data,
  };
  return {
    findClass(module: string, name: string): unknown {
      const fn = functions[`${module}.${name}`];
      if (fn) return fn;
      if (module === 'torch' && STORAGE_DTYPES[name]) return new StorageType(STORAGE_DTYPES[name]);
      return new PyGlobal(module, name);
    },
    persistentLoad(pid: unknown): unknown {
      if (!Array.isArray(pid) || pid[0] !== 'storage') throw new Error(`unsupported persistent id ${JSON.stringify(pid)}`);
      const s = lookup(pid);
      storages.push(s);
      return s;
    },
  };
}

function storageDType(type: unknown): DType {
  if (type instanceof StorageType) return type.dtype;
  const name = type instanceof PyGlobal ? type.qualifiedName : String(type);
  throw new Error(`unsupported storage type ${name}`);
}

function readZipFormat(bytes: Uint8Array): unknown {
  const entries = readZipEntries(bytes);
  const pklName = [...entries.keys()].find((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (!pklName) {
    throw new Error(`zip archive has no <folder>/data.pkl, so it is not a torch.save file (entries: ${[...entries.keys()].slice(0, 5).join(', ')})`);
  }
  const prefix = pklName.slice(0, -'data.pkl'.length);
  const byteorder = entries.get(`${prefix}byteorder`);
  if (byteorder && new TextDecoder().decode(byteorder).trim() !== 'little') throw new Error('big-endian checkpoints are not supported');
  const storages: StorageRef[] = [];
  const byKey = new Map<string, StorageRef>();
  const globals = torchGlobals(storages, (pid) => {
    const key = String(pid[2]);
    let s = byKey.get(key);
    if (!s) {
      s = new StorageRef(storageDType(pid[1]), key);
      const data = entries.get(`${prefix}data/${key}`);
      if (!data) throw new Error(`storage ${key} (${prefix}data/${key}) is missing from the archive`);
      s.bytes = data;
      byKey.set(key, s);
    }
    return s;
  });
  return unpickle(entries.get(pklName)!, globals).value;
}

function readLegacyFormat(bytes: Uint8Array): unknown {
  const none = { findClass: (m: string, n: string) => new PyGlobal(m, n) };
  const magic = unpickle(bytes, none);
  if (magic.value !== LEGACY_MAGIC) throw new Error('not a PyTorch checkpoint (legacy magic number missing)');
  const proto = unpickle(bytes, none, magic.end);
  if (proto.value !== 1001) throw new Error(`unsupported legacy checkpoint protocol ${String(proto.value)}`);
  const sysInfo = unpickle(bytes, none, proto.end);
  if (sysInfo.value instanceof Map && sysInfo.value.get('little_endian') === false) throw new Error('big-endian checkpoints are not supported');

  const storages: StorageRef[] = [];
  const roots = new Map<string, StorageRef>();
  const globals = torchGlobals(storages, (pid) => {
    // ('storage', type, root_key, location, numel, view_metadata | None)
    const key = String(pid[2]);
    const dtype = storageDType(pid[1]);
    if (!roots.has(key)) roots.set(key, new StorageRef(dtype, key));
    const view = pid[5];
    if (Array.isArray(view)) return new StorageRef(dtype, key, Number(view[1]));
    return roots.get(key)!;
  });
  const main = unpickle(bytes, globals, sysInfo.end);
  const keyList = unpickle(bytes, none, main.end);
  if (!Array.isArray(keyList.value)) throw new Error('legacy checkpoint storage key list missing');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = keyList.end;
  for (const k of keyList.value) {
    const root = roots.get(String(k));
    if (!root) throw new Error(`legacy checkpoint lists storage ${String(k)} that no tensor uses`);
    if (p + 8 > bytes.length) throw new Error('legacy checkpoint truncated in the storage data');
    const count = Number(view.getBigInt64(p, true));
    const len = count * BYTES_PER_ELEMENT[root.dtype];
    p += 8;
    if (p + len > bytes.length) throw new Error(`legacy checkpoint truncated in storage ${root.key}`);
    root.bytes = bytes.subarray(p, p + len);
    p += len;
  }
  for (const s of storages) {
    const root = roots.get(s.key)!;
    if (!root.bytes) throw new Error(`storage ${s.key} has no data in the file`);
    if (s !== root) s.bytes = root.bytes.subarray(s.elementOffset * BYTES_PER_ELEMENT[s.dtype]);
  }
  return main.value;
}

function isTensorDict(v: unknown): v is Map<string, TensorRef> {
  if (!(v instanceof Map) || v.size === 0) return false;
  for (const [k, t] of v) if (typeof k !== 'string' || !(t instanceof TensorRef)) return false;
  return true;
}

function findStateDict(root: unknown, file: string): { dict: Map<string, TensorRef>; path: string[] } {
  if (isTensorDict(root)) return { dict: root, path: [] };
  if (root instanceof Map) {
    for (const k of STATE_DICT_KEYS) {
      const v = root.get(k);
      if (isTensorDict(v)) return { dict: v, path: [k] };
      if (v instanceof Map) {
        for (const k2 of STATE_DICT_KEYS) if (isTensorDict(v.get(k2))) return { dict: v.get(k2), path: [k, k2] };
        const bad = [...v].find(([, t]) => !(t instanceof TensorRef));
        if (bad && [...v.values()].some((t) => t instanceof TensorRef)) {
          throw new InputError(file, `checkpoint["${k}"] entry ${String(bad[0])} is ${describeValue(bad[1])}, not a tensor`);
        }
      }
    }
    const keys = [...root.keys()].map(String);
    throw new InputError(file, `no state dict found in the checkpoint (top-level keys: ${keys.slice(0, 12).join(', ') || 'none'})`);
  }
  throw new InputError(file, `checkpoint holds ${describeValue(root)}, not a state dict (is it a TorchScript or whole-model save?)`);
}

function describeValue(v: unknown): string {
  if (v instanceof PyObject) return `a ${v.cls.qualifiedName} object`;
  if (v instanceof PyGlobal) return v.qualifiedName;
  if (v instanceof Map) return 'a dict';
  if (Array.isArray(v)) return 'a list';
  return v === null ? 'None' : `a ${typeof v}`;
}

function materialize(ref: TensorRef): TensorData {
  const { storage, offset, shape, stride } = ref;
  const dtype = storage.dtype;
  const size = BYTES_PER_ELEMENT[dtype];
  const bytes = storage.bytes!;
  const n = numel(shape);
  if (shape.length !== stride.length) throw new Error('size and stride differ in length');
  const expected = contiguousStrides(shape);
  const contiguous = shape.every((s, i) => s === 1 || stride[i] === expected[i]);
  if (contiguous) {
    if ((offset + n) * size > bytes.length) throw new Error('tensor extends past the end of its storage');
    return { dtype, shape, data: decodeArray(bytes.subarray(offset * size, (offset + n) * size), dtype) };
  }
  // Strided view (e.g. a transposed tensor saved as is): gather it into C order.
  const src = decodeArray(bytes, dtype);
  const last = offset + shape.reduce((acc, s, i) => acc + (s - 1) * stride[i], 0);
  if (n > 0 && (last >= src.length || offset < 0)) throw new Error('tensor extends past the end of its storage');
  const out = new (src.constructor as new (n: number) => TensorArray)(n);
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    let s = offset;
    for (let d = 0; d < shape.length; d++) s += idx[d] * stride[d];
    out[i] = src[s];
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return { dtype, shape, data: out };
}

export interface TorchSaveOptions {
  /** Wrap the state dict as `{wrapKey: state_dict}` (the pretrained COPLE-Net layout); null saves it bare. */
  wrapKey?: string | null;
  /** Top-level folder in the archive; PyTorch uses the file's base name, any name loads. */
  archiveName?: string;
}

const STORAGE_NAMES = Object.fromEntries(Object.entries(STORAGE_DTYPES).map(([k, v]) => [v, k])) as Record<DType, string>;

/** Serialises a state dict in torch.save's zip format (pickle protocol 2, contiguous cpu tensors). */
export function writeTorchCheckpoint(stateDict: StateDict, options: TorchSaveOptions = {}): Uint8Array {
  const wrapKey = options.wrapKey === undefined ? 'model_state_dict' : options.wrapKey;
  const archive = options.archiveName ?? 'archive';
  const pk = new PickleWriter();
  if (wrapKey !== null) pk.emptyDict().str(wrapKey);
  pk.global('collections', 'OrderedDict').emptyTuple().reduce().mark();
  const storages: [string, Uint8Array][] = [];
  for (const [key, t] of stateDict) {
    const n = numel(t.shape);
    if (t.data.length !== n) throw new Error(`tensor ${key}: shape ${JSON.stringify(t.shape)} does not match ${t.data.length} values`);
    const id = String(storages.length);
    storages.push([`${archive}/data/${id}`, storageBytes(key, t)]);
    pk.str(key).global('torch._utils', '_rebuild_tensor_v2').mark();
    pk.mark().str('storage').global('torch', STORAGE_NAMES[t.dtype]).str(id).str('cpu').int(n).tuple().binPersId();
    pk.int(0).intTuple(t.shape).intTuple(contiguousStrides(t.shape)).bool(false);
    pk.global('collections', 'OrderedDict').emptyTuple().reduce(); // backward_hooks
    pk.tuple().reduce();
  }
  pk.setItems();
  if (wrapKey !== null) pk.setItem();
  const enc = new TextEncoder();
  return writeStoredZip([
    [`${archive}/data.pkl`, pk.stop().finish()],
    [`${archive}/byteorder`, enc.encode('little')],
    ...storages,
    [`${archive}/version`, enc.encode('3\n')],
  ]);
}

function storageBytes(key: string, t: TensorData): Uint8Array {
  if (t.dtype === 'bfloat16') throw new Error(`tensor ${key}: writing bfloat16 is not supported`);
  if (t.dtype === 'float16') {
    const h = new Uint16Array(t.data.length);
    for (let i = 0; i < h.length; i++) h[i] = floatToHalf(Number(t.data[i]));
    return new Uint8Array(h.buffer);
  }
  return arrayBytes(t.data);
}
