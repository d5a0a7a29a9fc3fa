"""One registry of model builders, timm style: `create_model(name, num_landmarks=68, **overrides)`.

A name may carry a pretrained tag, "litehrnet_plus_30m.300w": the part before the dot picks
the builder, the tag picks which shipped weights `pretrained=True` loads (as in timm, the tag
alone loads nothing).
"""
from __future__ import annotations

import dataclasses
from typing import Callable, TypeVar

from torch import nn
from ..errors import ConfigError, UnknownNameError

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}
C = TypeVar("C")


def check_common(num_landmarks: int, input_size: int, least_landmarks: int = 1) -> None:
    """The checks every architecture config shares: a landmark count, and an input side the
    network's stride-32 path divides."""
    if num_landmarks < least_landmarks:
        raise ConfigError(f"num_landmarks must be at least {least_landmarks}, got {num_landmarks}")
    if input_size % 32:
        raise ConfigError(f"input_size must be a multiple of 32, got {input_size}")


def build_from(default: C, overrides: dict) -> C:
    """A builder's config: its default with `overrides` replacing fields (lists as tuples, as
    configs and checkpoints store them); an unknown field is a ConfigError naming it."""
    known = {f.name for f in dataclasses.fields(default)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"{type(default).__name__} has no field(s) {unknown}; known: {sorted(known)}")
    return dataclasses.replace(default, **{k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()})


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    if fn.__name__ in _BUILDERS:
        raise ValueError(f"model {fn.__name__!r} registered twice")
    _BUILDERS[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    return sorted(_BUILDERS)


def split_tag(name: str) -> tuple[str, str | None]:
    base, _, tag = name.partition(".")
    return base, (tag or None)


def model_from_config(name: str, config: dict) -> nn.Module:
    """Rebuild a model from its saved name and full config (checkpoints, shipped weights); a
    name no builder has (older "custom" files) is read as a Lite-HRNet config."""
    base, _ = split_tag(name or "")
    if base not in _BUILDERS:
        from .litehrnet import LiteHRNet, LiteHRNetConfig   # local: litehrnet imports this module
        return LiteHRNet(LiteHRNetConfig.from_dict(config))
    return _BUILDERS[base](**config)


def create_model(name: str, pretrained: bool = False, num_landmarks: int | None = None,
                 **overrides) -> nn.Module:
    """Build a registered model. Overrides replace fields of its config (widths, fusion, head,
    num_modules, scaf_ratio, ...). pretrained=True loads the shipped weights of the name's tag
    (or the builder's default tag) from the package, offline; with another `num_landmarks`
    every tensor but the output layers comes from the weights (fine-tuning a new head)."""
    base, tag = split_tag(name)
    if base not in _BUILDERS:
        raise UnknownNameError(f"unknown model {base!r}; registered: {', '.join(list_models())}")
    if pretrained:
        from .pretrained import load_pretrained  # local: pretrained imports this module
        return load_pretrained(base, tag, num_landmarks=num_landmarks, **overrides)
    if num_landmarks is not None:
        overrides["num_landmarks"] = num_landmarks
    return _BUILDERS[base](**overrides)
