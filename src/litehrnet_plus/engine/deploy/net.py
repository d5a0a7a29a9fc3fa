"""`DeployNet`: an inference-only equivalent of a LiteHRNet at one fixed input size, in the
layout the options choose."""
from __future__ import annotations

import torch
from torch import nn
from ...models.fusion import ConvFusion, SCAFFusion
from ...models.litehrnet import LiteHRNet
from .folding import fold_sequence
from .masked import MaskedCCW, MaskedConvFusion, MaskedHead, MaskedIterativeHead, MaskedSCAF, MaskedStem, Placement, place_sequence
from .ops import Shape
from .options import DeployOptions
from .split import DeployCCW, DeployConvFusion, DeployHead, DeployIterativeHead, DeploySCAF, DeployStem

class DeployNet(nn.Module):
    """Inference-only equivalent of a LiteHRNet at one fixed input size: image (B,3,S,S) ->
    heatmap logits (B,K,S/4,S/4)."""

    def __init__(self, model: LiteHRNet, input_size: int | None = None, opts: DeployOptions | None = None) -> None:
        super().__init__()
        cfg = model.cfg
        self.cfg = cfg
        self.opts = opts = opts or DeployOptions()
        size = int(input_size or cfg.input_size)
        if size % 32:
            raise ValueError(f"input size must be a multiple of 32, got {size}")
        self.input_size = size
        base = size // 4

        def shapes_of(widths) -> list[Shape]:
            return [(int(c), base >> i, base >> i) for i, c in enumerate(widths)]

        model = model.eval()
        if opts.layout not in ("masked", "split"):
            raise ValueError(f"layout must be 'masked' or 'split', got {opts.layout!r}")
        if opts.layout == "masked":
            self._build_masked(model, shapes_of, opts)
        else:
            self._build_split(model, shapes_of, opts)

    def _build_split(self, model: LiteHRNet, shapes_of, opts: DeployOptions) -> None:
        cfg = self.cfg
        self.stem = DeployStem(model.stem, self.input_size, opts)
        self.transitions = nn.ModuleList()
        self.stages = nn.ModuleList()
        for t, stage in zip(model.transitions, model.stages):
            self.transitions.append(nn.ModuleList([
                nn.Identity() if isinstance(m, nn.Identity) else fold_sequence(m) for m in t]))
            mods = nn.ModuleList()
            for sm in stage:
                shapes = shapes_of(cfg.widths[:len(t)])
                blocks = nn.ModuleList([DeployCCW(b, shapes, opts) for b in sm.ccw.blocks])
                if isinstance(sm.fusion, SCAFFusion):
                    fusion: nn.Module = DeploySCAF(sm.fusion, shapes, opts)
                elif isinstance(sm.fusion, ConvFusion):
                    fusion = DeployConvFusion(sm.fusion, shapes, opts)
                else:
                    raise TypeError(f"deploy export does not handle fusion {type(sm.fusion).__name__}")
                mods.append(nn.ModuleList([blocks, fusion]))
            self.stages.append(mods)
        self.iterative = (DeployIterativeHead(model.iterative, shapes_of(cfg.widths))
                          if model.iterative is not None else None)
        self.head = DeployHead(model.head)

    def _build_masked(self, model: LiteHRNet, shapes_of, opts: DeployOptions) -> None:
        cfg = self.cfg
        al = opts.channel_align
        self.stem = MaskedStem(model.stem, opts)
        placements = [self.stem.out]
        self.transitions = nn.ModuleList()
        self.stages = nn.ModuleList()
        for t, stage in zip(model.transitions, model.stages):
            layers = nn.ModuleList()
            new: list[Placement] = []
            for i, m in enumerate(t):
                src = placements[i] if i < len(placements) else placements[-1]
                if isinstance(m, nn.Identity):
                    layers.append(nn.Identity())
                    new.append(Placement(list(src.pos), src.cp))
                else:
                    seq, pl = place_sequence(fold_sequence(m), src, None, al)
                    layers.append(seq)
                    new.append(pl)
            placements = new
            self.transitions.append(layers)
            shapes = shapes_of(cfg.widths[:len(t)])
            mods = nn.ModuleList()
            for sm in stage:
                blocks = nn.ModuleList([MaskedCCW(b, shapes, placements, opts) for b in sm.ccw.blocks])
                for block in list(blocks)[:-1]:
                    block.defer = opts.defer_se
                if isinstance(sm.fusion, SCAFFusion):
                    fusion: nn.Module = MaskedSCAF(sm.fusion, shapes, placements, opts)
                elif isinstance(sm.fusion, ConvFusion):
                    fusion = MaskedConvFusion(sm.fusion, placements, opts)
                else:
                    raise TypeError(f"deploy export does not handle fusion {type(sm.fusion).__name__}")
                mods.append(nn.ModuleList([blocks, fusion]))
                # a last fusion may produce fewer branches (HRNet's single-output module)
                n_out = len(fusion.paths) if isinstance(fusion, MaskedConvFusion) else fusion.n_out
                placements = placements[:n_out]
            self.stages.append(mods)
        self.iterative = None
        if model.iterative is not None:
            self.iterative = MaskedIterativeHead(model.iterative, placements, shapes_of(cfg.widths), opts)
            placements = self.iterative.out_placements
        self.head = MaskedHead(model.head, placements, opts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ys = [self.stem(x)]
        for transition, stage in zip(self.transitions, self.stages):
            xs = [t(ys[i] if i < len(ys) else ys[-1]) for i, t in enumerate(transition)]
            for blocks, fusion in stage:
                scales = None
                for block in blocks:
                    if isinstance(block, MaskedCCW):
                        xs, scales = block(xs, scales)
                    else:
                        xs = block(xs)
                xs = fusion(xs)
            ys = xs
        if self.iterative is not None:
            ys = self.iterative(ys)
        return self.head(ys)


def deploy_model(model: nn.Module, input_size: int | None = None, opts: DeployOptions | None = None) -> DeployNet:
    """The inference-only rewrite of `model` (a LiteHRNet); the original is left untouched."""
    if not isinstance(model, LiteHRNet):
        raise TypeError(f"deploy export needs a LiteHRNet, got {type(model).__name__}")
    with torch.no_grad():
        return DeployNet(model, input_size, opts).eval()


