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
from ..data.transforms import crop_faces, landmark_box, uncrop_points
from .calibration import calibration, quality_function
from .detector import DEFAULT_DETECTOR, Detections, get_detector, run_detector
from .orientation import (ALIGN_MIN_DEG, ORIENTATIONS, face_frame_boxes, landmark_roll, map_back, snap_upright,
                          suppress, turned, wrap_degrees)
from .results import Face
from ..codec import HeatmapCodec
from .runtime import OnnxHeatmapModel, positive_int

ImageLike = np.ndarray | str | os.PathLike

#: quality at which a fit is more likely good than not: the bar a face seen only in a turned
#: copy of the photo must reach
TRUSTED_QUALITY = 0.5


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
    return None if max_faces is None else positive_int(max_faces, "max_faces")


def check_min_quality(min_quality: float | None) -> float | None:
    """None, or a number in [0, 1] (a string such as "0.5" is refused, not compared)."""
    if min_quality is None:
        return None
    if isinstance(min_quality, (bool, np.bool_)) or not isinstance(min_quality, (int, float, np.integer, np.floating)) \
            or not 0 <= float(min_quality) <= 1:
        raise ConfigError(f"min_quality must be a number in [0, 1], got {min_quality!r}")
    return float(min_quality)


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
                 flip_test: bool = False, orientations: str = "all", align: bool = True,
                 min_face: float | None = None, backend: str = "onnxruntime") -> None:
        if not isinstance(flip_test, (bool, np.bool_)):
            raise ConfigError(f"flip_test must be True or False, got {flip_test!r}")
        if not (isinstance(detector, str) or callable(detector)):
            raise ConfigError(f"detector must be a name or a callable image -> (boxes, scores), got {detector!r}")
        spec = model if model is not None else default_model()
        if backend == "onnxruntime":
            self.model = OnnxHeatmapModel(spec, threads, providers, flip_test=flip_test)
        elif backend == "litert":      # LiteRT + XNNPACK (extra `litert`): the .tflite file of the model
            from .runtime_litert import LiteRTHeatmapModel
            self.model = LiteRTHeatmapModel(spec, threads, flip_test=flip_test)
        else:
            raise ConfigError(f"backend must be 'onnxruntime' or 'litert', got {backend!r}")
        if not isinstance(self.model.codec, HeatmapCodec):
            # quality scores, the lost-track threshold and the flip test read heatmap peaks
            raise ConfigError(f"{self.model.path}: a {self.model.codec.kind} model has no heatmap peaks for the "
                              "landmarker's quality and tracking; measure it with `litehrnet-plus evaluate`")
        self.backend = backend
        if orientations not in ORIENTATIONS:
            raise ConfigError(f"orientations must be one of {ORIENTATIONS}, got {orientations!r}")
        self.orientations = orientations
        self.align = bool(align)        # turn crops upright by the face's roll
        # min_face: also find faces down to this many pixels in large photos (detector tiles)
        self.detector = get_detector(detector, min_face)
        self.min_face = min_face
        self._quality = quality_function(self.model.tag)
        self.detector_name = getattr(self.detector, "name", None) or getattr(detector, "__name__", "custom")

    @property
    def num_landmarks(self) -> int:
        return self.model.num_landmarks

    @property
    def confidence_threshold(self) -> float:
        """Below this mean peak score a crop is not taken for a face (the model's measured
        tracking threshold, else the package's)."""
        measured = self.model.card.track_threshold
        return float(measured if measured is not None else calibration()["tracking"]["threshold"])

    def quality(self, landmarks: np.ndarray, landmark_scores: np.ndarray) -> float | None:
        """P(NME < 0.10) of one fit (K, 2) with these peak scores (K,), from how confident the
        peaks are and how face-like the shape is (None: no calibration for this model)."""
        return None if self._quality is None else float(self._quality(landmarks[None], landmark_scores[None])[0])

    def detect(self, image: ImageLike, max_faces: int | None = None, orientations: str | None = None,
               min_quality: float | None = None) -> list[Face]:
        """Every face in the image (or the `max_faces` best), highest detector score first;
        [] when there is none.

        orientations (default: the landmarker's): "all" runs the detector on the image and on
        copies turned by 90, 180 and 270 degrees (a photo held sideways or upside down),
        keeping one detection per face, the one the landmark model is surest of (its quality);
        "upright" only on the image as it is (about a third of the time); "auto" looks at the
        turned copies only when the upright pass finds no face the model trusts (docs/angles_and_quality.md: the
        figures of each). Each face's crop is turned upright by its roll (the detector's eye keypoints,
        then the eye line of a first fit). min_quality: drop faces whose quality is lower (default:
        the measured floor `default_min_quality`, which drops what is almost surely no face; 0
        keeps every detection)."""
        max_faces = check_max_faces(max_faces)
        orientations = self.orientations if orientations is None else orientations
        if orientations not in ORIENTATIONS:
            raise ConfigError(f"orientations must be one of {ORIENTATIONS}, got {orientations!r}")
        img = load_image(image)
        min_quality = check_min_quality(min_quality)
        if orientations == "all":
            faces = self._one_per_face(self._detect_turned(img, (0, 90, 180, 270)))
        else:
            faces = self._detect_turned(img, (0,))
            if orientations == "auto" and not any(self._trusted(f) for f, _ in faces):
                # nothing the model is sure of, upright: the photo may be held sideways or upside down
                merged = self._one_per_face(faces + self._detect_turned(img, (90, 180, 270)))
                faces = [(f, 0) for f in merged if self._trusted(f)] or faces
            faces = [f for f, _ in faces]
        if min_quality is None:
            min_quality = self.default_min_quality
        elif self._quality is None and min_quality > 0:
            raise ConfigError(f"min_quality: model {self.model.tag!r} has no quality calibration "
                              "(tools/calibrate_quality.py --install)")
        if min_quality:
            faces = [f for f in faces if f.quality >= min_quality]
        return faces[:max_faces]

    @property
    def default_min_quality(self) -> float:
        """The quality below which a detection is almost surely no face (a patch, a hand, a
        torso), measured by tools/measure_quality_floor.py; 0 for a model without a quality fit."""
        if self._quality is None:
            return 0.0
        return float(calibration().get("quality_floor", {}).get("floor", 0.0))

    def _surety(self, face: Face) -> float:
        """How sure the model is of a fit: its quality (peaks and shape), or without a quality
        fit its mean peak score."""
        return face.confidence if face.quality is None else face.quality

    def _trusted(self, face: Face) -> bool:
        """A fit to believe: sure (quality of TRUSTED_QUALITY or more, or without a quality fit a
        mean peak score at the lost-face threshold), and its eye line agrees with the roll its crop was
        turned by (a sideways face taken for an upright one gives scrambled landmarks)."""
        sure = (face.confidence >= self.confidence_threshold if face.quality is None
                else face.quality >= TRUSTED_QUALITY)
        roll = landmark_roll(face.landmarks[None], self.model.scheme)[0]
        return sure and abs(wrap_degrees(roll - face.roll)) < ALIGN_MIN_DEG

    def _detect_turned(self, img: np.ndarray, turns: tuple[int, ...]) -> list[tuple[Face, int]]:
        """Faces the detector finds in the image turned by each of `turns` (degrees), fitted in
        the image, each with the turn it was found in."""
        found = []
        for k in turns:
            copy, back = turned(img, k)
            boxes, scores, keypoints = run_detector(self.detector, copy)
            boxes, rolls, _ = map_back(boxes, keypoints, back, k)
            found.append((boxes, scores, rolls, np.full(len(boxes), k)))
        boxes, scores, rolls, turns_ = (np.concatenate(x) for x in zip(*found))
        rolls = np.where(not self.align and turns_ == 0, 0.0, snap_upright(rolls))
        pts, lscores = self.predict(img, boxes, rolls)
        if self.align:
            boxes, rolls, pts, lscores = self._realign(img, boxes, rolls, pts, lscores)
        quality = self._quality(pts, lscores) if self._quality is not None and len(pts) else [None] * len(pts)
        faces = [(Face(tuple(float(v) for v in (b if r == 0 else landmark_box(p))), float(s), p, ls,
                       roll=float(r), quality=None if q is None else float(q)), int(k))
                 for b, s, p, ls, r, k, q in zip(boxes, scores, pts, lscores, rolls, turns_, quality)]
        return sorted(faces, key=lambda fk: -fk[0].score)

    def _one_per_face(self, found: list[tuple[Face, int]]) -> list[Face]:
        """Faces from several turns: one found only in a turned copy must convince the landmark
        model; then one detection per face, the one the model is surest of (`_surety`); by
        detector score."""
        faces = [f for f, k in found if k == 0 or self._trusted(f)]
        if not faces:
            return []
        keep = suppress(np.array([f.box for f in faces]), np.array([self._surety(f) for f in faces]))
        return sorted((faces[i] for i in keep), key=lambda f: -f.score)

    def _realign(self, img, boxes, rolls, pts, lscores):
        """The roll measured on the landmarks of a confident first pass: where it differs from the
        roll the crop was turned by (none, or the detector's keypoints) by ALIGN_MIN_DEG or more,
        crop again turned by it."""
        est = landmark_roll(pts, self.model.scheme)
        confident = lscores.mean(axis=1) >= self.confidence_threshold     # else the eye line means nothing
        # the detector's keypoints are rough on tilted faces (yuface: -7 degrees for a face at -30)
        off = np.abs(wrap_degrees(est - rolls)) >= ALIGN_MIN_DEG
        redo = np.flatnonzero(confident & off & (np.abs(wrap_degrees(est)) >= ALIGN_MIN_DEG))
        if len(redo) == 0:
            return boxes, rolls, pts, lscores
        new_boxes = face_frame_boxes(pts[redo], est[redo])
        p2, s2 = self.predict(img, new_boxes, est[redo])
        # kept where the model is surer and the turned fit agrees it is turned by that much
        agrees = np.abs(wrap_degrees(landmark_roll(p2, self.model.scheme) - est[redo])) < ALIGN_MIN_DEG
        better = (s2.mean(axis=1) > lscores[redo].mean(axis=1)) & agrees
        boxes, rolls, pts, lscores = boxes.copy(), rolls.copy(), pts.copy(), lscores.copy()
        idx = redo[better]
        boxes[idx], rolls[idx], pts[idx], lscores[idx] = new_boxes[better], est[idx], p2[better], s2[better]
        return boxes, rolls, pts, lscores

    def detect_one(self, image: ImageLike) -> Face:
        """The highest-scoring face, or NoFaceError."""
        faces = self.detect(image)
        if not faces:
            where = image if isinstance(image, (str, os.PathLike)) else "image"
            raise NoFaceError(f"{where}: no face found by detector {self.detector_name!r}")
        return faces[0]

    def landmarks(self, image: ImageLike, boxes: np.ndarray, angles: np.ndarray | None = None) -> np.ndarray:
        """Landmarks (N,K,2) float32 for face boxes (N,4) x1,y1,x2,y2 in the benchmark
        convention (tight box of the landmarks). angles: each face's roll in degrees, to turn
        its crop upright (the box is then the face's box in its own upright frame)."""
        return self.predict(load_image(image), boxes, angles)[0]

    def predict(self, image: np.ndarray, boxes: np.ndarray,
                angles: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """BGR image + boxes (+ rolls) -> landmarks (N,K,2) in image pixels and peak scores
        (N,K); one ONNX Runtime batch for all boxes."""
        crops, mats = crop_faces(image, boxes, self.model.input_size, self.model.crop_scale, angles)
        pts, scores = self.model.predict_crops(crops)
        return uncrop_points(pts, mats), scores
