"""Pretrained weights shipped inside the package (offline; nothing is ever downloaded).

Each tag `<model>.<dataset>` (e.g. "litehrnet_plus_30m.300w") has, in `litehrnet_plus/weights/`:
`<tag>.json` (manifest: model, config, landmark scheme, input size, codec, training data,
epochs, measured figures), `<tag>.onnx` (for ONNX Runtime, no PyTorch) and `<tag>.pt`
(PyTorch state dict + config, for fine-tuning and `create_model(..., pretrained=True)`).
"""
from __future__ import annotations

import json
from pathlib import Path

# ONNX metadata key under which export writes, and the runtime reads, the model description
METADATA_KEY = "litehrnet_plus"
WEIGHTS_DIR = Path(__file__).parent / "weights"
# What FaceLandmarker() and `predict` use when no model is named, best first; the first one
# present in the package wins.
DEFAULT_TAGS = ("litehrnet_plus_30m.300w", "litehrnet_plus_10m.300w")


def available() -> dict[str, dict]:
    """Shipped tags and their manifests."""
    out = {}
    for manifest in sorted(WEIGHTS_DIR.glob("*.json")):
        if manifest.name.endswith(".tflite.json"):      # a LiteRT file's model card, not a manifest
            continue
        tag = manifest.stem
        try:
            out[tag] = json.loads(manifest.read_text())
        except (OSError, json.JSONDecodeError):
            continue
    return out


def default_tag() -> str:
    tags = available()
    for tag in DEFAULT_TAGS:
        if tag in tags:
            return tag
    raise FileNotFoundError(f"no pretrained weights are shipped in {WEIGHTS_DIR}; pass a model file")


def default_tag_for(name: str) -> str | None:
    """The shipped tag a bare architecture name stands for ("<name>.300w" first), or None."""
    tags = [t for t in available() if t.partition(".")[0] == name]
    return f"{name}.300w" if f"{name}.300w" in tags else (tags[0] if tags else None)


def resolve(tag: str, kind: str = "onnx") -> Path:
    """Path of a shipped weights file ("onnx" or "pt") for a tag; the default dataset tag
    "300w" is implied when only a model name is given."""
    if "." not in tag:
        tag = f"{tag}.300w"
    path = WEIGHTS_DIR / f"{tag}.{kind}"
    if not path.is_file():
        have = ", ".join(available()) or "none"
        raise FileNotFoundError(f"no shipped weights {path.name!r} (shipped tags: {have})")
    return path


def manifest(tag: str) -> dict:
    return json.loads(resolve(tag, "json").read_text())
