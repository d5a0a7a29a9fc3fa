"""dlib's CNN face detector (max-margin object detection, MMOD), with the weights that PyPI's
`face-recognition-models` carries (extra `dlib`; the file is read without importing that
package, whose __init__ needs setuptools' pkg_resources). Not a default anywhere: the registry's
dlib-bin has no BLAS, which makes it take seconds per photo (docs/inference.md)."""
from __future__ import annotations

import numpy as np

from .base import Detections, DetectorSpec, downscale, empty, packaged_file

MODEL_PACKAGE = "face_recognition_models"
MODEL_FILE = "models/mmod_human_face_detector.dat"


class DlibCnnRaw:
    """Its smallest face is ~80 px without upsampling; images are shrunk to max_side, since
    its time grows with the pixels. Scores are detection confidences (> 0 = detection)."""

    def __init__(self, max_side: int = 640, upsample_below: int = 400) -> None:
        import dlib
        self._detector = dlib.cnn_face_detection_model_v1(str(packaged_file(MODEL_PACKAGE, MODEL_FILE)))
        self.max_side, self.upsample_below = max_side, upsample_below

    def __call__(self, image: np.ndarray) -> Detections:
        small, undo = downscale(image, self.max_side)
        up = 1 if max(small.shape[:2]) <= self.upsample_below else 0
        found = self._detector(np.ascontiguousarray(small[:, :, ::-1]), up)
        if not found:
            return empty()
        # dlib's right/bottom are inclusive pixel indices
        boxes = np.array([[d.rect.left(), d.rect.top(), d.rect.right() + 1, d.rect.bottom() + 1] for d in found],
                         dtype=np.float32)
        return boxes * undo, np.array([d.confidence for d in found], dtype=np.float32)


SPEC = DetectorSpec("dlib_cnn", DlibCnnRaw, module=MODEL_PACKAGE)
