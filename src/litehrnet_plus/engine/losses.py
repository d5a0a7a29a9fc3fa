"""Training losses, one per kind of model output.

- Heatmaps (paper Table 1 compares both): MSE on raw heatmaps, and binary cross-entropy on
  heatmap logits against the Gaussian targets. Target weights mask landmarks whose target fell
  outside the heatmap.
- Coordinates: the Wing loss (Feng et al., CVPR 2018), in input pixels: w*ln(1 + |x|/eps) for
  small errors, |x| - C beyond w (C makes it continuous), w=10, eps=2 as in the paper.
- PIPNet maps: MSE on the score maps (weight 10) plus L1 on the offsets and neighbour offsets
  at each landmark's own cell (weight 1), PIPNet's "l2_l1_10_1" recipe.
"""
from __future__ import annotations

import math
from functools import partial
from typing import Callable

import torch
import torch.nn.functional as F

from ..codecs import pip_parts
from ..errors import ConfigError, UnknownNameError

LOSSES = ("mse", "bce", "wing", "pip")
# which losses fit which kind of model output (a model's `output` attribute: a codec kind)
LOSSES_FOR_OUTPUT = {"heatmap": ("mse", "bce"), "regression": ("wing",), "pip": ("pip",)}
# the loss a model is trained (or timed, or carded untrained) with when nothing else is said
DEFAULT_LOSS = {"heatmap": "bce", "regression": "wing", "pip": "pip"}
WING_W, WING_EPS = 10.0, 2.0
PIP_SCORE_WEIGHT, PIP_OFFSET_WEIGHT = 10.0, 1.0

LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


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


def wing_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, scale: float,
              w: float = WING_W, eps: float = WING_EPS) -> torch.Tensor:
    """pred, target: (N,K,2) fractions of the input side; scale: the side in pixels (the loss
    works in pixels); weight (N,K). Mean over weighted coordinates."""
    x = (pred - target).abs() * scale
    c = w - w * math.log(1 + w / eps)
    per = torch.where(x < w, w * torch.log1p(x / eps), x - c)
    ww = weight[:, :, None].expand_as(per)
    return (per * ww).sum() / ww.sum().clamp_min(1.0)


def _at_cell(maps: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
    """Values of maps (N,K,...,G,G) at each landmark's one-hot cell (N,K,G,G): (N,K,...)."""
    extra = maps.dim() - cell.dim()
    c = cell.reshape(*cell.shape[:2], *([1] * extra), *cell.shape[2:])
    return (maps * c).sum(dim=(-2, -1))


def pip_loss(out: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """out, target: (N, K*(3+2nb), G, G) as codecs.pip_parts lays them out; weight (N,K)."""
    (score_out, *offsets_out), (cell, *offsets_target) = pip_parts(out, weight.shape[1]), pip_parts(target, weight.shape[1])
    g = out.shape[-1]
    w = weight[:, :, None, None]
    score = (((score_out - cell) ** 2) * w).sum() / (w.sum() * g * g).clamp_min(1.0)

    def l1(o: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        diff = (_at_cell(o, cell) - _at_cell(t, cell)).abs()
        ww = weight.reshape(*weight.shape, *([1] * (diff.dim() - 2))).expand_as(diff)
        return (diff * ww).sum() / ww.sum().clamp_min(1.0)

    offsets = sum(l1(o, t) for o, t in zip(offsets_out, offsets_target))
    return PIP_SCORE_WEIGHT * score + PIP_OFFSET_WEIGHT * offsets


def make_loss(kind: str, input_size: int) -> LossFn:
    """The loss function (outputs, target, weight) -> scalar of a `train.loss` name."""
    if kind in ("mse", "bce"):
        return partial(heatmap_loss, kind)
    if kind == "wing":
        return partial(wing_loss, scale=float(input_size))
    if kind == "pip":
        return pip_loss
    raise UnknownNameError(f"unknown loss {kind!r}; choose one of {LOSSES}")


def check_loss_fits(kind: str, output: str, model_name: str) -> None:
    fitting = LOSSES_FOR_OUTPUT.get(output, ())
    if kind not in fitting:
        raise ConfigError(f"train.loss {kind!r} does not fit {model_name}, which predicts {output}; "
                          f"use one of {fitting}")


def activation_for(loss: str) -> str:
    """The output activation that turns the network's maps into heatmaps for decoding (only
    BCE-trained maps are logits; every other output is used as it is)."""
    return "sigmoid" if loss == "bce" else "none"
