"""A LiteRT (TFLite) heatmap model run by `ai-edge-litert` with XNNPACK (extra `litert`): the
same crops in and landmarks out as the ONNX Runtime backend. The model card is the `<file>.json`
written beside the .tflite by the export (engine/export_litert.py)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..card import ModelCard
from ..errors import CheckpointError
from ..extras import missing
from .runtime import HeatmapModel, check_threads, resolve_model


def card_file(tflite: Path) -> Path:
    return tflite.with_name(tflite.name + ".json")


class LiteRTHeatmapModel(HeatmapModel):
    """A .tflite heatmap model (batch 1: faces of a call run one after the other)."""

    def __init__(self, path_or_tag: str | os.PathLike, threads: int | None = None,
                 flip_test: bool = False, refine: str | None = None) -> None:
        self.path, self.tag = resolve_model(path_or_tag, "tflite")
        self.threads = check_threads(threads)
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ModuleNotFoundError as e:
            raise missing(e, "backend 'litert'") from None
        meta = card_file(self.path)
        if not meta.is_file():
            raise CheckpointError(f"{self.path}: its model card {meta.name} is missing beside it "
                                  "(litehrnet-plus export writes both)")
        card = ModelCard.from_json(meta.read_text(encoding="utf-8"), str(meta))
        try:
            self.interpreter = Interpreter(model_path=str(self.path), num_threads=self.threads)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise CheckpointError(f"{self.path}: not a loadable LiteRT model ({e})") from None
        self._setup(card, flip_test, refine)
        inp, out = self.interpreter.get_input_details()[0], self.interpreter.get_output_details()[0]
        if tuple(inp["shape"]) != (1, 3, self.input_size, self.input_size):
            raise CheckpointError(f"{self.path}: input shape {tuple(inp['shape'])} does not match "
                                  f"(1,3,{self.input_size},{self.input_size}) from its card")
        self._in, self._out = inp["index"], out["index"]

    def _run(self, x: np.ndarray) -> np.ndarray:
        out = []
        for face in x:
            self.interpreter.set_tensor(self._in, face[None])
            self.interpreter.invoke()
            out.append(self.interpreter.get_tensor(self._out)[0].copy())
        return np.stack(out)
