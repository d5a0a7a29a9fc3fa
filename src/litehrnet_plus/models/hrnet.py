"""HRNetV2 for facial landmarks (Wang et al., "Deep High-Resolution Representation Learning for
Visual Recognition"; the HRNet facial-landmark code): the large-network row of the paper's
Table 1.

Stem: two 3x3/2 convs (64) and four bottlenecks (256); then stages of 2, 3 and 4 parallel
branches of basic blocks (widths W, 2W, 4W, 8W), each module ending in a fusion that adds every
branch into every other (1x1 conv + nearest upsampling downwards in resolution, chains of
3x3/2 convs upwards). The output is HRNetV2's concatenating head (heads.HRNetV2Head) at 1/4 of
the input.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..errors import ConfigError
from .blocks import ConvBN
from .heads import HRNetV2Head
from .multibranch import build_stages, run_stages
from .registry import build_from, check_common, register_model


@dataclass(frozen=True)
class HRNetConfig:
    num_landmarks: int = 68
    width: int = 18                                   # W: branch widths W, 2W, 4W, 8W
    num_modules: tuple[int, ...] = (1, 4, 3)          # modules of the 2-, 3- and 4-branch stages
    num_blocks: int = 4                               # basic blocks per branch per module
    input_size: int = 96

    def __post_init__(self) -> None:
        check_common(self.num_landmarks, self.input_size)
        if len(self.num_modules) != 3 or min(self.num_modules) < 1:
            raise ConfigError(f"num_modules must be 3 positive counts, got {self.num_modules}")

    @property
    def widths(self) -> tuple[int, ...]:
        return tuple(self.width * 2 ** i for i in range(4))

    def to_dict(self) -> dict:
        return asdict(self)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, planes: int) -> None:
        super().__init__()
        cout = planes * self.expansion
        self.body = nn.Sequential(ConvBN(cin, planes, 1), ConvBN(planes, planes, 3),
                                  ConvBN(planes, cout, 1, act=False))
        self.down = ConvBN(cin, cout, 1, act=False) if cin != cout else nn.Identity()
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.down(x))


class BasicBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(ConvBN(channels, channels, 3), ConvBN(channels, channels, 3, act=False))
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + x)


class HRFusion(nn.Module):
    """Every output branch i is relu(sum_j f_ij(x_j)), f_ii the identity."""

    def __init__(self, channels: list[int]) -> None:
        super().__init__()
        self.paths = nn.ModuleList()
        for i, ci in enumerate(channels):
            row = nn.ModuleList()
            for j, cj in enumerate(channels):
                if j > i:
                    row.append(nn.Sequential(nn.Conv2d(cj, ci, 1, bias=False), nn.BatchNorm2d(ci),
                                             nn.Upsample(scale_factor=2 ** (j - i), mode="nearest")))
                elif j == i:
                    row.append(nn.Identity())
                else:
                    steps = [ConvBN(cj, cj, 3, 2) for _ in range(i - j - 1)]
                    row.append(nn.Sequential(*steps, ConvBN(cj, ci, 3, 2, act=False)))
            self.paths.append(row)
        self.relu = nn.ReLU()

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        outs = []
        for row in self.paths:
            y = row[0](xs[0])
            for path, x in zip(row[1:], xs[1:]):
                y = y + path(x)
            outs.append(self.relu(y))
        return outs


class HRModule(nn.Module):
    def __init__(self, channels: list[int], num_blocks: int) -> None:
        super().__init__()
        self.branches = nn.ModuleList([nn.Sequential(*[BasicBlock(c) for _ in range(num_blocks)])
                                       for c in channels])
        self.fusion = HRFusion(channels)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        return self.fusion([b(x) for b, x in zip(self.branches, xs)])


def _transition(pre: list[int], cur: list[int]) -> nn.ModuleList:
    layers: list[nn.Module] = []
    for i, c in enumerate(cur):
        if i < len(pre):
            layers.append(nn.Identity() if c == pre[i] else ConvBN(pre[i], c, 3))
        else:
            cin = pre[-1]
            steps = [ConvBN(cin, cin if j < i - len(pre) else c, 3, 2) for j in range(i + 1 - len(pre))]
            layers.append(nn.Sequential(*steps))
    return nn.ModuleList(layers)


class HRNetV2(nn.Module):
    """Image (B,3,S,S) in [0,1] -> heatmap logits (B,K,S/4,S/4)."""

    output = "heatmap"

    def __init__(self, cfg: HRNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.stem = nn.Sequential(ConvBN(3, 64, 3, 2), ConvBN(64, 64, 3, 2),
                                  Bottleneck(64, 64), *[Bottleneck(256, 64) for _ in range(3)])
        self.transitions, self.stages = build_stages(256, cfg.widths, cfg.num_modules, _transition,
                                                     lambda channels, s, m: HRModule(channels, cfg.num_blocks))
        self.head = HRNetV2Head(list(cfg.widths), cfg.num_landmarks, bias=True)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(run_stages(self.transitions, self.stages, self.stem(x)))


@register_model
def hrnetv2_w18(**overrides) -> HRNetV2:
    return HRNetV2(build_from(HRNetConfig(), overrides))
