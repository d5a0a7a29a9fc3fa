"""Lite-HRNet Plus facial landmarks.

Inference (`FaceLandmarker`) runs on ONNX Runtime, NumPy and OpenCV alone; the PyTorch side
(`create_model`, training, export) needs the `[train]` extra. Both are imported lazily so
`import litehrnet_plus` never pulls PyTorch in.
"""
from __future__ import annotations

import os as _os

__version__ = "0.1.0"

# OpenCV refuses, in every decoder, images whose header declares more pixels than this variable
# says, before decoding them; it reads the variable once, when the library loads, so it is set
# here, before any module of the package imports cv2 (data/images.py says why this size).
MAX_IMAGE_PIXELS = 200_000_000
_os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_IMAGE_PIXELS))
# ONNX Runtime writes a device id and a telemetry events database under ~/.cache when it loads,
# unless told not to before it loads: a face tool records nothing about its users.
_os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

__all__ = ["FaceLandmarker", "Face", "HeadPose", "DriverMonitor", "MonitorConfig", "create_model", "list_models", "__version__"]


def __getattr__(name: str):
    if name == "FaceLandmarker":
        from .inference.landmarker import FaceLandmarker
        return FaceLandmarker
    if name == "Face":
        from .inference.face import Face
        return Face
    if name == "HeadPose":
        from .inference.headpose import HeadPose
        return HeadPose
    if name in ("DriverMonitor", "MonitorConfig"):
        from . import monitor
        return getattr(monitor, name)
    if name in ("create_model", "list_models"):
        from . import models
        return getattr(models, name)
    raise AttributeError(f"module 'litehrnet_plus' has no attribute {name!r}")
