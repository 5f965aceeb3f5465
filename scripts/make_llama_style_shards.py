#!/usr/bin/env python3
"""Write Fixtures/sharded_llama_bin/: a two-shard `pytorch_model-0000k-of-00002.bin` checkpoint
whose keys carry `model.` as Llama- and Mixtral-style transformers models save them, with its
`pytorch_model.bin.index.json`. Written with the stdlib only (torch.save's zip layout and
pickle, with stand-ins for `torch._utils._rebuild_tensor_v2` and `torch.FloatStorage`: nothing of
torch is imported); the shapes are a 2-layer-free tiny config (vocab 16, hidden 8).

    python3 scripts/make_llama_style_shards.py
"""

import collections
import io
import json
import os
import pickle
import sys
import types
import zipfile

torch = types.ModuleType("torch")
utils = types.ModuleType("torch._utils")
sys.modules["torch"], sys.modules["torch._utils"] = torch, utils


def _rebuild_tensor_v2(*args):
    pass


_rebuild_tensor_v2.__module__ = "torch._utils"
utils._rebuild_tensor_v2 = _rebuild_tensor_v2


class FloatStorage:
    pass


FloatStorage.__module__ = "torch"
torch.FloatStorage = FloatStorage


class Storage:
    def __init__(self, key, n):
        self.key, self.n = key, n


class Tensor:
    def __init__(self, storage, shape):
        self.storage, self.shape = storage, shape

    def __reduce__(self):
        stride, acc = [], 1
        for d in reversed(self.shape):
            stride.insert(0, acc)
            acc *= d
        return (_rebuild_tensor_v2,
                (self.storage, 0, tuple(self.shape), tuple(stride), False, collections.OrderedDict()))


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", FloatStorage, obj.key, "cpu", obj.n)
        return None


def shard(path, tensors):
    state = collections.OrderedDict()
    storages = []
    for i, (name, shape) in enumerate(tensors):
        n = 1
        for d in shape:
            n *= d
        s = Storage(str(i), n)
        storages.append(s)
        state[name] = Tensor(s, shape)
    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(state)
    stem = os.path.basename(path).replace(".bin", "")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        def put(name, data):
            info = zipfile.ZipInfo(f"{stem}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            z.writestr(info, data)
        put("data.pkl", buf.getvalue())
        put("byteorder", "little")
        for s in storages:
            put(f"data/{s.key}", bytes(4 * s.n))
        put("version", "3\n")
    return sum(4 * s.n for s in storages)


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures",
                       "sharded_llama_bin")
    os.makedirs(out, exist_ok=True)
    shards = {
        "pytorch_model-00001-of-00002.bin": [
            ("model.embed_tokens.weight", [16, 8]),
            ("model.layers.0.self_attn.q_proj.weight", [8, 8]),
            ("model.layers.0.input_layernorm.weight", [8]),
        ],
        "pytorch_model-00002-of-00002.bin": [
            ("model.norm.weight", [8]),
            ("lm_head.weight", [16, 8]),
        ],
    }
    total = 0
    weight_map = {}
    for name, tensors in shards.items():
        total += shard(os.path.join(out, name), tensors)
        for t, _ in tensors:
            weight_map[t] = name
    with open(os.path.join(out, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
