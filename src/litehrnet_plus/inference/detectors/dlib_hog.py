"""dlib's HOG + linear SVM frontal face detector (extra `dlib`, wheels for CPython 3.11-3.13)."""
from __future__ import annotations

import numpy as np

from .base import Detections, DetectorSpec, downscale, empty


class DlibHogRaw:
    """Its smallest face is ~80 px, so small images are upsampled once; scores are SVM margins
    (> 0 = detection), not probabilities."""

    def __init__(self, upsample_below: int = 640, max_side: int = 1280) -> None:
        import dlib
        self._detector = dlib.get_frontal_face_detector()
        self.upsample_below = upsample_below
        self.max_side = max_side

    def __call__(self, image: np.ndarray) -> Detections:
        small, undo = downscale(image, self.max_side)
        up = 1 if max(small.shape[:2]) <= self.upsample_below else 0
        rgb = np.ascontiguousarray(small[:, :, ::-1])
        rects, scores, _ = self._detector.run(rgb, up, 0.0)
        if not rects:
            return empty()
        # dlib's right/bottom are inclusive pixel indices
        boxes = np.array([[r.left(), r.top(), r.right() + 1, r.bottom() + 1] for r in rects], dtype=np.float32)
        return boxes * undo, np.asarray(scores, dtype=np.float32)


SPEC = DetectorSpec("dlib", DlibHogRaw, module="dlib")
