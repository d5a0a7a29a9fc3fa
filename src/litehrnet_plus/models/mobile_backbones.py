"""The mobile backbones of the paper's comparator rows, written after their papers and the
reference implementations the comparators used (torchvision's MobileNetV2 and ShuffleNetV2, as
mmpose wraps them; the MobileNetV3 that PIPNet's code ships). ImageNet weights cannot be
downloaded here, so they always start from scratch.

Each backbone is an nn.Sequential of stride-2 stages whose `out_channels` says what its last
layer produces; the heads (simple_heads.py, pipnet.py, wing.py) read that.
"""
from __future__ import annotations

import torch
from torch import nn

from .blocks import ConvBN, channel_shuffle


def make_divisible(v: float, divisor: int = 8) -> int:
    """Round a width to a multiple of `divisor`, never more than 10% below `v` (the rule of the
    MobileNet papers' reference code)."""
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


def conv_bn_act(cin: int, cout: int, k: int = 1, stride: int = 1, groups: int = 1,
                act: type[nn.Module] | None = nn.ReLU6) -> ConvBN:
    """blocks.ConvBN with the MobileNets' default activation, ReLU6."""
    return ConvBN(cin, cout, k, stride, groups, act=act)


# ---------------------------------------------------------------------------- MobileNetV2
class InvertedResidualV2(nn.Module):
    """MobileNetV2's block: 1x1 expand (ReLU6), 3x3 depthwise (ReLU6), 1x1 linear projection;
    identity shortcut when the shape is kept."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = int(round(cin * expand))
        layers: list[nn.Module] = [] if expand == 1 else [conv_bn_act(cin, hidden, 1)]
        layers += [conv_bn_act(hidden, hidden, 3, stride, groups=hidden), conv_bn_act(hidden, cout, 1, act=None)]
        self.conv = nn.Sequential(*layers)
        self.shortcut = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.shortcut else self.conv(x)


# expansion t, channels c, repeats n, first stride s (MobileNetV2 paper, Table 2)
MOBILENETV2_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                        (6, 160, 3, 2), (6, 320, 1, 1))


def mobilenet_v2(width: float = 1.0, last_channels: int | None = 1280) -> nn.Sequential:
    """MobileNetV2 features (stride 32). `last_channels`: the final 1x1 conv's width (1280 in
    the paper, scaled up but never down with `width`); None leaves it out (output: 320*width)."""
    cin = make_divisible(32 * width)
    layers: list[nn.Module] = [conv_bn_act(3, cin, 3, 2)]
    for t, c, n, s in MOBILENETV2_SETTINGS:
        cout = make_divisible(c * width)
        for i in range(n):
            layers.append(InvertedResidualV2(cin, cout, s if i == 0 else 1, t))
            cin = cout
    if last_channels is not None:
        last = make_divisible(last_channels * max(1.0, width))
        layers.append(conv_bn_act(cin, last, 1))
        cin = last
    features = nn.Sequential(*layers)
    features.out_channels = cin
    return features


# ---------------------------------------------------------------------------- ShuffleNetV2
class ShuffleUnit(nn.Module):
    """ShuffleNetV2 unit: stride 1 splits the channels and transforms one half; stride 2
    transforms two copies (one with a depthwise downsampling branch); then channel shuffle."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        half = cout // 2
        self.stride = stride
        if stride > 1:
            self.branch1 = nn.Sequential(conv_bn_act(cin, cin, 3, stride, groups=cin, act=None),
                                         conv_bn_act(cin, half, 1, act=nn.ReLU))
        b2_in = cin if stride > 1 else half
        self.branch2 = nn.Sequential(conv_bn_act(b2_in, half, 1, act=nn.ReLU),
                                     conv_bn_act(half, half, 3, stride, groups=half, act=None),
                                     conv_bn_act(half, half, 1, act=nn.ReLU))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


SHUFFLENETV2_WIDTHS = {0.5: (48, 96, 192, 1024), 1.0: (116, 232, 464, 1024),
                       1.5: (176, 352, 704, 1024), 2.0: (244, 488, 976, 2048)}


def shufflenet_v2(width: float = 1.0) -> nn.Sequential:
    """ShuffleNetV2 features (stride 32): 3x3/2 conv 24, max pool, stages of 4/8/4 units, 1x1
    conv (1024 for widths up to 1.5x)."""
    if width not in SHUFFLENETV2_WIDTHS:
        raise ValueError(f"ShuffleNetV2 width must be one of {sorted(SHUFFLENETV2_WIDTHS)}, got {width}")
    *stage_widths, last = SHUFFLENETV2_WIDTHS[width]
    layers: list[nn.Module] = [conv_bn_act(3, 24, 3, 2, act=nn.ReLU), nn.MaxPool2d(3, 2, 1)]
    cin = 24
    for cout, repeats in zip(stage_widths, (4, 8, 4)):
        layers += [ShuffleUnit(cin, cout, 2)] + [ShuffleUnit(cout, cout, 1) for _ in range(repeats - 1)]
        cin = cout
    layers.append(conv_bn_act(cin, last, 1, act=nn.ReLU))
    features = nn.Sequential(*layers)
    features.out_channels = last
    return features


# ---------------------------------------------------------------------------- MobileNetV3
class HardSigmoid(nn.Module):
    """relu6(x + 3) / 6, with the ReLU6 as a module (the FLOPs convention counts it)."""

    def __init__(self) -> None:
        super().__init__()
        self.relu = nn.ReLU6()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(x + 3) / 6


class HardSwish(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gate = HardSigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class SqueezeExcite(nn.Module):
    """MobileNetV3's SE: global pool, two linear layers (reduction 4), hard-sigmoid gate."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        mid = make_divisible(channels // reduction)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(nn.Linear(channels, mid), nn.ReLU(), nn.Linear(mid, channels), HardSigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.fc(self.pool(x).flatten(1))[:, :, None, None]


class InvertedResidualV3(nn.Module):
    def __init__(self, cin: int, hidden: int, cout: int, k: int, stride: int, se: bool, hs: bool) -> None:
        super().__init__()
        act = HardSwish if hs else nn.ReLU
        layers: list[nn.Module] = []
        if cin != hidden:
            layers.append(conv_bn_act(cin, hidden, 1, act=act))
        layers += [nn.Conv2d(hidden, hidden, k, stride, k // 2, groups=hidden, bias=False), nn.BatchNorm2d(hidden)]
        # PIPNet's MobileNetV3 (expanding blocks): SE before the activation; without expansion after
        if cin != hidden:
            layers += [SqueezeExcite(hidden) if se else nn.Identity(), act()]
        else:
            layers += [act(), SqueezeExcite(hidden) if se else nn.Identity()]
        layers += [nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)
        self.shortcut = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.shortcut else self.conv(x)


# kernel k, expansion t, channels c, SE, hard-swish, stride (MobileNetV3 paper, Tables 1-2)
MOBILENETV3_SETTINGS = {
    "large": ((3, 1, 16, 0, 0, 1), (3, 4, 24, 0, 0, 2), (3, 3, 24, 0, 0, 1), (5, 3, 40, 1, 0, 2),
              (5, 3, 40, 1, 0, 1), (5, 3, 40, 1, 0, 1), (3, 6, 80, 0, 1, 2), (3, 2.5, 80, 0, 1, 1),
              (3, 2.3, 80, 0, 1, 1), (3, 2.3, 80, 0, 1, 1), (3, 6, 112, 1, 1, 1), (3, 6, 112, 1, 1, 1),
              (5, 6, 160, 1, 1, 2), (5, 6, 160, 1, 1, 1), (5, 6, 160, 1, 1, 1)),
    "small": ((3, 1, 16, 1, 0, 2), (3, 4.5, 24, 0, 0, 2), (3, 3.67, 24, 0, 0, 1), (5, 4, 40, 1, 1, 2),
              (5, 6, 40, 1, 1, 1), (5, 6, 40, 1, 1, 1), (5, 3, 48, 1, 1, 1), (5, 3, 48, 1, 1, 1),
              (5, 6, 96, 1, 1, 2), (5, 6, 96, 1, 1, 1), (5, 6, 96, 1, 1, 1)),
}


def mobilenet_v3(mode: str = "large", width: float = 1.0) -> nn.Sequential:
    """MobileNetV3 features plus its last 1x1 conv (960 channels for large, 576 for small at
    width 1), stride 32, as PIPNet's backbone uses them."""
    if mode not in MOBILENETV3_SETTINGS:
        raise ValueError(f"MobileNetV3 mode must be one of {sorted(MOBILENETV3_SETTINGS)}, got {mode!r}")
    cin = make_divisible(16 * width)
    layers: list[nn.Module] = [conv_bn_act(3, cin, 3, 2, act=HardSwish)]
    hidden = cin
    for k, t, c, se, hs, s in MOBILENETV3_SETTINGS[mode]:
        cout = make_divisible(c * width)
        hidden = make_divisible(cin * t)
        layers.append(InvertedResidualV3(cin, hidden, cout, k, s, bool(se), bool(hs)))
        cin = cout
    layers.append(conv_bn_act(cin, hidden, 1, act=HardSwish))
    features = nn.Sequential(*layers)
    features.out_channels = hidden
    return features
