"""Export a model to LiteRT (TFLite), the format phones, embedded boards and automotive SoCs run,
with XNNPACK on CPUs. The converter (`litert-torch`, extra `litert-export`) is PyTorch-based and
heavy, so it lives here and never in the runtime install; running the file needs only
`ai-edge-litert` (extra `litert`, inference/runtime_litert.py).

The graph takes `image` (1,3,S,S) float32 RGB in [0,1] and returns the heatmaps with the
sigmoid applied, like the ONNX export; batch 1 (the converter makes static shapes). The model
card goes beside it as `<file>.json` (the same JSON the ONNX metadata holds). Every export is
checked against PyTorch to 1e-4.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..card import ModelCard
from ..fileio import atomic_write_bytes, atomic_write_text
from ..inference.runtime_litert import card_file
from .export import HeatmapOutput

TOLERANCE = 1e-4


def export_litert(model: nn.Module, out: str | Path, card: ModelCard, activation: str = "sigmoid",
                  seed: int = 0) -> float:
    """Convert `model` to `out` (.tflite) and its card to `out.json`; returns the largest
    heatmap difference from PyTorch on random inputs (an error above TOLERANCE refuses)."""
    from ..extras import missing
    try:
        import litert_torch
    except ModuleNotFoundError as e:
        raise missing(e, "LiteRT export") from None
    wrapped = HeatmapOutput(model.eval(), activation).eval()
    size = card.input_size
    gen = torch.Generator().manual_seed(seed)
    sample = torch.rand(1, 3, size, size, generator=gen)
    edge = litert_torch.convert(wrapped, (sample,))
    worst = 0.0
    for _ in range(3):
        x = torch.rand(1, 3, size, size, generator=gen)
        with torch.no_grad():
            want = wrapped(x).numpy()
        worst = max(worst, float(np.abs(np.asarray(edge(x)) - want).max()))
    if worst > TOLERANCE:
        raise RuntimeError(f"LiteRT export differs from PyTorch by {worst:.2e} (> {TOLERANCE})")
    out = Path(out)
    tmp = out.with_name(f".{out.name}.partial")
    edge.export(str(tmp))
    atomic_write_bytes(out, tmp.read_bytes())
    tmp.unlink()
    atomic_write_text(card_file(out), card.with_(graph="litert").to_json() + "\n")
    return worst
