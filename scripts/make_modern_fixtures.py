#!/usr/bin/env python3
"""Write Fixtures/dcp/ and Fixtures/pt2/ with torch itself, and torch's answers beside each
(<name>.expected.json):

- DCP folders by torch.distributed.checkpoint.save: without a process group (two writer
  threads), with a gloo process group of world size 2 on 127.0.0.1 (DTensors sharded on dim 0,
  one uneven), with get_state_dict's FQN optimizer keys, with the safetensors serialization
  format; each answer is FileSystemReader.read_metadata() plus the full tensors' values.
- torch.export.save of a model with tied weights, a persistent and a non-persistent buffer and a
  lifted constant; package_pt2 with two programs; an AOTInductor package when it compiles here.
- Hostile variants, made by editing those files: a .metadata whose chunk lies outside its
  tensor, a .metadata whose .distcp range runs past the file's end, a .pt2 whose weights
  config names a missing entry.

    /work/fixture-venv/bin/python scripts/make_modern_fixtures.py
"""

import io
import json
import os
import pickle
import shutil
import sys
import zipfile

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
import torch.multiprocessing as mp
import torch.nn as nn
from torch.distributed.checkpoint import FileSystemReader, FileSystemWriter

# Paths relative to the repository root (the process runs there): torch pickles the
# checkpoint_id into .metadata.
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DCP = os.path.join("Fixtures", "dcp")
PT2 = os.path.join("Fixtures", "pt2")


def stats(t):
    t = t.detach().to(torch.float64)
    return {"min": t.min().item(), "max": t.max().item(), "mean": t.mean().item(),
            "sum": t.sum().item()} if t.numel() else None


def dump(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write("\n")


def flatten(sd, prefix=""):
    out = {}
    for k, v in sd.items():
        name = prefix + str(k)
        if isinstance(v, dict):
            out.update(flatten(v, name + "."))
        elif isinstance(v, (list, tuple)) and any(isinstance(x, dict) for x in v):
            for i, x in enumerate(v):
                out.update(flatten(x, name + "." + str(i) + ".") if isinstance(x, dict)
                           else {name + "." + str(i): x})
        else:
            out[name] = v
    return out


def dcp_expected(folder, full, note):
    """torch's reading of the folder's .metadata, with the full tensors' statistics."""
    from torch.distributed.checkpoint.metadata import TensorStorageMetadata
    md = FileSystemReader(folder).read_metadata()
    storage = {}
    for idx, info in md.storage_data.items():
        storage.setdefault(idx.fqn, []).append({
            "offset": list(idx.offset) if idx.offset is not None else None, "file": info.relative_path, "byteOffset": info.offset,
            "length": info.length})
    entries = []
    for fqn, m in md.state_dict_metadata.items():
        if isinstance(m, TensorStorageMetadata):
            t = full.get(fqn)
            entries.append({
                "name": fqn, "kind": "tensor", "dtype": str(m.properties.dtype).split(".")[1],
                "shape": list(m.size), "requiresGrad": m.properties.requires_grad,
                "chunks": [{"offsets": list(c.offsets), "sizes": list(c.sizes)} for c in m.chunks],
                "storage": sorted(storage.get(fqn, []), key=lambda s: s["offset"] or []),
                "stats": stats(t) if t is not None else None})
        else:
            entries.append({"name": fqn, "kind": "bytes",
                            "storage": storage.get(fqn, [])})
    files = sorted(n for n in os.listdir(folder) if n.endswith(".distcp"))
    dump(folder + ".expected.json", {
        "torchVersion": torch.__version__.split("+")[0], "note": note, "version": md.version,
        "files": files, "entries": entries})


def model():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 8), nn.LayerNorm(8), nn.Linear(8, 5))
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    m(torch.randn(3, 6)).sum().backward()
    opt.step()
    return m, opt


def full_values(sd):
    return {k: v for k, v in flatten(sd).items() if isinstance(v, torch.Tensor)}


def write_plain():
    m, opt = model()
    sd = {"model": m.state_dict(), "optim": opt.state_dict(), "step": 3}
    d = os.path.join(DCP, "plain")
    dcp.save(sd, storage_writer=FileSystemWriter(d, thread_count=2))
    dcp_expected(d, full_values(sd), "dcp.save without a process group, thread_count=2; "
                 "optimizer state keyed by parameter index")
    torch.save(sd["model"], os.path.join(DCP, "plain_consolidated.pt"))


def write_fqn():
    from torch.distributed.checkpoint.state_dict import get_state_dict
    m, opt = model()
    msd, osd = get_state_dict(m, opt)
    sd = {"model": msd, "optim": osd, "step": 3}
    d = os.path.join(DCP, "fqn")
    dcp.save(sd, checkpoint_id=d)
    dcp_expected(d, full_values(sd), "get_state_dict: optimizer state keyed by FQN")


def write_safetensors():
    from torch.distributed.checkpoint.filesystem import SerializationFormat
    m, _ = model()
    sd = {"model": m.state_dict()}
    d = os.path.join(DCP, "safetensors")
    dcp.save(sd, storage_writer=FileSystemWriter(
        d, serialization_format=SerializationFormat.SAFETENSORS))
    dcp_expected(d, full_values(sd), "FileSystemWriter(serialization_format=SAFETENSORS)")


def gloo_rank(rank, world, folder):
    from torch.distributed.tensor import Shard, distribute_tensor, init_device_mesh
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT="29533")
    dist.init_process_group("gloo", rank=rank, world_size=world)
    mesh = init_device_mesh("cpu", (world,))
    torch.manual_seed(0)
    full = {"embed.weight": torch.randn(7, 4), "proj.weight": torch.randn(6, 4),
            "proj.bias": torch.randn(6), "norm.weight": torch.ones(4)}
    sd = {"model": {k: distribute_tensor(v, mesh, [Shard(0)]) for k, v in full.items()},
          "step": 10}
    dcp.save(sd, checkpoint_id=folder)
    dist.barrier()
    dist.destroy_process_group()
    if rank == 0:
        dcp_expected(folder, {"model." + k: v for k, v in full.items()},
                     "gloo process group, world size 2: DTensors sharded on dim 0 "
                     "(embed.weight 7 rows: 4 + 3)")


def write_gloo():
    d = os.path.join(DCP, "gloo")
    mp.spawn(gloo_rank, args=(2, d), nprocs=2, join=True)


def edit_metadata(src, dst, edit):
    shutil.copytree(src, dst)
    path = os.path.join(dst, ".metadata")
    with open(path, "rb") as f:
        md = pickle.load(f)  # our own file, written above
    edit(md)
    with open(path, "wb") as f:
        pickle.dump(md, f, protocol=4)


def write_hostile():
    from torch.distributed.checkpoint.metadata import ChunkStorageMetadata
    hostile = os.path.join(DCP, "hostile")
    os.makedirs(hostile, exist_ok=True)

    def chunk_outside(md):
        m = md.state_dict_metadata["model.embed.weight"]
        c = m.chunks[1]
        m.chunks[1] = ChunkStorageMetadata(offsets=torch.Size([6, 0]), sizes=c.sizes)

    def past_eof(md):
        for idx, info in md.storage_data.items():
            if idx.fqn == "model.proj.weight":
                info.length += 100000
    def chunk_missing(md):
        del md.state_dict_metadata["model.embed.weight"].chunks[1]
    edit_metadata(os.path.join(DCP, "gloo"), os.path.join(hostile, "chunk_outside"),
                  chunk_outside)
    edit_metadata(os.path.join(DCP, "gloo"), os.path.join(hostile, "chunk_missing"),
                  chunk_missing)
    edit_metadata(os.path.join(DCP, "gloo"), os.path.join(hostile, "range_past_eof"), past_eof)


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.emb.weight
        self.norm = nn.BatchNorm1d(4)
        self.register_buffer("mask", torch.tensor([1.0, 0.0, 1.0, 1.0]), persistent=False)
        self.scale = torch.tensor(0.5)  # a lifted constant

    def forward(self, x):
        h = self.norm(self.emb(x).mean(1)) * self.mask * self.scale
        return self.head(h)


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        return self.fc(x).relu()


def ep_expected(path, programs, note):
    out = {"torchVersion": torch.__version__.split("+")[0], "note": note, "programs": {}}
    for name, ep in programs.items():
        specs = []
        for s in ep.graph_signature.input_specs:
            if s.target is None:
                continue
            t = ep.state_dict.get(s.target)
            if t is None:
                t = ep.constants.get(s.target)
            specs.append({"name": s.target, "kind": s.kind.name.lower(),
                          "persistent": s.persistent, "dtype": str(t.dtype).split(".")[1],
                          "shape": list(t.shape), "stride": list(t.stride()),
                          "stats": stats(t)})
        out["programs"][name] = specs
    dump(path + ".expected.json", out)


def write_pt2():
    torch.manual_seed(0)
    m = Tied().eval()
    ep = torch.export.export(m, (torch.randint(0, 10, (2, 3)),))
    p = os.path.join(PT2, "tied.pt2")
    torch.export.save(ep, p)
    ep_expected(p, {"model": ep}, "torch.export.save: tied emb/head weight, BatchNorm buffers, "
                "a non-persistent buffer, a lifted constant")
    from torch.export.pt2_archive._package import package_pt2
    small = torch.export.export(Small(), (torch.randn(2, 3),))
    p2 = os.path.join(PT2, "two_programs.pt2")
    package_pt2(p2, exported_programs={"tied": ep, "small": small})
    ep_expected(p2, {"tied": ep, "small": small}, "package_pt2 with two programs")
    # Hostile: the weights config names an entry the archive does not hold.
    bad = os.path.join(PT2, "hostile_missing_weight.pt2")
    with zipfile.ZipFile(p) as src, zipfile.ZipFile(bad, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("_weights_config.json"):
                data = data.replace(b'"weight_0"', b'"weight_99"')
            dst.writestr(info, data)
    return ep


def write_aoti(ep):
    import time
    start = time.time()
    p = os.path.join(PT2, "aoti.pt2")
    try:
        small = torch.export.export(Small(), (torch.randn(2, 3),))
        torch._inductor.aoti_compile_and_package(small, package_path=p)
        print(f"AOTInductor package compiled in {time.time() - start:.0f} s, "
              f"{os.path.getsize(p)} bytes")
    except Exception as e:  # noqa: BLE001
        print("AOTInductor did not compile here:", e, file=sys.stderr)


def main():
    os.chdir(REPO)
    for d in (DCP, PT2):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    write_plain()
    write_fqn()
    write_safetensors()
    write_gloo()
    write_hostile()
    ep = write_pt2()
    if "--no-aoti" not in sys.argv:
        write_aoti(ep)


if __name__ == "__main__":
    main()
