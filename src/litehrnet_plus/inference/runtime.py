"""An exported heatmap model run by ONNX Runtime: face crops in, landmarks in crop pixels out.

No PyTorch here: the .onnx file carries everything needed (see engine/export.py) in its
"litehrnet_plus" metadata entry, so this works on the base install.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import os
from pathlib import Path

import numpy as np
import onnxruntime as ort

from ..card import ModelCard
from ..choices import BACKENDS, RUNTIME_BACKENDS
from ..codec import HeatmapCodec, average_with_mirror
from ..data.transforms import to_input
from ..errors import CheckpointError, ConfigError
from ..hub import METADATA_KEY
from ..resolve import resolve_spec
from ..schemes import LandmarkScheme, get_scheme, scheme_for



# ONNX Runtime threads when none are asked for. One face is a few hundred tiny kernels: a second
# thread barely helps on an idle machine and, spin-waiting, collapses when another process
# competes for the cores (docs/speed.md, `tools/measure_threads.py`).
DEFAULT_THREADS = 1



def positive_int(value, name: str) -> int:
    """`value` as an int if it is a whole number >= 1 (not a bool), else ConfigError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name} must be a whole number >= 1, got {value!r}")
    return int(value)


def check_threads(threads: int | None) -> int:
    """A thread count: None gives DEFAULT_THREADS."""
    return DEFAULT_THREADS if threads is None else positive_int(threads, "threads")


def session_options(threads: int) -> ort.SessionOptions:
    """Graph optimisation "all"; `threads` intra-op threads that sleep instead of spinning
    between kernels (spinning threads steal the cores a busy machine's other work needs)."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


def resolve_model(path_or_tag: str | os.PathLike, kind: str = "onnx") -> tuple[Path, str]:
    """The `kind` file ("onnx" or "tflite") and display tag of a model argument (a shipped tag
    or a model file)."""
    spec = resolve_spec(path_or_tag)
    return spec.file(kind), spec.label


def with_refinement(codec, refine: str | None, where) -> object:
    """The codec with another heatmap sub-pixel refinement (None: as it is); refused for a model
    whose output is not heatmaps."""
    if refine is None:
        return codec
    if not isinstance(codec, HeatmapCodec):
        raise ConfigError(f"{where}: refine is a heatmap decoding option; this model's output is decoded by "
                          f"its {codec.kind} codec")
    return dataclasses.replace(codec, refine=refine)


def choose_backend(spec: str | os.PathLike, backend: str = "auto") -> str:
    """The runtime a model runs on: the one asked for, or for "auto" LiteRT where its extra is
    installed and the model has a .tflite file, else ONNX Runtime. LiteRT gives the shipped
    models' landmarks within 1e-4 px of ONNX Runtime's and was faster on every video clip and
    per face (docs/speed.md); without the extra, or for an .onnx file, ONNX Runtime."""
    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend != "auto":
        return backend
    if importlib.util.find_spec("ai_edge_litert") is None:
        return "onnxruntime"
    try:
        resolve_model(spec, "tflite")
    except CheckpointError:
        return "onnxruntime"
    return "litert"


def load_runtime_model(spec: str | os.PathLike, backend: str = "onnxruntime", threads: int | None = None,
                       flip_test: bool = False, refine: str | None = None) -> "HeatmapModel":
    """A model on a torch-free runtime: "onnxruntime" (its .onnx), "litert" (its .tflite) or
    "auto" (`choose_backend`)."""
    if backend == "auto":
        backend = choose_backend(spec)
    if backend == "onnxruntime":
        return OnnxHeatmapModel(spec, threads, flip_test=flip_test, refine=refine)
    if backend == "litert":      # LiteRT + XNNPACK (extra `litert`): the .tflite file of the model
        from .runtime_litert import LiteRTHeatmapModel
        return LiteRTHeatmapModel(spec, threads, flip_test=flip_test, refine=refine)
    raise ConfigError(f"backend must be one of {RUNTIME_BACKENDS}, got {backend!r}")


class HeatmapModel:
    """What every backend shares: the model card's facts, the landmark scheme, the decoding and
    the flip test. A backend loads its file, reads the card and calls `_setup`, and runs the
    network in `_run` ((N,3,S,S) float32 in, (N,K,H,W) heatmaps out).

    flip_test: also run the mirrored crops (in the same call) and average the two predictions;
    about twice the model time for a little accuracy (docs/inference.md has the figures)."""

    path: Path
    tag: str
    threads: int

    def _setup(self, card: ModelCard, flip_test: bool, refine: str | None = None) -> None:
        if isinstance(card.codec, HeatmapCodec) and card.activation != "sigmoid":
            # the codec's peak scores and the tracker's threshold assume probabilities
            raise CheckpointError(f"{self.path}: heatmap activation {card.activation!r} is not "
                                  "supported for inference (export with activation='sigmoid')")
        self.card = card
        self.num_landmarks = card.num_landmarks
        self.input_size = card.input_size
        self.codec = with_refinement(card.codec, refine, self.path)
        self.crop_scale = card.crop_scale
        self.scheme: LandmarkScheme = self._scheme()
        if flip_test and not self.scheme.can_flip:
            raise ConfigError(f"{self.path}: flip test needs a flip permutation, and the landmark scheme "
                              f"{self.scheme.name!r} has none")
        self.flip_test = bool(flip_test)
        self._flip_perm = self.scheme.flip_permutation() if self.flip_test else None

    def _scheme(self) -> LandmarkScheme:
        if self.card.scheme is not None:
            try:
                scheme = get_scheme(self.card.scheme)
                if scheme.num_landmarks == self.num_landmarks:
                    return scheme
            except KeyError:
                pass
        return scheme_for(self.num_landmarks)

    def _run(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def heatmaps(self, crops: np.ndarray) -> np.ndarray:
        """(N,S,S,3) uint8 BGR crops -> (N,K,H,W) float32 heatmaps."""
        c = np.asarray(crops)
        if c.ndim != 4 or c.shape[1:] != (self.input_size, self.input_size, 3):
            raise ValueError(f"crops must be (N,{self.input_size},{self.input_size},3), got {c.shape}")
        if len(c) == 0:
            h = self.codec.heatmap_size
            return np.zeros((0, self.num_landmarks, h, h), dtype=np.float32)
        return self._run(to_input(c))

    def predict_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N,S,S,3) uint8 BGR crops -> landmarks (N,K,2) float32 in crop pixels, scores (N,K)."""
        c = np.asarray(crops)
        if c.ndim == 4 and len(c) == 0:
            return (np.zeros((0, self.num_landmarks, 2), dtype=np.float32),
                    np.zeros((0, self.num_landmarks), dtype=np.float32))
        hm = self.heatmaps(np.concatenate([c, c[:, :, ::-1]]) if self.flip_test and c.ndim == 4 else c)
        pts, scores = self.codec.decode(hm)
        if self.flip_test:
            n = len(c)
            pts, scores = average_with_mirror(pts[:n], scores[:n], pts[n:], scores[n:], self._flip_perm,
                                              self.input_size)
        return pts.astype(np.float32), scores.astype(np.float32)


class OnnxHeatmapModel(HeatmapModel):
    """An ONNX heatmap model in an ONNX Runtime session (graph optimisation: all); all faces of
    a call in one batch."""

    def __init__(self, path_or_tag: str | os.PathLike, threads: int | None = None,
                 providers: list[str] | None = None, flip_test: bool = False, refine: str | None = None) -> None:
        self.path, self.tag = resolve_model(path_or_tag)
        self.threads = check_threads(threads)
        opts = session_options(self.threads)
        try:
            self.session = ort.InferenceSession(str(self.path), sess_options=opts,
                                                providers=providers or ["CPUExecutionProvider"])
        except Exception as e:  # ORT raises its own Fail/InvalidProtobuf types
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise CheckpointError(f"{self.path}: not a loadable ONNX model ({first})") from None
        self._setup(self._read_card(), flip_test, refine)
        self._input = self.session.get_inputs()[0].name
        self._check_shapes()

    def _read_card(self) -> ModelCard:
        raw = self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        if raw is None:
            raise CheckpointError(f"{self.path}: ONNX file lacks the {METADATA_KEY!r} metadata; "
                                  "export it with `litehrnet-plus export`")
        return ModelCard.from_json(raw, f"{self.path}: {METADATA_KEY!r} metadata")

    def _check_shapes(self) -> None:
        shape = self.session.get_inputs()[0].shape
        if len(shape) != 4 or shape[1] != 3 or any(isinstance(s, int) and s != self.input_size for s in shape[2:]):
            raise CheckpointError(f"{self.path}: input shape {shape} does not match (N,3,{self.input_size},"
                                  f"{self.input_size}) from its metadata")

    def _run(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self._input: x})[0]
