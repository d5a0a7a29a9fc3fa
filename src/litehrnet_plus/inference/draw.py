"""Overlays: landmarks as dots, the scheme's groups as polylines, optionally the face box."""
from __future__ import annotations

import cv2
import numpy as np

from ..schemes import LandmarkScheme
from .face import Face

POINT = (0, 0, 255)      # BGR red
LINE = (0, 220, 0)       # green
BOX = (255, 160, 0)      # blue-ish
DOUBTFUL = (150, 150, 150)   # grey: faces whose quality is below LOW_QUALITY
LOW_QUALITY = 0.5


def draw_faces(image: np.ndarray, faces: list[Face], scheme: LandmarkScheme | None = None,
               boxes: bool = False) -> np.ndarray:
    """A copy of `image` with each face drawn; sizes follow the face so small and large faces
    both stay readable. A face whose quality is below LOW_QUALITY is drawn grey, with its
    quality written beside it: a fit not to trust."""
    out = image.copy()
    for face in faces:
        pts = np.asarray(face.landmarks, dtype=np.float64)
        x1, y1, x2, y2 = face.box
        size = max(x2 - x1, y2 - y1, 1.0)
        thick = max(1, int(round(size / 150)))
        radius = max(1, int(round(size / 100)))
        # fixed-point coordinates keep sub-pixel positions visible in anti-aliased drawing
        shift = 4
        fp = np.round(pts * (1 << shift)).astype(np.int32)
        doubtful = face.quality is not None and face.quality < LOW_QUALITY
        line, point = (DOUBTFUL, DOUBTFUL) if doubtful else (LINE, POINT)
        if scheme is not None and scheme.num_landmarks == len(pts):
            for name, (a, b) in scheme.groups.items():
                cv2.polylines(out, [fp[a:b]], name in scheme.closed, line, thick, cv2.LINE_AA, shift)
        for p in fp:
            cv2.circle(out, (int(p[0]), int(p[1])), radius << shift, point, -1, cv2.LINE_AA, shift)
        if doubtful:
            cv2.putText(out, f"q {face.quality:.2f}", (int(round(x1)), int(round(y2)) + int(12 * max(1, size / 200))),
                        cv2.FONT_HERSHEY_SIMPLEX, max(0.4, size / 400), DOUBTFUL, thick, cv2.LINE_AA)
        if boxes:
            cv2.rectangle(out, (int(round(x1)), int(round(y1))), (int(round(x2)), int(round(y2))), BOX, thick,
                          cv2.LINE_AA)
            cv2.putText(out, f"{face.score:.2f}", (int(round(x1)), max(0, int(round(y1)) - 4)),
                        cv2.FONT_HERSHEY_SIMPLEX, max(0.4, size / 400), BOX, thick, cv2.LINE_AA)
    return out
