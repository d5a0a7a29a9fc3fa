"""PIPNet (Jin et al., "Pixel-in-Pixel Net", IJCV 2021) with a MobileNetV3 backbone: the two
PIPNet rows of the paper's Table 1.

On the backbone's stride-32 grid (3x3 at 96x96) five 1x1 convs predict, per landmark, a score
map (which cell holds it), the x and y offset inside that cell, and the offsets of its `nb`
nearest neighbours (in the mean face) from the same cell. Decoding (codecs.PIPCodec) takes the
best cell, adds the offset and averages each landmark's own estimate with those its neighbours
made of it. The heads are concatenated into one output (B, K*(3+2nb), G, G): one tensor
for export, split by the codec.

Widths: MobileNetV3-Large at width 0.9 gives the large row (4.44M params / 56.31 MFLOPs at
K=98; width 1.0 gives the row's 4.47M / 56.51 exactly at K=68), width 0.25 the small row
(0.79M / 11.46 at K=98): docs/comparators.md.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..errors import ConfigError
from .mobile_backbones import mobilenet_v3
from .registry import build_from, check_common, register_model


@dataclass(frozen=True)
class PIPNetConfig:
    num_landmarks: int = 68
    backbone: str = "large"               # MobileNetV3 mode
    width: float = 1.0
    num_neighbours: int = 10
    input_size: int = 96

    def __post_init__(self) -> None:
        check_common(self.num_landmarks, self.input_size, least_landmarks=2)
        if not 1 <= self.num_neighbours < self.num_landmarks:
            raise ConfigError(f"num_neighbours must be in [1, {self.num_landmarks - 1}], got {self.num_neighbours}")
        if self.backbone not in ("large", "small"):
            raise ConfigError(f"backbone must be 'large' or 'small', got {self.backbone!r}")

    @property
    def stride(self) -> int:
        return 32

    def to_dict(self) -> dict:
        return asdict(self)


class PIPHead(nn.Module):
    def __init__(self, cin: int, num_landmarks: int, num_neighbours: int) -> None:
        super().__init__()
        k, nb = num_landmarks, num_neighbours
        self.score = nn.Conv2d(cin, k, 1)
        self.x = nn.Conv2d(cin, k, 1)
        self.y = nn.Conv2d(cin, k, 1)
        self.nb_x = nn.Conv2d(cin, k * nb, 1)
        self.nb_y = nn.Conv2d(cin, k * nb, 1)
        for conv in (self.score, self.x, self.y, self.nb_x, self.nb_y):   # PIPNet's initialisation
            nn.init.normal_(conv.weight, std=0.001)
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.score(x), self.x(x), self.y(x), self.nb_x(x), self.nb_y(x)], dim=1)


class PIPNet(nn.Module):
    """Image (B,3,S,S) in [0,1] -> (B, K*(3+2nb), S/32, S/32): scores, x, y, neighbour x, y."""

    output = "pip"

    def __init__(self, cfg: PIPNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = mobilenet_v3(cfg.backbone, cfg.width)
        self.head = PIPHead(self.backbone.out_channels, cfg.num_landmarks, cfg.num_neighbours)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


@register_model
def pipnet_mobilenetv3_large(**overrides) -> PIPNet:
    return PIPNet(build_from(PIPNetConfig(width=0.9), overrides))


@register_model
def pipnet_mobilenetv3_small(**overrides) -> PIPNet:
    return PIPNet(build_from(PIPNetConfig(width=0.25), overrides))
