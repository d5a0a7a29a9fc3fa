"""The multi-branch skeleton the HRNet family shares (HRNetV2, Lite-HRNet, Dite-HRNet): stage s
runs s+2 parallel branches, each stage opened by a transition that re-widths the branches and
adds a new half-resolution one from the lowest. The families differ only in their transitions
and modules, which the builders pass in."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn


def build_stages(stem_channels: int, widths: tuple[int, ...], num_modules: tuple[int, ...],
                 transition: Callable[[list[int], list[int]], nn.Module],
                 module: Callable[[list[int], int, int], nn.Module]) -> tuple[nn.ModuleList, nn.ModuleList]:
    """(transitions, stages): `module(channels, stage, index)` builds each module."""
    pre = [stem_channels]
    transitions, stages = [], []
    for s, n_mod in enumerate(num_modules):
        cur = list(widths[: s + 2])
        transitions.append(transition(pre, cur))
        stages.append(nn.Sequential(*[module(cur, s, m) for m in range(n_mod)]))
        pre = cur
    return nn.ModuleList(transitions), nn.ModuleList(stages)


def run_stages(transitions: nn.ModuleList, stages: nn.ModuleList, x: torch.Tensor) -> list[torch.Tensor]:
    """The stem's output through every stage; a new branch starts from the lowest resolution."""
    ys = [x]
    for transition, stage in zip(transitions, stages):
        ys = stage([t(ys[i] if i < len(ys) else ys[-1]) for i, t in enumerate(transition)])
    return ys
