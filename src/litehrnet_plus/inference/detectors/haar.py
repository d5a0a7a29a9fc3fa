"""OpenCV's Viola-Jones cascade (frontalface_default). Only OpenCV 4 wheels have it: OpenCV 5
removed CascadeClassifier and its data files, so with the base install this refuses clearly."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ...errors import ConfigError
from .base import Detections, DetectorSpec, empty


def unavailable() -> str | None:
    if not hasattr(cv2, "CascadeClassifier"):
        return f"OpenCV {cv2.__version__} has no Haar cascades (OpenCV 5 removed them)"
    return None


class HaarRaw:
    def __init__(self, min_size: int = 30) -> None:
        if unavailable():
            raise ConfigError(f"detector 'haar': OpenCV {cv2.__version__} has no Haar cascades "
                              "(OpenCV 5 removed CascadeClassifier and its data files); use 'yuface'")
        path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise ConfigError(f"detector 'haar': cannot load {path}")
        self.min_size = min_size

    def __call__(self, image: np.ndarray) -> Detections:
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        rects, _, weights = self._cascade.detectMultiScale3(
            grey, scaleFactor=1.1, minNeighbors=5, minSize=(self.min_size, self.min_size), outputRejectLevels=True)
        if len(rects) == 0:
            return empty()
        r = np.asarray(rects, dtype=np.float32).reshape(-1, 4)
        boxes = np.concatenate([r[:, :2], r[:, :2] + r[:, 2:]], axis=1)
        return boxes, np.asarray(weights, dtype=np.float32).reshape(-1)


SPEC = DetectorSpec("haar", HaarRaw, unavailable=unavailable)
