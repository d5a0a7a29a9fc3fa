"""The public inference API: `FaceLandmarker` (ONNX Runtime, NumPy and OpenCV only), with
MediaPipe's two modes.

    lm = FaceLandmarker("litehrnet_plus_30m.300w")     # a shipped tag or a path to an .onnx
    faces = lm.detect("photo.jpg")                     # photo mode: list[Face], best detector score first
    faces = lm.detect_for_video(frame, t)              # video mode: tracked, smoothed, t in seconds
    pts = lm.landmarks(image, boxes)                   # (N,K,2), boxes in the benchmark convention

Optional outputs are switched on when the landmarker is made: `head_pose=True` fills
`Face.head_pose` in both modes. Coordinates are 0-based pixels with pixel centres at integers.
All faces of an image go through the runtime as one batch.

A photo goes forward through: orientation.py (which turned copies to search) -> detector.py ->
roll.py (mapped back) -> fitting.py (regions -> fits -> faces). A video frame: tracking.py
(track state) -> detector.py when needed -> fitting.py.
"""
from __future__ import annotations

import os
from typing import Callable

import numpy as np

from .. import hub
from ..data.images import decode_image, read_image, to_bgr8
from ..errors import CheckpointError, ConfigError, ImageReadError, NoFaceError
from ..codec import HeatmapCodec
from .calibration import calibration, quality_function
from .detectors import DEFAULT_DETECTOR, Detections, get_detector
from .face import Face
from .fitting import FacePipeline, model_predict
from .orientation import check_orientations, detect_faces
from .runtime import OnnxHeatmapModel, choose_backend, load_runtime_model, positive_int
from .tracking import FaceTracker

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
    """Face detector + Lite-HRNet Plus landmark model on ONNX Runtime or LiteRT.

    model: a shipped tag, a bare architecture name (its shipped 300-W weights) or an .onnx path
    (default: the package's default model). backend: "auto" (LiteRT where the `litert` extra is
    installed and the model has a .tflite file, else ONNX Runtime), "onnxruntime" or "litert".
    detector: a registered name or a callable image -> (boxes, scores[, keypoints]).
    orientations: the photo mode's search ("all", "upright", "auto"; see `detect`). align: turn
    crops upright by the face's roll. min_face: find faces down
    to this many pixels in large photos (detector tiles). head_pose: fill `Face.head_pose` (68- or
    98-point models); focal: the camera's focal length in pixels for it (default: the image's
    longer side). max_faces: the most faces either mode reports (video: no periodic re-detection
    once that many are tracked); redetect_interval and smooth: the video mode's."""

    def __init__(self, model: str | os.PathLike | None = None,
                 detector: str | Callable[[np.ndarray], Detections] = DEFAULT_DETECTOR,
                 threads: int | None = None, providers: list[str] | None = None,
                 flip_test: bool = False, orientations: str = "auto", align: bool = True,
                 min_face: float | None = None, backend: str = "auto", head_pose: bool = False,
                 focal: float | None = None, max_faces: int | None = None, redetect_interval: int = 30,
                 smooth: bool = True) -> None:
        if not isinstance(flip_test, (bool, np.bool_)):
            raise ConfigError(f"flip_test must be True or False, got {flip_test!r}")
        if not isinstance(head_pose, (bool, np.bool_)):
            raise ConfigError(f"head_pose must be True or False, got {head_pose!r}")
        if focal is not None and not (isinstance(focal, (int, float, np.integer, np.floating))
                                      and np.isfinite(focal) and focal > 0):
            raise ConfigError(f"focal must be a positive number of pixels, got {focal!r}")
        if not (isinstance(detector, str) or callable(detector)):
            raise ConfigError(f"detector must be a name or a callable image -> (boxes, scores), got {detector!r}")
        self.orientations = check_orientations(orientations)
        self.max_faces = check_max_faces(max_faces)
        spec = model if model is not None else default_model()
        # ONNX Runtime's execution providers are its own: asking for them asks for it
        backend = "onnxruntime" if providers is not None and backend == "auto" else choose_backend(spec, backend)
        self.model = (OnnxHeatmapModel(spec, threads, providers, flip_test=flip_test) if backend == "onnxruntime"
                      else load_runtime_model(spec, backend, threads, flip_test=flip_test))
        if not isinstance(self.model.codec, HeatmapCodec):
            # quality scores, the lost-track threshold and the flip test read heatmap peaks
            raise ConfigError(f"{self.model.path}: a {self.model.codec.kind} model has no heatmap peaks for the "
                              "landmarker's quality and tracking; measure it with `litehrnet-plus evaluate`")
        self.backend = backend
        self.pipeline = FacePipeline(model_predict(self.model), self.model.scheme, quality_function(self.model.tag),
                                     self.model.card.track_threshold, align=bool(align), head_pose=bool(head_pose),
                                     focal=None if focal is None else float(focal))
        self.detector = get_detector(detector, min_face)
        self.min_face = min_face
        self.detector_name = getattr(self.detector, "name", None) or getattr(detector, "__name__", "custom")
        self.video_options = {"redetect_interval": redetect_interval, "smooth": bool(smooth)}
        self._tracker: FaceTracker | None = None

    @property
    def num_landmarks(self) -> int:
        return self.model.num_landmarks

    @property
    def align(self) -> bool:
        return self.pipeline.align

    @property
    def head_pose(self) -> bool:
        return self.pipeline.head_pose

    @property
    def confidence_threshold(self) -> float:
        """Below this mean peak score a crop is not taken for a face (the model's measured
        tracking threshold, else the package's)."""
        return self.pipeline.confidence_threshold

    def quality(self, landmarks: np.ndarray, landmark_scores: np.ndarray) -> float | None:
        """P(NME < 0.10) of one fit (K, 2) with these peak scores (K,), from how confident the
        peaks are and how face-like the shape is (None: no calibration for this model)."""
        q = self.pipeline.quality
        return None if q is None else float(q(landmarks[None], landmark_scores[None])[0])

    # ------------------------------------------------------------------ photo mode
    def detect(self, image: ImageLike, max_faces: int | None = None, orientations: str | None = None,
               min_quality: float | None = None) -> list[Face]:
        """Every face in a photo (or the `max_faces` best), highest detector score first; []
        when there is none.

        orientations (default: the landmarker's, "auto"): "all" runs the detector on the image
        and on copies turned by 90, 180 and 270 degrees (a photo held sideways or upside down),
        keeping one detection per face, the one the landmark model is surest of (its quality);
        "upright" only on the image as it is; "auto" does what "all" does only where the upright
        pass leaves a reason to (no face, or a face the model is not sure of), else what
        "upright" does (docs/angles_and_quality.md: the figures of each). Each face's crop is turned upright by its roll (the detector's eye keypoints,
        then the eye line of a first fit). min_quality: drop faces whose quality is lower (default:
        the measured floor `default_min_quality`, which drops what is almost surely no face; 0
        keeps every detection)."""
        max_faces = self.max_faces if max_faces is None else check_max_faces(max_faces)
        orientations = check_orientations(self.orientations if orientations is None else orientations)
        min_quality = check_min_quality(min_quality)
        if min_quality is None:
            min_quality = self.default_min_quality
        elif self.pipeline.quality is None and min_quality > 0:
            raise ConfigError(f"min_quality: model {self.model.tag!r} has no quality calibration "
                              "(tools/calibrate_quality.py --install)")
        return detect_faces(load_image(image), self.detector, self.pipeline, orientations, self.default_min_quality,
                            min_quality, max_faces)

    @property
    def default_min_quality(self) -> float:
        """The quality below which a detection is almost surely no face (a patch, a hand, a
        torso), measured by tools/measure_quality_floor.py; 0 for a model without a quality fit."""
        if self.pipeline.quality is None:
            return 0.0
        return float(calibration().get("quality_floor", {}).get("floor", 0.0))

    def detect_one(self, image: ImageLike) -> Face:
        """The highest-scoring face, or NoFaceError."""
        faces = self.detect(image)
        if not faces:
            where = image if isinstance(image, (str, os.PathLike)) else "image"
            raise NoFaceError(f"{where}: no face found by detector {self.detector_name!r}")
        return faces[0]

    # ------------------------------------------------------------------ video mode
    def detect_for_video(self, frame: np.ndarray, timestamp: float) -> list[Face]:
        """The faces of the next frame of a stream (timestamp: its time in seconds, never
        decreasing): each followed from the previous frame's landmarks, the detector run only
        when a face is lost, none is tracked, or every `redetect_interval` frames below
        `max_faces`; landmarks smoothed (One-Euro); a `track_id` per face. `reset_video` starts
        a new stream."""
        if self._tracker is None:
            self._tracker = FaceTracker(self, max_faces=self.max_faces, **self.video_options)
        return self._tracker.update(load_image(frame), float(timestamp))

    def reset_video(self) -> None:
        """Forget the faces tracked so far: the next `detect_for_video` starts a new stream."""
        if self._tracker is not None:
            self._tracker.reset()

    # ------------------------------------------------------------------ given boxes
    def landmarks(self, image: ImageLike, boxes: np.ndarray, angles: np.ndarray | None = None) -> np.ndarray:
        """Landmarks (N,K,2) float32 for face boxes (N,4) x1,y1,x2,y2 in the benchmark
        convention (tight box of the landmarks). angles: each face's roll in degrees, to turn
        its crop upright (the box is then the face's box in its own upright frame)."""
        return self.predict(load_image(image), boxes, angles)[0]

    def predict(self, image: np.ndarray, boxes: np.ndarray,
                angles: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """BGR image + boxes (+ rolls) -> landmarks (N,K,2) in image pixels and peak scores
        (N,K); one runtime batch for all boxes."""
        return self.pipeline.predict(image, boxes, angles)
