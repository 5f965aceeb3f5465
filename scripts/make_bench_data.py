#!/usr/bin/env python3
"""Generate the large ptinspect benchmark inputs (NOT fixtures: they live outside the repo).

Usage (needs torch; keep the virtual environment outside the repository):

    /work/venv/bin/python scripts/make_bench_data.py [OUT_DIR] [--force] [--only NAME ...]

OUT_DIR defaults to /work/bench-data/. Existing files are kept unless --force is given.
Files, generated in this order:

  many_tensors.pt        20,000 small tensors (2,000 blocks x 10: transformer-like and
                         conv+BN-like blocks, float32 + int64 num_batches_tracked), ~9 MB.
  moe_10k.pt             10,000 tiny tensors in a plain dict root (dict(model.state_dict())),
  moe_200k.pt            and 200,000: mixture-of-experts names,
                         model.layers.L.mlp.experts.E.w1.weight, 199 a layer (the linearity
                         check of the summary: 200k/10k time ratio).
  vit_b16.pt             ViT-B/16 state dict with torchvision's vit_b_16 key names and
                         shapes (86,567,656 params, ~330 MiB float32), random normal values.
  vit_b16_finetuned.pt   vit_b16 with heads.* and encoder_layer_11.* perturbed slightly
                         (+N(0, 1e-3)); every other tensor is bit-identical.
  big_zip64.pt           ~5.5 GiB: one 4.5 GiB float32 tensor (a single zip entry > 4 GiB),
                         one 1 GiB tensor and small tensors before and after them (so local
                         headers sit beyond the 4 GiB offset): torch writes it as zip64.
                         The big tensors are filled chunk by chunk into a temporary file next
                         to the output and memory-mapped (torch.from_file), so generation needs
                         little anonymous RAM but ~11 GB of free disk while it runs.

Everything is seeded (torch.Generator with fixed seeds), so reruns give the same tensors.
After each file is written (or found), OUT_DIR/README.txt is rewritten atomically with
name, size, tensor count and parameter count (numel) of every file present.
"""

import argparse
import os
import shutil
import sys
import time

import torch

DEFAULT_OUT = "/work/bench-data"
ORDER = ["many_tensors.pt", "moe_10k.pt", "moe_200k.pt", "vit_b16.pt", "vit_b16_finetuned.pt", "big_zip64.pt"]
GIB = 1 << 30


def log(msg):
    print(f"[make_bench_data {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def randn(shape, gen, std=0.02):
    return torch.randn(*shape, generator=gen) * std


# ---------------------------------------------------------------- many_tensors


def many_tensors():
    """2,000 blocks x 10 tensors = 20,000 tensors, dim 8 so the file stays a few MB."""
    gen = torch.Generator().manual_seed(20000)
    d = 8
    sd = {}
    for i in range(2000):
        p = f"blocks.{i}."
        if i % 2 == 0:  # transformer-like block
            sd[p + "norm1.weight"] = torch.ones(d)
            sd[p + "norm1.bias"] = torch.zeros(d)
            sd[p + "attn.qkv.weight"] = randn((3 * d, d), gen)
            sd[p + "attn.qkv.bias"] = randn((3 * d,), gen)
            sd[p + "attn.proj.weight"] = randn((d, d), gen)
            sd[p + "attn.proj.bias"] = randn((d,), gen)
            sd[p + "norm2.weight"] = torch.ones(d)
            sd[p + "norm2.bias"] = torch.zeros(d)
            sd[p + "mlp.fc1.weight"] = randn((4 * d, d), gen)
            sd[p + "mlp.fc2.weight"] = randn((d, 4 * d), gen)
        else:  # conv + batch-norm block
            sd[p + "conv1.weight"] = randn((d, d, 3, 3), gen)
            sd[p + "bn1.weight"] = torch.ones(d)
            sd[p + "bn1.bias"] = torch.zeros(d)
            sd[p + "bn1.running_mean"] = randn((d,), gen)
            sd[p + "bn1.running_var"] = torch.rand(d, generator=gen) + 0.5
            sd[p + "bn1.num_batches_tracked"] = torch.tensor(1000 + i, dtype=torch.int64)
            sd[p + "conv2.weight"] = randn((d, d, 1, 1), gen)
            sd[p + "conv2.bias"] = randn((d,), gen)
            sd[p + "se.fc.weight"] = randn((2, d), gen)
            sd[p + "se.fc.bias"] = randn((2,), gen)
    assert len(sd) == 20000
    return sd


# ---------------------------------------------------------------- mixture of experts


def moe(n):
    """n tiny float32 tensors in a plain dict, 199 a layer: 66 experts x (w1, w2, w3) + gate."""
    gen = torch.Generator().manual_seed(n)
    sd = {}
    layer = 0
    while len(sd) < n:
        p = f"model.layers.{layer}.mlp."
        sd[p + "gate.weight"] = randn((4,), gen)
        for e in range(66):
            for w in ("w1", "w2", "w3"):
                if len(sd) < n:
                    sd[f"{p}experts.{e}.{w}.weight"] = randn((4,), gen)
        layer += 1
    assert len(sd) == n and type(sd) is dict
    return sd


# ---------------------------------------------------------------- ViT-B/16


def vit_b16_shapes():
    """torchvision.models.vit_b_16().state_dict() names and shapes, in its order."""
    h, mlp, layers, classes, patch = 768, 3072, 12, 1000, 16
    shapes = [
        ("class_token", (1, 1, h)),
        ("conv_proj.weight", (h, 3, patch, patch)),
        ("conv_proj.bias", (h,)),
        ("encoder.pos_embedding", (1, (224 // patch) ** 2 + 1, h)),
    ]
    for i in range(layers):
        p = f"encoder.layers.encoder_layer_{i}."
        shapes += [
            (p + "ln_1.weight", (h,)),
            (p + "ln_1.bias", (h,)),
            (p + "self_attention.in_proj_weight", (3 * h, h)),
            (p + "self_attention.in_proj_bias", (3 * h,)),
            (p + "self_attention.out_proj.weight", (h, h)),
            (p + "self_attention.out_proj.bias", (h,)),
            (p + "ln_2.weight", (h,)),
            (p + "ln_2.bias", (h,)),
            (p + "mlp.0.weight", (mlp, h)),
            (p + "mlp.0.bias", (mlp,)),
            (p + "mlp.3.weight", (h, mlp)),
            (p + "mlp.3.bias", (h,)),
        ]
    shapes += [
        ("encoder.ln.weight", (h,)),
        ("encoder.ln.bias", (h,)),
        ("heads.head.weight", (classes, h)),
        ("heads.head.bias", (classes,)),
    ]
    return shapes


def vit_b16():
    gen = torch.Generator().manual_seed(16)
    sd = {}
    for name, shape in vit_b16_shapes():
        if name.endswith(("ln_1.weight", "ln_2.weight", "ln.weight")):
            sd[name] = torch.ones(shape) + randn(shape, gen, 0.01)
        elif ".ln" in name and name.endswith("bias"):
            sd[name] = randn(shape, gen, 0.01)
        else:
            sd[name] = randn(shape, gen)
    n = sum(t.numel() for t in sd.values())
    assert n == 86_567_656, n
    return sd


def vit_b16_finetuned(base):
    gen = torch.Generator().manual_seed(1616)
    sd = {}
    for name, t in base.items():
        if name.startswith("heads.") or name.startswith("encoder.layers.encoder_layer_11."):
            sd[name] = t + randn(t.shape, gen, 1e-3)
        else:
            sd[name] = t
    return sd


# ---------------------------------------------------------------- big zip64


def filled_mmap_tensor(path, numel, seed, chunk=1 << 26):
    """Write numel seeded float32 values to path chunk by chunk, return an mmap'd tensor."""
    gen = torch.Generator().manual_seed(seed)
    with open(path, "wb") as f:
        done = 0
        while done < numel:
            n = min(chunk, numel - done)
            f.write(torch.randn(n, generator=gen).numpy().tobytes())
            done += n
    return torch.from_file(path, shared=True, size=numel, dtype=torch.float32)


def big_zip64(out_path):
    tmpdir = out_path + ".tmp-storage"
    os.makedirs(tmpdir, exist_ok=True)
    try:
        gen = torch.Generator().manual_seed(64)
        huge_numel = (4 * GIB + GIB // 2) // 4  # 4.5 GiB of float32
        big_numel = GIB // 4  # 1 GiB of float32
        sd = {}
        sd["embed.weight"] = randn((1000, 64), gen)
        sd["embed.bias"] = randn((64,), gen)
        log("big_zip64: filling 4.5 GiB tensor")
        sd["huge.weight"] = filled_mmap_tensor(os.path.join(tmpdir, "huge"), huge_numel, 641).view(
            huge_numel // 1024, 1024
        )
        sd["huge.bias"] = randn((1024,), gen)
        log("big_zip64: filling 1 GiB tensor")
        sd["big.weight"] = filled_mmap_tensor(os.path.join(tmpdir, "big"), big_numel, 642).view(
            big_numel // 4096, 4096
        )
        sd["head.weight"] = randn((10, 4096), gen)
        sd["head.bias"] = randn((10,), gen)
        sd["step"] = torch.tensor(123456, dtype=torch.int64)
        log("big_zip64: torch.save")
        save(sd, out_path)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


# ---------------------------------------------------------------- driver


def save(sd, path):
    tmp = path + ".partial"
    torch.save(sd, tmp)
    os.replace(tmp, path)


def describe(path):
    sd = torch.load(path, mmap=True, weights_only=True, map_location="cpu")
    tensors = {k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}
    return len(tensors), sum(t.numel() for t in tensors.values())


def write_readme(out, info):
    lines = [
        "ptinspect benchmark inputs (generated by scripts/make_bench_data.py; do not edit).",
        "A file is listed here only once it is completely written.",
        "",
        f"{'file':<24} {'bytes':>15} {'size':>10} {'tensors':>8} {'parameters':>15}",
    ]
    for name in ORDER:
        if name in info:
            size, count, params = info[name]
            lines.append(
                f"{name:<24} {size:>15,} {size / 2**20:>8.1f}Mi {count:>8,} {params:>15,}"
            )
    tmp = os.path.join(out, ".README.txt.partial")
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, os.path.join(out, "README.txt"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default=DEFAULT_OUT)
    ap.add_argument("--force", action="store_true", help="regenerate files that already exist")
    ap.add_argument("--only", nargs="*", choices=ORDER, help="generate only these files")
    args = ap.parse_args()
    torch.set_num_threads(1)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    if os.path.realpath(out).startswith(os.path.realpath(os.path.dirname(os.path.dirname(__file__))) + os.sep):
        sys.exit("make_bench_data.py: refusing to write inside the repository")

    info = {}
    for name in ORDER:  # list what is already there first
        path = os.path.join(out, name)
        if os.path.exists(path):
            info[name] = (os.path.getsize(path), *describe(path))
    write_readme(out, info)

    vit = None
    for name in ORDER:
        if args.only and name not in args.only:
            continue
        path = os.path.join(out, name)
        if os.path.exists(path) and not args.force:
            log(f"{name}: exists, skipped (use --force to regenerate)")
            continue
        if name == "big_zip64.pt":
            free = shutil.disk_usage(out).free
            if free < 12 * 10**9:
                sys.exit(f"make_bench_data.py: big_zip64.pt needs ~12 GB free in {out}, {free / 1e9:.1f} GB free")
        t0 = time.time()
        log(f"{name}: generating")
        if name == "many_tensors.pt":
            save(many_tensors(), path)
        elif name == "moe_10k.pt":
            save(moe(10_000), path)
        elif name == "moe_200k.pt":
            save(moe(200_000), path)
        elif name == "vit_b16.pt":
            vit = vit_b16()
            save(vit, path)
        elif name == "vit_b16_finetuned.pt":
            if vit is None:
                vit = torch.load(os.path.join(out, "vit_b16.pt"), weights_only=True)
            save(vit_b16_finetuned(vit), path)
            vit = None
        elif name == "big_zip64.pt":
            vit = None
            big_zip64(path)
        info[name] = (os.path.getsize(path), *describe(path))
        write_readme(out, info)
        log(f"{name}: {info[name][0]:,} bytes, {info[name][1]:,} tensors, {info[name][2]:,} params ({time.time() - t0:.1f}s)")


if __name__ == "__main__":
    main()
