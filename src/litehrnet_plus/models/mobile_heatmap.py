"""The small-network heatmap rows of the paper's Table 1: MobileNetV2 and ShuffleNetV2 backbones
with mmpose's simple top-down heatmap head (Xiao et al., "Simple Baselines"): three 4x4/2
deconvolutions of 256 channels (BN, ReLU), then a 1x1 conv to K heatmaps. From a stride-32
backbone that gives K maps at 1/4 of the input (24x24 at 96x96), like the HRNets.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..errors import ConfigError
from .mobile_backbones import mobilenet_v2, shufflenet_v2
from .registry import build_from, check_common, register_model

BACKBONES = ("mobilenet_v2", "shufflenet_v2")


@dataclass(frozen=True)
class SimpleHeatmapConfig:
    backbone: str = "mobilenet_v2"
    width: float = 1.0
    num_landmarks: int = 68
    num_deconv: int = 3
    deconv_channels: int = 256
    input_size: int = 96

    def __post_init__(self) -> None:
        check_common(self.num_landmarks, self.input_size)
        if self.backbone not in BACKBONES:
            raise ConfigError(f"backbone must be one of {BACKBONES}, got {self.backbone!r}")
        if self.num_deconv != 3:
            # the codec's stride 4 is the backbone's 32 halved three times
            raise ConfigError(f"num_deconv must be 3 (heatmaps at 1/4 of the input), got {self.num_deconv}")

    def to_dict(self) -> dict:
        return asdict(self)


class DeconvHead(nn.Module):
    def __init__(self, cin: int, num_landmarks: int, num_deconv: int, channels: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(num_deconv):
            layers += [nn.ConvTranspose2d(cin, channels, 4, 2, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU()]
            cin = channels
        self.deconv = nn.Sequential(*layers)
        self.final = nn.Conv2d(cin, num_landmarks, 1)
        # mmpose's initialisation of this head
        for m in self.deconv.modules():
            if isinstance(m, nn.ConvTranspose2d):
                nn.init.normal_(m.weight, std=0.001)
        nn.init.normal_(self.final.weight, std=0.001)
        nn.init.zeros_(self.final.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final(self.deconv(x))

    def set_output_bias(self, value: float) -> None:
        nn.init.constant_(self.final.bias, value)


class SimpleHeatmapNet(nn.Module):
    """Image (B,3,S,S) in [0,1] -> heatmap logits (B,K,S/4,S/4)."""

    output = "heatmap"

    def __init__(self, cfg: SimpleHeatmapConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = mobilenet_v2(cfg.width) if cfg.backbone == "mobilenet_v2" else shufflenet_v2(cfg.width)
        self.head = DeconvHead(self.backbone.out_channels, cfg.num_landmarks, cfg.num_deconv, cfg.deconv_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


@register_model
def mobilenetv2(**overrides) -> SimpleHeatmapNet:
    return SimpleHeatmapNet(build_from(SimpleHeatmapConfig(backbone="mobilenet_v2"), overrides))


@register_model
def shufflenetv2(**overrides) -> SimpleHeatmapNet:
    return SimpleHeatmapNet(build_from(SimpleHeatmapConfig(backbone="shufflenet_v2"), overrides))
