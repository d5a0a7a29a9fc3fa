"""The measured constants of inference -- detector box calibrations, the lost-face threshold,
the One-Euro smoothing, the per-face quality fits -- read from `calibration.json` beside this
file, and the landmark schemes' shape models from `shape_models.json`. The tools that measure
them write those files (`--install`), so no figure is copied into code by hand."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..fileio import atomic_write_json

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")


@lru_cache(maxsize=1)
def calibration() -> dict:
    return json.loads(CALIBRATION_FILE.read_text())


def install(section: str, key: str | None, values: dict, path: Path = CALIBRATION_FILE) -> None:
    """Write measured values into the calibration file (a tool's --install): `section`
    ("detectors" / "tracking"), under `key` when given (a detector's name)."""
    data = json.loads(path.read_text())
    if key is None:
        data[section] = {**data.get(section, {}), **values}
    else:
        data.setdefault(section, {})[key] = values
    atomic_write_json(path, data)
    calibration.cache_clear()


SHAPE_MODELS_FILE = Path(__file__).with_name("shape_models.json")


@lru_cache(maxsize=None)
def shape_model(scheme: str):
    """The point distribution model of a landmark scheme (tools/calibrate_quality.py fits it
    on ground-truth training shapes), or None."""
    from .shape_model import ShapeModel

    if not SHAPE_MODELS_FILE.exists():
        return None
    d = json.loads(SHAPE_MODELS_FILE.read_text()).get("schemes", {}).get(scheme)
    return None if d is None else ShapeModel.from_dict(d)


def quality_features(points, scores, shape) -> np.ndarray:
    """What the quality score reads of each fit (N, K, 2) / (N, K): the mean heatmap peak score,
    then the log shape residual and log Mahalanobis distance under the scheme's shape model."""
    scores = np.asarray(scores, np.float64)
    if scores.ndim == 1:
        scores = scores[None]
    residual, mahalanobis = shape.features(points)
    return np.stack([scores.mean(axis=1), residual, mahalanobis], axis=1)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function, written so large |z| neither overflows nor warns."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, np.float64)))


def quality_factors(features: np.ndarray, params) -> tuple[np.ndarray, np.ndarray]:
    """The two factors of `quality_probability`: P(peaks confident enough), P(shape face-like
    enough), from `quality_features` (N, 3) and [a, b, w_residual, w_mahalanobis, c]."""
    f = np.asarray(features, np.float64)
    a, b, wr, wm, c = (float(v) for v in params)
    return sigmoid(a * f[:, 0] + b), sigmoid(wr * f[:, 1] + wm * f[:, 2] + c)


def quality_probability(features: np.ndarray, params) -> np.ndarray:
    """P(NME < 0.10) from `quality_features` (N, 3) and the five fitted numbers
    [a, b, w_residual, w_mahalanobis, c]: a good fit needs confident peaks AND a face-like shape,
    so the probability is the product of a logistic of each (a noisy AND). Neither factor can
    make up for the other: flat heatmaps that happen to land on a mean-like face stay doubtful."""
    peaks, shape = quality_factors(features, params)
    return peaks * shape


def quality_function(tag: str):
    """(landmarks (N, K, 2), peak scores (N, K)) -> P(NME < 0.10) (N,) for a model
    (tools/calibrate_quality.py), or None when the model has no fit."""
    fit = calibration().get("quality", {}).get("models", {}).get(tag)
    if fit is None:
        return None
    shape = shape_model(fit["shape_model"])
    if shape is None:
        raise KeyError(f"{CALIBRATION_FILE}: quality fit of {tag!r} names shape model "
                       f"{fit['shape_model']!r}, which {SHAPE_MODELS_FILE.name} lacks")
    params = [*fit["peaks"], *fit["shape"]]
    return lambda points, scores: quality_probability(quality_features(points, scores, shape), params)
