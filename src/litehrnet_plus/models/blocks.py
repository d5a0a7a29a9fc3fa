"""Building blocks of Lite-HRNet as its official code builds them: conv-BN-act units, the
shuffle-style stem, and conditional channel weighting (cross-resolution + spatial weighting).

Submodules are nn.Modules wherever the paper's FLOPs convention counts them (norms,
activations, pooling modules, nn.Upsample); functional resizes inside the cross-resolution
weighting stay functional, exactly as the official code has them, so the counts agree.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet channel shuffle; written without the batch size so exports stay batch-dynamic."""
    c = x.shape[1]
    return x.unflatten(1, (groups, c // groups)).transpose(1, 2).flatten(1, 2)


def transform_half(xs: list[torch.Tensor], transform) -> list[torch.Tensor]:
    """The shuffle-block pattern over branches: the first half of each branch's channels
    passes, `transform` maps the list of second halves, then halves are rejoined and shuffled."""
    parts = [x.chunk(2, dim=1) for x in xs]
    x2 = transform([p[1] for p in parts])
    return [channel_shuffle(torch.cat([p[0], s], dim=1), 2) for p, s in zip(parts, x2)]


class ConvBN(nn.Sequential):
    """Conv (no bias) + BatchNorm + optional activation: mmcv's ConvModule with norm_cfg=BN.
    act: True for ReLU, False/None for none, or an activation class (ReLU6, hard-swish)."""

    def __init__(self, cin: int, cout: int, k: int = 1, stride: int = 1, groups: int = 1,
                 act: bool | type[nn.Module] | None = True) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout)]
        if act:
            layers.append(nn.ReLU() if act is True else act())
        super().__init__(*layers)


def dw_conv_bn(c: int, stride: int = 1) -> ConvBN:
    """3x3 depthwise conv + BN, no activation."""
    return ConvBN(c, c, 3, stride, groups=c, act=False)


class Stem(nn.Module):
    """3x3/2 conv, then a ShuffleNet-style stride-2 unit: overall stride 4."""

    def __init__(self, in_channels: int, stem_channels: int, out_channels: int,
                 expand_ratio: float = 1.0) -> None:
        super().__init__()
        self.out_channels = out_channels
        mid = int(round(stem_channels * expand_ratio))
        half = stem_channels // 2
        inc = out_channels - half if stem_channels == out_channels else out_channels - stem_channels
        # the widths other code needs (the deployment graph), so nobody digs them out of layers
        self.stem_channels = stem_channels
        self.branch1_channels = inc
        self.branch2_channels = half if stem_channels == out_channels else stem_channels
        self.conv1 = ConvBN(in_channels, stem_channels, 3, 2)
        self.branch1 = nn.Sequential(dw_conv_bn(half, 2), ConvBN(half, inc, 1))
        self.expand_conv = ConvBN(half, mid, 1)
        self.depthwise_conv = dw_conv_bn(mid, 2)
        self.linear_conv = ConvBN(mid, self.branch2_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        x1, x2 = x.chunk(2, dim=1)
        x2 = self.linear_conv(self.depthwise_conv(self.expand_conv(x2)))
        return channel_shuffle(torch.cat((self.branch1(x1), x2), dim=1), 2)


class SpatialWeighting(nn.Module):
    """Squeeze-excitation on one branch: pool, 1x1 (ReLU), 1x1 (sigmoid), reweight channels."""

    def __init__(self, channels: int, ratio: int = 4) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Sequential(nn.Conv2d(channels, channels // ratio, 1), nn.ReLU())
        self.fc2 = nn.Sequential(nn.Conv2d(channels // ratio, channels, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.fc2(self.fc1(self.pool(x)))


def pool_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Average-pool x to `size`; a plain strided pool when the sizes divide (export friendly)."""
    h, w = x.shape[-2:]
    if (h, w) == tuple(size):
        return x
    if h % size[0] == 0 and w % size[1] == 0:
        kh, kw = h // size[0], w // size[1]
        return F.avg_pool2d(x, (kh, kw), (kh, kw))
    return F.adaptive_avg_pool2d(x, size)


class CrossResolutionWeighting(nn.Module):
    """Channel weights computed from all branches pooled to the lowest resolution."""

    def __init__(self, channels: list[int], ratio: int) -> None:
        super().__init__()
        self.channels = list(channels)
        total = sum(channels)
        self.conv1 = ConvBN(total, int(total / ratio), 1)
        self.conv2 = nn.Sequential(nn.Conv2d(int(total / ratio), total, 1, bias=False),
                                   nn.BatchNorm2d(total), nn.Sigmoid())

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        size = tuple(xs[-1].shape[-2:])
        pooled = torch.cat([pool_to(s, size) for s in xs[:-1]] + [xs[-1]], dim=1)
        weights = torch.split(self.conv2(self.conv1(pooled)), self.channels, dim=1)
        return [s * (a if tuple(s.shape[-2:]) == size else F.interpolate(a, size=s.shape[-2:], mode="nearest"))
                for s, a in zip(xs, weights)]


class ConditionalChannelWeighting(nn.Module):
    """Lite-HRNet's replacement of the shuffle block's 1x1 convs: half of each branch passes,
    the other half is reweighted across resolutions, depthwise-convolved and reweighted
    spatially; then the halves are concatenated and shuffled."""

    def __init__(self, channels: list[int], reduce_ratio: int) -> None:
        super().__init__()
        half = [c // 2 for c in channels]
        self.cross_resolution_weighting = CrossResolutionWeighting(half, reduce_ratio)
        self.depthwise_convs = nn.ModuleList([dw_conv_bn(c) for c in half])
        self.spatial_weighting = nn.ModuleList([SpatialWeighting(c, 4) for c in half])

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        return transform_half(xs, self._weight)

    def _weight(self, halves: list[torch.Tensor]) -> list[torch.Tensor]:
        x2 = self.cross_resolution_weighting(halves)
        return [sw(dw(s)) for s, dw, sw in zip(x2, self.depthwise_convs, self.spatial_weighting)]


class CCWSequence(nn.Module):
    """Several conditional channel weighting blocks applied in turn to a list of branches."""

    def __init__(self, channels: list[int], num_blocks: int, reduce_ratio: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            [ConditionalChannelWeighting(channels, reduce_ratio) for _ in range(num_blocks)])

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        for block in self.blocks:
            xs = block(xs)
        return xs
