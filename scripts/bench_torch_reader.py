#!/usr/bin/env python3
"""The torch peer in scripts/bench: torch.load(mmap=True, weights_only=True) + a summary.

    /work/venv/bin/python scripts/bench_torch_reader.py FILE.pt > summary.json

Builds the same JSON as scripts/lazy_reader.py (names, dtypes, shapes, strides, numel, bytes,
storage offsets, totals) from the tensors torch.load returns. Tensor data is memory-mapped,
not read. Needs torch (keep its venv outside the repository).
"""

import collections
import json
import os
import sys

import torch


def flatten(obj, prefix, out):
    if isinstance(obj, torch.Tensor):
        out.append((prefix, obj))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            flatten(v, f"{prefix}.{i}" if prefix else str(i), out)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: bench_torch_reader.py FILE.pt")
    path = sys.argv[1]
    try:
        obj = torch.load(path, mmap=True, weights_only=True, map_location="cpu")
    except Exception as e:
        print(f"bench_torch_reader: {path}: {e}", file=sys.stderr)
        sys.exit(2)
    found = []
    flatten(obj, "", found)
    tensors, by_dtype = [], collections.Counter()
    total_elements = total_bytes = 0
    for name, t in found:
        dtype = str(t.dtype).removeprefix("torch.")
        n = t.numel()
        nbytes = n * t.element_size()
        tensors.append({
            "name": name, "dtype": dtype, "shape": list(t.shape), "stride": list(t.stride()),
            "numel": n, "bytes": nbytes, "storageOffset": t.storage_offset(),
            "device": str(t.device),
        })
        total_elements += n
        total_bytes += nbytes
        by_dtype[dtype] += nbytes
    report = {
        "schemaVersion": 1, "file": path, "format": "torch-zip",
        "fileBytes": os.path.getsize(path), "tensors": tensors,
        "totals": {"tensors": len(tensors), "elements": total_elements, "bytes": total_bytes,
                   "byDtype": dict(by_dtype)},
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
