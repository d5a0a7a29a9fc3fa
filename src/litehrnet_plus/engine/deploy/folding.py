"""BatchNorm folded into convolutions (in float64), and sequences of folded layers."""
from __future__ import annotations

import torch
from torch import nn

from ...models.fusion import ConvFusion

# ----------------------------------------------------------------------------- folding
def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d | None) -> nn.Conv2d:
    """A conv with bias equal to conv followed by BN in eval mode (running statistics)."""
    w = conv.weight.detach().double()
    b = conv.bias.detach().double() if conv.bias is not None else torch.zeros(conv.out_channels, dtype=torch.float64)
    if bn is not None:
        scale = bn.weight.detach().double() / torch.sqrt(bn.running_var.detach().double() + bn.eps)
        w = w * scale.reshape(-1, 1, 1, 1)
        b = (b - bn.running_mean.detach().double()) * scale + bn.bias.detach().double()
    dtype = conv.weight.dtype   # folding in float64, stored in the model's precision
    out = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                    conv.dilation, conv.groups, bias=True, dtype=dtype)
    with torch.no_grad():
        out.weight.copy_(w.to(dtype))
        out.bias.copy_(b.to(dtype))
    return out


def _flatten(modules) -> list[nn.Module]:
    out: list[nn.Module] = []
    for m in modules:
        if isinstance(m, nn.Sequential):
            out += _flatten(m)
        elif not isinstance(m, nn.Identity):
            out.append(m)
    return out


def fold_sequence(*modules: nn.Module) -> nn.Sequential:
    """Flatten nested Sequentials of Conv/BN/ReLU/Sigmoid/Upsample and fold each BN into the
    conv before it. Anything else is refused (the deploy graph must stay equivalent)."""
    flat = _flatten(modules)
    out: list[nn.Module] = []
    i = 0
    while i < len(flat):
        m = flat[i]
        if isinstance(m, nn.Conv2d):
            bn = flat[i + 1] if i + 1 < len(flat) and isinstance(flat[i + 1], nn.BatchNorm2d) else None
            out.append(fold_conv_bn(m, bn))
            i += 2 if bn is not None else 1
            continue
        if isinstance(m, (nn.ReLU, nn.Sigmoid, nn.Upsample)):
            out.append(m)
        else:
            raise TypeError(f"deploy folding does not handle {type(m).__name__}")
        i += 1
    return nn.Sequential(*out)


def _scaled_last_conv(seq: nn.Sequential, factor: float) -> nn.Sequential:
    """seq with its last conv's weights and bias multiplied by `factor` (seq must end with a
    conv, i.e. be linear after it)."""
    last = seq[-1]
    if not isinstance(last, nn.Conv2d):
        raise TypeError("can only scale a path that ends with a convolution")
    with torch.no_grad():
        last.weight.mul_(factor)
        last.bias.mul_(factor)
    return seq


def fold_fusion_paths(fusion: ConvFusion) -> list[list[tuple[nn.Module, int]]]:
    """Each path of a ConvFusion as (BN-folded sequence without its trailing upsample, upsample
    factor); identity on the diagonal. The official double branch-0 term becomes a x2 on the
    path's last conv, so it is computed once."""
    rows = []
    for i, row in enumerate(fusion.paths):
        out = []
        for j, path in enumerate(row):
            if j == i:
                out.append((nn.Identity(), 1))
                continue
            flat = _flatten([path])
            k = 1
            if flat and isinstance(flat[-1], nn.Upsample):
                k = int(flat[-1].scale_factor)
                flat = flat[:-1]
            seq = fold_sequence(*flat)
            if fusion.double_branch0 and j == 0 and i > 0:
                seq = _scaled_last_conv(seq, 2.0)
            out.append((seq, k))
        rows.append(out)
    return rows
