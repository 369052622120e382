"""Test helper: PyTorch zip checkpoints without PyTorch (independent of the TypeScript code).

  torchless.py read <file.pt>   -> JSON summary of the checkpoint, read the way torch.load does
  torchless.py make <file.pt>   -> writes a torch.save-style file with strided / offset / float16 /
                                   float64 / int64 tensors under {"state_dict": ...}; prints the
                                   expected arrays as JSON
"""
import collections, io, json, pickle, struct, sys, types, zipfile

import numpy as np

DTYPES = {'FloatStorage': np.float32, 'HalfStorage': np.float16, 'DoubleStorage': np.float64, 'LongStorage': np.int64}


def read(path):
    z = zipfile.ZipFile(path)
    names = z.namelist()
    pkl = next(n for n in names if n.endswith('/data.pkl'))
    prefix = pkl[: -len('data.pkl')]
    raw = open(path, 'rb').read()
    # data offset of each stored entry, from its local header (alignment check)
    offsets = {}
    for info in z.infolist():
        n, m = struct.unpack('<HH', raw[info.header_offset + 26: info.header_offset + 30])
        offsets[info.filename] = info.header_offset + 30 + n + m

    class StorageType:
        def __init__(self, name):
            self.name = name

    def rebuild(storage, offset, size, stride, requires_grad, hooks, *rest):
        item = storage.itemsize
        return np.lib.stride_tricks.as_strided(storage[offset:], shape=size, strides=[s * item for s in stride]).copy()

    class U(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) == ('collections', 'OrderedDict'):
                return collections.OrderedDict
            if (module, name) == ('torch._utils', '_rebuild_tensor_v2'):
                return rebuild
            if module == 'torch' and name in DTYPES:
                return StorageType(name)
            raise pickle.UnpicklingError(f'unexpected global {module}.{name}')

        def persistent_load(self, pid):
            kind, stype, key, location, numel = pid
            assert kind == 'storage' and location == 'cpu'
            arr = np.frombuffer(z.read(prefix + 'data/' + key), dtype=DTYPES[stype.name])
            assert arr.size == numel, (key, arr.size, numel)
            return arr

    obj = U(io.BytesIO(z.read(pkl))).load()
    sd = obj['model_state_dict']
    out = {
        'names': names,
        'top_type': type(obj).__name__,
        'top_keys': list(obj.keys()),
        'sd_type': type(sd).__name__,
        'version': z.read(prefix + 'version').decode(),
        'data_offsets_aligned': all(offsets[n] % 64 == 0 for n in names),
        'entries': [
            {'key': k, 'dtype': str(v.dtype), 'shape': list(v.shape), 'values': v.astype(np.float64).ravel().tolist()}
            for k, v in sd.items()
        ],
    }
    print(json.dumps(out))


def make(path):
    torch = types.ModuleType('torch')
    utils = types.ModuleType('torch._utils')
    sys.modules['torch'], sys.modules['torch._utils'] = torch, utils

    def _rebuild_tensor_v2(*args):
        raise AssertionError('never called')

    _rebuild_tensor_v2.__module__ = 'torch._utils'
    _rebuild_tensor_v2.__qualname__ = '_rebuild_tensor_v2'
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    for name in DTYPES:
        setattr(torch, name, type(name, (), {'__module__': 'torch', '__qualname__': name}))

    class Storage:
        def __init__(self, name, key, arr):
            self.cls, self.key, self.arr = getattr(torch, name), key, arr

    class Tensor:
        def __init__(self, storage, offset, shape, stride):
            self.args = (storage, offset, tuple(shape), tuple(stride), False, collections.OrderedDict())

        def __reduce__(self):
            return (_rebuild_tensor_v2, self.args)

    class P(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                return ('storage', obj.cls, obj.key, 'cpu', obj.arr.size)
            return None

    s0 = Storage('FloatStorage', '0', np.arange(6, dtype=np.float32) * 0.5)
    s1 = Storage('FloatStorage', '1', np.arange(10, dtype=np.float32) - 3)
    s2 = Storage('HalfStorage', '2', np.array([0.5, -2, 65504, 6e-8, 0.1], dtype=np.float16))
    s3 = Storage('DoubleStorage', '3', np.array([1e-300, -2.5, 3, 4], dtype=np.float64))
    s4 = Storage('LongStorage', '4', np.array([4321], dtype=np.int64))
    sd = collections.OrderedDict()
    sd['a.transposed'] = Tensor(s0, 0, (3, 2), (1, 3))
    sd['b.offset'] = Tensor(s1, 4, (2, 3), (3, 1))
    sd['b.shared'] = Tensor(s1, 0, (4,), (1,))
    sd['c.half'] = Tensor(s2, 0, (5,), (1,))
    sd['d.double'] = Tensor(s3, 0, (2, 2), (2, 1))
    sd['e.count'] = Tensor(s4, 0, (), ())
    buf = io.BytesIO()
    P(buf, protocol=2).dump({'epoch': 7, 'state_dict': sd, 'optimizer': {'lr': 0.1}})
    with zipfile.ZipFile(path, 'w') as z:
        z.writestr('archive/data.pkl', buf.getvalue())
        for s in (s0, s1, s2, s3, s4):
            z.writestr('archive/data/' + s.key, s.arr.tobytes())
        z.writestr('archive/version', '3\n')
    expected = {
        'a.transposed': (np.arange(6, dtype=np.float32) * 0.5).reshape(2, 3).T,
        'b.offset': s1.arr[4:10].reshape(2, 3),
        'b.shared': s1.arr[:4],
        'c.half': s2.arr,
        'd.double': s3.arr.reshape(2, 2),
        'e.count': s4.arr.reshape(()),
    }
    print(json.dumps({k: {'dtype': str(v.dtype), 'shape': list(v.shape), 'values': v.astype(np.float64).ravel().tolist()} for k, v in expected.items()}))


if __name__ == '__main__':
    {'read': read, 'make': make}[sys.argv[1]](sys.argv[2])
