"""The rock-paper-scissors notebook in fastai 2.8 with the EfficientNet-Lite0 ImageNet weights.

fastburn's EfficientNet-Lite0 runs (docs/results.md) have targets that were set with the
notebook's ResNet34. This script runs the same stages with the same backbone, weights and
hyper-parameters in PyTorch and fastai, so that fastburn's accuracies can be read against what
fastai itself reaches with this network on these images.

    target/compare-venv/bin/python benches/compare/notebook.py \
        --data ../shared/data/rps \
        --weights ../shared/weights/efficientnet-lite0-57934424.pth --seed 1

The venv is the one `run.py` creates. The script prints one line of JSON per epoch.

Where fastai 2.8 and fastai v1 (the spec) differ, the v1 behaviour is asked for explicitly:
`lr_max=slice(3e-3)` (v1's default), `pct_start=0.3` and a final division of 25e4. fastai
2.8's head keeps its own Linear layers without bias, and its `aug_transforms` stand for v1's
`get_transforms`.
"""

import argparse
import json
import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from fastai.vision.all import (
    CrossEntropyLossFlat, ImageDataLoaders, Learner, Normalize, Resize, accuracy,
    aug_transforms, create_head, set_seed,
)

# Expansion, kernel, stride of the first block, output channels, repeats: EfficientNet-B0's
# table, which Lite0 keeps.
STAGES = [
    (1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1),
]
BN = dict(eps=1e-3, momentum=0.01)  # the TensorFlow model's, as the port's file expects


class SameConv(nn.Conv2d):
    """Convolution with TensorFlow's "SAME" padding: the extra pixel goes right and bottom."""

    def forward(self, x):
        pads = []
        for size, k, s in zip(reversed(x.shape[2:]), reversed(self.kernel_size), reversed(self.stride)):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


def drop_connect(x, rate, training):
    if not training or rate == 0:
        return x
    keep = torch.rand(x.shape[0], 1, 1, 1, device=x.device) >= rate
    return x * keep / (1 - rate)


class MBConv(nn.Module):
    def __init__(self, cin, cout, expand, kernel, stride, rate):
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv = SameConv(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, **BN)
        self._depthwise_conv = SameConv(mid, mid, kernel, stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, **BN)
        self._project_conv = SameConv(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, **BN)
        self.expand, self.skip, self.rate = expand, stride == 1 and cin == cout, rate

    def forward(self, x):
        y = x
        if self.expand != 1:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return drop_connect(y, self.rate, self.training) + x if self.skip else y


class Body(nn.Module):
    """EfficientNet-Lite0 up to the head convolution's ReLU6, with the port's parameter names."""

    def __init__(self):
        super().__init__()
        self._conv_stem = SameConv(3, 32, 3, 2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, **BN)
        blocks, cin = [], 32
        total = sum(stage[4] for stage in STAGES)
        for expand, kernel, stride, cout, repeats in STAGES:
            for i in range(repeats):
                rate = 0.2 * len(blocks) / total
                blocks.append(MBConv(cin, cout, expand, kernel, stride if i == 0 else 1, rate))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv(320, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, **BN)

    def forward(self, x):
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return F.relu6(self._bn1(self._conv_head(x)))


def layer_groups(model):
    """Splits the parameters into fastburn's three groups: stem and first half of the blocks,
    the rest of the body, the head."""
    body, head = model[0], model[1]
    first = [body._conv_stem, body._bn0, *body._blocks[:8]]
    second = [*body._blocks[8:], body._conv_head, body._bn1]
    return [[p for m in group for p in m.parameters()] for group in (first, second, [head])]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--weights", required=True)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    set_seed(args.seed)

    # (x - 127) / 128 on 0..255, the network's own normalisation.
    stats = ([127 / 255] * 3, [128 / 255] * 3)
    dls = ImageDataLoaders.from_folder(
        args.data, train="train", valid="valid", bs=64, num_workers=args.workers,
        item_tfms=Resize(224), batch_tfms=[*aug_transforms(), Normalize.from_stats(*stats)],
    )

    body = Body()
    state = torch.load(args.weights, map_location="cpu", weights_only=True)
    missing, unexpected = body.load_state_dict(state, strict=False)
    if missing or set(unexpected) != {"_fc.weight", "_fc.bias"}:
        raise SystemExit(f"{args.weights}: missing keys {missing}, unexpected keys {unexpected}")
    model = nn.Sequential(body, create_head(1280, dls.c))
    learn = Learner(dls, model, loss_func=CrossEntropyLossFlat(), metrics=accuracy,
                    splitter=layer_groups)
    learn.freeze()

    v1 = dict(lr_max=slice(3e-3), pct_start=0.3, div_final=25e4)
    stages = [("frozen", 4, v1), ("unfrozen", 1, v1),
              ("discriminative", 2, dict(v1, lr_max=slice(5e-4, 3e-3)))]
    for name, epochs, kwargs in stages:
        if name == "unfrozen":
            learn.unfreeze()
        start = time.time()
        with learn.no_bar(), learn.no_logging():
            learn.fit_one_cycle(epochs, **kwargs)
        history = learn.recorder.values[-epochs:]
        for epoch, (train_loss, valid_loss, acc) in enumerate(history):
            print(json.dumps(dict(stage=name, epoch=epoch, train_loss=train_loss,
                                  valid_loss=valid_loss, accuracy=acc)), flush=True)
        print(json.dumps(dict(stage=name, seconds=round(time.time() - start))), flush=True)


if __name__ == "__main__":
    main()
