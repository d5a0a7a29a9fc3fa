"""Heatmap losses (paper Table 1 compares both): MSE on raw heatmaps, and binary cross-entropy
on heatmap logits against the Gaussian targets. Target weights mask landmarks whose target
fell outside the heatmap."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import UnknownNameError

LOSSES = ("mse", "bce")


def heatmap_loss(kind: str, logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """logits, target: (N,K,H,W); weight: (N,K). Mean over weighted landmarks' pixels."""
    w = weight[:, :, None, None]
    if kind == "mse":
        per_px = (logits - target) ** 2
    elif kind == "bce":
        per_px = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    else:
        raise UnknownNameError(f"unknown loss {kind!r}; choose one of {LOSSES}")
    denom = (w.sum() * logits.shape[2] * logits.shape[3]).clamp_min(1.0)
    return (per_px * w).sum() / denom


def activation_for(loss: str) -> str:
    """The output activation that turns the network's maps into heatmaps for decoding."""
    return "sigmoid" if loss == "bce" else "none"
