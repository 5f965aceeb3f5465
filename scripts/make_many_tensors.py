#!/usr/bin/env python3
"""Write a torch-format zip checkpoint of many small float32 tensors without torch (the stdlib
only), for instruction counts of the summary at high tensor counts:

    python3 scripts/make_many_tensors.py OUT.pt N [ordered|plain]

The pickle is what torch.save writes for a state dict (protocol 2, `_rebuild_tensor_v2` with
storage persistent ids), with an OrderedDict root (`ordered`, as `state_dict()` returns) or a
plain dict (`plain`); names are MoE-style, `model.layers.L.mlp.experts.E.w1.weight`, 199 a
layer. Module `torch` and `torch._utils` are stand-ins registered for pickling: nothing of torch
is imported or run.
"""
import sys, types, pickle, zipfile, io, struct, collections
torch = types.ModuleType('torch'); utils = types.ModuleType('torch._utils')
sys.modules['torch'] = torch; sys.modules['torch._utils'] = utils
def _rebuild_tensor_v2(*a): pass
_rebuild_tensor_v2.__module__ = 'torch._utils'; utils._rebuild_tensor_v2 = _rebuild_tensor_v2
class FloatStorage: pass
FloatStorage.__module__ = 'torch'; torch.FloatStorage = FloatStorage
class Storage:
    def __init__(self, key, n): self.key, self.n = key, n
class Tensor:
    def __init__(self, s, shape): self.s, self.shape = s, shape
    def __reduce__(self):
        stride = []
        acc = 1
        for d in reversed(self.shape): stride.insert(0, acc); acc *= d
        return (_rebuild_tensor_v2, (self.s, 0, tuple(self.shape), tuple(stride), False, collections.OrderedDict()))
class P(pickle.Pickler):
    def persistent_id(self, o):
        if isinstance(o, Storage): return ('storage', FloatStorage, o.key, 'cpu', o.n)
        return None
def write(path, n, plain):
    sd = {} if plain else collections.OrderedDict()
    storages = []
    for i in range(n):
        layer, j = divmod(i, 199)
        s = Storage(str(i), 8); storages.append(s)
        sd[f'model.layers.{layer}.mlp.experts.{j}.w1.weight'] = Tensor(s, [2, 4])
    buf = io.BytesIO(); P(buf, protocol=2).dump(sd)
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as z:
        z.writestr('archive/data.pkl', buf.getvalue())
        z.writestr('archive/byteorder', 'little')
        for s in storages: z.writestr(f'archive/data/{s.key}', b'\0' * 32)
        z.writestr('archive/version', '3\n')
write(sys.argv[1], int(sys.argv[2]), sys.argv[3] == 'plain')
