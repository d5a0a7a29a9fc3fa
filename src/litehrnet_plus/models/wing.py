"""The coordinate-regression row of the paper's Table 1, "Wing (MobileNetV2)": a MobileNetV2
(width 0.75) whose pooled features a linear layer turns into 2K coordinates, trained with the
Wing loss (Feng et al., CVPR 2018; engine/losses.py). At 96x96 and K=98 it has the row's
1.61M parameters and 41.56 MFLOPs.

Output: (B,K,2) landmark positions as fractions of the input side (codecs.RegressionCodec turns
them into pixels); no heatmaps, no decoding search.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..errors import ConfigError
from .mobile_backbones import mobilenet_v2
from .registry import build_from, check_common, register_model


@dataclass(frozen=True)
class RegressionConfig:
    num_landmarks: int = 68
    width: float = 0.75
    input_size: int = 96

    def __post_init__(self) -> None:
        check_common(self.num_landmarks, self.input_size)
        if not 0 < self.width <= 2:
            raise ConfigError(f"width must be in (0, 2], got {self.width}")

    def to_dict(self) -> dict:
        return asdict(self)


class CoordinateHead(nn.Module):
    def __init__(self, cin: int, num_landmarks: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, 2 * num_landmarks)
        # start every landmark at the crop centre, so the first steps are not spent finding it
        nn.init.normal_(self.fc.weight, std=0.001)
        nn.init.constant_(self.fc.bias, 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(x).flatten(1)).unflatten(1, (-1, 2))


class CoordinateRegressionNet(nn.Module):
    """Image (B,3,S,S) in [0,1] -> landmarks (B,K,2) as fractions of S."""

    output = "regression"

    def __init__(self, cfg: RegressionConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = mobilenet_v2(cfg.width)
        self.head = CoordinateHead(self.backbone.out_channels, cfg.num_landmarks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


@register_model
def wing_mobilenetv2(**overrides) -> CoordinateRegressionNet:
    return CoordinateRegressionNet(build_from(RegressionConfig(), overrides))
