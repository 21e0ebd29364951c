"""The ResNets of SageMaker's image classification algorithm, written in torch (no torchvision).

The built-in algorithm trains MXNet's ResNet ("Identity Mappings in Deep Residual Networks", He et
al. 2016: pre-activation units). The design follows MXNet's reference symbol
(apache/mxnet ``example/image-classification/symbols/resnet.py`` @ 208844b61084e555e841bfb13a46707309aac87a),
rewritten here as torch modules with the same layer names (``bn_data``, ``conv0``,
``stage1_unit1.bn1`` ...):

* the depths of the developer guide's two sets
  (https://docs.aws.amazon.com/sagemaker/latest/dg/IC-Hyperparameter.html, ``num_layers``):
  18, 34, 50, 101, 152, 200 for large images (ImageNet design: four stages, basic units below 50
  layers with filters 64-128-256-512, bottleneck units from 50 layers with filters 256-512-1024-2048,
  units per stage 2-2-2-2, 3-4-6-3, 3-4-6-3, 3-4-23-3, 3-8-36-3, 3-24-36-3) and 20, 32, 44, 56, 110
  for small images (the ResNet paper's CIFAR design: three stages of (n-2)/6 basic units with 16, 32
  and 64 filters);
* the input goes through a batch norm (``bn_data``), then a 3x3 stride-1 convolution for images at
  most 32 pixels high or a 7x7 stride-2 convolution, batch norm, ReLU and 3x3 max pooling for larger
  ones; every stage after the first halves the resolution; batch norm, ReLU, global average
  pooling and the fully connected layer ``fc1`` end the network.

MXNet picks the CIFAR design by image height (<= 28 pixels); the developer guide ties it to the
depth, so here the depth decides and any image size works with either design.
"""

from __future__ import annotations

import torch
from torch import nn

LARGE_UNITS = {
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
    200: (3, 24, 36, 3),
}
SMALL_DEPTHS = (20, 32, 44, 56, 110)
BN_EPS = 2e-5  # MXNet's reference symbol
BN_MOMENTUM = 0.1  # torch's convention for MXNet's bn_mom=0.9


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


def _conv(cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False)


class ResidualUnit(nn.Module):
    """A pre-activation unit: basic (two 3x3 convolutions) or bottleneck (1x1, 3x3, 1x1 at a quarter width)."""

    def __init__(self, cin: int, cout: int, stride: int, bottleneck: bool) -> None:
        super().__init__()
        self.bottleneck = bottleneck
        self.bn1 = _bn(cin)
        if bottleneck:
            mid = cout // 4
            self.conv1 = _conv(cin, mid, 1)
            self.bn2 = _bn(mid)
            self.conv2 = _conv(mid, mid, 3, stride)
            self.bn3 = _bn(mid)
            self.conv3 = _conv(mid, cout, 1)
        else:
            self.conv1 = _conv(cin, cout, 3, stride)
            self.bn2 = _bn(cout)
            self.conv2 = _conv(cout, cout, 3)
        # MXNet projects the shortcut from the first activation whenever a unit opens a stage
        self.sc = _conv(cin, cout, 1, stride) if (cin != cout or stride != 1) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act1 = torch.relu(self.bn1(x))
        shortcut = x if self.sc is None else self.sc(act1)
        out = self.conv1(act1)
        out = self.conv2(torch.relu(self.bn2(out)))
        if self.bottleneck:
            out = self.conv3(torch.relu(self.bn3(out)))
        return out + shortcut


class ResNet(nn.Module):
    def __init__(self, num_layers: int, num_classes: int, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        channels, height, _width = image_shape
        units, filters, bottleneck = design(num_layers)
        self.bn_data = nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM, affine=False)  # fix_gamma=True
        stem: list[nn.Module] = []
        if height <= 32:
            stem.append(_conv(channels, filters[0], 3))
        else:
            stem += [
                nn.Conv2d(channels, filters[0], 7, stride=2, padding=3, bias=False),
                _bn(filters[0]),
                nn.ReLU(),
                nn.MaxPool2d(3, stride=2, padding=1),
            ]
        self.conv0 = nn.Sequential(*stem)
        stages: list[nn.Module] = []
        cin = filters[0]
        for index, count in enumerate(units):
            cout = filters[index + 1]
            stage = [ResidualUnit(cin, cout, 1 if index == 0 else 2, bottleneck)]
            stage += [ResidualUnit(cout, cout, 1, bottleneck) for _ in range(count - 1)]
            stages.append(nn.Sequential(*stage))
            cin = cout
        self.stages = nn.Sequential(*stages)
        self.bn1 = _bn(cin)
        self.fc1 = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        body = self.stages(self.conv0(self.bn_data(x)))
        pooled = torch.relu(self.bn1(body)).mean(dim=(2, 3))
        return self.fc1(pooled)


def design(num_layers: int) -> tuple[tuple[int, ...], tuple[int, ...], bool]:
    """(units per stage, filters (stem first), bottleneck) for a documented depth; ValueError otherwise."""
    if num_layers in SMALL_DEPTHS:
        per_stage = (num_layers - 2) // 6
        return (per_stage, per_stage, per_stage), (16, 16, 32, 64), False
    if num_layers in LARGE_UNITS:
        if num_layers >= 50:
            return LARGE_UNITS[num_layers], (64, 256, 512, 1024, 2048), True
        return LARGE_UNITS[num_layers], (64, 64, 128, 256, 512), False
    raise ValueError(f"num_layers {num_layers} is not one of {sorted((*SMALL_DEPTHS, *LARGE_UNITS))}")


def depth_of(model: ResNet) -> int:
    """Weighted layers as the paper counts them: convolutions on the main path plus the classifier."""
    count = 1 + 1  # conv0 + fc1
    for stage in model.stages:
        for unit in stage:
            count += 3 if unit.bottleneck else 2
    return count
