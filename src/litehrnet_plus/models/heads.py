"""Output modules that turn the multi-resolution branches into K heatmaps at branch 0's
resolution (1/4 of the input). Paper Fig. 4 compares them.

- "lite": Lite-HRNet's head, HRNetV1 style: 1x1 conv on the highest-resolution branch only.
- "mr": the paper's multi-resolution head: a 1x1 conv to K heatmaps on every branch,
  upsampled to the highest resolution and summed (no concatenation).
- "hrnetv2": HRNetV2's facial-landmark head: upsample every branch, concatenate, 1x1 conv +
  BN + ReLU at the concatenated width, 1x1 conv to K.

The official Lite-HRNet also runs an IterativeHead (top-down depthwise-separable refinement)
over the branches before the output conv; `IterativeHead` provides it and the model config
decides whether it precedes the output module.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ConvBN, dw_conv_bn
from ..errors import UnknownNameError

HEADS = ("lite", "mr", "hrnetv2")


class DepthwiseSeparable(nn.Sequential):
    """3x3 depthwise conv + BN, 1x1 conv + BN + ReLU (mmcv's DepthwiseSeparableConvModule as the
    official IterativeHead configures it)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(dw_conv_bn(cin), ConvBN(cin, cout, 1))


class IterativeHead(nn.Module):
    """Top-down pass from the lowest resolution: each branch adds the bilinear-upsampled result
    of the branch below it, then goes through a depthwise-separable conv.

    Output channels per branch (high to low): c0, c0, c1, ..., c_{n-2}."""

    def __init__(self, channels: list[int]) -> None:
        super().__init__()
        rev = channels[::-1]
        self.projects = nn.ModuleList([
            DepthwiseSeparable(rev[i], rev[i + 1] if i < len(rev) - 1 else rev[i])
            for i in range(len(rev))])
        self.out_channels = [rev[i + 1] if i < len(rev) - 1 else rev[i] for i in range(len(rev))][::-1]

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        ys = []
        last = None
        for i, s in enumerate(xs[::-1]):
            if last is not None:
                s = s + F.interpolate(last, size=s.shape[-2:], mode="bilinear", align_corners=True)
            last = self.projects[i](s)
            ys.append(last)
        return ys[::-1]


class LiteHead(nn.Module):
    """1x1 conv on branch 0 (HRNetV1-style output of Lite-HRNet)."""

    def __init__(self, channels: list[int], num_landmarks: int) -> None:
        super().__init__()
        self.final = nn.Conv2d(channels[0], num_landmarks, 1)

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        return self.final(xs[0])

    def set_output_bias(self, value: float) -> None:
        """Make every output map start at `value` (before the features contribute)."""
        nn.init.constant_(self.final.bias, value)


class MRHead(nn.Module):
    """Multi-resolution output module (paper Sec. 3.2): per-branch 1x1 conv to K heatmaps,
    upsampled (bilinear) to branch 0's resolution and summed."""

    def __init__(self, channels: list[int], num_landmarks: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(c, num_landmarks, 1) for c in channels])
        self.ups = nn.ModuleList([
            nn.Upsample(scale_factor=2 ** i, mode="bilinear", align_corners=False) if i else nn.Identity()
            for i in range(len(channels))])

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        out = self.convs[0](xs[0])
        for x, conv, up in zip(xs[1:], self.convs[1:], self.ups[1:]):
            out = out + up(conv(x))
        return out

    def set_output_bias(self, value: float) -> None:
        """The output is a sum over branches (bilinear upsampling keeps constants): split evenly."""
        for conv in self.convs:
            nn.init.constant_(conv.bias, value / len(self.convs))


class HRNetV2Head(nn.Module):
    """HRNetV2 (facial landmarks) head: upsample all, concatenate, 1x1 + BN + ReLU, 1x1 to K."""

    def __init__(self, channels: list[int], num_landmarks: int, bias: bool = False) -> None:
        super().__init__()
        total = sum(channels)
        self.ups = nn.ModuleList([
            nn.Upsample(scale_factor=2 ** i, mode="bilinear", align_corners=False) if i else nn.Identity()
            for i in range(len(channels))])
        # HRNet's facial-landmark code gives the fusing conv a bias (before BN); the ablation
        # head of Lite-HRNet does not
        self.fuse = nn.Sequential(nn.Conv2d(total, total, 1, bias=bias), nn.BatchNorm2d(total), nn.ReLU())
        self.final = nn.Conv2d(total, num_landmarks, 1)

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        return self.final(self.fuse(torch.cat([up(x) for x, up in zip(xs, self.ups)], dim=1)))

    def set_output_bias(self, value: float) -> None:
        nn.init.constant_(self.final.bias, value)


def build_head(kind: str, channels: list[int], num_landmarks: int) -> nn.Module:
    if kind == "lite":
        return LiteHead(channels, num_landmarks)
    if kind == "mr":
        return MRHead(channels, num_landmarks)
    if kind == "hrnetv2":
        return HRNetV2Head(channels, num_landmarks)
    raise UnknownNameError(f"unknown head {kind!r}; choose one of {HEADS}")
