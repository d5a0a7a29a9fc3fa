"""The public inference API: `FaceLandmarker` (ONNX Runtime, NumPy and OpenCV only).

    lm = FaceLandmarker("litehrnet_plus_30m.300w")     # a shipped tag or a path to an .onnx
    faces = lm.detect("photo.jpg")                     # list[Face], best detector score first
    pts = lm.landmarks(image, boxes)                   # (N,K,2), boxes in the benchmark convention

Coordinates are 0-based pixels with pixel centres at integers. All faces of an image go
through ONNX Runtime as one batch.
"""
from __future__ import annotations

import os
from typing import Callable

import numpy as np

from .. import hub
from ..data.images import decode_image, read_image, to_bgr8
from ..errors import CheckpointError, ConfigError, ImageReadError, NoFaceError
from ..data.transforms import crop_faces, uncrop_points
from .detector import DEFAULT_DETECTOR, Detections, get_detector, run_detector
from .results import Face
from .runtime import OnnxHeatmapModel

ImageLike = np.ndarray | str | os.PathLike


def load_image(image: ImageLike) -> np.ndarray:
    """A path or the bytes of an encoded image (read, turned upright by its EXIF orientation,
    ImageReadError naming the problem), or an in-memory HxWx3 BGR image (used as is)."""
    if isinstance(image, (str, os.PathLike)):
        return read_image(image)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return decode_image(bytes(image), "image bytes")
    if not isinstance(image, np.ndarray):
        raise ImageReadError(f"image must be a file path, encoded image bytes or an HxWx3 uint8 BGR array, "
                             f"got {type(image).__name__}")
    return to_bgr8(image, "image array")


def check_max_faces(max_faces: int | None) -> int | None:
    if max_faces is None:
        return None
    if isinstance(max_faces, bool) or not isinstance(max_faces, (int, np.integer)) or max_faces < 1:
        raise ConfigError(f"max_faces must be None or a whole number >= 1, got {max_faces!r}")
    return int(max_faces)


def default_model() -> str:
    try:
        return hub.default_tag()
    except FileNotFoundError as e:
        raise CheckpointError(f"{e}") from None


class FaceLandmarker:
    """Face detector + Lite-HRNet Plus landmark model on ONNX Runtime."""

    def __init__(self, model: str | os.PathLike | None = None,
                 detector: str | Callable[[np.ndarray], Detections] = DEFAULT_DETECTOR,
                 threads: int | None = None, providers: list[str] | None = None,
                 flip_test: bool = False) -> None:
        if not isinstance(flip_test, (bool, np.bool_)):
            raise ConfigError(f"flip_test must be True or False, got {flip_test!r}")
        if not (isinstance(detector, str) or callable(detector)):
            raise ConfigError(f"detector must be a name or a callable image -> (boxes, scores), got {detector!r}")
        self.model = OnnxHeatmapModel(model if model is not None else default_model(), threads, providers,
                                      flip_test=flip_test)
        self.detector = get_detector(detector)
        self.detector_name = getattr(self.detector, "name", None) or getattr(detector, "__name__", "custom")

    @property
    def num_landmarks(self) -> int:
        return self.model.num_landmarks

    def detect(self, image: ImageLike, max_faces: int | None = None) -> list[Face]:
        """Every face in the image (or the `max_faces` best), highest detector score first;
        [] when there is none."""
        max_faces = check_max_faces(max_faces)
        img = load_image(image)
        boxes, scores = run_detector(self.detector, img)
        order = np.argsort(-scores, kind="stable")[:max_faces]
        boxes, scores = boxes[order], scores[order]
        pts, lscores = self.predict(img, boxes)
        return [Face(tuple(float(v) for v in b), float(s), p, ls)
                for b, s, p, ls in zip(boxes, scores, pts, lscores)]

    def detect_one(self, image: ImageLike) -> Face:
        """The highest-scoring face, or NoFaceError."""
        faces = self.detect(image)
        if not faces:
            where = image if isinstance(image, (str, os.PathLike)) else "image"
            raise NoFaceError(f"{where}: no face found by detector {self.detector_name!r}")
        return faces[0]

    def landmarks(self, image: ImageLike, boxes: np.ndarray) -> np.ndarray:
        """Landmarks (N,K,2) float32 for face boxes (N,4) x1,y1,x2,y2 in the benchmark
        convention (tight box of the landmarks)."""
        return self.predict(load_image(image), boxes)[0]

    def predict(self, image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """BGR image + boxes -> landmarks (N,K,2) in image pixels and peak scores (N,K); one
        ONNX Runtime batch for all boxes."""
        crops, mats = crop_faces(image, boxes, self.model.input_size, self.model.crop_scale)
        pts, scores = self.model.predict_crops(crops)
        return uncrop_points(pts, mats), scores
