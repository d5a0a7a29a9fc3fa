"""One way to tell what a model argument names (torch-free): a registered architecture name
("litehrnet_plus_10m", random weights), a shipped tag ("litehrnet_plus_10m.300w"), a PyTorch
checkpoint (.pt/.pth), an ONNX file (.onnx) or a LiteRT file (.tflite). Every command and API
resolves through here."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from . import hub
from .errors import CheckpointError

CHECKPOINT_SUFFIXES = (".pt", ".pth")


@dataclass(frozen=True)
class ModelSpec:
    kind: str                 # name | tag | checkpoint | onnx | tflite
    text: str                 # what the user wrote
    path: Path | None = None  # files: the file; tag: None (use file(kind))

    @property
    def label(self) -> str:
        """What results name the model by: its shipped tag (a bare name: its default tag), or a
        file's stem."""
        if self.kind == "tag":
            return self.text
        if self.kind == "name":
            return hub.default_tag_for(self.text) or self.text
        return self.path.stem

    @property
    def name(self) -> str:
        """Architecture name for names and tags; the file's stem for files."""
        if self.kind in ("name", "tag"):
            return self.text.partition(".")[0]
        return self.path.stem if self.path else self.text

    def file(self, kind: str) -> Path:
        """The file holding this model in `kind` form ("onnx", "tflite" or "pt"), or
        CheckpointError."""
        if self.kind == "tag":
            try:
                return hub.resolve(self.text, kind)
            except FileNotFoundError as e:
                raise CheckpointError(f"{self.text}: {e}") from None
        want = kind if kind in ("onnx", "tflite") else "checkpoint"
        if self.kind == want:
            return self.path
        if self.kind == "name":
            tag = hub.default_tag_for(self.text)
            if tag is not None:             # timm's rule: a bare name means its default weights
                return ModelSpec("tag", tag).file(kind)
            raise CheckpointError(f"{self.text}: no shipped weights of that name (shipped tags: "
                                  f"{', '.join(hub.available()) or 'none'}; or a model file: .onnx, .tflite, .pt)")
        if want in ("onnx", "tflite") and self.kind == "checkpoint":
            fmt = "ONNX" if want == "onnx" else "LiteRT"
            raise CheckpointError(f"{self.path}: a PyTorch checkpoint; export it to {fmt} first "
                                  f"(litehrnet-plus export --model {self.path} model.{want})")
        if want in ("onnx", "tflite"):
            article = "an" if self.kind[0] in "aeiou" else "a"
            raise CheckpointError(f"{self.path}: {article} {self.kind} file, and this needs a .{want} one; export the "
                                  f"checkpoint again (litehrnet-plus export --model CHECKPOINT model.{want})")
        raise CheckpointError(f"{self.path}: an exported file holds no PyTorch weights; pass the checkpoint (.pt)")


CONFIG_SUFFIXES = (".yaml", ".yml")    # training configs: not models, named where one is expected


def resolve_spec(spec: str | os.PathLike) -> ModelSpec:
    """Classify a model argument. Files must exist; a text with a path separator or a model
    file suffix is a file; "<name>.<dataset>" is a shipped tag when the package has it; anything
    else is taken as a registered name (checked when the model is built)."""
    text = os.fspath(spec)
    p = Path(text)
    suffix = p.suffix.lower()
    looks_like_file = isinstance(spec, os.PathLike) or suffix in (".onnx", ".tflite", *CHECKPOINT_SUFFIXES) \
        or "/" in text or os.sep in text or p.is_file()
    if looks_like_file:
        if not p.is_file():
            raise CheckpointError(f"{p}: no such model file")
        if suffix in CONFIG_SUFFIXES:
            raise CheckpointError(f"{p}: a training config, not a model; train it (litehrnet-plus train {p}) "
                                  "and pass the checkpoint it writes")
        if suffix in CHECKPOINT_SUFFIXES:
            return ModelSpec("checkpoint", text, p)
        return ModelSpec("tflite" if suffix == ".tflite" else "onnx", text, p)
    if "." in text:
        base, _, tag = text.partition(".")
        if f"{base}.{tag}" in hub.available():
            return ModelSpec("tag", text)
        have = ", ".join(hub.available()) or "none"
        raise CheckpointError(f"{text}: not a model file and no shipped weights of that name (shipped tags: {have})")
    return ModelSpec("name", text)
