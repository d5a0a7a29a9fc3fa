"""The measured constants of inference -- detector box calibrations, the lost-face threshold,
the One-Euro smoothing -- read from `calibration.json` beside this file. The tools that
measure them write that file (`--install`), so no figure is copied into code by hand."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

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


def quality_function(tag: str):
    """mean peak score -> P(NME < 0.10) for a model (tools/calibrate_quality.py), or None when
    the model has no fit."""
    import numpy as np

    fit = calibration().get("quality", {}).get("models", {}).get(tag)
    if fit is None:
        return None
    a, b = float(fit["a"]), float(fit["b"])
    return lambda score: 1.0 / (1.0 + np.exp(-(a * np.asarray(score, np.float64) + b)))
