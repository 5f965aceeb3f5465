# Generates Fixtures/golden/stats-torch-reference.json (run with the torch venv from the repo root): float8 decode tables and dequantized
# stats, computed by torch (the fixture expected.json files have no stats for quantized tensors).
import json, math, sys
import numpy as np, torch

FIX = "Fixtures/"

def fnum(x):
    x = float(x); return x if math.isfinite(x) else None

def stats(x):
    x = x.to(torch.complex128).abs() if x.is_complex() else x.to(torch.float64)
    x = x.reshape(-1)
    f = x[torch.isfinite(x)]
    out = {"nan": int(torch.isnan(x).sum()), "inf": int(torch.isinf(x).sum()), "zeros": int((x == 0).sum())}
    if f.numel():
        out.update(min=fnum(f.min()), max=fnum(f.max()), mean=fnum(f.mean()), std=fnum(f.std(correction=0)))
    else:
        out.update(min=None, max=None, mean=None, std=None)
    return out

tables = {}
for name in ["float8_e5m2", "float8_e4m3fn", "float8_e5m2fnuz", "float8_e4m3fnuz", "float8_e8m0fnu"]:
    v = torch.arange(256, dtype=torch.uint8).view(getattr(torch, name)).to(torch.float64).tolist()
    tables[name] = [None if math.isnan(a) else ("inf" if a == math.inf else "-inf" if a == -math.inf else a) for a in v]
q = torch.load(FIX + "quantized.pt")
quant = {}
for k, t in q.items():
    d = t.dequantize()
    quant[k] = {"stats": stats(d), "values": d.reshape(-1).to(torch.float64).tolist()}
sparse = {k: stats(t.to_dense()) for k, t in torch.load(FIX + "sparse.pt").items()}
out = {
    "sparse": sparse,
    "note": "made by torch %s: float8 decode of every byte (null = NaN); quantized.pt tensors dequantized with t.dequantize() then the fixtures' float64 stats; sparse.pt tensors through to_dense()" % torch.__version__,
    "float8": tables, "quantized": quant}
json.dump(out, open(FIX + "golden/stats-torch-reference.json", "w"), indent=1)

# A big-endian copy of dtypes.pt (torch has no big-endian writer here): every storage record
# byte-swapped per scalar component and the byteorder record set to 'big'. torch.load must give
# back the same tensors, which checks the copy before ptinspect's tests rely on it.
import zipfile
src = zipfile.ZipFile(FIX + "dtypes.pt")
original = torch.load(FIX + "dtypes.pt")
component = {}
for name, t in original.items():
    size = t.element_size() // (2 if t.is_complex() else 1)
    component[name] = size
# data.pkl maps storage keys to dict entries in order: each tensor has its own storage key.
keys = {}
for name, t in original.items():
    keys[len(keys)] = name
out = FIX + "golden/stats-bigendian-dtypes.pt"
with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
    for info in src.infolist():
        data = src.read(info.filename)
        rel = info.filename.split("/", 1)[1]
        if rel == "byteorder":
            data = b"big"
        elif rel.startswith("data/"):
            size = component[keys[int(rel[5:])]]
            a = np.frombuffer(data, dtype=np.uint8).reshape(-1, size)[:, ::-1]
            data = a.tobytes()
        zi = zipfile.ZipInfo(info.filename, date_time=(2024, 1, 1, 0, 0, 0))
        z.writestr(zi, data)
again = torch.load(out)
# torch swaps typed storages only: the dtypes it saves through UntypedStorage
# (_rebuild_tensor_v3: float8, complex32, uint16/32/64) are loaded with dtype uint8 and left
# unswapped, so for those the check is that torch returns exactly the swapped bytes.
unswapped = []
for name, t in original.items():
    a, b = t.view(-1), again[name].view(-1)
    assert a.dtype == b.dtype, name
    if a.untyped_storage().tolist() != b.untyped_storage().tolist():
        size = component[name]
        raw = np.frombuffer(bytes(a.untyped_storage().tolist()), dtype=np.uint8).reshape(-1, size)[:, ::-1]
        assert raw.tobytes() == bytes(b.untyped_storage().tolist()), name
        unswapped.append(name)
print("big-endian copy verified:", out, "; torch leaves unswapped:", ", ".join(unswapped))

# views.pt re-zipped with deflate (torch writes stored entries; zip tools may not): ptinspect
# must inflate the storage records through libzip. torch.load reads it back unchanged.
src = zipfile.ZipFile(FIX + "views.pt")
out = FIX + "golden/stats-deflated-views.pt"
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for info in src.infolist():
        z.writestr(zipfile.ZipInfo(info.filename, date_time=(2024, 1, 1, 0, 0, 0)), src.read(info.filename),
                   compress_type=zipfile.ZIP_DEFLATED)
a, b = torch.load(FIX + "views.pt"), torch.load(out)
assert all(torch.equal(a[k], b[k]) for k in a), "deflated copy differs"
print("deflated copy verified:", out)
