"""Video and webcam landmarks: detect once, then track.

Like MediaPipe's face mesh, the face detector runs only when needed: each next frame is
cropped around the previous frame's landmarks (their tight box is exactly the benchmark box
the model was trained on), and the detector runs again when a face's confidence (mean heatmap
peak score) falls below a threshold, when no face is tracked, and every `redetect_interval`
frames to pick up new faces -- unless `max_faces` faces are already tracked (MediaPipe's
`max_num_faces`: a driver monitor tracking its one driver never runs the detector while the
track holds). A One-Euro filter per face smooths the landmarks.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Protocol

import cv2
import numpy as np

from ..data.transforms import box_iou, landmark_box
from ..errors import VideoReadError
from .calibration import calibration
from .detector import run_detector
from .orientation import UPRIGHT, face_frame_boxes, landmark_roll, map_back, snap_upright
from .results import Face
from .smoothing import OneEuroFilter

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")

# Lost-track threshold on the mean heatmap peak score (face crops vs crops moved off the face,
# on 300-W training images; the best balanced accuracy) and the One-Euro parameters (speeds in
# face sizes per second: the least jitter on a still face whose error on a panning face stays
# within 2% of unsmoothed), measured by tools/calibrate_tracking.py and tools/measure_tracking.py
# into inference/calibration.json. A model's card may carry its own threshold, which wins.
_TRACKING = calibration()["tracking"]
TRACK_THRESHOLD = float(_TRACKING["threshold"])
MIN_CUTOFF = float(_TRACKING["one_euro"]["min_cutoff"])
BETA = float(_TRACKING["one_euro"]["beta"])
D_CUTOFF = float(_TRACKING["one_euro"]["d_cutoff"])
MIN_FACE = 8.0   # pixels: a tracked landmark box smaller than this is lost


class Predictor(Protocol):
    """What the tracker needs from FaceLandmarker."""

    detector: object

    def predict(self, image: np.ndarray, boxes: np.ndarray,
                angles: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]: ...


# ----------------------------------------------------------------------------- sources
@dataclass
class VideoSource:
    """Frames of a video file or a webcam (an integer index)."""

    source: str | int
    capture: cv2.VideoCapture
    fps: float
    frame_count: int          # 0 when unknown (webcams, some containers)

    @property
    def name(self) -> str:
        return f"webcam {self.source}" if isinstance(self.source, int) else str(self.source)

    def frames(self) -> Iterator[tuple[int, float, np.ndarray]]:
        """(index, time in seconds, BGR frame); file times come from the frame rate, webcam
        times from the clock (a webcam's frame rate is rarely what it reports)."""
        start = time.perf_counter()
        i = 0
        while True:
            ok, frame = self.capture.read()
            if not ok or frame is None:
                return
            t = time.perf_counter() - start if isinstance(self.source, int) else i / self.fps
            yield i, t, frame
            i += 1

    def close(self) -> None:
        self.capture.release()


def open_video(source: str | int | Path) -> VideoSource:
    """Open a video file or webcam index, or raise VideoReadError naming it."""
    if isinstance(source, int):
        cap = cv2.VideoCapture(source)
        if not cap.isOpened():
            raise VideoReadError(f"webcam {source}: cannot be opened (no such camera or no permission)")
        fps = cap.get(cv2.CAP_PROP_FPS)
        return VideoSource(source, cap, fps if fps and fps > 0 else 30.0, 0)
    p = Path(source)
    if not p.is_file():
        raise VideoReadError(f"{p}: no such video file")
    cap = cv2.VideoCapture(str(p))
    if not cap.isOpened():
        raise VideoReadError(f"{p}: cannot be opened as a video (corrupt or unsupported format)")
    ok, _ = cap.read()
    if not ok:
        cap.release()
        raise VideoReadError(f"{p}: no frame could be decoded (corrupt or empty video)")
    cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
    fps = cap.get(cv2.CAP_PROP_FPS)
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    return VideoSource(str(p), cap, fps if fps and 0 < fps < 1000 else 30.0, max(count, 0))


# ----------------------------------------------------------------------------- tracking
@dataclass
class _Track:
    landmarks: np.ndarray            # last raw (unsmoothed) prediction: next frame's crop
    scores: np.ndarray
    detector_score: float
    track_id: int
    filter: OneEuroFilter | None = field(default=None)


class FaceTracker:
    """Per-frame landmarks for a stream, detector only when needed (see module doc)."""

    def __init__(self, landmarker: Predictor, threshold: float | None = None,
                 redetect_interval: int = 30, smooth: bool = True, min_cutoff: float = MIN_CUTOFF,
                 beta: float = BETA, d_cutoff: float = D_CUTOFF, match_iou: float = 0.3,
                 max_faces: int | None = None) -> None:
        from .landmarker import check_max_faces
        self.landmarker = landmarker
        self.max_faces = check_max_faces(max_faces)
        if threshold is None:
            # a model file may carry its own measured threshold; else the shipped models' one
            card = getattr(getattr(landmarker, "model", None), "card", None)
            measured = card.track_threshold if card is not None else None
            threshold = float(measured if measured is not None else TRACK_THRESHOLD)
        self.threshold = threshold
        self.redetect_interval = redetect_interval
        self.smooth = smooth
        self.filter_args = (min_cutoff, beta, d_cutoff)
        self.match_iou = match_iou
        self.tracks: list[_Track] = []
        self.detector_runs = 0          # how often the detector ran (for tests and figures)
        self._since_detect = 0
        self._next_id = 0               # track ids are never reused within a stream

    def reset(self) -> None:
        self.tracks = []
        self._since_detect = 0

    def update(self, frame: np.ndarray, t: float) -> list[Face]:
        """Landmarks of every tracked face in this frame (t in seconds, increasing)."""
        lost = self._follow(frame)
        self._since_detect += 1
        full = self.max_faces is not None and len(self.tracks) >= self.max_faces
        due = self.redetect_interval > 0 and self._since_detect >= self.redetect_interval and not full
        if lost or not self.tracks or due:
            self._detect(frame)
        return [self._output(tr, t) for tr in self.tracks]

    def _follow(self, frame: np.ndarray) -> bool:
        """Crop each track around its previous landmarks (one batch); drop the ones whose
        confidence fell below the threshold. True if any was lost."""
        if not self.tracks:
            return False
        boxes, rolls = self._regions(np.stack([tr.landmarks for tr in self.tracks]))
        side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        # a face that collapsed or outgrew the frame is lost whatever its score says
        sane = (side >= MIN_FACE) & (side <= max(frame.shape[:2]))
        self.tracks = [tr for tr, ok in zip(self.tracks, sane) if ok]
        if not self.tracks:
            return True
        pts, scores = self.landmarker.predict(frame, boxes[sane], rolls[sane])
        lost = not np.all(sane)
        kept = []
        for tr, p, s in zip(self.tracks, pts, scores):
            if float(np.mean(s)) >= self.threshold and np.all(np.isfinite(p)):
                tr.landmarks, tr.scores = p, s
                kept.append(tr)
        lost = lost or len(kept) < len(self.tracks)
        self.tracks = kept
        return lost

    def _regions(self, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Next crops from previous landmarks (N,K,2): their tight box, or, for a face rolled by
        ALIGN_MIN_DEG or more, its box in its own upright frame and its roll (MediaPipe: the
        previous landmarks align the crop, so any roll is followed)."""
        scheme = getattr(getattr(self.landmarker, "model", None), "scheme", None)
        rolls = snap_upright(landmark_roll(landmarks, scheme) if scheme is not None else np.zeros(len(landmarks)))
        boxes = np.stack([landmark_box(p) for p in landmarks])
        turned_ = rolls != 0
        if np.any(turned_):
            boxes[turned_] = face_frame_boxes(landmarks[turned_], rolls[turned_])
        return boxes, rolls

    def _detect(self, frame: np.ndarray) -> None:
        """Run the detector; faces not already tracked start new tracks."""
        self.detector_runs += 1
        self._since_detect = 0
        boxes, det_scores, keypoints = run_detector(self.landmarker.detector, frame)
        if len(boxes) == 0:
            return
        _, rolls, _ = map_back(boxes, keypoints, UPRIGHT, 0)    # rolls from the eye keypoints
        rolls = snap_upright(rolls)
        tracked = np.array([landmark_box(tr.landmarks) for tr in self.tracks]).reshape(-1, 4)
        overlap = box_iou(boxes, tracked).max(axis=1, initial=0.0)
        fresh = [i for i in np.argsort(-det_scores, kind="stable") if overlap[i] < self.match_iou]
        if self.max_faces is not None:
            fresh = fresh[:max(0, self.max_faces - len(self.tracks))]
        if not fresh:
            return
        pts, scores = self.landmarker.predict(frame, boxes[fresh], rolls[fresh])
        for i, p, s in zip(fresh, pts, scores):
            if float(np.mean(s)) >= self.threshold:
                self.tracks.append(_Track(p, s, float(det_scores[i]), self._next_id))
                self._next_id += 1

    def _output(self, tr: _Track, t: float) -> Face:
        pts = tr.landmarks
        if self.smooth:
            if tr.filter is None:
                tr.filter = OneEuroFilter(*self.filter_args)
            box = landmark_box(pts)
            size = float(max(box[2] - box[0], box[3] - box[1], 1.0))
            pts = tr.filter(pts, t, scale=size)
        box = landmark_box(pts)
        scheme = getattr(getattr(self.landmarker, "model", None), "scheme", None)
        roll = float(landmark_roll(pts[None], scheme)[0]) if scheme is not None else 0.0
        quality = getattr(self.landmarker, "quality", None)
        return Face(tuple(float(v) for v in box), tr.detector_score, pts.astype(np.float32), tr.scores,
                    track_id=tr.track_id, roll=roll,
                    quality=quality(tr.landmarks, tr.scores) if callable(quality) else None)

