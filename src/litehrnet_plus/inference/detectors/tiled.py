"""Small faces in big photos (`min_face`): the detector run again on overlapping tiles."""
from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from ...errors import ConfigError
from .base import Detections, empty, run_detector, suppress

#: detections of the plain pass and the tiles that overlap this much are one face
MERGE_IOU = 0.4


class Tiled:
    """A detector works on a shrunk copy of a large photo (yuface: longer side 960), so a 50-px
    face in a 6000-px photo shrinks below what it can see. On top of that pass, this runs the
    detector on overlapping tiles of the photo resized so that a face of `min_face` pixels (its
    landmark box side) becomes `detector_min` pixels, the smallest the detector finds reliably,
    and merges the detections (non-maximum suppression). It adds work only where the plain pass
    cannot reach `min_face`; docs/angles_and_quality.md has the cost."""

    def __init__(self, detector: Callable[[np.ndarray], Detections], min_face: float,
                 detector_min: float, tile: int = 960, overlap: float = 0.25, name: str | None = None) -> None:
        if isinstance(min_face, bool) or not isinstance(min_face, (int, float)) or not min_face > 0:
            raise ConfigError(f"min_face must be a positive number of pixels, got {min_face!r}")
        self.detector = detector
        self.min_face = float(min_face)
        self.detector_min = float(detector_min)
        self.tile = int(tile)
        self.overlap = float(overlap)
        self.name = name or getattr(detector, "name", "custom")
        self.tiles_run = 0           # tiles of the last call (for figures and tests)

    def scale(self, image: np.ndarray) -> float:
        """The factor the photo is resized by for the tiles; 0 when the plain pass suffices."""
        side = max(image.shape[:2])
        plain_min = self.detector_min * max(1.0, side / self.tile)   # smallest face the plain pass sees
        if plain_min <= self.min_face:
            return 0.0
        return min(2.0, self.detector_min / self.min_face)     # small photos: up to twice their size

    def __call__(self, image: np.ndarray) -> Detections:
        found = [run_detector(self.detector, image)]
        self.tiles_run = 0
        f = self.scale(image)
        if f > 0:
            size = (max(1, round(image.shape[1] * f)), max(1, round(image.shape[0] * f)))
            work = image if f == 1 else cv2.resize(image, size,
                                                     interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
            h, w = work.shape[:2]
            step = max(1, int(self.tile * (1 - self.overlap)))
            ys = list(range(0, max(h - self.tile, 0) + 1, step))
            xs = list(range(0, max(w - self.tile, 0) + 1, step))
            ys += [h - self.tile] if h > self.tile and ys[-1] != h - self.tile else []
            xs += [w - self.tile] if w > self.tile and xs[-1] != w - self.tile else []
            for y in ys:
                for x in xs:
                    b, sc, kp = run_detector(self.detector, work[y:y + self.tile, x:x + self.tile])
                    off = np.array([x, y], dtype=np.float32)
                    b = (b + np.tile(off, 2)) / f
                    kp = None if kp is None else (kp + off) / f
                    found.append((b, sc, kp))
                    self.tiles_run += 1
        return merge(found)


def merge(found: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]], iou: float = MERGE_IOU) -> Detections:
    """Detections of several passes as one set: the best of overlapping boxes kept."""
    boxes = np.concatenate([b for b, _, _ in found]).reshape(-1, 4)
    scores = np.concatenate([s for _, s, _ in found]).reshape(-1)
    with_points = all(k is not None for _, _, k in found) and len({k.shape[1] for _, _, k in found}) == 1
    points = np.concatenate([k for _, _, k in found]) if with_points else None
    if len(boxes) == 0:
        return empty()
    keep = suppress(boxes, scores, iou=iou)
    out = boxes[keep].astype(np.float32), scores[keep].astype(np.float32)
    return out + (points[keep].astype(np.float32),) if points is not None else out
