"""Static-shape tensor helpers the deployment graph is written with (no shape arithmetic in
the traced graph)."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

# ----------------------------------------------------------------------------- static-shape helpers
def interleave(a: torch.Tensor, b: torch.Tensor, c: int, h: int, w: int) -> torch.Tensor:
    """channel_shuffle(cat([a, b]), 2) for a, b of c channels each: one Concat of 5-D views."""
    return torch.cat([a.reshape(-1, c, 1, h, w), b.reshape(-1, c, 1, h, w)], dim=2).reshape(-1, 2 * c, h, w)


def shuffle_static(x: torch.Tensor, c: int, h: int, w: int) -> torch.Tensor:
    """channel_shuffle(x, 2) with constant shapes (reshape, transpose, reshape)."""
    return x.reshape(-1, 2, c // 2, h, w).transpose(1, 2).reshape(-1, c, h, w)


def mul_upsampled(x: torch.Tensor, a: torch.Tensor, k: int, c: int, h: int, w: int, broadcast: bool) -> torch.Tensor:
    """x * nearest_upsample(a, k) for x (B,c,h,w) and a (B,c or 1,h/k,w/k)."""
    if k == 1:
        return x * a
    if broadcast:
        ca = a.shape[1]
        return (x.reshape(-1, c, h // k, k, w // k, k) * a.reshape(-1, ca, h // k, 1, w // k, 1)).reshape(-1, c, h, w)
    return x * F.interpolate(a, scale_factor=float(k), mode="nearest")


def add_upsampled(x: torch.Tensor, a: torch.Tensor, k: int, c: int, h: int, w: int, broadcast: bool) -> torch.Tensor:
    """x + nearest_upsample(a, k) for x, a with c channels."""
    if k == 1:
        return x + a
    if broadcast:
        return (x.reshape(-1, c, h // k, k, w // k, k) + a.reshape(-1, c, h // k, 1, w // k, 1)).reshape(-1, c, h, w)
    return x + F.interpolate(a, scale_factor=float(k), mode="nearest")


def global_pool(x: torch.Tensor, use_gap: bool) -> torch.Tensor:
    return F.adaptive_avg_pool2d(x, 1) if use_gap else x.mean(dim=(2, 3), keepdim=True)


Shape = tuple[int, int, int]   # (channels, height, width) of one branch


class HeadForward(nn.Module):
    """The forward pass of a deployed head, whatever the layout: `kind` (lite | mr | hrnetv2)
    and `convs` (the folded output convolutions) are set by the subclass."""

    kind: str
    convs: nn.ModuleList

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        if self.kind == "lite":
            return self.convs[0](xs[0])
        if self.kind == "mr":
            out = self.convs[0](xs[0])
            for i in range(1, len(self.convs)):
                out = out + F.interpolate(self.convs[i](xs[i]), scale_factor=float(2 ** i), mode="bilinear",
                                          align_corners=False)
            return out
        ups = [xs[0]] + [F.interpolate(x, scale_factor=float(2 ** i), mode="bilinear", align_corners=False)
                         for i, x in enumerate(xs[1:], 1)]
        return self.convs[0](torch.cat(ups, dim=1))


def fusion_forward(paths: nn.ModuleList, xs: list[torch.Tensor], quirk: bool,
                   add: Callable[[int, int, torch.Tensor, torch.Tensor], torch.Tensor]) -> list[torch.Tensor]:
    """The deployed convolutional fusion, whatever the layout: output i sums its own branch and
    every other branch j through paths[i][j], resized and added by `add(i, j, y, path_out)`.
    With the official quirk (double_branch0) output 0 gets branch 0 twice and every other output
    starts from path_i0 applied to that pre-activation sum (the doubling folded into its weights)."""
    n = len(xs)
    outs = []
    y0 = xs[0]
    for i, row in enumerate(paths):
        if quirk and i == 0:
            y = xs[0] + xs[0]
        elif quirk:
            y = row[0](y0)
        else:
            y = xs[i]
        for j in range(n):
            if j == i or (quirk and j == 0):
                if quirk and j == i and i > 0:
                    y = y + xs[j]
                continue
            y = add(i, j, y, row[j](xs[j]))
        if i == 0:
            y0 = y
        outs.append(torch.relu(y))
    return outs
