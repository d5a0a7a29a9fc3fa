"""Face detectors by name. Each maps a BGR image to boxes (M,4) x1,y1,x2,y2 float32 and
scores (M,) float32 in the benchmark convention (the tight box of the 68 landmarks), so the
crop around a detection matches the crops the landmark model was trained on.

Every detector frames a face its own way (yuface includes the forehead, dlib a square on the
eyes-mouth region), so each one's raw box is mapped by a BoxCalibration measured on the 300-W
training folders with `tools/calibrate_detectors.py`. A user's own callable is used as is:
it must already return boxes in the benchmark convention (wrap it with `Calibrated` if not).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

import cv2
import numpy as np

from ..errors import ConfigError
from ..extras import install_hint
from .calibration import calibration

# boxes (M,4) float32 and scores (M,) float32, optionally keypoints (M,P,2) float32 whose first
# two points are the eyes (the subject's right eye, at the image's left, first): they give the
# face's roll, so the crop can be turned upright
Detections = tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray]


class Detector(Protocol):
    def __call__(self, image: np.ndarray) -> Detections: ...


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


def _downscale(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """The image shrunk so its longer side is at most max_side, and the factor to undo it."""
    side = max(image.shape[:2])
    if side <= max_side:
        return image, 1.0
    f = max_side / side
    h, w = image.shape[:2]
    # at least one pixel each way: a 1 x 3000 strip would otherwise shrink to no rows at all
    size = (max(1, round(w * f)), max(1, round(h * f)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), 1.0 / f


class YuFaceRaw:
    """libfacedetection's CNN (PyPI `yuface`, weights compiled in). Images are shrunk to a
    longer side of max_side first: the package warns that larger inputs detect worse."""

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
        small, undo = _downscale(image, self.max_side)
        confs, xywh, points = yuface.detect(np.ascontiguousarray(small), conf=self.conf)
        if len(confs) == 0:
            return empty()
        b = xywh.astype(np.float32) * undo
        boxes = np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)
        # five keypoints: right eye, left eye, nose tip, right and left mouth corner
        keypoints = np.asarray(points, dtype=np.float32).reshape(-1, 5, 2) * undo
        return boxes, confs.astype(np.float32) / 100.0, keypoints


class DlibHogRaw:
    """dlib's HOG + linear SVM frontal detector (extra `dlib`). Its smallest face is ~80 px, so
    small images are upsampled once; scores are SVM margins (> 0 = detection), not probabilities."""

    def __init__(self, upsample_below: int = 640, max_side: int = 1280) -> None:
        import dlib
        self._detector = dlib.get_frontal_face_detector()
        self.upsample_below = upsample_below
        self.max_side = max_side

    def __call__(self, image: np.ndarray) -> Detections:
        small, undo = _downscale(image, self.max_side)
        up = 1 if max(small.shape[:2]) <= self.upsample_below else 0
        rgb = np.ascontiguousarray(small[:, :, ::-1])
        rects, scores, _ = self._detector.run(rgb, up, 0.0)
        if not rects:
            return empty()
        # dlib's right/bottom are inclusive pixel indices
        boxes = np.array([[r.left(), r.top(), r.right() + 1, r.bottom() + 1] for r in rects], dtype=np.float32)
        return boxes * undo, np.asarray(scores, dtype=np.float32)


class MediaPipeRaw:
    """MediaPipe BlazeFace, full-range model (extra `mediapipe`; needs numpy<2, see docs)."""

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


class HaarRaw:
    """OpenCV's Viola-Jones cascade (frontalface_default). Only OpenCV 4 wheels have it: OpenCV 5
    removed CascadeClassifier and its data files, so with the base install this refuses clearly."""

    def __init__(self, min_size: int = 30) -> None:
        if not hasattr(cv2, "CascadeClassifier"):
            raise ConfigError(f"detector 'haar': OpenCV {cv2.__version__} has no Haar cascades "
                              "(OpenCV 5 removed CascadeClassifier and its data files); use 'yuface'")
        path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise ConfigError(f"detector 'haar': cannot load {path}")
        self.min_size = min_size

    def __call__(self, image: np.ndarray) -> Detections:
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        rects, _, weights = self._cascade.detectMultiScale3(
            grey, scaleFactor=1.1, minNeighbors=5, minSize=(self.min_size, self.min_size), outputRejectLevels=True)
        if len(rects) == 0:
            return empty()
        r = np.asarray(rects, dtype=np.float32).reshape(-1, 4)
        boxes = np.concatenate([r[:, :2], r[:, :2] + r[:, 2:]], axis=1)
        return boxes, np.asarray(weights, dtype=np.float32).reshape(-1)


class Tiled:
    """Small faces in big photos. A detector works on a shrunk copy of a large photo (yuface:
    longer side 960), so a 50-px face in a 6000-px photo shrinks below what it can see. On top
    of that pass, this runs the detector on overlapping tiles of the photo resized so that a face
    of `min_face` pixels (its landmark box side) becomes `detector_min` pixels, the smallest the
    detector finds reliably, and merges the detections (non-maximum suppression). It adds work
    only where the plain pass cannot reach `min_face`; docs/angles_and_quality.md has the cost."""

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
        return _merge(found)


def _merge(found: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]], iou: float = 0.4) -> Detections:
    """Detections of several passes as one set: the best of overlapping boxes kept."""
    from ..data.transforms import box_iou
    boxes = np.concatenate([b for b, _, _ in found]).reshape(-1, 4)
    scores = np.concatenate([s for _, s, _ in found]).reshape(-1)
    with_points = all(k is not None for _, _, k in found) and len({k.shape[1] for _, _, k in found}) == 1
    points = np.concatenate([k for _, _, k in found]) if with_points else None
    if len(boxes) == 0:
        return empty()
    order = np.argsort(-scores, kind="stable")
    overlaps = box_iou(boxes, boxes)
    keep: list[int] = []
    for i in order:
        if all(overlaps[i, j] < iou for j in keep):
            keep.append(int(i))
    out = boxes[keep].astype(np.float32), scores[keep].astype(np.float32)
    return out + (points[keep].astype(np.float32),) if points is not None else out


# The smallest face (landmark box side, pixels) each detector finds reliably (9 in 10 or more)
# at its working size, measured by tools/measure_small_faces.py --install into calibration.json:
# the tiles of `Tiled` bring faces to this size. A detector not measured (a user's own, or one
# not installed here) gets UNMEASURED_MIN_FACE, the largest measured value: tiles finer than
# needed cost time, tiles too coarse miss faces.
DETECTOR_MIN_FACE: dict[str, float] = {k: float(v) for k, v in calibration().get("detector_min_face", {}).items()}
UNMEASURED_MIN_FACE = max(DETECTOR_MIN_FACE.values(), default=32.0)

# Calibrations measured on the 300-W training folders (afw, helen/trainset, lfpw/trainset;
# medians over matched faces) by tools/calibrate_detectors.py, which writes them into
# inference/calibration.json (its record, with the IoU/centre error on lfpw/testset, is in
# benchmarks/detector_calibration.json).
CALIBRATIONS: dict[str, BoxCalibration] = {
    name: BoxCalibration(**{k: float(v[k]) for k in ("dx", "dy", "sw", "sh")})
    for name, v in calibration()["detectors"].items()}

# name -> (factory of the raw detector, the importable module it needs, extra that installs it)
_RAW: dict[str, tuple[Callable[[], Callable[[np.ndarray], Detections]], str | None, str | None]] = {
    "yuface": (YuFaceRaw, "yuface", None),
    "dlib": (DlibHogRaw, "dlib", "dlib"),
    "mediapipe": (MediaPipeRaw, "mediapipe", "mediapipe"),
    "haar": (HaarRaw, None, None),
}
# "auto": the best installed, in the order measured in docs/inference.md. yuface finds the most
# faces, but its wheels exist only for CPython 3.10-3.11 on x86-64 Linux/Windows; elsewhere the
# base install brings dlib (wheels for CPython 3.11-3.13), which finds fewer faces in the wild.
DEFAULT_DETECTOR = "auto"
PREFERENCE = ("yuface", "mediapipe", "dlib")


def _unavailable(name: str) -> str | None:
    """Why a registered detector cannot work in this environment whatever is installed."""
    if name == "haar" and not hasattr(cv2, "CascadeClassifier"):
        return f"OpenCV {cv2.__version__} has no Haar cascades (OpenCV 5 removed them)"
    return None


def detector_names() -> list[str]:
    """The detectors that can work here (installed or installable)."""
    return sorted(n for n in _RAW if _unavailable(n) is None)


def detector_status() -> dict[str, str]:
    """name -> "installed" or how to install it, without importing any detector library."""
    import importlib.util

    out = {}
    for name in detector_names():
        _, module, extra = _RAW[name]
        if module is None or importlib.util.find_spec(module) is not None:
            out[name] = "installed"
        elif name == "yuface":
            out[name] = "not installed: wheels only for CPython 3.10-3.11 on x86-64"
        else:
            out[name] = f"not installed: extra '{extra}'"
    return out


def register_detector(name: str, factory: Callable[[], Callable[[np.ndarray], Detections]],
                      calibration: BoxCalibration | None = None) -> None:
    """Make a detector available by name (its raw boxes mapped by `calibration`)."""
    if name in _RAW:
        raise ValueError(f"detector {name!r} is registered already")
    _RAW[name] = (factory, None, None)
    CALIBRATIONS[name] = calibration or BoxCalibration()


def get_raw_detector(name: str) -> Callable[[np.ndarray], Detections]:
    """The uncalibrated detector (for measuring calibrations)."""
    if name not in _RAW:
        raise ConfigError(f"unknown face detector {name!r} (known: auto, {', '.join(detector_names())})")
    reason = _unavailable(name)
    if reason:
        raise ConfigError(f"detector {name!r} cannot work here: {reason}; use auto or one of "
                          f"{', '.join(detector_names())}")
    factory, _, extra = _RAW[name]
    try:
        return factory()
    except ImportError as e:
        hint = (install_hint(extra) if extra
                else "it has wheels only for CPython 3.10-3.11 on x86-64" if name == "yuface"
                else "reinstall litehrnet-plus")
        raise ConfigError(f"detector {name!r} is not installed ({e}); {hint}") from None


def get_detector(name_or_callable: str | Callable[[np.ndarray], Detections] = DEFAULT_DETECTOR,
                 min_face: float | None = None) -> Callable[[np.ndarray], Detections]:
    """A calibrated detector by name ("auto": the first installed of PREFERENCE), or the
    user's callable unchanged; with `min_face` (pixels), wrapped to find faces that small in
    large photos too (`Tiled`)."""
    det = _named_detector(name_or_callable)
    if min_face is None:
        return det
    name = getattr(det, "name", "custom")
    return Tiled(det, min_face, DETECTOR_MIN_FACE.get(name, UNMEASURED_MIN_FACE), name=name)


def _named_detector(name_or_callable) -> Callable[[np.ndarray], Detections]:
    if callable(name_or_callable):
        return name_or_callable
    name = str(name_or_callable)
    if name != "auto":
        return Calibrated(get_raw_detector(name), CALIBRATIONS.get(name, BoxCalibration()), name)
    for candidate in PREFERENCE:
        try:
            return Calibrated(get_raw_detector(candidate), CALIBRATIONS[candidate], candidate)
        except ConfigError:
            continue
    raise ConfigError(f"no face detector is installed: {install_hint('dlib')} (any CPython "
                      "3.11-3.13), or yuface (CPython 3.10-3.11 on x86-64), or pass your own detector "
                      "or face boxes")


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
