#!/usr/bin/env python3
"""Generate the ptinspect test fixtures into Fixtures/.

Setup (once; keep the virtual environment OUTSIDE the repository):

    python3 -m venv /some/dir/outside/repo
    /some/dir/outside/repo/bin/pip install torch numpy safetensors

Run from the repository root:

    /some/dir/outside/repo/bin/python scripts/make_fixtures.py

The fixtures were generated with torch 2.15.0, numpy 2.4 and safetensors 0.8.

Everything is seeded (torch.manual_seed, torch.Generator, np.random.seed; numpy values
are fixed literals), single-threaded and written with fixed zip timestamps, so two runs
on the same machine give byte-identical files. Post-processing makes the legacy
(`_use_new_zipfile_serialization=False`) files reproducible too (canonicalize_legacy):
  * legacy storage keys are decimal C pointers (`str(storage._cdata)`) and the raw
    storages follow their string order; keys are rewritten to fixed 14-digit
    pointer-like decimals in first-appearance order and the raw storages re-ordered
    to match (the file stays a valid legacy stream; torch.load reads it back equal);
  * the absolute source paths pickled for whole-model legacy saves
    (`('module', cls, source_file, source)`) become relative: `scripts/make_fixtures.py`
    for SmallCNN, `torch/nn/modules/conv.py` etc. for torch's classes.
`tiny_cnn` (the small_cnn layer list with channels divided by 32, so the same keys) replaces
small_cnn in training_checkpoint.pt, lightning.ckpt, ema_checkpoint.pt, broken/ and hostile/huge_shape.pt: with
small_cnn (370 KB per state dict) everywhere the directory would exceed its 30 MB budget.
The script re-executes itself with PYTHONHASHSEED=0 (TorchScript code lists constants in
set order). scripted.pt still embeds the absolute paths of this script and of torch's
sources (code/*.debug_pkl), so it is byte-identical only for the same checkout and venv path.
Every `X.expected.json` is computed from torch.load of the written file and,
where a module made it, from the live nn.Module; nothing is hand-written.

Never load anything in Fixtures/hostile/: those files are hostile on purpose.
"""

import copy
import hashlib
import io
import json
import os
import pickle
import pickletools
import re
import shutil
import struct
import sys
import warnings
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import safetensors.torch as st
import torch
import torch.nn as nn

if __name__ == "__main__" and os.environ.get("PYTHONHASHSEED") != "0":
    # TorchScript code records list Final constants in set order: pin str hashing.
    os.execve(sys.executable, [sys.executable] + sys.argv, {**os.environ, "PYTHONHASHSEED": "0"})

warnings.filterwarnings("ignore")
torch.set_num_threads(1)
np.random.seed(0)
torch.use_deterministic_algorithms(True)

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "Fixtures"
TORCH_VERSION = torch.__version__.split("+")[0]
SCRIPT_REL = "scripts/make_fixtures.py"

README_ROWS = []  # (relative path, made by, exercises)


def row(rel, made_by, exercises):
    README_ROWS.append((rel, made_by, exercises))


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------


def cnn_layers(div=1):
    c = lambda n: n // div  # noqa: E731
    return [
        nn.Conv2d(3, c(32), kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(c(32), c(64), kernel_size=3, stride=1, padding=1), nn.ReLU(),
        nn.MaxPool2d(2, 2), nn.BatchNorm2d(c(64)),
        nn.Conv2d(c(64), c(128), kernel_size=3, stride=1, padding=1), nn.ReLU(),
        nn.Conv2d(c(128), c(128), kernel_size=3, stride=1, padding=1), nn.ReLU(),
        nn.MaxPool2d(2, 2), nn.BatchNorm2d(c(128)),
        nn.Conv2d(c(128), c(256), kernel_size=3, stride=1, padding=1), nn.ReLU(),
        nn.Conv2d(c(256), c(256), kernel_size=3, stride=1, padding=1), nn.ReLU(),
        nn.MaxPool2d(2, 2), nn.BatchNorm2d(c(256)),
        nn.Flatten(), nn.Linear(c(256) * 4 * 4, c(1024)), nn.ReLU(),
        nn.Linear(c(1024), c(512)), nn.ReLU(), nn.Linear(c(512), 10),
    ]


class SmallCNN(nn.Module):
    """small_cnn split into `features` and `classifier` (used for whole-model and TorchScript saves)."""

    def __init__(self):
        super().__init__()
        layers = cnn_layers(8)
        self.features = nn.Sequential(*layers[:18])
        self.classifier = nn.Sequential(*layers[18:])

    def forward(self, x):
        return self.classifier(self.features(x))


class TinyLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(100, 16)
        self.proj = nn.Linear(16, 16)
        self.norm = nn.LayerNorm(16)
        self.head = nn.Linear(16, 100, bias=False)
        self.head.weight = self.emb.weight


class TinyBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16, 32)
        self.fc2 = nn.Linear(32, 16)
        self.norm = nn.LayerNorm(16)


class Layers(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1d = nn.Conv1d(4, 8, 5)
        self.conv3d = nn.Conv3d(2, 4, (3, 3, 3))
        self.deconv = nn.ConvTranspose2d(8, 4, 3, stride=2)
        self.depthwise = nn.Conv2d(8, 8, 3, groups=8, padding=1)
        self.grouped = nn.Conv2d(8, 16, 3, groups=4, bias=False)
        self.gn = nn.GroupNorm(4, 16)
        self.ln = nn.LayerNorm(16)
        self.bn1d = nn.BatchNorm1d(16)
        self.bn3d = nn.BatchNorm3d(4)
        self.inorm = nn.InstanceNorm2d(8, affine=True)
        self.lstm = nn.LSTM(16, 32, num_layers=2, bidirectional=True)
        self.gru = nn.GRU(16, 24)
        self.rnn = nn.RNN(8, 12)
        self.attn = nn.MultiheadAttention(32, 4)
        self.emb = nn.Embedding(50, 16, padding_idx=0)
        self.prelu = nn.PReLU(8)
        self.fc = nn.Linear(16, 4)
        self.fc_nobias = nn.Linear(16, 4, bias=False)
        self.blocks = nn.Sequential(*[TinyBlock() for _ in range(6)])
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, 32), num_layers=2)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))


class TinyResNet(nn.Module):
    """torchvision ResNet naming (conv1, bn1, layer1.0.conv1, ..., fc), tiny widths."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(BasicBlock(8, 8), BasicBlock(8, 8))
        self.layer2 = nn.Sequential(BasicBlock(8, 16, 2), BasicBlock(16, 16))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(16, 10)


class DiffNet(nn.Module):
    def __init__(self, head_out=10):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Conv2d(8, 16, 3), nn.BatchNorm2d(16))
        self.head = nn.Linear(16, head_out)


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def train(model, opt, steps, seed):
    """`steps` optimiser steps on random CIFAR-shaped batches of 8 (model.train())."""
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        x = torch.randn(8, 3, 32, 32, generator=g)
        y = torch.randint(0, 10, (8,), generator=g)
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()


# --------------------------------------------------------------------------
# Expected-json machinery
# --------------------------------------------------------------------------


def walk(obj, prefix, out):
    """Tensors in the order a depth-first walk of the loaded object meets them."""
    if isinstance(obj, torch.Tensor):
        out.append((prefix[:-1], obj))
    elif isinstance(obj, (nn.Module, torch.jit.ScriptModule)):
        for k, v in obj.state_dict(keep_vars=True).items():
            out.append((prefix + k, v))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            walk(v, prefix + str(k) + ".", out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            walk(v, prefix + str(i) + ".", out)


def fnum(x):
    x = float(x)
    return x if np.isfinite(x) else None


def tensor_stats(t):
    if t.is_quantized or t.layout != torch.strided or t.device.type == "meta":
        return None
    x = t.detach()
    x = x.to(torch.complex128).abs() if x.is_complex() else x.to(torch.float64)
    x = x.reshape(-1)
    nan = int(torch.isnan(x).sum())
    inf = int(torch.isinf(x).sum())
    zeros = int((x == 0).sum())
    f = x[torch.isfinite(x)]
    if f.numel() == 0:
        mn = mx = mean = std = None
    else:
        mn, mx = fnum(f.min()), fnum(f.max())
        mean, std = fnum(f.mean()), fnum(f.std(correction=0))
    return {"min": mn, "max": mx, "mean": mean, "std": std, "zeros": zeros, "nan": nan, "inf": inf}


def kinds_of(pairs):
    """{full name: 'parameter'|'buffer'} from [(prefix, live module)]."""
    kinds = {}
    for prefix, m in pairs:
        for n, _ in m.named_parameters(remove_duplicate=False):
            kinds[prefix + n] = "parameter"
        for n, _ in m.named_buffers(remove_duplicate=False):
            kinds[prefix + n] = "buffer"
    return kinds


def model_info(m, prefix):
    return {
        "prefix": prefix,
        "parameters": sum(p.numel() for p in m.parameters()),
        "buffers": sum(b.numel() for b in m.buffers()),
        "trainable": sum(p.numel() for p in m.parameters() if p.requires_grad),
        "tensors": len(m.state_dict()),
    }


def tensor_entry(name, t, kinds):
    strided = t.layout == torch.strided
    e = {
        "name": name,
        "dtype": str(t.dtype).replace("torch.", ""),
        "shape": list(t.shape),
        "stride": list(t.stride()) if strided else None,
        "storageOffset": t.storage_offset() if strided else None,
        "numel": t.numel(),
        "storageBytes": t.untyped_storage().nbytes() if strided else None,
        "requiresGrad": bool(t.requires_grad),
        "kind": kinds.get(name),
    }
    s = tensor_stats(t)
    if s is not None:
        e["stats"] = s
    return e


def shared_groups(named):
    groups = OrderedDict()
    for name, t in named:
        if t.layout != torch.strided or t.device.type == "meta":
            continue
        ptr = t.untyped_storage().data_ptr()
        if ptr == 0:
            continue
        groups.setdefault(ptr, []).append(name)
    return [g for g in groups.values() if len(g) > 1]


def write_json(path, obj):
    """Indented JSON, but every dict/list nested two levels deep (a tensor entry, a layer) on one line."""

    def enc(o, depth):
        pad = "  " * depth
        if depth >= 2 or not isinstance(o, (dict, list)) or not o:
            return json.dumps(o, ensure_ascii=False)
        if isinstance(o, dict):
            items = [f"{pad}  {json.dumps(k, ensure_ascii=False)}: {enc(v, depth + 1)}" for k, v in o.items()]
            return "{\n" + ",\n".join(items) + "\n" + pad + "}"
        return "[\n" + ",\n".join(f"{pad}  {enc(v, depth + 1)}" for v in o) + "\n" + pad + "]"

    path.write_text(enc(obj, 0) + "\n")


def expected(rel, fmt, note, loaded, module=None, prefix="", kind_pairs=None, extra=None):
    """Write Fixtures/<rel>.expected.json from the loaded object (and the live module)."""
    named = []
    walk(loaded, "", named)
    if kind_pairs is None:
        kind_pairs = [(prefix, module)] if module is not None else []
    kinds = kinds_of(kind_pairs)
    doc = {
        "fixture": rel,
        "format": fmt,
        "torchVersion": TORCH_VERSION,
        "note": note,
        "tensors": [tensor_entry(n, t, kinds) for n, t in named],
        "sharedStorage": shared_groups(named),
        "model": model_info(module, prefix) if module is not None else None,
    }
    if extra:
        doc.update(extra)
    write_json(FIX / (rel + ".expected.json"), doc)


def load(path):
    return torch.load(FIX / path, map_location="cpu", weights_only=False)


def save(obj, rel, **kw):
    p = FIX / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, p, **kw)
    return p


# --------------------------------------------------------------------------
# Container helpers
# --------------------------------------------------------------------------


def zip_write(path, entries, compression=zipfile.ZIP_STORED):
    """Deterministic zip made with the zipfile module (fixed timestamps/attributes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries:
            zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = compression
            zi.external_attr = 0o644 << 16
            z.writestr(zi, data, compresslevel=9 if compression == zipfile.ZIP_DEFLATED else None)


def torch_zip(path, records):
    """Zip written by torch's own PyTorchStreamWriter (prefix = file stem, 64-byte alignment)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    w = torch._C.PyTorchFileWriter(str(path))
    for name, data in records:
        w.write_record(name, data, len(data))
    w.write_end_of_file()
    del w


def pickle_spans(data, count):
    """(start, end) of the first `count` pickles concatenated in `data`."""
    f = io.BytesIO(data)
    spans = []
    for _ in range(count):
        start = f.tell()
        for _op in pickletools.genops(f):
            pass
        spans.append((start, f.tell()))
    return spans


def canonicalize_legacy(path, protocol=2):
    """Make a legacy-stream file reproducible.

    torch names legacy storages by their C pointer and writes them sorted by that string,
    so both the keys and the order of the raw storages change from run to run. Here every
    key becomes a fixed 14-digit pointer-like decimal in first-appearance order (so the
    sorted key list and the raw-storage order are deterministic), the key-list pickle is
    re-dumped exactly as torch dumps it, the raw records (8-byte count + data) are re-ordered
    accordingly, and the absolute source path of whole-model saves becomes SCRIPT_REL.
    """
    data = path.read_bytes()
    spans = pickle_spans(data, 5)
    old_keys = pickle.loads(data[spans[4][0]:spans[4][1]])
    assert data[spans[4][0]:spans[4][1]] == pickle.dumps(old_keys, protocol=protocol)
    order, elsize, sources = [], {}, set()

    class Scan(pickle.Unpickler):
        def persistent_load(self, pid):
            if pid[0] == "module":
                if pid[2]:
                    sources.add(pid[2])
                return pid[1]
            _, stype, key, _loc, numel, _view = pid
            dtype = getattr(stype, "_dtype", torch.uint8)
            if key not in elsize:
                order.append(key)
                elsize[key] = dtype.itemsize
            return torch.storage.TypedStorage(numel, dtype=dtype)

    Scan(io.BytesIO(data[spans[3][0]:spans[3][1]])).load()
    assert sorted(order) == sorted(old_keys)
    pos, recs = spans[4][1], {}
    for k in old_keys:
        (n,) = struct.unpack("<q", data[pos:pos + 8])
        recs[k] = data[pos:pos + 8 + n * elsize[k]]
        pos += 8 + n * elsize[k]
    assert pos == len(data)
    new = {k: str(94_000_000_000_000 + 4096 * (i + 1)) for i, k in enumerate(order)}

    def encodings(s):
        b = s.encode()
        out = [b"X" + struct.pack("<I", len(b)) + b]
        if len(b) < 256:
            out.append(b"\x8c" + bytes([len(b)]) + b)
        return out

    mapping = {}
    for k, v in new.items():
        for a, b in zip(encodings(k), encodings(v)):
            mapping[a] = b
    site = str(Path(torch.__file__).resolve().parent.parent) + os.sep
    for src in sources:
        if src == str(Path(__file__).resolve()):
            rel = SCRIPT_REL
        elif src.startswith(site):
            rel = src[len(site):]
        else:
            raise AssertionError(f"unexpected source path {src}")
        for a, b in zip(encodings(src), encodings(rel)):
            mapping[a] = b
    pattern = re.compile(b"|".join(re.escape(a) for a in sorted(mapping, key=len, reverse=True)))
    main = pattern.sub(lambda m: mapping[m.group(0)], data[spans[3][0]:spans[3][1]])
    keys_pickle = pickle.dumps(sorted(new.values()), protocol=protocol)
    tail = b"".join(recs[k] for k in order)
    path.write_bytes(data[:spans[3][0]] + main + keys_pickle + tail)


def same_tensors(a, b):
    na, nb = [], []
    walk(a, "", na)
    walk(b, "", nb)
    assert [n for n, _ in na] == [n for n, _ in nb]
    for (_, x), (_, y) in zip(na, nb):
        assert x.dtype == y.dtype and x.shape == y.shape and torch.equal(x.detach(), y.detach())


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------


def make_cnn(div, seed=0):
    torch.manual_seed(seed)
    m = nn.Sequential(*cnn_layers(div))
    train(m, torch.optim.SGD(m.parameters(), lr=0.01), 1, seed=100)
    return m


def fixture_a():
    m = make_cnn(1)
    info = model_info(m, "")
    assert info["parameters"] == 5_852_234, info
    assert info["buffers"] == 899, info
    save(m.state_dict(), "cifar_cnn.pt")
    expected("cifar_cnn.pt", "torch-zip",
             "reference CIFAR CNN state_dict (5,852,234 params, 899 buffer values) after one SGD step; default zip, protocol 2",
             load("cifar_cnn.pt"), m)
    row("cifar_cnn.pt", "torch.save(cnn.state_dict())", "the reference model: 5,852,234 parameters, BatchNorm buffers, num_batches_tracked=1")


def fixture_b(small):
    save(small.state_dict(), "cifar_cnn_p4.pt", pickle_protocol=4)
    expected("cifar_cnn_p4.pt", "torch-zip", "small_cnn state_dict saved with pickle_protocol=4 (FRAME, SHORT_BINUNICODE, MEMOIZE)",
             load("cifar_cnn_p4.pt"), small)
    row("cifar_cnn_p4.pt", "torch.save(small_cnn.state_dict(), pickle_protocol=4)", "protocol 4 opcodes in data.pkl")


def adam_run(model, steps, seed):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.1)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        x = torch.randn(8, 3, 32, 32, generator=g)
        y = torch.randint(0, 10, (8,), generator=g)
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        sched.step()
    return opt, sched


def fixture_c(tiny):
    m = copy.deepcopy(tiny)
    opt, sched = adam_run(m, 2, seed=200)
    ckpt = {
        "epoch": 7,
        "global_step": 1234,
        "model_state_dict": m.state_dict(),
        "optimizer_state_dict": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "loss": np.float64(0.25),
        "best_acc": np.float32(0.875),
        "history": np.arange(6, dtype=np.float32),
        "args": {"lr": 0.001, "batch_size": 64, "arch": "tiny_cnn", "betas": (0.9, 0.999)},
        "classes": ["plane", "car"],
        "seen": {1, 2, 3},
        "window": slice(1, 5, None),
        "device": torch.device("cpu"),
        "size": torch.Size([3, 32, 32]),
    }
    save(ckpt, "training_checkpoint.pt")
    expected("training_checkpoint.pt", "torch-zip",
             "training checkpoint dict (tiny_cnn: small_cnn keys, channels/32): model + Adam state (step tensors) + StepLR + numpy scalars/array, set, slice, device, Size",
             load("training_checkpoint.pt"), m, "model_state_dict.")
    row("training_checkpoint.pt", "torch.save(dict), tiny_cnn after 2 Adam steps", "nested checkpoint, optimizer state, numpy/set/slice/device/Size globals")


def fixture_d(tiny):
    m = copy.deepcopy(tiny)
    opt, sched = adam_run(m, 3, seed=300)
    ckpt = {
        "epoch": 2,
        "global_step": 300,
        "pytorch-lightning_version": "2.4.0",
        "state_dict": {"model." + k: v for k, v in m.state_dict().items()},
        "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 3, "started": 3, "processed": 2, "completed": 2}},
                               "epoch_loop.batch_progress": {"total": {"ready": 300, "completed": 300}}}},
        "callbacks": {"ModelCheckpoint{'monitor': 'val_loss'}": {"best_model_score": torch.tensor(0.5), "best_model_path": "x.ckpt"}},
        "optimizer_states": [opt.state_dict()],
        "lr_schedulers": [sched.state_dict()],
        "hyper_parameters": {"lr": 0.001, "hidden": 128},
    }
    save(ckpt, "lightning.ckpt")
    expected("lightning.ckpt", "torch-zip", "Lightning-style checkpoint built by hand from tiny_cnn (small_cnn keys, channels/32): state_dict with 'model.' keys, optimizer_states list, callbacks",
             load("lightning.ckpt"), m, "state_dict.model.")
    row("lightning.ckpt", "torch.save(Lightning-style dict), tiny_cnn", "'.ckpt' extension, state_dict under 'state_dict', lists of optimizer states")


def fixture_e(tiny):
    m = copy.deepcopy(tiny)
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
    train(m, opt, 1, seed=400)
    ema = copy.deepcopy(m)
    g = torch.Generator().manual_seed(401)
    with torch.no_grad():
        for t in ema.state_dict().values():
            if t.is_floating_point():
                t.add_(1e-3 * torch.randn(t.shape, generator=g))
    ckpt = {"model": m.state_dict(), "ema": ema.state_dict(), "optimizer": opt.state_dict(), "epoch": 10}
    save(ckpt, "ema_checkpoint.pt")
    expected("ema_checkpoint.pt", "torch-zip", "tiny_cnn (small_cnn keys, channels/32) model + EMA copy (same keys, slightly different values) + SGD momentum buffers",
             load("ema_checkpoint.pt"), m, "model.", kind_pairs=[("model.", m), ("ema.", ema)])
    row("ema_checkpoint.pt", "torch.save({'model','ema','optimizer','epoch'}), tiny_cnn", "two state dicts with identical keys in one file")


def fixture_f():
    torch.manual_seed(0)
    m = TinyLM()
    save(m.state_dict(), "tied.pt")
    expected("tied.pt", "torch-zip", "tied weights: head.weight is emb.weight (one storage record, two keys; parameters counted once)",
             load("tied.pt"), m)
    row("tied.pt", "torch.save(tiny_lm.state_dict())", "tied embedding/head weights sharing one storage")


def fixture_g():
    base = [-2.0, -0.5, 0.0, 0.25, 1.0, 3.5]
    values = {
        "float64": (torch.float64, [-1.5, 0.0, 2.25, 1e100, -1e-300, 3.0]),
        "float32": (torch.float32, [-1.5, 0.0, 2.25, float("inf"), float("nan"), 1e-3]),
        "float16": (torch.float16, [-1.5, 0.0, 2.25, 65504.0, -6.0e-8, 3.0]),
        "bfloat16": (torch.bfloat16, [-1.5, 0.0, 2.25, 3.0e38, -1.0e-3, 3.0]),
        "float8_e5m2": ("float8_e5m2", base),
        "float8_e4m3fn": ("float8_e4m3fn", base),
        "float8_e5m2fnuz": ("float8_e5m2fnuz", base),
        "float8_e4m3fnuz": ("float8_e4m3fnuz", base),
        "float8_e8m0fnu": ("float8_e8m0fnu", [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]),
        "complex32": ("complex32", [1 + 2j, -3j, 0, 1.5, -2.5 + 1j, 4]),
        "complex64": (torch.complex64, [1 + 2j, -3j, 0, 1.5, -2.5 + 1j, 4]),
        "complex128": (torch.complex128, [1 + 2j, -3j, 0, 1.5, -2.5 + 1j, 4]),
        "int8": (torch.int8, [-128, -1, 0, 1, 2, 127]),
        "int16": (torch.int16, [-32768, -1, 0, 1, 2, 32767]),
        "int32": (torch.int32, [-2**31, -1, 0, 1, 2, 2**31 - 1]),
        "int64": (torch.int64, [-2**63, -1, 0, 1, 2, 2**63 - 1]),
        "uint8": (torch.uint8, [0, 1, 2, 127, 128, 255]),
        "uint16": ("uint16", [0, 1, 2, 255, 256, 65535]),
        "uint32": ("uint32", [0, 1, 2, 65535, 65536, 2**32 - 1]),
        "uint64": ("uint64", [0, 1, 2, 2**32, 2**63, 2**64 - 1]),
        "bool": (torch.bool, [True, False, True, True, False, False]),
    }
    d, skipped = {}, []
    for name, (dt, vals) in values.items():
        try:
            if isinstance(dt, str):
                dt = getattr(torch, dt)
            if dt == torch.complex32:
                t = torch.tensor(vals, dtype=torch.complex64).to(dt)
            elif dt.is_floating_point and dt.itemsize == 1:
                t = torch.tensor(vals, dtype=torch.float32).to(dt)
            elif dt in (torch.uint32, torch.uint64):
                t = torch.tensor(np.array(vals, dtype=np.uint64)).to(dt) if dt == torch.uint64 else torch.tensor(vals, dtype=torch.int64).to(dt)
            else:
                t = torch.tensor(vals, dtype=dt)
            buf = io.BytesIO()
            torch.save(t, buf)
            d[name] = t
        except Exception as exc:  # noqa: BLE001
            skipped.append(f"{name} ({type(exc).__name__})")
    save(d, "dtypes.pt")
    note = "one 6-element tensor per savable dtype (float32 holds inf and nan; new dtypes use _rebuild_tensor_v3 + UntypedStorage)"
    note += "; skipped: " + (", ".join(skipped) if skipped else "none")
    expected("dtypes.pt", "torch-zip", note, load("dtypes.pt"))
    row("dtypes.pt", "torch.save({dtype name: tensor})", "every dtype torch can save incl. float8, complex32, uint16/32/64" +
        (f"; skipped {', '.join(skipped)}" if skipped else ""))
    return skipped


def fixture_h():
    base = torch.arange(24, dtype=torch.float32)
    d = {
        "base": base,
        "slice": base[2:5],
        "matrix": base.view(4, 6),
        "transposed": base.view(4, 6).t(),
        "strided": base[::3],
        "expanded": torch.tensor([1.0, 2.0, 3.0]).expand(4, 3),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
        "tail_view": base[20:],
    }
    save(d, "views.pt")
    expected("views.pt", "torch-zip", "views into one storage: offsets, transposed/strided/expanded (stride 0), 0-dim and empty tensors",
             load("views.pt"))
    row("views.pt", "torch.save(dict of views)", "storage offsets, non-contiguous strides, stride 0, 0-d and 0-size tensors")
    save({"head": torch.arange(100000, dtype=torch.float32)[:10]}, "view_bloat.pt")
    expected("view_bloat.pt", "torch-zip", "10-element view whose whole 400,000-byte storage is saved", load("view_bloat.pt"))
    row("view_bloat.pt", "torch.save({'head': big[:10]})", "storage much larger than the tensor (400 KB for 40 bytes)")


def fixture_i():
    torch.manual_seed(0)
    m = Layers()
    save(m.state_dict(), "layers.pt")
    layers = []
    for name, mod in m.named_modules():
        own = list(mod.named_parameters(recurse=False)) + list(mod.named_buffers(recurse=False))
        if name and own:
            layers.append({"name": name, "type": type(mod).__name__, "repr": repr(mod)})
    expected("layers.pt", "torch-zip",
             "many layer types (conv1d/3d, transposed, grouped, norms, LSTM/GRU/RNN, MHA, embedding, transformer); "
             "'layers' = named_modules entries owning parameters/buffers directly",
             load("layers.pt"), m, extra={"layers": layers})
    row("layers.pt", "torch.save(layers.state_dict())", "parameter naming of common layer types (weight_ih_l0_reverse, in_proj_weight, ...)")


def fixture_j(tiny):
    sd = tiny.state_dict()
    buf = io.BytesIO()
    torch.save(sd, buf)
    good = buf.getvalue()
    z = zipfile.ZipFile(io.BytesIO(good))
    recs = [(n, z.read(n)) for n in z.namelist()]
    names = [n for n, _ in recs]
    prefix = names[0].split("/")[0]
    B = FIX / "broken"
    B.mkdir(parents=True, exist_ok=True)
    desc = []

    def put(name, data, what):
        (B / name).write_bytes(data)
        desc.append((name, what))
        row(f"broken/{name}", "make_fixtures.py (corrupted)", what)

    put("not_a_zip.pt", b"hello\n", "plain text 'hello\\n', no known magic")
    put("empty.pt", b"", "0 bytes")
    put("truncated_zip.pt", good[: int(len(good) * 0.6)], "first 60% of the tiny_cnn torch.save zip (no central directory)")
    zip_write(B / "no_data_pkl.pt", [("x/version", b"3\n"), ("x/data/0", bytes(16))])
    desc.append(("no_data_pkl.pt", "valid zip with x/version and x/data/0 only: no data.pkl"))
    row("broken/no_data_pkl.pt", "zipfile", "zip without data.pkl")

    def rebuilt(change, drop=None):
        out = []
        for n, d in recs:
            if n == drop:
                continue
            out.append((n, change(n, d)))
        return out

    pk = f"{prefix}/data.pkl"
    zip_write(B / "truncated_pickle.pt", rebuilt(lambda n, d: d[: len(d) // 2] if n == pk else d))
    desc.append(("truncated_pickle.pt", "zip (zipfile, stored) whose data.pkl is cut to half its length (no STOP)"))
    row("broken/truncated_pickle.pt", "zipfile rebuild", "data.pkl ends mid-stream")
    zip_write(B / "unknown_opcode.pt", rebuilt(lambda n, d: d[:2] + b"\xff" + d[2:] if n == pk else d))
    desc.append(("unknown_opcode.pt", "data.pkl with byte 0xFF inserted right after PROTO 2 (offset 2)"))
    row("broken/unknown_opcode.pt", "zipfile rebuild", "unknown pickle opcode 0xff at offset 2")
    zip_write(B / "missing_storage.pt", rebuilt(lambda n, d: d, drop=f"{prefix}/data/1"))
    desc.append(("missing_storage.pt", f"zip without the {prefix}/data/1 record that data.pkl references"))
    row("broken/missing_storage.pt", "zipfile rebuild", "storage record referenced but absent")
    zip_write(B / "short_storage.pt", rebuilt(lambda n, d: d[:4] if n == f"{prefix}/data/0" else d))
    first = next(iter(sd.values()))
    desc.append(("short_storage.pt", f"{prefix}/data/0 truncated to 4 bytes (its PID says {first.numel()} {str(first.dtype)[6:]} elements)"))
    row("broken/short_storage.pt", "zipfile rebuild", "storage record shorter than numel*itemsize")
    oid = hashlib.sha256(b"ptinspect lfs pointer fixture").hexdigest()
    put("lfs_pointer.pt", f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize 23460000\n".encode(),
        "Git LFS pointer text instead of the checkpoint")
    put("html_error.pt", b"<!DOCTYPE html><html><body>404 Not Found</body></html>", "HTML error page saved as .pt")
    lines = ["# broken/", "", f"Corrupted checkpoints made by `{SCRIPT_REL}` from the tiny_cnn state dict (small_cnn's keys,",
             "channels / 32) saved to a buffer",
             f"(zip prefix `{prefix}/`, records: {', '.join(n.split('/', 1)[1] for n in names)}).",
             "Rebuilt zips are written with Python's zipfile (stored, no 64-byte alignment). torch.load fails on all of them.", "",
             "| file | what is wrong |", "|---|---|"]
    lines += [f"| `{n}` | {w} |" for n, w in desc]
    (B / "README.md").write_text("\n".join(lines) + "\n")


def hostile_pickle_state_dict(sd, huge_key):
    """data.pkl + storages for a state dict, written with our own Pickler; `huge_key` gets size[0] = 2**62."""

    class StorageRef:
        def __init__(self, key, numel, stype):
            self.key, self.numel, self.stype = key, numel, stype

    class TensorStub:
        def __init__(self, ref, size, stride):
            self.ref, self.size, self.stride = ref, size, stride

        def __reduce__(self):
            return (torch._utils._rebuild_tensor_v2, (self.ref, 0, self.size, self.stride, False, OrderedDict()))

    class P(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, StorageRef):
                return ("storage", obj.stype, obj.key, "cpu", obj.numel)
            return None

    root, records = OrderedDict(), []
    stypes = {torch.float32: torch.FloatStorage, torch.int64: torch.LongStorage}
    for i, (k, t) in enumerate(sd.items()):
        t = t.contiguous()
        ref = StorageRef(str(i), t.numel(), stypes[t.dtype])
        size = tuple(t.shape)
        if k == huge_key:
            size = (2**62,) + size[1:]
        root[k] = TensorStub(ref, size, tuple(t.stride()))
        records.append((f"data/{i}", t.numpy().tobytes()))
    buf = io.BytesIO()
    P(buf, protocol=2).dump(root)
    return buf.getvalue(), records


def fixture_k(tiny):
    H = FIX / "hostile"
    H.mkdir(parents=True, exist_ok=True)
    desc = []

    def note(name, made, what):
        desc.append((name, what))
        row(f"hostile/{name}", made, what)

    p = save({"x": torch.zeros(2), "payload": Evil()}, "hostile/os_system.pt")
    note("os_system.pt", "torch.save with Evil.__reduce__", "GLOBAL 'posix system' + REDUCE ('echo pwned',): code execution on a plain unpickler")
    nested = b"\x80\x02" + b"]" * 100_000 + b"a" * 99_999 + b"."
    (H / "nested_lists.pkl").write_bytes(nested)
    note("nested_lists.pkl", "raw bytes", "bare pickle: 100,000 EMPTY_LIST + 99,999 APPEND -> lists nested 100,000 deep (recursion depth)")
    torch_zip(H / "nested_lists.pt", [("data.pkl", nested)])
    note("nested_lists.pt", "PyTorchFileWriter", "same pickle as nested_lists/data.pkl inside a torch zip")
    torch_zip(H / "memo_out_of_range.pt", [("data.pkl", b"\x80\x02h\xc8.")])
    note("memo_out_of_range.pt", "PyTorchFileWriter", "data.pkl = PROTO 2, BINGET 200, STOP: memo index never stored")
    pkl, recs = hostile_pickle_state_dict(tiny.state_dict(), "0.weight")
    assert b"\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x40" in pkl
    torch_zip(H / "huge_shape.pt", [("data.pkl", pkl)] + recs)
    note("huge_shape.pt", "own Pickler + PyTorchFileWriter", "tiny_cnn state dict; '0.weight' size is (2**62, 3, 3, 3) as LONG1 8 bytes (numel overflow)")
    hs = b"\x80\x02X\xff\xff\xff\xff"
    hs += b"A" * (1024 - len(hs))
    torch_zip(H / "huge_string.pt", [("data.pkl", hs)])
    note("huge_string.pt", "PyTorchFileWriter", "1 KB data.pkl: BINUNICODE declaring 0xFFFFFFFF bytes, then 'A' filler")
    zip_write(H / "zip_bomb.pt", [("bomb/data.pkl", bytes(200 * 1024 * 1024)), ("bomb/version", b"3\n")], zipfile.ZIP_DEFLATED)
    note("zip_bomb.pt", "zipfile deflate", "bomb/data.pkl deflates to 200 MiB (209,715,200) of zero bytes")
    data = p.read_bytes()
    (H / "truncated_zip.pt").write_bytes(data[: len(data) // 2])
    note("truncated_zip.pt", "os_system.pt cut in half", "first half of os_system.pt: no central directory, payload still inside")
    lines = ["# hostile/", "", "Never load these with torch.load(weights_only=False) or pickle.load. Made by",
             f"`{SCRIPT_REL}`; the script never loads them after writing. A safe reader must reject or",
             "bound each of them without executing anything, recursing without limit, or allocating unbounded memory.", "",
             "| file | what it does |", "|---|---|"]
    lines += [f"| `{n}` | {w} |" for n, w in desc]
    # Hand-made inputs kept beside the generated ones (the wipe in main() keeps hostile/):
    # their rows are carried over from the current README so regenerating does not drop them.
    readme = H / "README.md"
    if readme.exists():
        made = {n for n, _ in desc}
        for row in readme.read_text().splitlines():
            name = row.split("`")[1] if row.startswith("| `") else None
            if name and name not in made and (H / name).exists():
                lines.append(row)
    readme.write_text("\n".join(lines) + "\n")


def fixture_l(small):
    sd = small.state_dict()
    # legacy stream
    for rel, kw, note in [
        ("legacy_cnn.pt", {}, "small_cnn state_dict in the legacy stream (magic, 1001, sys_info, pickle, key list, raw storages)"),
        ("legacy_p4.pt", {"pickle_protocol": 4}, "legacy stream written with pickle_protocol=4 (magic not at the protocol-2 bytes)"),
    ]:
        p = save(sd, rel, _use_new_zipfile_serialization=False, **kw)
        canonicalize_legacy(p, kw.get("pickle_protocol", 2))
        loaded = load(rel)
        same_tensors(sd, loaded)
        expected(rel, "torch-legacy", note, loaded, small)
        row(rel, "torch.save(..., _use_new_zipfile_serialization=False" + (", pickle_protocol=4)" if kw else ")"),
            "legacy (pre-1.6) stream; storage keys canonicalised")

    torch.manual_seed(0)
    whole = SmallCNN()
    whole.features[0].requires_grad_(False)
    train(whole, torch.optim.SGD([q for q in whole.parameters() if q.requires_grad], lr=0.01), 1, seed=500)
    save(whole, "whole_model.pt")
    expected("whole_model.pt", "torch-zip", "torch.save(model) of __main__.SmallCNN (features.0 frozen): module objects, _parameters/_buffers/_modules",
             load("whole_model.pt"), whole)
    row("whole_model.pt", "torch.save(SmallCNN())", "whole-model pickle, Parameter objects, requires_grad False on features.0")
    p = save(whole, "whole_model_legacy.pt", _use_new_zipfile_serialization=False)
    canonicalize_legacy(p)
    same_tensors(whole, load("whole_model_legacy.pt"))
    expected("whole_model_legacy.pt", "torch-legacy", "whole model in the legacy stream: ('module', cls, file, source) persistent ids",
             load("whole_model_legacy.pt"), whole)
    row("whole_model_legacy.pt", "torch.save(model, legacy)", "'module' persistent ids carrying class source")

    scripted = torch.jit.script(whole)
    torch.jit.save(scripted, str(FIX / "scripted.pt"))
    expected("scripted.pt", "torchscript", "torch.jit.script(SmallCNN) (the trained instance, features.0 frozen): code/, constants.pkl, data/ before data.pkl",
             torch.jit.load(str(FIX / "scripted.pt")), whole,
             kind_pairs=[("", torch.jit.load(str(FIX / "scripted.pt")))])
    row("scripted.pt", "torch.jit.save(torch.jit.script(model))", "TorchScript archive, deflated code records")

    torch.manual_seed(0)
    q = {
        "per_tensor_quint8": torch.quantize_per_tensor(torch.randn(4, 4), 0.05, 128, torch.quint8),
        "per_channel_qint8": torch.quantize_per_channel(torch.randn(3, 4), torch.tensor([0.1, 0.02, 0.03], dtype=torch.float64),
                                                        torch.tensor([0, 1, -1]), 0, torch.qint8),
        "per_tensor_qint32": torch.quantize_per_tensor(torch.randn(5), 0.001, 0, torch.qint32),
    }
    save(q, "quantized.pt")
    expected("quantized.pt", "torch-zip", "quantized tensors via _rebuild_qtensor: per-tensor quint8, per-channel qint8 (axis 0), qint32",
             load("quantized.pt"))
    row("quantized.pt", "torch.quantize_per_tensor/per_channel", "QUInt8/QInt8/QInt32 storages, quantizer params")

    dense = torch.tensor([[0.0, 1.5, 0.0, 0.0], [2.0, 0.0, 0.0, -3.0], [0.0, 0.0, 4.0, 0.0]])
    save({"coo": dense.to_sparse(), "csr": dense.to_sparse_csr()}, "sparse.pt")
    expected("sparse.pt", "torch-zip", "sparse COO and CSR tensors via _rebuild_sparse_tensor (stride/storage fields null)", load("sparse.pt"))
    row("sparse.pt", "to_sparse() / to_sparse_csr()", "_rebuild_sparse_tensor with component tensors")

    save({"meta_weight": torch.empty(3, 4, device="meta"), "real": torch.ones(2)}, "meta.pt")
    expected("meta.pt", "torch-zip", "meta-device tensor: _rebuild_meta_tensor_no_storage, no storage record", load("meta.pt"))
    row("meta.pt", "torch.empty(..., device='meta')", "tensor with shape/dtype but no data")

    st.save_file(sd, str(FIX / "small_cnn.safetensors"), metadata={"format": "pt"})
    expected("small_cnn.safetensors", "safetensors", "small_cnn state_dict as safetensors with __metadata__ {'format': 'pt'}; order = load_file order",
             st.load_file(str(FIX / "small_cnn.safetensors")), small)
    row("small_cnn.safetensors", "safetensors.torch.save_file", "safetensors header, dtype codes, data offsets")

    keys = list(sd)
    half = len(keys) // 2
    shards = [(keys[:half], 1), (keys[half:], 2)]
    S, SB = FIX / "sharded", FIX / "sharded_bin"
    S.mkdir(parents=True, exist_ok=True)
    SB.mkdir(parents=True, exist_ok=True)
    total = sum(t.numel() * t.element_size() for t in sd.values())
    wm, wmb = {}, {}
    for ks, i in shards:
        part = {k: sd[k].contiguous() for k in ks}
        fn = f"model-{i:05d}-of-00002.safetensors"
        st.save_file(part, str(S / fn), metadata={"format": "pt"})
        expected(f"sharded/{fn}", "safetensors", f"safetensors shard {i} of 2 of small_cnn", st.load_file(str(S / fn)), small)
        row(f"sharded/{fn}", "safetensors.torch.save_file", f"shard {i}/2 (model block describes the whole model)")
        fb = f"pytorch_model-{i:05d}-of-00002.bin"
        torch.save(part, SB / fb)
        expected(f"sharded_bin/{fb}", "torch-zip", f"torch.save shard {i} of 2 of small_cnn", load(f"sharded_bin/{fb}"), small)
        row(f"sharded_bin/{fb}", "torch.save(dict)", f".bin shard {i}/2")
        for k in ks:
            wm[k], wmb[k] = fn, fb
    idx = {"metadata": {"total_size": total}, "weight_map": dict(sorted(wm.items()))}
    idxb = {"metadata": {"total_size": total}, "weight_map": dict(sorted(wmb.items()))}
    write_json(S / "model.safetensors.index.json", idx)
    write_json(SB / "pytorch_model.bin.index.json", idxb)
    for rel, ix, fmt, loader in [
        ("sharded/model.safetensors.index.json", idx, "safetensors-index", lambda f: st.load_file(str(S / f))),
        ("sharded_bin/pytorch_model.bin.index.json", idxb, "torch-index", lambda f: load(f"sharded_bin/{f}")),
    ]:
        cache = {}
        merged = OrderedDict()
        for k, f in ix["weight_map"].items():
            if f not in cache:
                cache[f] = loader(f)
            merged[k] = cache[f][k]
        expected(rel, fmt, f"Hugging Face index over 2 shards (total_size {total}); tensors in weight_map order (sorted keys)", merged, small)
        row(rel, "json", "index: metadata.total_size + weight_map")

    torch.manual_seed(0)
    rn = TinyResNet()
    p = save(rn.state_dict(), "pre16_style.pth", _use_new_zipfile_serialization=False)
    canonicalize_legacy(p)
    same_tensors(rn.state_dict(), load("pre16_style.pth"))
    expected("pre16_style.pth", "torch-legacy", "torchvision-ResNet-style keys (conv1, bn1, layer1.0.conv1, layer2.0.downsample.0, fc) in the legacy stream",
             load("pre16_style.pth"), rn)
    row("pre16_style.pth", "torch.save(resnet_sd, legacy)", "pre-1.6 pretrained-weights look, '.pth'")


def diff_stats(a, b):
    a = a.detach().to(torch.float64).reshape(-1)
    b = b.detach().to(torch.float64).reshape(-1)
    d = (a - b).abs()
    nz = a != 0
    rel = (d[nz] / a[nz].abs()).max() if nz.any() else None
    na, nb = a.norm(), b.norm()
    cos = float(torch.dot(a, b) / (na * nb)) if na > 0 and nb > 0 else None
    return {
        "maxAbsDiff": float(d.max()) if d.numel() else 0.0,
        "maxRelDiff": float(rel) if rel is not None else None,
        "rmsDiff": float(d.pow(2).mean().sqrt()) if d.numel() else 0.0,
        "cosine": cos,
    }


def compare(a, b):
    ka, kb = list(a), list(b)
    res = {"added": [k for k in kb if k not in a], "removed": [k for k in ka if k not in b],
           "shapeChanged": [], "dtypeChanged": [], "changed": [], "stats": {}}
    for k in ka:
        if k not in b:
            continue
        x, y = a[k], b[k]
        if x.dtype != y.dtype:
            res["dtypeChanged"].append(k)
        if x.shape != y.shape:
            res["shapeChanged"].append(k)
            continue
        if not torch.equal(x.to(torch.float64), y.to(torch.float64)):
            res["changed"].append(k)
            res["stats"][k] = diff_stats(x, y)
    return res


def fixture_m():
    torch.manual_seed(0)
    base = DiffNet()
    sd = base.state_dict()
    D = FIX / "diff"
    D.mkdir(parents=True, exist_ok=True)
    save(sd, "diff/base.pt")

    ft = copy.deepcopy(base)
    g = torch.Generator().manual_seed(600)
    with torch.no_grad():
        ft.head.weight.add_(0.01 * torch.randn(ft.head.weight.shape, generator=g))
        ft.head.bias.add_(0.01 * torch.randn(ft.head.bias.shape, generator=g))
        ft.backbone[1].running_mean.add_(0.05 * torch.randn(8, generator=g))
        ft.backbone[1].running_var.mul_(1 + 0.1 * torch.rand(8, generator=g))
    save(ft.state_dict(), "diff/finetuned.pt")

    torch.manual_seed(0)
    wide = DiffNet(head_out=20)
    wide.backbone.load_state_dict(base.backbone.state_dict())
    save(wide.state_dict(), "diff/widened.pt")

    half = copy.deepcopy(base).half()
    save(half.state_dict(), "diff/fp16.pt")
    save({"module." + k: v for k, v in sd.items()}, "diff/dataparallel.pt")
    save({k: v.clone() for k, v in sd.items()}, "diff/base_copy.pt")

    specs = [
        ("base.pt", base, "", "diff baseline: DiffNet state_dict"),
        ("finetuned.pt", ft, "", "head.* and backbone.1 running stats changed"),
        ("widened.pt", wide, "", "head widened to Linear(16, 20)"),
        ("fp16.pt", half, "", "base converted with .half() (num_batches_tracked stays int64)"),
        ("dataparallel.pt", base, "module.", "base with every key prefixed 'module.'"),
        ("base_copy.pt", base, "", "identical values saved again"),
    ]
    for fn, mod, pre, note in specs:
        expected(f"diff/{fn}", "torch-zip", note, load(f"diff/{fn}"), mod, pre)
        row(f"diff/{fn}", "torch.save(state_dict)", "diff: " + note)

    L = {fn: load(f"diff/{fn}") for fn, *_ in specs}
    strip = {k[len("module."):]: v for k, v in L["dataparallel.pt"].items()}
    pairs = [("base.pt", "finetuned.pt", L["finetuned.pt"], False), ("base.pt", "widened.pt", L["widened.pt"], False),
             ("base.pt", "fp16.pt", L["fp16.pt"], False), ("base.pt", "dataparallel.pt", strip, True),
             ("base.pt", "base_copy.pt", L["base_copy.pt"], False)]
    out = {
        "torchVersion": TORCH_VERSION,
        "rules": ("a = first file, b = second. added/removed: keys only in b/a (file order). shapeChanged: same key, different shape "
                  "(no value stats). dtypeChanged: same key, different dtype. changed: same key and shape whose values differ after "
                  "conversion to float64 (dtype-changed tensors included when values differ). stats in float64: maxAbsDiff = max|a-b|; "
                  "maxRelDiff = max over elements with a != 0 of |a-b|/|a| (null if all a == 0); rmsDiff = sqrt(mean((a-b)^2)); "
                  "cosine of the flattened tensors (null if either norm is 0)."),
        "pairs": [],
    }
    for fa, fb, b, stripped in pairs:
        r = {"a": fa, "b": fb, "stripPrefix": "module." if stripped else None}
        r.update(compare(L["base.pt"], b))
        out["pairs"].append(r)
    write_json(D / "expected_diff.json", out)


# --------------------------------------------------------------------------


def fixture_n():
    """Containers ptinspect recognises: a torch.export program, a lite-interpreter archive
    (readable: it is TorchScript plus bytecode.pkl) and a torch.package archive."""
    from torch import package

    out = FIX / "containers"
    out.mkdir(exist_ok=True)
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 3))
    torch.export.save(torch.export.export(m, (torch.randn(2, 4),)), str(out / "exported.pt2"))
    row("containers/exported.pt2", "torch.export.save", "a torch.export program: read from its JSON entries (Pt2Reader)")
    torch.jit.script(m)._save_for_lite_interpreter(str(out / "mobile.ptl"))
    row("containers/mobile.ptl", "_save_for_lite_interpreter", "a lite-interpreter archive: TorchScript + bytecode.pkl")
    with package.PackageExporter(str(out / "packaged.pt")) as pe:
        pe.intern("**")
        pe.save_pickle("model", "weights.pkl", {"w": torch.zeros(2)})
    row("containers/packaged.pt", "torch.package.PackageExporter", "a torch.package archive: refused with a clear verdict")


def write_legacy_tar(path, sd):
    """The pre-0.1.10 tar container, which torch can still read but no longer write: members
    sys_info, pickle, storages and tensors, laid out exactly as `torch.serialization`'s
    `legacy_load` reads them (one storage per tensor plus one shared storage view)."""
    import tarfile

    class Ref:
        def __init__(self, key):
            self.key = key

    def dump(obj, f):
        pickle.Pickler(f, protocol=2).dump(obj)

    names = list(sd.keys())
    storages = io.BytesIO()
    tensors = io.BytesIO()
    dump(len(names), storages)
    for i, name in enumerate(names):
        t = sd[name].contiguous()
        dump((i, "cpu", STORAGE_CLASS[t.dtype]), storages)
        storages.write(struct.pack("<q", t.numel()))
        storages.write(t.numpy().tobytes())
    # A storage view: key 900 is elements 1.. of storage 0 (the first tensor's data).
    dump([(900, 0, 1, sd[names[0]].numel() - 1)], storages)
    dump(len(names) + 1, tensors)
    for i, name in enumerate(names):
        t = sd[name].contiguous()
        dump((1000 + i, i, TENSOR_CLASS[t.dtype]), tensors)
        tensors.write(struct.pack("<i", t.dim()) + b"\0\0\0\0")
        tensors.write(struct.pack(f"<{t.dim()}q", *t.shape))
        tensors.write(struct.pack(f"<{t.dim()}q", *t.stride()))
        tensors.write(struct.pack("<q", 0))
    first = sd[names[0]].reshape(-1)
    dump((2000, 900, TENSOR_CLASS[first.dtype]), tensors)
    tensors.write(struct.pack("<i", 1) + b"\0\0\0\0" + struct.pack("<q", first.numel() - 1) + struct.pack("<q", 1) + struct.pack("<q", 0))

    class MainPickler(pickle.Pickler):
        def persistent_id(self, obj):
            return str(obj.key) if isinstance(obj, Ref) else None

    main = io.BytesIO()
    state = {name: Ref(1000 + i) for i, name in enumerate(names)}
    state["view_of_first"] = Ref(2000)
    MainPickler(main, protocol=2).dump(state)
    sys_info = io.BytesIO()
    dump({"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}, sys_info)
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for member, buf in [("sys_info", sys_info), ("pickle", main), ("tensors", tensors), ("storages", storages)]:
            info = tarfile.TarInfo(member)
            info.size = len(buf.getvalue())
            info.mtime = 0
            tar.addfile(info, io.BytesIO(buf.getvalue()))


STORAGE_CLASS = {torch.float32: torch.FloatStorage, torch.int64: torch.LongStorage}
TENSOR_CLASS = {torch.float32: torch.FloatTensor, torch.int64: torch.LongTensor}


def fixture_o():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))
    sd = {k: v.detach().clone() for k, v in m.state_dict().items()}
    path = FIX / "legacy_tar.pt"
    write_legacy_tar(path, sd)
    loaded = torch.load(path, weights_only=False)  # torch's own reader must accept it
    for k, v in sd.items():
        assert torch.equal(loaded[k], v), k
    assert torch.equal(loaded["view_of_first"], sd["0.weight"].reshape(-1)[1:])
    expected("legacy_tar.pt", "torch-tar", "the pre-0.1.10 tar container, written by this script as torch's legacy_load reads it (torch.load accepts it)", loaded)
    row("legacy_tar.pt", "this script (tarfile + pickle), checked with torch.load", "legacy tar container, storage views")


def write_readme(skipped):
    lines = [
        "# Fixtures",
        "",
        f"Generated by `{SCRIPT_REL}` with torch {TORCH_VERSION} (see its docstring for the venv setup); do not edit by hand.",
        "Next to every loadable checkpoint `X` is `X.expected.json` (what torch reports: tensors, shapes, strides, stats,",
        "shared storages, model counts). `diff/expected_diff.json` holds the expected diffs; `pickle_opcodes.tsv` comes from",
        "`scripts/dump_opcodes.py`. `broken/` and `hostile/` have their own README; never load `hostile/` files in Python.",
        "`numpy/` is written by NumPy itself (`scripts/make_numpy_fixtures.py`, with NumPy's answers beside each file);",
        "`sharded_llama_bin/` by `scripts/make_llama_style_shards.py` (stdlib only: Llama-style `model.` keys in .bin shards).",
        "",
        "Not made: the pre-0.1.10 tar format (torch can no longer write it); big-endian files (no big-endian host).",
    ]
    if skipped:
        lines.append("Skipped dtypes: " + ", ".join(skipped) + ".")
    lines += ["", "| file | size (bytes) | made by | exercises |", "|---|---:|---|---|"]
    for rel, made, what in README_ROWS:
        lines.append(f"| `{rel}` | {(FIX / rel).stat().st_size:,} | {made} | {what} |")
    (FIX / "README.md").write_text("\n".join(lines) + "\n")


def main():
    FIX.mkdir(exist_ok=True)
    # Regenerate from scratch, but keep what is not made here: the opcode table of
    # dump_opcodes.py, golden outputs, hand-written budget files, hand-made hostile inputs, the
    # scan corpus of scripts/make_scan_corpus.py (hostile/scan_*, benign/), NumPy's own files of
    # scripts/make_numpy_fixtures.py (numpy/) and the stdlib-made Llama-style shards of
    # scripts/make_llama_style_shards.py (sharded_llama_bin/).
    for p in FIX.iterdir():
        if p.name in ("pickle_opcodes.tsv", "golden", "budget", "hostile", "benign", "numpy",
                      "sharded_llama_bin"):
            continue
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    fixture_a()
    small = make_cnn(8)
    tiny = make_cnn(32)  # same keys as small_cnn, ~6k params: keeps Fixtures/ under 30 MB
    fixture_b(small)
    fixture_c(tiny)
    fixture_d(tiny)
    fixture_e(tiny)
    fixture_f()
    skipped = fixture_g()
    fixture_h()
    fixture_i()
    fixture_j(tiny)
    fixture_k(tiny)
    fixture_l(small)
    fixture_m()
    fixture_n()
    fixture_o()
    write_readme(skipped)
    print(f"wrote {sum(1 for p in FIX.rglob('*') if p.is_file())} files into {FIX}", file=sys.stderr)


if __name__ == "__main__":
    main()
