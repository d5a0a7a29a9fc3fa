"""Fusion layers that exchange information between branches of different resolutions.

- "pw": Lite-HRNet's fusion: 1x1 conv + BN + nearest upsampling from lower resolutions,
  (3x3 depthwise stride-2 + BN + 1x1 conv + BN) chains from higher ones.
- "bottleneck": the same paths, every 1x1 conv split into a narrow 1x1 + BN + ReLU + 1x1
  (the MobileNet bottleneck), Table 2(a) of the paper.
- "group": the same paths with grouped 1x1 convs (ShuffleNet), Table 2(a).
- "scaf": the paper's stepped channel attention fusion (Fig. 3): no pointwise convolutions.

The PW-family fusions can reproduce the official forward pass, which adds branch 0 twice
(see `double_branch0`).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .blocks import dw_conv_bn
from ..errors import UnknownNameError

FUSIONS = ("pw", "bottleneck", "group", "scaf")


def _projection(kind: str, cin: int, cout: int, bottleneck_ratio: int, groups: int) -> list[nn.Module]:
    """1x1 channel projection cin -> cout ending in BN (no activation)."""
    if kind == "pw":
        return [nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout)]
    if kind == "bottleneck":
        mid = max(1, min(cin, cout) // bottleneck_ratio)
        return [nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(),
                nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout)]
    if kind == "group":
        # Largest group count <= `groups` that divides both sides. The summed output needs no
        # channel shuffle: a fixed permutation of a learned projection is still learned.
        g = math.gcd(math.gcd(cin, cout), groups)
        return [nn.Conv2d(cin, cout, 1, groups=g, bias=False), nn.BatchNorm2d(cout)]
    raise ValueError(f"unknown projection kind {kind!r}")


class ConvFusion(nn.Module):
    """Lite-HRNet's fusion layer with a choice of channel projection (pw, bottleneck, group).

    double_branch0 reproduces the official forward pass exactly: it accumulates the fused
    sum for output 0 in place into branch 0's tensor, so output 0 gets branch 0 twice and every
    other output i receives path_i0 applied twice to that pre-activation sum. Removing it
    lowers accuracy according to the official code's own comment; it is also needed to land on
    the paper's FLOPs figure for Lite-HRNet.
    """

    def __init__(self, channels: list[int], kind: str = "pw", double_branch0: bool = True,
                 bottleneck_ratio: int = 4, groups: int = 4, outputs: int | None = None) -> None:
        super().__init__()
        self.double_branch0 = double_branch0
        n = len(channels)
        rows = []
        for i in range(outputs or n):
            row = []
            for j in range(n):
                if j > i:
                    row.append(nn.Sequential(
                        *_projection(kind, channels[j], channels[i], bottleneck_ratio, groups),
                        nn.Upsample(scale_factor=2 ** (j - i), mode="nearest")))
                elif j == i:
                    row.append(nn.Identity())
                else:
                    steps = []
                    for k in range(i - j):
                        last = k == i - j - 1
                        cout = channels[i] if last else channels[j]
                        steps.append(nn.Sequential(
                            dw_conv_bn(channels[j], 2),
                            *_projection(kind, channels[j], cout, bottleneck_ratio, groups),
                            *([] if last else [nn.ReLU()])))
                    row.append(nn.Sequential(*steps))
            rows.append(nn.ModuleList(row))
        self.paths = nn.ModuleList(rows)
        self.relu = nn.ReLU()

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        n, n_out = len(xs), len(self.paths)
        outs = []
        if not self.double_branch0:
            for i in range(n_out):
                y = xs[i]
                for j in range(n):
                    if j != i:
                        y = y + self.paths[i][j](xs[j])
                outs.append(self.relu(y))
            return outs
        # Official semantics, written out without in-place aliasing.
        y0 = xs[0] + xs[0]
        for j in range(1, n):
            y0 = y0 + self.paths[0][j](xs[j])
        outs.append(self.relu(y0))
        for i in range(1, n_out):
            y = self.paths[i][0](y0) + self.paths[i][0](y0)  # two calls, as the official code makes
            for j in range(1, n):
                y = y + (xs[j] if j == i else self.paths[i][j](xs[j]))
            outs.append(self.relu(y))
        return outs


class SCAFAttention(nn.Module):
    """Channel attention from a target's pooled descriptor (B,C,1,1): FC (C -> C/r), ReLU,
    FC (C/r -> C), sigmoid. The FCs are 1x1 convs on the pooled tensor: the same 2*C^2/r
    multiply-accumulates as Linear layers, without reshapes in the exported graph."""

    def __init__(self, channels: int, ratio: int) -> None:
        super().__init__()
        hidden = max(1, channels // ratio)
        self.fc1 = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.ReLU())
        self.fc2 = nn.Sequential(nn.Conv2d(hidden, channels, 1), nn.Sigmoid())

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.fc1(pooled))


class SCAFFusion(nn.Module):
    """Stepped channel attention fusion (paper Fig. 3).

    For target branch i and source branch j: the source is averaged over its channels into a
    one-channel map and resized to the target's resolution (nearest upsampling from a lower
    resolution, average pooling from a higher one); the target is pooled over space once and
    turned into channel attention weights in [0,1]; map x weights is added to the target.
    Resizing the one-channel map before the product equals resizing the product (the weights
    are constant over space) and costs C_i times less. `shared=False` gives each (i,j) pair
    its own FC layers, `shared=True` one set per target.
    """

    def __init__(self, channels: list[int], ratio: int = 8, shared: bool = False,
                 outputs: int | None = None) -> None:
        super().__init__()
        n, n_out = len(channels), outputs or len(channels)
        self.shared = shared
        self.pools = nn.ModuleList([nn.AdaptiveAvgPool2d(1) for _ in channels[:n_out]])
        if shared:
            self.attn = nn.ModuleList([SCAFAttention(c, ratio) for c in channels[:n_out]])
        else:
            self.attn = nn.ModuleList([
                nn.ModuleList([SCAFAttention(channels[i], ratio) if j != i else nn.Identity()
                               for j in range(n)]) for i in range(n_out)])
        self.resize = nn.ModuleList([
            nn.ModuleList([
                nn.Upsample(scale_factor=2 ** (j - i), mode="nearest") if j > i
                else nn.AvgPool2d(2 ** (i - j)) if j < i else nn.Identity()
                for j in range(n)]) for i in range(n_out)])
        self.relu = nn.ReLU()

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        n = len(xs)
        means = [x.mean(dim=1, keepdim=True) for x in xs]
        outs = []
        for i in range(len(self.pools)):
            y = xs[i]
            pooled = self.pools[i](xs[i])
            shared_w = self.attn[i](pooled) if self.shared else None
            for j in range(n):
                if j != i:
                    w = shared_w if self.shared else self.attn[i][j](pooled)
                    y = y + self.resize[i][j](means[j]) * w
            outs.append(self.relu(y))
        return outs


def build_fusion(kind: str, channels: list[int], *, double_branch0: bool, scaf_ratio: int,
                 scaf_shared: bool, bottleneck_ratio: int, groups: int, outputs: int | None = None) -> nn.Module:
    """outputs: how many branches (from the highest resolution) to produce; the last module
    before a head that reads branch 0 only needs one (HRNet's multiscale_output=False)."""
    if kind == "scaf":
        return SCAFFusion(channels, scaf_ratio, scaf_shared, outputs)
    if kind in ("pw", "bottleneck", "group"):
        return ConvFusion(channels, kind, double_branch0, bottleneck_ratio, groups, outputs)
    raise UnknownNameError(f"unknown fusion {kind!r}; choose one of {FUSIONS}")
