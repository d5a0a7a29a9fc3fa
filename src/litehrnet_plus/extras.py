"""Optional dependencies by extra: a missing one is one clear line naming what to install,
never a ModuleNotFoundError traceback."""
from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from .errors import UserError

# importable module -> the extra of pyproject.toml that installs it
EXTRA_OF = {"torch": "train", "onnx": "train", "onnxscript": "train", "yaml": "train", "matplotlib": "train",
            "dlib": "dlib", "face_recognition_models": "dlib", "mediapipe": "mediapipe", "ai_edge_litert": "litert",
            "litert_torch": "litert-export", "ray": "ray"}


class MissingExtraError(UserError, ImportError):
    """A feature needs an optional dependency that is not installed."""


# extras that pin what the others need newer: they go into an environment of their own
OWN_ENVIRONMENT = {"mediapipe": "mediapipe 0.10.21 needs numpy<2"}


def source_folder() -> Path | None:
    """The checkout this package runs from (an editable install), or None."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() else None


def install_hint(extra: str) -> str:
    """A command that installs `extra`: the package is installed from its source folder, not
    from a package index."""
    root = source_folder()
    target = f"'{root}[{extra}]'" if root else f"'.[{extra}]' in the litehrnet-plus source folder"
    hint = f"pip install {target}"
    if extra in OWN_ENVIRONMENT:
        hint += f" (in its own virtual environment: {OWN_ENVIRONMENT[extra]})"
    return hint


def missing(error: ModuleNotFoundError, feature: str) -> MissingExtraError:
    """The error to raise when `feature` hit a missing module."""
    top = (error.name or "").split(".")[0]
    extra = EXTRA_OF.get(top)
    if extra is None:
        return MissingExtraError(f"{feature} needs the Python module {top!r}, which is not installed")
    return MissingExtraError(f"{feature} needs {top!r}, from the '{extra}' extra: {install_hint(extra)}")


def require(module: str, feature: str) -> ModuleType:
    """Import `module` for `feature`, or raise MissingExtraError naming the extra."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        raise missing(e, feature) from None
