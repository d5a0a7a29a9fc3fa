"""Lite-HRNet and Lite-HRNet Plus: config, network, and the registered builders.

The network: shuffle-style stem (stride 4) -> stages of parallel branches (each stage adds a
branch at half the resolution through a transition) -> each stage is a sequence of modules
(conditional channel weighting blocks, then a fusion layer) -> output head -> K heatmaps at
1/4 of the input resolution (24x24 for the paper's 96x96 input).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

import torch
from torch import nn

from ..errors import ConfigError
from .blocks import CCWSequence, ConvBN, Stem, dw_conv_bn
from .fusion import FUSIONS, build_fusion
from .heads import HEADS, IterativeHead, build_head
from .multibranch import build_stages, run_stages
from .registry import build_from, register_model


@dataclass(frozen=True)
class LiteHRNetConfig:
    num_landmarks: int = 68
    in_channels: int = 3
    stem_channels: int = 32
    stem_out_channels: int = 32
    stem_expand: float = 1.0
    widths: tuple[int, ...] = (40, 80, 160, 320)      # channels per branch, high to low resolution
    num_modules: tuple[int, ...] = (2, 4, 2)          # modules per stage (stage s has s+2 branches)
    num_blocks: int = 2                               # CCW blocks per module
    reduce_ratios: tuple[int, ...] = (8, 8, 8)        # cross-resolution weighting ratio per stage
    fusion: str = "pw"                                # pw | bottleneck | group | scaf
    double_branch0: bool | None = None                # official fusion quirk; None: on for conv fusions
    scaf_ratio: int = 8                               # SCAF reduction ratio r
    scaf_shared: bool = False                         # one SCAF attention per target (vs per pair)
    bottleneck_ratio: int = 4
    fusion_groups: int = 4
    head: str = "lite"                                # lite | mr | hrnetv2
    iterative_head: bool = True                       # official IterativeHead before the output module
    input_size: int = 96                              # default input for FLOPs and export

    def __post_init__(self) -> None:
        stages = len(self.num_modules)
        if len(self.widths) != stages + 1:
            raise ConfigError(f"widths {self.widths} must have one more entry than num_modules {self.num_modules}")
        if len(self.reduce_ratios) != stages:
            raise ConfigError(f"reduce_ratios {self.reduce_ratios} needs one entry per stage ({stages})")
        if any(w % 2 for w in self.widths) or self.stem_channels % 2:
            raise ConfigError("widths and stem_channels must be even (branches are split in halves)")
        if self.fusion not in FUSIONS:
            raise ConfigError(f"fusion must be one of {FUSIONS}, got {self.fusion!r}")
        if self.head not in HEADS:
            raise ConfigError(f"head must be one of {HEADS}, got {self.head!r}")
        if self.fusion == "scaf" and self.double_branch0:
            raise ConfigError("double_branch0 is a quirk of the convolutional fusion; SCAF has no branch-0 path")
        if self.num_landmarks < 1:
            raise ConfigError(f"num_landmarks must be positive, got {self.num_landmarks}")
        if self.input_size % 32:
            raise ConfigError(f"input_size must be a multiple of 32 (4 halvings after stride 4), got {self.input_size}")

    @property
    def quirk(self) -> bool:
        return self.fusion != "scaf" if self.double_branch0 is None else self.double_branch0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "LiteHRNetConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown model config keys: {sorted(unknown)}")
        tuples = {k: tuple(v) for k, v in d.items() if isinstance(v, list)}
        return cls(**{**d, **tuples})


class StageModule(nn.Module):
    """One Lite-HRNet module: CCW blocks over all branches, then fusion."""

    def __init__(self, channels: list[int], cfg: LiteHRNetConfig, reduce_ratio: int,
                 outputs: int | None = None) -> None:
        super().__init__()
        self.ccw = CCWSequence(channels, cfg.num_blocks, reduce_ratio)
        self.fusion = build_fusion(cfg.fusion, channels, double_branch0=cfg.quirk,
                                   scaf_ratio=cfg.scaf_ratio, scaf_shared=cfg.scaf_shared,
                                   bottleneck_ratio=cfg.bottleneck_ratio, groups=cfg.fusion_groups,
                                   outputs=outputs)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        return self.fusion(self.ccw(xs))


def _transition(pre: list[int], cur: list[int]) -> nn.ModuleList:
    """Official transition: re-width existing branches where needed (dw 3x3 + 1x1), create new
    branches from the last one with stride-2 depthwise-separable convs."""
    layers: list[nn.Module] = []
    for i, c in enumerate(cur):
        if i < len(pre):
            layers.append(nn.Identity() if c == pre[i] else
                          nn.Sequential(dw_conv_bn(pre[i]), ConvBN(pre[i], c, 1)))
        else:
            steps = []
            for j in range(i + 1 - len(pre)):
                cin = pre[-1]
                cout = c if j == i - len(pre) else cin
                steps.append(nn.Sequential(dw_conv_bn(cin, 2), ConvBN(cin, cout, 1)))
            layers.append(nn.Sequential(*steps))
    return nn.ModuleList(layers)


class LiteHRNet(nn.Module):
    """Image (B,3,H,W) in [0,1] -> heatmap logits (B,K,H/4,W/4)."""

    output = "heatmap"       # every registered model names its kind of output: a codec kind (codecs.CODEC_KINDS)

    def __init__(self, cfg: LiteHRNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.stem = Stem(cfg.in_channels, cfg.stem_channels, cfg.stem_out_channels, cfg.stem_expand)
        # A head that reads branch 0 alone lets the very last fusion skip the other outputs.
        single_output = cfg.head == "lite" and not cfg.iterative_head
        last_stage, last_module = len(cfg.num_modules) - 1, cfg.num_modules[-1] - 1
        self.transitions, self.stages = build_stages(
            cfg.stem_out_channels, cfg.widths, cfg.num_modules, _transition,
            lambda channels, s, m: StageModule(channels, cfg, cfg.reduce_ratios[s],
                                               1 if single_output and (s, m) == (last_stage, last_module) else None))
        head_in = list(cfg.widths)
        self.iterative = None
        if cfg.iterative_head:
            self.iterative = IterativeHead(head_in)
            head_in = self.iterative.out_channels
        self.head = build_head(cfg.head, head_in, cfg.num_landmarks)
        self._init_weights()

    def _init_weights(self) -> None:
        # The official initialisation: N(0, 0.001) convs, unit BN.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        return run_stages(self.transitions, self.stages, self.stem(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ys = self.forward_features(x)
        if self.iterative is not None:
            ys = self.iterative(ys)
        return self.head(ys)


def build(cfg: LiteHRNetConfig, **overrides) -> LiteHRNet:
    return LiteHRNet(build_from(cfg, overrides))


# ---------------------------------------------------------------------------- configs
# Official Lite-HRNet configurations (Lite-HRNet paper, mmpose configs): stem 32, widths
# 40/80/160/320, modules 2/4/2 (18) or 3/8/3 (30), two CCW blocks, ratio 8, Lite head.
LITEHRNET_18 = LiteHRNetConfig()
LITEHRNET_30 = replace(LITEHRNET_18, num_modules=(3, 8, 3))
# The Lite-HRNet row of the paper's Table 1 (0.66M params, 33.61 MFLOPs at 96x96, K=98):
# Lite-HRNet-18 depth at widths 30/60/120/240 reproduces both figures exactly.
LITEHRNET_BASELINE = replace(LITEHRNET_18, widths=(30, 60, 120, 240))
# Lite-HRNet Plus (paper Table 1): SCAF fusion + MR head, no iterative head. See
# docs/architecture.md for how depth, widths and r were chosen to meet the paper's figures.
LITEHRNET_PLUS_30M = replace(LITEHRNET_30, widths=(48, 96, 192, 384), fusion="scaf", scaf_ratio=8,
                             head="mr", iterative_head=False)
LITEHRNET_PLUS_10M = replace(LITEHRNET_18, stem_channels=24, stem_out_channels=24,
                             widths=(24, 48, 96, 192), fusion="scaf", scaf_ratio=4,
                             head="mr", iterative_head=False)


@register_model
def litehrnet_18(**overrides) -> LiteHRNet:
    return build(LITEHRNET_18, **overrides)


@register_model
def litehrnet_30(**overrides) -> LiteHRNet:
    return build(LITEHRNET_30, **overrides)


@register_model
def litehrnet_baseline(**overrides) -> LiteHRNet:
    return build(LITEHRNET_BASELINE, **overrides)


@register_model
def litehrnet_plus_30m(**overrides) -> LiteHRNet:
    return build(LITEHRNET_PLUS_30M, **overrides)


@register_model
def litehrnet_plus_10m(**overrides) -> LiteHRNet:
    return build(LITEHRNET_PLUS_10M, **overrides)


# Latency-driven (docs/speed.md, "Fewer, larger ops"): the 10M's FLOPs in half its ops. One
# module where the 10M has two (1/2/1 instead of 2/4/2), widened to 32/64/128/256 to keep the
# FLOPs: the deployment graph has 561 nodes instead of 1,086 and runs in ~0.6x the time, and
# the controlled 40-epoch recipe trained it to 4.20% on lfpw/testset against the 10M's 4.71%.
LITEHRNET_PLUS_10M_FAST = replace(LITEHRNET_PLUS_10M, num_modules=(1, 2, 1), widths=(32, 64, 128, 256))


@register_model
def litehrnet_plus_10m_fast(**overrides) -> LiteHRNet:
    return build(LITEHRNET_PLUS_10M_FAST, **overrides)


# The same method on the 30M (configs/latency/latency_30m_m121_w48_300w.yaml): its widths
# 48/96/192/384 in modules 1/2/1 instead of 3/8/3, 0.55M params and ~0.56x its FLOPs; the
# deployment graph ran in 0.24x the 30M's time (1.34 against 5.55 ms per face, 1.29x the 10M
# fast's; ONNX Runtime, one thread, AMD EPYC), about what tracking at MediaPipe's frame rate
# allows the network (docs/speed.md).
LITEHRNET_PLUS_30M_FAST = replace(LITEHRNET_PLUS_30M, num_modules=(1, 2, 1))


@register_model
def litehrnet_plus_30m_fast(**overrides) -> LiteHRNet:
    return build(LITEHRNET_PLUS_30M_FAST, **overrides)


# The study's fastest point (configs/latency/latency_3br_m12_w32_300w.yaml): three branches (no 1/32
# branch), modules 1/2, widths 32/64/128; 0.11M params at ~0.9x the 10M's FLOPs, 373 deployment
# nodes, ~0.43x the 10M's time. The 40-epoch recipe trained it to 4.39% (the 10M: 4.71%), 120
# epochs (configs/ship/ship_litehrnet_plus_tiny_300w.yaml) to 3.98% on lfpw/testset.
LITEHRNET_PLUS_TINY = replace(LITEHRNET_PLUS_10M, num_modules=(1, 2), widths=(32, 64, 128), reduce_ratios=(8, 8))


@register_model
def litehrnet_plus_tiny(**overrides) -> LiteHRNet:
    return build(LITEHRNET_PLUS_TINY, **overrides)


# Table 2(a) ablations: the 30M model with SCAF replaced by a convolutional fusion (official
# paths, each branch added once), each narrowed to land near 30 MFLOPs as in the paper (29.67 /
# 29.29 / 29.31). Widths from a scan over w in (w, 2w, 4w, 8w); see docs/architecture.md.
# Without the branch-0 quirk: with it, branch 0 doubles in every one of the 14 modules and
# reaches ~1000x the other branches at init (BN cannot undo a sum); the MR head reads it
# un-normalised, so MSE training diverged at step 2 and never recovered (94% NME after 20
# epochs, docs/comparators.md).
@register_model
def litehrnet_plus_30m_pw(**overrides) -> LiteHRNet:
    return build(replace(LITEHRNET_PLUS_30M, fusion="pw", double_branch0=False, widths=(24, 48, 96, 192)),
                 **overrides)


@register_model
def litehrnet_plus_30m_bottleneck(**overrides) -> LiteHRNet:
    return build(replace(LITEHRNET_PLUS_30M, fusion="bottleneck", double_branch0=False, widths=(30, 60, 120, 240)),
                 **overrides)


@register_model
def litehrnet_plus_30m_group(**overrides) -> LiteHRNet:
    return build(replace(LITEHRNET_PLUS_30M, fusion="group", double_branch0=False, widths=(30, 60, 120, 240)),
                 **overrides)
