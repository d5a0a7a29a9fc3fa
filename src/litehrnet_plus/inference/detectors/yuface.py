"""libfacedetection's CNN (PyPI `yuface`, weights compiled in): the best detector measured here,
with wheels only for CPython 3.10-3.11 on x86-64."""
from __future__ import annotations

import os

import numpy as np

from .base import Detections, DetectorSpec, downscale, empty


class YuFaceRaw:
    """Images are shrunk to a longer side of max_side first: the package warns that larger
    inputs detect worse."""

    def __init__(self, conf: float = 0.5, max_side: int = 960) -> None:
        # yuface's bundled OpenMP spin-waits by default; on a busy CPU that made detection 2x to
        # 15x slower here (docs/inference.md gives the command), so ask for passive waiting.
        # It is read when the library loads, i.e. at the first import below.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import yuface  # noqa: F401  (fail at construction, not at the first image)
        self.conf = conf
        self.max_side = max_side

    def __call__(self, image: np.ndarray) -> Detections:
        import yuface
        small, undo = downscale(image, self.max_side)
        confs, xywh, points = yuface.detect(np.ascontiguousarray(small), conf=self.conf)
        if len(confs) == 0:
            return empty()
        b = xywh.astype(np.float32) * undo
        boxes = np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)
        # five keypoints: right eye, left eye, nose tip, right and left mouth corner
        keypoints = np.asarray(points, dtype=np.float32).reshape(-1, 5, 2) * undo
        return boxes, confs.astype(np.float32) / 100.0, keypoints


SPEC = DetectorSpec("yuface", YuFaceRaw, module="yuface",
                    install_note="it has wheels only for CPython 3.10-3.11 on x86-64")
