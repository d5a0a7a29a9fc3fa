"""What every face detector shares: the detections' shape, the box calibration into the
benchmark convention, the check of what a detector returns, and the one non-maximum
suppression of the package.

A detector maps a BGR image to boxes (M,4) x1,y1,x2,y2 float32 and scores (M,) float32,
optionally keypoints (M,P,2) float32 whose first two points are the eyes (the subject's right
eye, at the image's left, first): they give the face's roll, so the crop can be turned upright.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

import cv2
import numpy as np

from ...errors import ConfigError

Detections = tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray]


class Detector(Protocol):
    def __call__(self, image: np.ndarray) -> Detections: ...


@dataclass(frozen=True)
class DetectorSpec:
    """A registered detector: how to make it (raw, uncalibrated), the module it imports (None:
    always there), the extra that installs it, and why it cannot work here whatever is installed
    (None: it can)."""

    name: str
    factory: Callable[[], Callable[[np.ndarray], Detections]]
    module: str | None = None          # its extra is the one extras.EXTRA_OF names
    unavailable: Callable[[], str | None] = lambda: None
    install_note: str | None = None       # how to get it where no extra does (yuface's wheels)


def empty() -> Detections:
    return np.zeros((0, 4), dtype=np.float32), np.zeros((0,), dtype=np.float32)


@dataclass(frozen=True)
class BoxCalibration:
    """Raw detector box -> landmark box. Offsets and sizes are in units of the raw box size
    s = (w + h) / 2: centre += (dx, dy) * s, width = sw * s, height = sh * s."""

    dx: float = 0.0
    dy: float = 0.0
    sw: float = 1.0
    sh: float = 1.0

    def apply(self, boxes: np.ndarray) -> np.ndarray:
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        s = ((b[:, 2] - b[:, 0]) + (b[:, 3] - b[:, 1])) / 2
        cx = (b[:, 0] + b[:, 2]) / 2 + self.dx * s
        cy = (b[:, 1] + b[:, 3]) / 2 + self.dy * s
        w, h = self.sw * s, self.sh * s
        return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)


class Calibrated:
    """A raw detector plus the calibration into the benchmark convention."""

    def __init__(self, raw: Callable[[np.ndarray], Detections], calibration: BoxCalibration,
                 name: str = "custom") -> None:
        self.raw = raw
        self.calibration = calibration
        self.name = name

    def __call__(self, image: np.ndarray) -> Detections:
        out = self.raw(image)
        boxes, scores = self.calibration.apply(out[0]), np.asarray(out[1], dtype=np.float32).reshape(-1)
        return (boxes, scores, out[2]) if len(out) > 2 else (boxes, scores)


def packaged_file(package: str, relative: str) -> Path:
    """A model file inside an installed package (weights that a registry package carries), found
    without importing the package: an ImportError naming it when it is not installed."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"No module named {package!r}", name=package)
    for folder in spec.submodule_search_locations:
        path = Path(folder) / relative
        if path.is_file():
            return path
    raise ConfigError(f"the installed {package!r} package has no {relative}; reinstall it")


def downscale(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """The image shrunk so its longer side is at most max_side, and the factor to undo it."""
    side = max(image.shape[:2])
    if side <= max_side:
        return image, 1.0
    f = max_side / side
    h, w = image.shape[:2]
    # at least one pixel each way: a 1 x 3000 strip would otherwise shrink to no rows at all
    size = (max(1, round(w * f)), max(1, round(h * f)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), 1.0 / f


def run_detector(detector: Callable[[np.ndarray], Detections], image: np.ndarray,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Call a detector and check what it returns (user callables included): boxes (M,4),
    scores (M,) and keypoints (M,P,2) or None."""
    out = detector(image)
    try:
        boxes, scores = out[0], out[1]
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        scores = np.asarray(scores, dtype=np.float32).reshape(-1)
        keypoints = np.asarray(out[2], dtype=np.float32) if len(out) > 2 and out[2] is not None else None
    except (TypeError, ValueError, IndexError) as e:
        raise ConfigError(f"a face detector must return (boxes (M,4), scores (M,)[, keypoints (M,P,2)]); "
                          f"got {type(out).__name__} ({e})") from None
    if len(boxes) != len(scores):
        raise ConfigError(f"face detector returned {len(boxes)} boxes but {len(scores)} scores")
    if keypoints is not None and (keypoints.ndim != 3 or keypoints.shape[0] != len(boxes) or keypoints.shape[1] < 2
                                  or keypoints.shape[2] != 2):
        raise ConfigError(f"face detector keypoints must be (M,P,2) with P >= 2 (the eyes first), got "
                          f"{keypoints.shape}")
    keep = np.all(np.isfinite(boxes), axis=1) & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    return boxes[keep], scores[keep], (keypoints[keep] if keypoints is not None else None)


def suppress(boxes: np.ndarray, scores: np.ndarray, iou: float | None = None,
             centre_distance: float | None = None) -> list[int]:
    """Greedy non-maximum suppression: indices of the boxes (N,4) to keep, best score first. A
    box goes when it overlaps a kept one by `iou` or more (detections of several passes), or
    when its centre lies within `centre_distance` x the larger face size of a kept one's (one
    face found in several turned copies, whose boxes may differ in size)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores), kind="stable")
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    sizes = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    if iou is not None:
        from ...data.transforms import box_iou
        overlaps = box_iou(boxes, boxes)
    kept: list[int] = []
    for i in order:
        same = [(iou is not None and overlaps[i, j] >= iou) or
                (centre_distance is not None and
                 np.linalg.norm(centres[i] - centres[j]) <= centre_distance * max(sizes[i], sizes[j]))
                for j in kept]
        if not any(same):
            kept.append(int(i))
    return kept
