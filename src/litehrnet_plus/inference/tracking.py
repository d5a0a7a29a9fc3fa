"""Video mode: detect once, then track (`FaceLandmarker.detect_for_video` runs on this).

Like MediaPipe's face mesh, the face detector runs only when needed: each next frame is
cropped around the previous frame's landmarks (their tight box is exactly the benchmark box
the model was trained on), and the detector runs again when a face's confidence (mean heatmap
peak score) falls below a threshold, when no face is tracked, and every `redetect_interval`
frames to pick up new faces -- unless `max_faces` faces are already tracked (MediaPipe's
`max_num_faces`: a driver monitor tracking its one driver never runs the detector while the
track holds). A One-Euro filter per face smooths the landmarks. What is tracked here is state
only (tracks, their ids and filters, when to detect): regions, fits and faces are the
pipeline's (fitting.py), the same as for photos.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from ..data.transforms import box_iou, landmark_box
from ..errors import ConfigError
from .calibration import calibration
from .detectors import Detections, run_detector
from .face import Face
from .fitting import FacePipeline, Fit
from .roll import UPRIGHT, map_back
from .runtime import positive_int
from .smoothing import OneEuroFilter

MIN_FACE = 8.0   # pixels: a tracked landmark box smaller than this is lost


class Landmarker(Protocol):
    """What the tracker needs from a FaceLandmarker: its detector and its pipeline."""

    detector: Callable[[np.ndarray], Detections]
    pipeline: FacePipeline


def smoothing_defaults() -> dict[str, float]:
    """The One-Euro parameters measured by tools/measure_tracking.py (speeds in face sizes per
    second: the least jitter on a still face whose error on a panning face stays within 2% of
    unsmoothed), from inference/calibration.json."""
    one_euro = calibration()["tracking"]["one_euro"]
    return {k: float(one_euro[k]) for k in ("min_cutoff", "beta", "d_cutoff")}


@dataclass
class _Track:
    fit: Fit                         # last raw (unsmoothed) fit: next frame's crop comes from it
    track_id: int
    filter: OneEuroFilter | None = field(default=None)


class FaceTracker:
    """Per-frame faces of a stream, the detector only when needed (see the module doc).
    threshold: the lost-track confidence (default: the model's measured one, else the
    package's: the pipeline's confidence_threshold); min_cutoff/beta/d_cutoff: the One-Euro
    filter's (default: the measured ones)."""

    def __init__(self, landmarker: Landmarker, threshold: float | None = None,
                 redetect_interval: int = 30, smooth: bool = True, min_cutoff: float | None = None,
                 beta: float | None = None, d_cutoff: float | None = None, match_iou: float = 0.3,
                 max_faces: int | None = None) -> None:
        self.pipeline = landmarker.pipeline
        self.detector = landmarker.detector
        self.max_faces = None if max_faces is None else positive_int(max_faces, "max_faces")
        self.threshold = float(self.pipeline.confidence_threshold if threshold is None else threshold)
        self.redetect_interval = redetect_interval
        self.smooth = smooth
        given = {"min_cutoff": min_cutoff, "beta": beta, "d_cutoff": d_cutoff}
        measured = smoothing_defaults() if smooth else {}
        self.filter_args = {k: float(v) if v is not None else measured[k] for k, v in given.items()} if smooth else {}
        self.match_iou = match_iou
        self.tracks: list[_Track] = []
        self.detector_runs = 0          # how often the detector ran (for tests and figures)
        self._since_detect = 0
        self._next_id = 0               # track ids are never reused within a stream
        self._last_t: float | None = None

    def reset(self) -> None:
        """Forget the tracks (a new stream, or a frame that failed)."""
        self.tracks = []
        self._since_detect = 0
        self._last_t = None

    def update(self, frame: np.ndarray, t: float) -> list[Face]:
        """The faces tracked in this frame (t: its time in seconds, never decreasing)."""
        if self._last_t is not None and t < self._last_t:
            raise ConfigError(f"video timestamps must not decrease: {t} after {self._last_t} (reset the tracker "
                              "to start a new stream)")
        self._last_t = t
        lost = self._follow(frame)
        self._since_detect += 1
        full = self.max_faces is not None and len(self.tracks) >= self.max_faces
        due = self.redetect_interval > 0 and self._since_detect >= self.redetect_interval and not full
        if lost or not self.tracks or due:
            self._detect(frame)
        shown = [self._smoothed(tr, t) for tr in self.tracks]
        return self.pipeline.faces(frame.shape, [tr.fit for tr in self.tracks], shown,
                                   [tr.track_id for tr in self.tracks])

    def _follow(self, frame: np.ndarray) -> bool:
        """Fit each track in the region of its previous landmarks (one batch); drop the ones whose
        confidence fell below the threshold. True if any was lost."""
        if not self.tracks:
            return False
        boxes, rolls = self.pipeline.regions(np.stack([tr.fit.landmarks for tr in self.tracks]))
        side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        # a face that collapsed or outgrew the frame is lost whatever its score says
        sane = (side >= MIN_FACE) & (side <= max(frame.shape[:2]))
        tracks = [tr for tr, ok in zip(self.tracks, sane) if ok]
        fits = self.pipeline.fit(frame, boxes[sane], rolls[sane], np.array([tr.fit.score for tr in tracks]),
                                 realign=False)      # the previous landmarks' roll turned the crop already
        kept = []
        for tr, fit in zip(tracks, fits):
            if fit.confidence >= self.threshold and np.all(np.isfinite(fit.landmarks)):
                tr.fit = fit
                kept.append(tr)
        lost = len(kept) < len(self.tracks)
        self.tracks = kept
        return lost

    def _detect(self, frame: np.ndarray) -> None:
        """Run the detector; faces not already tracked start new tracks."""
        self.detector_runs += 1
        self._since_detect = 0
        boxes, det_scores, keypoints = run_detector(self.detector, frame)
        if len(boxes) == 0:
            return
        boxes, rolls, _ = map_back(boxes, keypoints, UPRIGHT, 0)    # rolls from the eye keypoints
        tracked = np.array([landmark_box(tr.fit.landmarks) for tr in self.tracks]).reshape(-1, 4)
        overlap = box_iou(boxes, tracked).max(axis=1, initial=0.0)
        fresh = [i for i in np.argsort(-det_scores, kind="stable") if overlap[i] < self.match_iou]
        if self.max_faces is not None:
            fresh = fresh[:max(0, self.max_faces - len(self.tracks))]
        if not fresh:
            return
        for fit in self.pipeline.fit(frame, boxes[fresh], self.pipeline.crop_rolls(rolls[fresh]), det_scores[fresh]):
            if fit.confidence >= self.threshold:
                self.tracks.append(_Track(fit, self._next_id))
                self._next_id += 1

    def _smoothed(self, tr: _Track, t: float) -> np.ndarray:
        """The landmarks to report for a track: its fit's, through its One-Euro filter."""
        if not self.smooth:
            return tr.fit.landmarks
        if tr.filter is None:
            tr.filter = OneEuroFilter(**self.filter_args)
        box = landmark_box(tr.fit.landmarks)
        size = float(max(box[2] - box[0], box[3] - box[1], 1.0))
        return tr.filter(tr.fit.landmarks, t, scale=size)
