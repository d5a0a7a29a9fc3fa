"""Face detectors: one module per detector on a small base (base.py), the registry and "auto"
(registry.py), and tiles for small faces in big photos (tiled.py)."""
from __future__ import annotations

from .base import BoxCalibration, Calibrated, Detections, Detector, DetectorSpec, empty, run_detector, suppress
from .registry import (DEFAULT_DETECTOR, PREFERENCE, calibrations, detector_min_face, detector_names,
                       detector_status, get_detector, get_raw_detector, register_detector)
from .tiled import Tiled

__all__ = ["BoxCalibration", "Calibrated", "DEFAULT_DETECTOR", "Detections", "Detector", "DetectorSpec", "PREFERENCE",
           "Tiled", "calibrations", "detector_min_face", "detector_names", "detector_status", "empty",
           "get_detector", "get_raw_detector", "register_detector", "run_detector", "suppress"]
