#!/usr/bin/env python3
"""Write Fixtures/output/: small models with the block structure of ResNet-50 and ViT-B/16,
for the golden tests of fitted tables (screen-sized summaries, narrow and wide terminals).

    /path/to/venv/bin/python scripts/make_output_fixtures.py     # torch + torchvision

- resnet_bottleneck.pt: torchvision's Bottleneck blocks in ResNet-50's [3, 4, 6, 3] layout,
  with the same names (conv1, bn1, layer1.0.downsample.0, ..., fc) but widths 4/8/16/32.
- vit_depth12.pt: torchvision's VisionTransformer with ViT-B/16's 12 encoder
  layers and names (encoder.layers.encoder_layer_0 ... _11), hidden size 16, 2 heads.

- stats_findings.pt: a small CNN state dict with what `stats` must call out: a conv layer
  all zeros, a constant linear weight, a NaN, a running_var with a negative value, a weight
  1000x the others' scale and a weight copied from another layer (not tied).

Seeded random weights; nothing is downloaded. Each file gets an `.expected.json` from torch:
every tensor's name, dtype, shape and numel, and the model's parameter count.
"""

import json
import pathlib

import torch
import torch.nn as nn
from torchvision.models.resnet import Bottleneck, conv1x1
from torchvision.models.vision_transformer import VisionTransformer

FIX = pathlib.Path(__file__).resolve().parent.parent / "Fixtures" / "output"


class SmallResNet(nn.Module):
    """torchvision's ResNet with Bottleneck blocks, its names, and narrow widths."""

    def __init__(self, layers=(3, 4, 6, 3), widths=(4, 8, 16, 32), classes=10):
        super().__init__()
        self.inplanes = widths[0]
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        for i, (w, n) in enumerate(zip(widths, layers)):
            setattr(self, f"layer{i + 1}", self._make_layer(w, n, stride=1 if i == 0 else 2))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[-1] * Bottleneck.expansion, classes)

    def _make_layer(self, planes, blocks, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes * Bottleneck.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * Bottleneck.expansion, stride),
                nn.BatchNorm2d(planes * Bottleneck.expansion),
            )
        out = [Bottleneck(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * Bottleneck.expansion
        out += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*out)


def write(model, name):
    FIX.mkdir(parents=True, exist_ok=True)
    sd = model.state_dict()
    torch.save(sd, FIX / name)
    doc = {
        "fixture": "output/" + name,
        "torchVersion": torch.__version__.split("+")[0],
        "parameters": sum(p.numel() for p in model.parameters()),
        "tensors": [
            {"name": k, "dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape), "numel": v.numel()}
            for k, v in sd.items()
        ],
    }
    (FIX / (name + ".expected.json")).write_text(json.dumps(doc, indent=1) + "\n")


def findings():
    torch.manual_seed(2)
    m = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 4, 3), nn.Conv2d(4, 4, 3),
        nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 8))
    with torch.no_grad():
        m[2].weight.zero_()
        m[2].bias.zero_()
        m[4].weight.fill_(0.5)
        m[5].weight[0, 0] = float("nan")
        m[1].running_var[1] = -0.25
        m[3].weight.mul_(1000)
        m[7].weight.copy_(m[6].weight)
    return m


def main():
    torch.manual_seed(0)
    write(SmallResNet(), "resnet_bottleneck.pt")
    torch.manual_seed(1)
    vit = VisionTransformer(
        image_size=32, patch_size=16, num_layers=12, num_heads=2, hidden_dim=16, mlp_dim=32,
        num_classes=10)
    write(vit, "vit_depth12.pt")
    write(findings(), "stats_findings.pt")


if __name__ == "__main__":
    main()
