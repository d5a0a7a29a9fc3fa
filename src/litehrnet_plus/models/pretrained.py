"""Loading the weights shipped in the package into a PyTorch model (offline)."""
from __future__ import annotations

import torch
from torch import nn

from ..hub import resolve
from .litehrnet import LiteHRNet, LiteHRNetConfig


def load_pretrained(base: str, tag: str | None, num_landmarks: int | None = None, **overrides) -> nn.Module:
    """The shipped model `<base>.<tag>` (tag defaults to "300w"). Overrides that change the
    architecture are refused: the weights would not fit."""
    full = f"{base}.{tag or '300w'}"
    path = resolve(full, "pt")
    state = torch.load(path, map_location="cpu", weights_only=False)
    cfg = LiteHRNetConfig.from_dict(state["model_config"])
    if num_landmarks is not None and num_landmarks != cfg.num_landmarks:
        raise ValueError(f"{full} predicts {cfg.num_landmarks} landmarks, not {num_landmarks}; "
                         "fine-tune from it with a new head instead")
    if overrides:
        raise ValueError(f"{full}: architecture overrides {sorted(overrides)} do not fit pretrained weights")
    model = LiteHRNet(cfg)
    model.load_state_dict(state["model"])
    return model
