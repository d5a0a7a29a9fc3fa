"""Dite-HRNet (Li et al., "Dynamic Lightweight High-Resolution Network for Human Pose
Estimation", IJCAI 2022): a Table 1 row of the paper, written after the paper and its official
code.

Lite-HRNet's skeleton (transitions, the fusion with its branch-0 quirk, the iterative head, a
1x1 output conv on branch 0), with two changes:
- the block is a dynamic multi-scale context block: half of each branch passes; the other half
  goes through dense context modelling (all branches pooled by spatial attention to the lowest
  resolution, one channel attention over them), a dynamic split convolution (per-branch
  groups of depthwise kernels 3x3, 5x5, ..., each a dynamic kernel aggregation), and global
  context modelling (attention-pooled channel gates);
- the stem's convolutions are dynamic kernel aggregations with global context modelling.

A dynamic kernel aggregation mixes `n` kernels with per-image weights from a small attention
branch. The official code builds one conv per image (groups = batch x groups), which no
batch-dynamic ONNX graph can express; convolution is linear in its kernel, so here the `n`
kernels run as one conv of n times the outputs and their results are mixed by the weights:
the same function (tested), exportable.

FLOPs: the paper's convention (mmcv's counter) counts modules it knows; the official dynamic
convolutions are functional calls inside a custom module, so it counts only their attention
branches. `KernelAggregation` reproduces that and reports its multiply-accumulates to the
"macs" convention (flops.py).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from .blocks import ConvBN, channel_shuffle, transform_half
from .fusion import ConvFusion
from .heads import IterativeHead, LiteHead
from .litehrnet import _transition
from .multibranch import build_stages, run_stages
from .registry import build_from, check_common, register_model


@dataclass(frozen=True)
class DiteHRNetConfig:
    num_landmarks: int = 68
    stem_channels: int = 32
    widths: tuple[int, ...] = (40, 80, 160, 320)
    num_modules: tuple[int, ...] = (2, 4, 2)
    num_blocks: int = 2
    # per branch (high to low resolution), as the official code sets them
    split_groups: tuple[int, ...] = (1, 1, 2, 4)         # dynamic split conv: kernels 3x3, 5x5, ...
    split_kernels: tuple[int, ...] = (4, 4, 2, 1)        # dynamic kernels aggregated per conv
    gcm_reduction: tuple[int, ...] = (4, 4, 8, 8)
    dcm_reduction: int = 8
    input_size: int = 96

    def __post_init__(self) -> None:
        check_common(self.num_landmarks, self.input_size)
        if len(self.widths) != len(self.num_modules) + 1:
            raise ConfigError(f"widths {self.widths} must have one more entry than num_modules {self.num_modules}")
        for name in ("split_groups", "split_kernels", "gcm_reduction"):
            if len(getattr(self, name)) < len(self.widths):
                raise ConfigError(f"{name} needs one entry per branch ({len(self.widths)})")
        if any(w % 2 for w in self.widths) or self.stem_channels % 8:
            raise ConfigError("widths must be even and stem_channels a multiple of 8")

    def to_dict(self) -> dict:
        return asdict(self)


class KernelAttention(nn.Module):
    """Per-image weights of the n kernels: global pool, 1x1 (BN, ReLU), 1x1, sigmoid."""

    def __init__(self, channels: int, num_kernels: int, reduction: int = 4) -> None:
        super().__init__()
        mid = max(1, channels // reduction)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Sequential(nn.Conv2d(channels, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU())
        self.fc2 = nn.Sequential(nn.Conv2d(mid, num_kernels, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.fc1(self.pool(x))).flatten(1)            # (B, n)


class KernelAggregation(nn.Module):
    """sum_k a_k * conv(x, W_k): the n kernels as one conv of n x cout outputs (ordered
    channel-major, so groups keep their meaning), mixed by the attention weights a."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, groups: int, num_kernels: int) -> None:
        super().__init__()
        self.cout, self.stride, self.groups, self.n = cout, stride, groups, num_kernels
        self.weight = nn.Parameter(torch.empty(num_kernels, cout, cin // groups, k, k))
        for i in range(num_kernels):
            nn.init.kaiming_uniform_(self.weight[i], a=math.sqrt(5))

    def forward(self, x: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        w = self.weight.transpose(0, 1).flatten(0, 1)                  # (cout*n, cin/g, k, k)
        y = F.conv2d(x, w, None, self.stride, self.weight.shape[-1] // 2, 1, self.groups)
        y = y.unflatten(1, (self.cout, self.n))                        # (B, cout, n, H, W)
        return (y * attention[:, None, :, None, None]).sum(dim=2)

    def uncounted_macs(self, inp: torch.Tensor, out: torch.Tensor) -> int:
        """The aggregated conv's multiply-accumulates (one kernel per image), for flops.py's
        "macs" convention; the paper's convention does not see them."""
        k = self.weight.shape[-1]
        return out.numel() * (self.weight.shape[2]) * k * k


class DynamicConv(nn.Module):
    """Dynamic kernel aggregation + BN (+ ReLU): mmcv's ConvModule with a dynamic kernel."""

    def __init__(self, cin: int, cout: int, k: int = 1, stride: int = 1, groups: int = 1,
                 num_kernels: int = 4, relu: bool = False) -> None:
        super().__init__()
        self.attention = KernelAttention(cin, num_kernels)
        self.conv = KernelAggregation(cin, cout, k, stride, groups, num_kernels)
        self.bn = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU() if relu else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x, self.attention(x))))


def conv_bn(cin: int, cout: int, k: int = 1, stride: int = 1, groups: int = 1, num_kernels: int = 1,
            relu: bool = False) -> nn.Module:
    """A dynamic conv when num_kernels > 1, else a plain conv + BN (+ ReLU), as the official
    code chooses."""
    if num_kernels > 1:
        return DynamicConv(cin, cout, k, stride, groups, num_kernels, relu)
    return ConvBN(cin, cout, k, stride, groups, act=relu)


def attention_pool(x: torch.Tensor, mask: torch.Tensor, regions: int) -> torch.Tensor:
    """Softmax(mask)-weighted sums of x over `regions` equal slices of its flattened memory:
    (B,C,H,W), (B,1,H,W) -> (B,C,regions). With regions > 1 the slices are those of the
    official code's reshape of the (C, H*W) memory, not spatial tiles; kept as it is."""
    c, hw = x.shape[1], x.shape[2] * x.shape[3]
    xm = x.flatten(1).unflatten(1, (regions, c, hw // regions))         # (B, R, C, L)
    m = torch.softmax(mask.flatten(1), dim=1).unflatten(1, (regions, hw // regions, 1))  # (B, R, L, 1)
    return (xm @ m).squeeze(-1).transpose(1, 2)                          # (B, C, R)


class GlobalContext(nn.Module):
    """GCM: attention-pooled context -> channel gates (1x1, BN, ReLU, 1x1, sigmoid); BN(x * gate)."""

    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        mid = max(1, channels // reduction)
        self.mask = nn.Conv2d(channels, 1, 1)
        self.gate = nn.Sequential(nn.Conv2d(channels, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(),
                                  nn.Conv2d(mid, channels, 1), nn.Sigmoid())
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        context = attention_pool(x, self.mask(x), 1)[..., None]         # (B, C, 1, 1)
        return self.bn(x * self.gate(context))


class DenseContext(nn.Module):
    """DCM: every branch but the last attention-pooled to the last one's size, one channel
    attention over all of them, each branch gated by its (nearest-upsampled) part."""

    def __init__(self, channels: list[int], reduction: int) -> None:
        super().__init__()
        self.channels = list(channels)
        total = sum(channels)
        self.masks = nn.ModuleList([nn.Conv2d(c, 1, 1) for c in channels[:-1]])
        self.gate = nn.Sequential(nn.Conv2d(total, total // reduction, 1, bias=False),
                                  nn.BatchNorm2d(total // reduction), nn.ReLU(),
                                  nn.Conv2d(total // reduction, total, 1), nn.Sigmoid())

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        h, w = xs[-1].shape[-2:]
        pooled = [attention_pool(x, mask(x), h * w).unflatten(2, (h, w)) for x, mask in zip(xs[:-1], self.masks)]
        gates = torch.split(self.gate(torch.cat(pooled + [xs[-1]], dim=1)), self.channels, dim=1)
        return [x * F.interpolate(g, size=x.shape[-2:], mode="nearest") for x, g in zip(xs, gates)]


class DynamicSplitConv(nn.Module):
    """The channels split into groups, group i through a (dynamic) depthwise (2i+3)x(2i+3)
    conv; concatenated and shuffled."""

    def __init__(self, channels: int, groups: int, num_kernels: int) -> None:
        super().__init__()
        split = [channels // groups] * groups
        split[0] += channels - sum(split)
        self.split = split
        self.convs = nn.ModuleList([conv_bn(c, c, 2 * i + 3, groups=c, num_kernels=num_kernels)
                                    for i, c in enumerate(split)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(self.convs) == 1:
            return self.convs[0](x)
        parts = torch.split(x, self.split, dim=1)
        return channel_shuffle(torch.cat([conv(p) for conv, p in zip(self.convs, parts)], dim=1), len(self.convs))


class DynamicContextBlock(nn.Module):
    def __init__(self, channels: list[int], cfg: DiteHRNetConfig) -> None:
        super().__init__()
        half = [c // 2 for c in channels]
        self.dcm = DenseContext(half, cfg.dcm_reduction)
        self.convs = nn.ModuleList([DynamicSplitConv(c, cfg.split_groups[i], cfg.split_kernels[i])
                                    for i, c in enumerate(half)])
        self.gcm = nn.ModuleList([GlobalContext(c, cfg.gcm_reduction[i]) for i, c in enumerate(half)])

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        return transform_half(xs, self._context)

    def _context(self, halves: list[torch.Tensor]) -> list[torch.Tensor]:
        return [g(conv(s)) for s, conv, g in zip(self.dcm(halves), self.convs, self.gcm)]


class DiteStem(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        half, mid = channels // 2, channels // 8
        self.conv1 = conv_bn(3, channels, 3, 2, relu=True)
        self.branch1 = nn.Sequential(conv_bn(half, half, 3, 2, groups=half, num_kernels=4), GlobalContext(half, 4),
                                     conv_bn(half, half, 1, num_kernels=4, relu=True))
        self.branch2 = nn.Sequential(conv_bn(half, half, 3, 1, groups=half, num_kernels=4), GlobalContext(half, 4),
                                     conv_bn(half, mid, 1, num_kernels=4, relu=True),
                                     conv_bn(mid, half, 1, num_kernels=4),
                                     conv_bn(half, half, 3, 2, groups=half, num_kernels=4, relu=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = self.conv1(x).chunk(2, dim=1)
        return channel_shuffle(torch.cat((self.branch1(x1), self.branch2(x2)), dim=1), 2)


class DiteModule(nn.Module):
    def __init__(self, channels: list[int], cfg: DiteHRNetConfig) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*[DynamicContextBlock(channels, cfg) for _ in range(cfg.num_blocks)])
        self.fusion = ConvFusion(channels, "pw", double_branch0=True)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        for block in self.blocks:
            xs = block(xs)
        return self.fusion(xs)


class DiteHRNet(nn.Module):
    """Image (B,3,S,S) in [0,1] -> heatmap logits (B,K,S/4,S/4)."""

    output = "heatmap"

    def __init__(self, cfg: DiteHRNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.stem = DiteStem(cfg.stem_channels)
        self.transitions, self.stages = build_stages(cfg.stem_channels, cfg.widths, cfg.num_modules, _transition,
                                                     lambda channels, s, m: DiteModule(channels, cfg))
        self.iterative = IterativeHead(list(cfg.widths))
        self.head = LiteHead(self.iterative.out_channels, cfg.num_landmarks)
        for m in self.modules():                 # the official initialisation (dynamic kernels keep theirs)
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.iterative(run_stages(self.transitions, self.stages, self.stem(x))))


@register_model
def dite_hrnet(**overrides) -> DiteHRNet:
    return DiteHRNet(build_from(DiteHRNetConfig(widths=(30, 60, 120, 240)), overrides))
