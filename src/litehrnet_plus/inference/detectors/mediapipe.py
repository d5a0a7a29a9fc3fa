"""MediaPipe BlazeFace, full-range model (extra `mediapipe`; needs numpy<2, see docs)."""
from __future__ import annotations

import numpy as np

from .base import Detections, DetectorSpec, empty


class MediaPipeRaw:
    def __init__(self, min_confidence: float = 0.5) -> None:
        from mediapipe.python.solutions import face_detection
        self._det = face_detection.FaceDetection(model_selection=1, min_detection_confidence=min_confidence)

    def __call__(self, image: np.ndarray) -> Detections:
        h, w = image.shape[:2]
        res = self._det.process(np.ascontiguousarray(image[:, :, ::-1]))
        if not res.detections:
            return empty()
        boxes, scores, points = [], [], []
        for d in res.detections:
            r = d.location_data.relative_bounding_box
            boxes.append([r.xmin * w, r.ymin * h, (r.xmin + r.width) * w, (r.ymin + r.height) * h])
            scores.append(d.score[0])
            # six keypoints, the subject's right eye first, then the left eye
            points.append([[k.x * w, k.y * h] for k in d.location_data.relative_keypoints])
        return (np.array(boxes, dtype=np.float32), np.array(scores, dtype=np.float32),
                np.array(points, dtype=np.float32))


SPEC = DetectorSpec("mediapipe", MediaPipeRaw, module="mediapipe")
