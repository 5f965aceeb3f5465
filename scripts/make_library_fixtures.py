#!/usr/bin/env python3
"""Checkpoints written by the libraries people use, with those libraries' own answers.

Writes Fixtures/libraries/: tiny models built from configs with random weights (nothing is
downloaded), each saved the way its library saves it, and beside each file a
`<file>.expected.json` with torch's answers: every tensor's name, dtype and shape, the tied
groups, parameter and buffer totals, and the `torch.nn` class of every module that owns tensors
(the nearest `torch.nn` base of the module's own class, e.g. timm's LayerNorm2d -> LayerNorm).

Needs torch, torchvision, timm, safetensors, lightning, torchao and transformers (4.x for the
`.bin` shards: `PYTHONPATH=/path/to/transformers4` selects it). Run from the repository root:

    python scripts/make_library_fixtures.py            # all
    python scripts/make_library_fixtures.py --only transformers4
"""

import argparse
import json
import os
import shutil
import sys
import warnings

warnings.filterwarnings("ignore")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

OUT = os.path.join("Fixtures", "libraries")


def nn_class(module):
    """The nearest torch.nn layer class of a module's class (its own when it is one), or None
    for a module that is only an `nn.Module` (a library's own RMSNorm, an attention block)."""
    for cls in type(module).__mro__:
        if cls.__module__.startswith("torch.nn.modules"):
            return None if cls.__name__ in ("Module", "Sequential", "ModuleList") else cls.__name__
    return None


def answers(model, sd, path, library, extra=None):
    """torch's answers for a state dict saved from `model`."""
    named_params = dict(model.named_parameters(remove_duplicate=False))
    named_buffers = dict(model.named_buffers(remove_duplicate=False))
    modules = {}
    for name, m in model.named_modules(remove_duplicate=False):
        own = list(m.named_parameters(recurse=False)) + list(m.named_buffers(recurse=False))
        own = [n for n, t in own if t is not None and (name + "." + n if name else n) in sd]
        if own:
            modules[name] = {"class": type(m).__name__, "torchNN": nn_class(m)}
    seen = {}
    tied = []
    for k, t in sd.items():
        key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.dtype)
        if key in seen:
            tied.append([seen[key], k])
        else:
            seen[key] = k
    unique_params = {id(p): p for p in model.parameters()}
    unique_buffers = {
        id(b): b for n, b in named_buffers.items() if n in sd
    }
    doc = {
        "library": library,
        "file": os.path.basename(path),
        "torch": torch.__version__,
        "tensors": [
            {"name": k, "dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape)}
            for k, v in sd.items()
        ],
        "tied": tied,
        "parameters": sum(p.numel() for p in unique_params.values()),
        "buffers": sum(b.numel() for b in unique_buffers.values()),
        "modules": modules,
        "parameterNames": sorted(k for k in sd if k in named_params),
    }
    if extra:
        doc.update(extra)
    with open(path + ".expected.json", "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")


def save_both(model, stem, library):
    """`torch.save(model.state_dict())` as .pt and `safetensors.torch.save_model` as .safetensors."""
    from safetensors.torch import save_model

    model.eval().half()  # half the bytes; the layer types do not depend on the dtype
    sd = model.state_dict()
    pt = os.path.join(OUT, "architectures", stem + ".pt")
    torch.save(sd, pt)
    answers(model, sd, pt, library)
    st = os.path.join(OUT, "architectures", stem + ".safetensors")
    save_model(model, st)
    from safetensors.torch import load_file

    loaded = load_file(st)
    # save_model drops all but one name of a tied group: answer for what the file holds.
    answers(model, {k: sd[k] for k in sd if k in loaded}, st, library)


def architectures():
    import timm
    import torchvision.models as tvm
    from timm.models.convnext import ConvNeXt
    from timm.models.resnet import BasicBlock, Bottleneck, ResNet
    from timm.models.vision_transformer import VisionTransformer as TimmViT
    from torchvision.models.densenet import DenseNet
    from torchvision.models.regnet import BlockParams, RegNet
    from torchvision.models.shufflenetv2 import ShuffleNetV2
    from torchvision.models.swin_transformer import SwinTransformer
    from torchvision.models.vision_transformer import VisionTransformer as TvViT

    os.makedirs(os.path.join(OUT, "architectures"), exist_ok=True)
    torch.manual_seed(0)
    models = {
        "timm_resnet_bottleneck": (
            ResNet(Bottleneck, (1, 1, 1, 1), channels=(8, 16, 32, 64), stem_width=8, num_classes=10),
            "timm",
        ),
        "timm_resnet_basic": (
            ResNet(BasicBlock, (2, 1, 1, 1), channels=(8, 16, 32, 64), stem_width=8, num_classes=10),
            "timm",
        ),
        "timm_vit": (
            TimmViT(img_size=32, patch_size=16, embed_dim=16, depth=2, num_heads=2, num_classes=10),
            "timm",
        ),
        "timm_convnext": (ConvNeXt(depths=(1, 1, 1, 1), dims=(8, 16, 32, 64), num_classes=10), "timm"),
        "timm_efficientnet": (
            timm.models.efficientnet._gen_efficientnet(
                "efficientnet_b0", channel_multiplier=0.25, depth_multiplier=0.25,
                pretrained=False, num_classes=10,
            ),
            "timm",
        ),
        "tv_vit_12_blocks": (
            TvViT(image_size=32, patch_size=16, num_layers=12, num_heads=2, hidden_dim=16, mlp_dim=32,
                  num_classes=10),
            "torchvision",
        ),
        "tv_mobilenet_v2": (tvm.mobilenet_v2(width_mult=0.1, num_classes=2), "torchvision"),
        "tv_densenet": (
            DenseNet(growth_rate=4, block_config=(2, 2), num_init_features=8, bn_size=2, num_classes=10),
            "torchvision",
        ),
        "tv_regnet": (
            RegNet(BlockParams.from_init_params(depth=2, w_0=8, w_a=8.0, w_m=2.0, group_width=8),
                   num_classes=10),
            "torchvision",
        ),
        "tv_swin": (
            SwinTransformer(patch_size=[4, 4], embed_dim=8, depths=[1, 1], num_heads=[1, 1],
                            window_size=[2, 2], num_classes=10),
            "torchvision",
        ),
        "tv_shufflenet_v2": (ShuffleNetV2([1, 1, 1], [8, 16, 32, 64, 64], num_classes=10), "torchvision"),
        "dcgan_generator": (
            nn.Sequential(
                nn.ConvTranspose2d(16, 32, 4, 1, 0, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                nn.ConvTranspose2d(32, 8, 4, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                nn.ConvTranspose2d(8, 3, 4, 2, 1, bias=False), nn.Tanh(),
            ),
            "torch",
        ),
    }
    for stem, (model, library) in models.items():
        save_both(model, stem, library)


def transformers4():
    """transformers 4.x `save_pretrained(safe_serialization=False)`: `.bin` shards + index."""
    import transformers

    assert transformers.__version__.startswith("4."), transformers.__version__
    from transformers import (GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM,
                              MixtralConfig, MixtralForCausalLM)

    torch.manual_seed(0)
    for stem, model in [
        # Tied wte / lm_head: the index's total_size counts the tied weight once.
        ("gpt2_bin_sharded", GPT2LMHeadModel(GPT2Config(
            n_embd=16, n_layer=2, n_head=2, vocab_size=64, n_positions=32))),
        ("llama_bin_sharded", LlamaForCausalLM(LlamaConfig(
            vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
            num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=32))),
        ("mixtral_bin_sharded", MixtralForCausalLM(MixtralConfig(
            vocab_size=64, hidden_size=16, intermediate_size=16, num_hidden_layers=2,
            num_attention_heads=2, num_key_value_heads=1, num_local_experts=2,
            max_position_embeddings=32))),
    ]:
        folder = os.path.join(OUT, stem)
        shutil.rmtree(folder, ignore_errors=True)
        model.save_pretrained(folder, safe_serialization=False, max_shard_size="8KB")
        sd = model.state_dict()
        index = json.load(open(os.path.join(folder, "pytorch_model.bin.index.json")))
        saved = {k: sd[k] for k in index["weight_map"]}
        answers(model, saved, os.path.join(folder, "pytorch_model.bin.index.json"),
                "transformers " + transformers.__version__,
                {"shards": len(set(index["weight_map"].values()))})


def transformers5():
    """transformers 5.x `save_pretrained`: safetensors shards (and a single-file folder)."""
    import transformers
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    folder = os.path.join(OUT, "llama_safetensors_sharded")
    shutil.rmtree(folder, ignore_errors=True)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=32))
    model.save_pretrained(folder, max_shard_size="8KB")
    index = json.load(open(os.path.join(folder, "model.safetensors.index.json")))
    sd = model.state_dict()
    answers(model, {k: sd[k] for k in index["weight_map"]},
            os.path.join(folder, "model.safetensors.index.json"),
            "transformers " + transformers.__version__,
            {"shards": len(set(index["weight_map"].values()))})
    folder = os.path.join(OUT, "gpt2_single")
    shutil.rmtree(folder, ignore_errors=True)
    model = GPT2LMHeadModel(GPT2Config(n_embd=16, n_layer=2, n_head=2, vocab_size=64, n_positions=32))
    model.save_pretrained(folder)
    from safetensors.torch import load_file

    loaded = load_file(os.path.join(folder, "model.safetensors"))
    sd = model.state_dict()
    answers(model, {k: sd[k] for k in sd if k in loaded}, os.path.join(folder, "model.safetensors"),
            "transformers " + transformers.__version__)


def header_low_byte(path):
    with open(path, "rb") as f:
        return f.read(1)[0]


def colliding_headers():
    """Safetensors files whose 8-byte header length starts with a pickle opcode's byte: a
    transformers shard starting 0x80 (PROTO) in a sharded folder, and a torchvision RegNet saved
    with `safetensors.torch.save_file` starting 0x28 (MARK). The config is varied until the
    library writes such a header (the header's length follows from names, shapes and offsets)."""
    import tempfile

    import transformers
    from safetensors.torch import save_file
    from torchvision.models.regnet import BlockParams, RegNet
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    folder = os.path.join(OUT, "gpt2_sharded_proto_byte")
    configs = [(e, l, v) for e in (8, 12, 16, 20, 24) for l in (1, 2, 3) for v in (64, 100, 1000)]
    for embd, layers, vocab in configs:
        shutil.rmtree(folder, ignore_errors=True)
        model = GPT2LMHeadModel(GPT2Config(n_embd=embd, n_layer=layers, n_head=2,
                                           vocab_size=vocab, n_positions=32))
        model.save_pretrained(folder, max_shard_size="8KB")
        shards = [f for f in os.listdir(folder) if f.endswith(".safetensors")]
        if any(header_low_byte(os.path.join(folder, f)) == 0x80 for f in shards):
            break
    index = json.load(open(os.path.join(folder, "model.safetensors.index.json")))
    sd = model.state_dict()
    answers(model, {k: sd[k] for k in index["weight_map"]},
            os.path.join(folder, "model.safetensors.index.json"),
            "transformers " + transformers.__version__,
            {"shards": len(set(index["weight_map"].values())), "config": [embd, layers, vocab]})
    path = os.path.join(OUT, "regnet_mark_byte.safetensors")
    for width, depth in [(w, d) for w in range(8, 64, 8) for d in (1, 2, 3, 4)]:
        model = RegNet(BlockParams.from_init_params(depth=depth, w_0=width, w_a=8.0, w_m=2.0,
                                                    group_width=8), num_classes=10).half()
        sd = {k: v.contiguous() for k, v in model.state_dict().items()}
        save_file(sd, path)
        if header_low_byte(path) == 0x28:
            break
    answers(model, sd, path, "safetensors save_file", {"config": [width, depth]})


def lightning():
    """A real `Trainer.fit` checkpoint (CPU, two steps) and a timm EMA state saved beside it."""
    import lightning as L
    from torch.utils.data import DataLoader, TensorDataset

    class Net(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.save_hyperparameters({"hidden": 8, "lr": 0.01})
            self.net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))

        def training_step(self, batch, _):
            x, y = batch
            loss = nn.functional.cross_entropy(self.net(x), y)
            self.log("loss", loss)
            return loss

        def configure_optimizers(self):
            opt = torch.optim.AdamW(self.parameters(), lr=0.01)
            return [opt], [torch.optim.lr_scheduler.StepLR(opt, 1)]

    torch.manual_seed(0)
    data = TensorDataset(torch.randn(16, 4), torch.randint(0, 2, (16,)))
    net = Net()
    trainer = L.Trainer(max_steps=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(net, DataLoader(data, batch_size=8))
    path = os.path.join(OUT, "lightning_fit.ckpt")
    trainer.save_checkpoint(path)
    ckpt = torch.load(path, weights_only=False)
    sd = ckpt["state_dict"]
    answers(net, sd, path, "lightning " + L.__version__,
            {"topLevelKeys": sorted(ckpt.keys()), "optimizerStateTensors": sum(
                1 for s in ckpt["optimizer_states"][0]["state"].values() for v in s.values()
                if torch.is_tensor(v))})


def torchao_files():
    """torchao `quantize_` weight-only configs: tensor subclasses with their stored parts."""
    import torchao
    from torchao.quantization import (Float8WeightOnlyConfig, Int8WeightOnlyConfig,
                                      IntxWeightOnlyConfig, quantize_)

    torch.manual_seed(0)
    for stem, config in [("int8_weight_only", Int8WeightOnlyConfig()),
                         ("float8_weight_only", Float8WeightOnlyConfig()),
                         ("intx_weight_only", IntxWeightOnlyConfig())]:
        model = nn.Sequential(nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 32)).to(torch.bfloat16)
        quantize_(model, config)
        path = os.path.join(OUT, "torchao", stem + ".pt")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        sd = model.state_dict()
        torch.save(sd, path)
        doc = {"library": "torchao " + torchao.__version__, "torch": torch.__version__, "tensors": []}
        for k, t in sd.items():
            entry = {"name": k, "dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape),
                     "class": type(t).__name__, "components": {}}
            names, _ = t.__tensor_flatten__() if hasattr(t, "__tensor_flatten__") else ([], None)
            for n in names:
                c = getattr(t, n)
                entry["components"][n] = {"dtype": str(c.dtype).replace("torch.", ""),
                                          "shape": list(c.shape),
                                          "bytes": c.numel() * c.element_size()}
            if hasattr(t, "block_size"):
                entry["blockSize"] = list(t.block_size)
            entry["storedBytes"] = (sum(c["bytes"] for c in entry["components"].values())
                                    or t.numel() * t.element_size())
            doc["tensors"].append(entry)
        with open(path + ".expected.json", "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
            f.write("\n")


def nested_and_protocols():
    """Nested tensors (strided and jagged) and a legacy stream in pickle protocol 1."""
    folder = os.path.join(OUT, "torch")
    os.makedirs(folder, exist_ok=True)
    torch.manual_seed(0)
    nt = torch.nested.nested_tensor([torch.randn(2, 3), torch.randn(4, 3)])
    njt = torch.nested.nested_tensor([torch.randn(2, 3), torch.randn(4, 3)], layout=torch.jagged)
    torch.save({"strided": nt, "jagged": njt, "w": torch.randn(3)}, os.path.join(folder, "nested.pt"))
    doc = {"torch": torch.__version__, "tensors": {
        "strided": {"layout": "nested_strided", "values": list(nt.values().shape),
                    "tensors": nt.size(0), "elements": nt.values().numel()},
        "jagged": {"layout": "jagged", "values": list(njt.values().shape), "tensors": njt.size(0),
                   "offsets": list(njt.offsets().shape), "elements": njt.values().numel()},
        "w": {"layout": "strided", "shape": [3]}}}
    with open(os.path.join(folder, "nested.pt.expected.json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    m = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    path = os.path.join(folder, "legacy_protocol1.pt")
    torch.save(m.state_dict(), path, _use_new_zipfile_serialization=False, pickle_protocol=1)
    answers(m, m.state_dict(), path, "torch")
    torch.save(m.state_dict(), os.path.join(folder, "legacy_protocol0.pt"),
               _use_new_zipfile_serialization=False, pickle_protocol=0)


def benign_real():
    """Real files `scan` must pass (exit 0), written by the libraries themselves: whole models of
    stock torchvision and timm classes (functools.partial norm layers, enums), a Lightning
    checkpoint with an argparse Namespace, numpy values and RNG state, transformers'
    TrainingArguments. Listed in Fixtures/benign/real/corpus.tsv for the scan corpus test."""
    import argparse

    import lightning as L
    import numpy as np
    import timm
    from timm.models.resnet import BasicBlock, ResNet
    from timm.models.vision_transformer import VisionTransformer as TimmViT
    from torchvision.models import mobilenet_v3_small
    from torchvision.models.vision_transformer import VisionTransformer as TvViT

    folder = os.path.join("Fixtures", "benign", "real")
    os.makedirs(folder, exist_ok=True)
    torch.manual_seed(0)
    rows = []

    def save(name, obj, what):
        torch.save(obj, os.path.join(folder, name))
        rows.append((name, what))

    save("tv_vit_whole.pt", TvViT(image_size=32, patch_size=16, num_layers=2, num_heads=2,
                                   hidden_dim=16, mlp_dim=32, num_classes=10).half(),
         "torch.save(torchvision VisionTransformer) whole: partial(LayerNorm, eps=1e-6)")
    save("tv_mobilenet_v3_whole.pt", mobilenet_v3_small(width_mult=0.1, num_classes=2).half(),
         "torch.save(torchvision mobilenet_v3_small) whole: partial(BatchNorm2d), Hardswish")
    save("timm_vit_whole.pt", TimmViT(img_size=32, patch_size=16, embed_dim=16, depth=2,
                                      num_heads=2, num_classes=10).half(),
         "torch.save(timm VisionTransformer) whole: GELU, Format enum, partial")
    save("timm_resnet_whole.pt", ResNet(BasicBlock, (1, 1, 1, 1), channels=(8, 16, 32, 64),
                                        stem_width=8, num_classes=10).half(),
         "torch.save(timm ResNet) whole")
    model = nn.Linear(4, 2)
    save("numpy_values.pt", {"model": model.state_dict(), "rng": np.random.get_state(),
                             "best": np.float64(0.25), "steps": np.arange(3),
                             "dtype": np.dtype("float32")},
         "state dict with numpy scalars, arrays, a dtype and np.random.get_state()")
    save("argparse_args.pt", {"model": model.state_dict(),
                              "args": argparse.Namespace(lr=0.1, epochs=3, name="run")},
         "state dict with an argparse.Namespace")
    from transformers import TrainingArguments

    args = TrainingArguments(output_dir="/tmp/ptinspect-training-args", report_to=[])
    torch.save(args, os.path.join(folder, "training_args.bin"))
    rows.append(("training_args.bin", "transformers Trainer's training_args.bin (TrainingArguments)"))

    class Net(L.LightningModule):
        def __init__(self, hparams_ns):
            super().__init__()
            self.save_hyperparameters(hparams_ns)
            self.net = nn.Linear(4, 2)

        def training_step(self, batch, _):
            return self.net(batch[0]).sum()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    from torch.utils.data import DataLoader, TensorDataset

    net = Net(argparse.Namespace(lr=0.1, hidden=4))
    trainer = L.Trainer(max_steps=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(net, DataLoader(TensorDataset(torch.randn(4, 4)), batch_size=2))
    trainer.save_checkpoint(os.path.join(folder, "lightning_namespace.ckpt"))
    rows.append(("lightning_namespace.ckpt", "Lightning Trainer.fit checkpoint, hparams from a Namespace"))
    with open(os.path.join(folder, "corpus.tsv"), "w") as f:
        f.write("file\twhat\n")
        for name, what in rows:
            f.write(f"{name}\t{what}\n")


STEPS = {"benign": benign_real, "architectures": architectures, "collisions": colliding_headers, "transformers4": transformers4,
         "transformers5": transformers5, "lightning": lightning, "torchao": torchao_files,
         "torch": nested_and_protocols}

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--only", choices=sorted(STEPS), action="append")
    args = p.parse_args()
    for name in args.only or list(STEPS):
        print("making", name, file=sys.stderr)
        STEPS[name]()
