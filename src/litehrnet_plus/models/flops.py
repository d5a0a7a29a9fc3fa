"""FLOPs and parameter accounting, per block (the breakdown of the paper's Fig. 2).

Two conventions, counted in one forward pass with module hooks:
- "paper": mmcv's `get_model_complexity_info` / ptflops (pytorch backend), which the paper's
  MFLOPs follow: conv, deconv and linear multiply-accumulates plus bias, BatchNorm 2 per element
  (affine), ReLU 1 per output element, pooling 1 per input element, nn.Upsample 1 per output
  element. Sigmoid and functional calls (F.interpolate, tensor arithmetic) are not counted.
- "macs": plain multiply-accumulates of convolutions and linear layers, nothing else.

Blocks: the paper's five for the HRNets; the mobile comparators' feature extractor is "backbone".
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import torch
from torch import nn

from ..codec import DEFAULT_INPUT_SIZE

BLOCKS = ("stem", "transition", "ccw", "fusion", "head", "backbone")


def block_of(module_name: str) -> str:
    """Which of the paper's five blocks a module (by qualified name) belongs to."""
    top = module_name.split(".")[0]
    if top == "stem":
        return "stem"
    if top == "transitions":
        return "transition"
    if top == "stages":
        return "fusion" if ".fusion" in module_name else "ccw"
    if top == "backbone":          # the mobile comparators' whole feature extractor
        return "backbone"
    return "head"  # iterative head and output module


def _conv_counts(m: nn.Conv2d, out: torch.Tensor) -> tuple[int, int]:
    kh, kw = m.kernel_size
    positions = out.numel() // out.shape[1]
    macs = positions * m.out_channels * kh * kw * (m.in_channels // m.groups)
    bias = positions * m.out_channels if m.bias is not None else 0
    return macs, bias


def layer_counts(m: nn.Module, inp: torch.Tensor, out: torch.Tensor) -> tuple[int, int] | None:
    """(paper-convention FLOPs, plain MACs) of one leaf module call, or None if not counted."""
    if hasattr(m, "uncounted_macs"):
        # functional convolutions inside a custom module (Dite-HRNet's dynamic kernels): the
        # paper's counter does not see them; plain MACs do
        return 0, int(m.uncounted_macs(inp, out))
    if isinstance(m, nn.Conv2d):
        macs, bias = _conv_counts(m, out)
        return macs + bias, macs
    if isinstance(m, nn.ConvTranspose2d):
        # mmcv's deconvolution count: every input position meets the whole kernel
        kh, kw = m.kernel_size
        positions = inp.numel() // inp.shape[1]
        macs = positions * m.in_channels * kh * kw * (m.out_channels // m.groups)
        return macs + (positions * m.out_channels if m.bias is not None else 0), macs
    if isinstance(m, nn.Linear):
        macs = inp.numel() * m.out_features
        return macs + (m.out_features if m.bias is not None else 0), macs
    if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d, nn.GroupNorm, nn.LayerNorm)):
        affine = getattr(m, "affine", False) or getattr(m, "elementwise_affine", False)
        return inp.numel() * (2 if affine else 1), 0
    if isinstance(m, (nn.ReLU, nn.ReLU6, nn.PReLU, nn.ELU, nn.LeakyReLU)):
        return out.numel(), 0
    if isinstance(m, (nn.AvgPool2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        return inp.numel(), 0
    if isinstance(m, nn.Upsample):
        return out.numel(), 0
    return None


@dataclass
class Complexity:
    params: int
    flops: int                      # paper convention
    macs: int                       # conv + linear multiply-accumulates
    params_by_block: dict[str, int] = field(default_factory=dict)
    flops_by_block: dict[str, int] = field(default_factory=dict)
    macs_by_block: dict[str, int] = field(default_factory=dict)
    input_size: int = DEFAULT_INPUT_SIZE

    def to_dict(self) -> dict:
        return {"params": self.params, "flops": self.flops, "macs": self.macs,
                "input_size": self.input_size,
                "blocks": {b: {"params": self.params_by_block[b], "flops": self.flops_by_block[b],
                               "macs": self.macs_by_block[b]} for b in BLOCKS}}


@torch.no_grad()
def count_complexity(model: nn.Module, input_size: int = DEFAULT_INPUT_SIZE, in_channels: int = 3) -> Complexity:
    """Count one image's FLOPs/MACs (batch 1, eval mode) and parameters, split by block."""
    flops = OrderedDict((b, 0) for b in BLOCKS)
    macs = OrderedDict((b, 0) for b in BLOCKS)
    handles = []

    def hook(name: str):
        def fn(m: nn.Module, args: tuple, out: torch.Tensor) -> None:
            counted = layer_counts(m, args[0], out)
            if counted is not None:
                flops[block_of(name)] += counted[0]
                macs[block_of(name)] += counted[1]
        return fn

    for name, m in model.named_modules():
        if len(list(m.children())) == 0:
            handles.append(m.register_forward_hook(hook(name)))
    was_training = model.training
    model.eval()
    try:
        model(torch.zeros(1, in_channels, input_size, input_size))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    params = OrderedDict((b, 0) for b in BLOCKS)
    for name, p in model.named_parameters():
        params[block_of(name)] += p.numel()
    return Complexity(params=sum(params.values()), flops=sum(flops.values()), macs=sum(macs.values()),
                      params_by_block=dict(params), flops_by_block=dict(flops),
                      macs_by_block=dict(macs), input_size=input_size)
