#!/usr/bin/env python3
"""A lazy, torch-free reader of torch zip checkpoints: the pure-Python peer in scripts/bench.

Standard library only. It decodes the archive's data.pkl with a restricted pickle.Unpickler
(the approach of llama.cpp's convert_legacy_llama.py LazyUnpickler): `find_class` hands out
stand-ins for the tensor rebuild functions, the storage classes and OrderedDict, and
`persistent_load` turns each ('storage', cls, key, location, numel) record into a storage
stand-in. No tensor data is read: only the zip directory and the pickle.

    python3 scripts/lazy_reader.py FILE.pt > summary.json

Prints a JSON summary like `ptinspect summary --format json` (a subset of its fields):
every tensor's name, dtype, shape, stride, numel, bytes, storage key and offset, plus totals.
Exit status 2 (one line on stderr) when the file cannot be read.
"""

import collections
import json
import os
import pickle
import sys
import zipfile

# storage class name -> (dtype name, item size)
STORAGE_DTYPES = {
    "DoubleStorage": ("float64", 8),
    "FloatStorage": ("float32", 4),
    "HalfStorage": ("float16", 2),
    "BFloat16Storage": ("bfloat16", 2),
    "LongStorage": ("int64", 8),
    "IntStorage": ("int32", 4),
    "ShortStorage": ("int16", 2),
    "CharStorage": ("int8", 1),
    "ByteStorage": ("uint8", 1),
    "BoolStorage": ("bool", 1),
    "ComplexFloatStorage": ("complex64", 8),
    "ComplexDoubleStorage": ("complex128", 16),
    "Float8_e4m3fnStorage": ("float8_e4m3fn", 1),
    "Float8_e5m2Storage": ("float8_e5m2", 1),
}
# torch.<dtype> globals (used with UntypedStorage / TypedStorage records)
TORCH_DTYPES = {v[0]: v for v in STORAGE_DTYPES.values()}
TORCH_DTYPES.update({
    "float": ("float32", 4), "double": ("float64", 8), "half": ("float16", 2),
    "long": ("int64", 8), "int": ("int32", 4), "short": ("int16", 2),
    "complex32": ("complex32", 4), "uint16": ("uint16", 2), "uint32": ("uint32", 4),
    "uint64": ("uint64", 8), "float8_e4m3fnuz": ("float8_e4m3fnuz", 1),
    "float8_e5m2fnuz": ("float8_e5m2fnuz", 1), "float8_e8m0fnu": ("float8_e8m0fnu", 1),
})


class StorageType:
    def __init__(self, dtype, itemsize):
        self.dtype, self.itemsize = dtype, itemsize


class Storage:
    __slots__ = ("kind", "key", "location", "numel")

    def __init__(self, kind, key, location, numel):
        self.kind, self.key, self.location, self.numel = kind, key, location, numel


class Tensor:
    __slots__ = ("storage", "offset", "shape", "stride", "requires_grad")

    def __init__(self, storage, offset, shape, stride, requires_grad=False):
        self.storage, self.offset = storage, offset
        self.shape, self.stride = tuple(shape), tuple(stride)
        self.requires_grad = requires_grad

    @property
    def numel(self):
        n = 1
        for d in self.shape:
            n *= d
        return n


def rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    return Tensor(storage, offset, size, stride, requires_grad)


def rebuild_tensor_v3(storage, offset, size, stride, requires_grad, hooks, dtype, metadata=None):
    st = Storage(StorageType(*dtype_of(dtype)), storage.key, storage.location, storage.numel)
    return Tensor(st, offset, size, stride, requires_grad)


def rebuild_parameter(data, requires_grad, hooks, *extra):
    data.requires_grad = requires_grad
    return data


def dtype_of(x):
    return x if isinstance(x, tuple) else (str(x), 0)


class LazyUnpickler(pickle.Unpickler):
    CLASSES = {
        ("torch._utils", "_rebuild_tensor_v2"): rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor_v3"): rebuild_tensor_v3,
        ("torch._utils", "_rebuild_parameter"): rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): rebuild_parameter,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("builtins", "set"): set,
        ("torch", "Size"): tuple,
    }

    def find_class(self, module, name):
        if (module, name) in self.CLASSES:
            return self.CLASSES[(module, name)]
        if module == "torch" and name in STORAGE_DTYPES:
            return StorageType(*STORAGE_DTYPES[name])
        if module == "torch" and name in TORCH_DTYPES:
            return TORCH_DTYPES[name]
        if module in ("torch", "torch.storage") and name in ("UntypedStorage", "TypedStorage"):
            return StorageType("uint8", 1)
        raise pickle.UnpicklingError(f"refusing global {module}.{name}")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        _, kind, key, location, numel = pid
        if not isinstance(kind, StorageType):
            raise pickle.UnpicklingError(f"unexpected storage type {kind!r}")
        return Storage(kind, str(key), location, numel)


def flatten(obj, prefix, out):
    if isinstance(obj, Tensor):
        out.append((prefix, obj))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            flatten(v, f"{prefix}.{i}" if prefix else str(i), out)


def summarize(path):
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        pkl = next(n for n in names if n.endswith("data.pkl") and n.count("/") == 1)
        root = pkl[: -len("data.pkl")]
        records = set(names)
        obj = LazyUnpickler(zf.open(pkl)).load()
    found = []
    flatten(obj, "", found)
    tensors, by_dtype = [], collections.Counter()
    total_elements = total_bytes = 0
    for name, t in found:
        dtype, itemsize = t.storage.kind.dtype, t.storage.kind.itemsize
        if f"{root}data/{t.storage.key}" not in records:
            raise ValueError(f"tensor {name}: storage record data/{t.storage.key} is missing")
        n = t.numel
        tensors.append({
            "name": name, "dtype": dtype, "shape": list(t.shape), "stride": list(t.stride),
            "numel": n, "bytes": n * itemsize, "storage": t.storage.key,
            "storageOffset": t.offset, "device": t.storage.location,
        })
        total_elements += n
        total_bytes += n * itemsize
        by_dtype[dtype] += n * itemsize
    return {
        "schemaVersion": 1, "file": path, "format": "torch-zip",
        "fileBytes": os.path.getsize(path), "archiveRoot": root, "tensors": tensors,
        "totals": {"tensors": len(tensors), "elements": total_elements, "bytes": total_bytes,
                   "byDtype": dict(by_dtype)},
    }


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: lazy_reader.py FILE.pt")
    try:
        report = summarize(sys.argv[1])
    except Exception as e:  # one line, exit 2, like ptinspect
        print(f"lazy_reader: {sys.argv[1]}: {e}", file=sys.stderr)
        sys.exit(2)
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
