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
out = {
    "note": "made by torch %s: float8 decode of every byte (null = NaN); quantized.pt tensors dequantized with t.dequantize() then the fixtures' float64 stats" % torch.__version__,
    "float8": tables, "quantized": quant}
json.dump(out, open(FIX + "golden/stats-torch-reference.json", "w"), indent=1)
