"""Export a model to ONNX for ONNX Runtime inference (no PyTorch needed to run it).

The exported graph takes `image` (N,3,S,S) float32 RGB in [0,1] with a dynamic batch and
returns `heatmaps` (N,K,S/4,S/4): probabilities (sigmoid included) for BCE-trained models,
raw maps for MSE-trained ones. Everything the runtime needs to use the file (landmark count
and scheme, input size, codec settings, model name) is stored in the ONNX metadata under
the key "litehrnet_plus", so a single .onnx file is self-describing.
"""
from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn

from ..fileio import atomic_write_bytes
from ..hub import METADATA_KEY



class HeatmapOutput(nn.Module):
    """The network plus its output activation: what inference consumes."""

    def __init__(self, model: nn.Module, activation: str) -> None:
        super().__init__()
        if activation not in ("sigmoid", "none"):
            raise ValueError(f"activation must be 'sigmoid' or 'none', got {activation!r}")
        self.model = model
        self.activation = activation

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        out = self.model(image)
        return torch.sigmoid(out) if self.activation == "sigmoid" else out


def export_onnx(model: nn.Module, path: str | os.PathLike, *, metadata: dict,
                activation: str = "sigmoid", input_size: int | None = None,
                opset: int = 17, dynamo: bool = False) -> Path:
    """Write `model` to `path` (atomically) as a batch-dynamic ONNX graph with metadata.

    metadata must hold at least num_landmarks; input_size defaults to the model config's.
    The TorchScript exporter (dynamo=False) is the default: it handles every model here (the
    network avoids adaptive pooling with non-global outputs), exports 5-8x faster than the
    dynamo exporter, and ONNX Runtime results match PyTorch either way."""
    import onnx

    cfg = getattr(model, "cfg", None)
    size = int(input_size or (cfg.input_size if cfg is not None else 96))
    meta = {"input_size": size, "activation": activation, **metadata}
    if "num_landmarks" not in meta:
        raise ValueError("metadata must give num_landmarks")
    wrapped = HeatmapOutput(model, activation).eval()
    dummy = torch.rand(2, 3, size, size)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "model.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if dynamo:
                torch.onnx.export(
                    wrapped, (dummy,), str(raw), input_names=["image"], output_names=["heatmaps"],
                    dynamic_shapes={"image": {0: torch.export.Dim("batch", min=1, max=4096)}},
                    opset_version=opset, dynamo=True, external_data=False, verbose=False)
            else:
                torch.onnx.export(
                    wrapped, (dummy,), str(raw), input_names=["image"], output_names=["heatmaps"],
                    dynamic_axes={"image": {0: "batch"}, "heatmaps": {0: "batch"}},
                    opset_version=opset, dynamo=False)
        proto = onnx.load(str(raw))
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(meta, sort_keys=True)
    atomic_write_bytes(path, proto.SerializeToString())
    return path
