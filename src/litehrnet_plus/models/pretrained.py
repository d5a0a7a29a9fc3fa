"""Loading weights into a PyTorch model: the shipped ones (offline), and the one rule for
weights that only partly fit (a new landmark count keeps everything but the output layers)."""
from __future__ import annotations

import torch
from torch import nn

from ..errors import CheckpointError, ConfigError
from ..hub import resolve
from .registry import model_from_config


def load_fitting(model: nn.Module, weights: dict, source: str, log=None) -> list[str]:
    """Copy every tensor of `weights` whose name and shape fit `model`; the rest keep their
    init (typically the output convolutions when the landmark count differs). Returns the
    names left at init. Weights of another architecture (less than half the tensors fit) are
    refused."""
    own = model.state_dict()
    fit = {k: v for k, v in weights.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    if len(fit) < len(own) / 2:
        raise CheckpointError(f"{source}: only {len(fit)} of {len(own)} tensors fit this model; "
                              "the weights belong to another architecture")
    model.load_state_dict(fit, strict=False)
    fresh = [k for k in own if k not in fit]
    if log is not None:
        log(f"initialised {len(fit)}/{len(own)} tensors from {source}"
            + (f"; {len(fresh)} keep their init, e.g. {fresh[0]}" if fresh else ""))
    return fresh


def load_pretrained(base: str, tag: str | None, num_landmarks: int | None = None, **overrides) -> nn.Module:
    """The shipped model `<base>.<tag>` (tag defaults to "300w"). With another num_landmarks the
    output layers start fresh; overrides that change the architecture are refused."""
    full = f"{base}.{tag or '300w'}"
    try:
        path = resolve(full, "pt")
    except FileNotFoundError as e:
        raise CheckpointError(f"{full}: {e}") from None
    state = torch.load(path, map_location="cpu", weights_only=True)   # never unpickle code
    if overrides:
        raise ConfigError(f"{full}: architecture overrides {sorted(overrides)} do not fit pretrained weights")
    cfg = dict(state["model_config"])
    if num_landmarks is None or num_landmarks == cfg["num_landmarks"]:
        model = model_from_config(base, cfg)
        model.load_state_dict(state["model"])
        return model
    model = model_from_config(base, {**cfg, "num_landmarks": num_landmarks})
    load_fitting(model, state["model"], full)
    return model
