"""The model card: everything needed to use a trained model, in one frozen, torch-free record.

Every writer (training checkpoints, ONNX export, the deployment graph, INT8 graphs, the shipped
manifests) writes a `ModelCard`, and every reader (the ONNX runtime, evaluation, bench, tools)
reads one, so the defaults below exist once and nothing is rebuilt from loose dict keys.

In an ONNX file the card is the JSON of the "litehrnet_plus" metadata entry; in a checkpoint
it is the "card" entry; in a shipped manifest (`weights/<tag>.json`) it is the whole file plus
the measured figures.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .codec import DEFAULT_INPUT_SIZE, HeatmapCodec
from .codecs import Codec, codec_from_dict
from .errors import CheckpointError

# The benchmark crop: a square of this many pixels around the tight landmark box scaled by
# CROP_SCALE (the paper's 96x96 input, mmpose's 1.25 padding).
DEFAULT_CROP_SCALE = 1.25
ACTIVATIONS = ("sigmoid", "none")      # output activation baked into an exported graph
GRAPHS = ("plain", "deploy", "int8", "litert")


@dataclass(frozen=True)
class ModelCard:
    """What a trained (or freshly built) landmark model is and how to feed and read it."""

    model: str                                   # registered architecture name, e.g. litehrnet_plus_30m
    num_landmarks: int
    scheme: str | None = None                    # landmark scheme name (schemes.py); None: by count
    input_size: int = DEFAULT_INPUT_SIZE
    crop_scale: float = DEFAULT_CROP_SCALE       # crop side / longer side of the landmark box
    codec: Codec = field(default_factory=HeatmapCodec)   # heatmap, regression or pip (codecs.py)
    loss: str = "bce"
    activation: str = "sigmoid"                  # of the exported graph's output
    graph: str | None = None                     # exported files: plain | deploy | int8 (ONNX), litert
    tag: str | None = None                       # shipped tag, e.g. litehrnet_plus_30m.300w
    track_threshold: float | None = None         # video: lost-face threshold measured for this model
    model_config: dict | None = None             # the architecture's full config (models/litehrnet.py)
    untrained: bool = False                      # random weights (exports of a bare registered name)
    training: dict = field(default_factory=dict)  # training record: data, epoch, metrics
    extra: dict = field(default_factory=dict)    # writer-specific facts (graph rewrites, calibration)

    def __post_init__(self) -> None:
        problems = []
        if not isinstance(self.model, str) or not self.model:
            problems.append(f"model must be a name, got {self.model!r}")
        if isinstance(self.num_landmarks, bool) or not isinstance(self.num_landmarks, int) or self.num_landmarks < 1:
            problems.append(f"num_landmarks must be a positive integer, got {self.num_landmarks!r}")
        if isinstance(self.input_size, bool) or not isinstance(self.input_size, int) or self.input_size < 8:
            problems.append(f"input_size must be an integer >= 8, got {self.input_size!r}")
        if not isinstance(self.crop_scale, (int, float)) or not 0 < self.crop_scale < 10:
            problems.append(f"crop_scale {self.crop_scale!r} is not plausible")
        if self.activation not in ACTIVATIONS:
            problems.append(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if self.graph is not None and self.graph not in GRAPHS:
            problems.append(f"graph must be one of {GRAPHS}, got {self.graph!r}")
        if getattr(self.codec, "input_size", self.input_size) != self.input_size:
            problems.append(f"codec input size {self.codec.input_size} differs from input_size {self.input_size}")
        if problems:
            raise ValueError("; ".join(problems))

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "codec":
                value = value.to_dict()
            if value is None or (f.name in ("training", "extra") and not value) or (f.name == "untrained" and not value):
                continue
            out[f.name] = value
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict, source: str = "model card") -> "ModelCard":
        """A card from its dict, or CheckpointError naming `source` and the problem. Files
        written before the card existed (flat metadata: output_activation, epoch, metrics,
        training_data at the top level) are read too."""
        if not isinstance(d, dict):
            raise CheckpointError(f"{source}: model card must be a JSON object, got {type(d).__name__}")
        d = {k: v for k, v in d.items() if v is not None}
        known = {f.name for f in fields(cls)}
        if "activation" not in d and "output_activation" in d:
            d["activation"] = d.pop("output_activation")
        for key in ("training", "extra"):
            if not isinstance(d.get(key, {}), dict):
                raise CheckpointError(f"{source}: model card field {key!r} must be an object, got "
                                      f"{type(d[key]).__name__}")
        training = dict(d.get("training") or {})
        for key in ("epoch", "epochs", "metrics", "training_data", "training_stages", "train_config", "evaluation"):
            if key in d and key not in known:
                training[key] = d.pop(key)
        d["training"] = training
        extra = dict(d.get("extra") or {})
        for key in [k for k in d if k not in known]:
            extra[key] = d.pop(key)
        d["extra"] = extra
        if "model" not in d:
            d["model"] = "custom"
        try:
            size = int(d.get("input_size", DEFAULT_INPUT_SIZE))
            d["input_size"] = size
            codec = d.get("codec")
            d["codec"] = codec_from_dict({"input_size": size, **codec} if isinstance(codec, dict) else None, size)
            if "crop_scale" in d:
                d["crop_scale"] = float(d["crop_scale"])
            return cls(**d)
        except (TypeError, ValueError, OverflowError) as e:     # OverflowError: an input size of inf
            raise CheckpointError(f"{source}: bad model card ({e})") from None

    @classmethod
    def from_json(cls, text: str, source: str = "model card") -> "ModelCard":
        try:
            return cls.from_dict(json.loads(text), source)
        except json.JSONDecodeError as e:
            raise CheckpointError(f"{source}: model card is not JSON ({e})") from None

    def with_(self, **changes) -> "ModelCard":
        """A copy with some fields changed (frozen dataclasses are never edited in place)."""
        return replace(self, **changes)
