"""The one path from face regions to `Face`s, shared by photos and video.

    regions (box + roll)  ->  fits (`fit`: crop, network, decode; re-aligned by the landmarks'
    own roll where asked; quality)  ->  faces (`faces`: box, roll, head pose; the one place a
    `Face` is built)

Photos come here with detector boxes (orientation.py chooses which turned copies to search);
video with the previous frame's landmarks (`regions`) or fresh detections (tracking.py). Both
get the same rules for the box, the roll, the quality and the head pose.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..data.transforms import crop_faces, landmark_box, uncrop_points
from ..schemes import LandmarkScheme
from .calibration import calibration
from .face import Face
from .headpose import HeadPose, camera_matrix, ibug68_indices, solve_head_pose, to_ibug68
from .roll import ALIGN_MIN_DEG, face_frame_boxes, landmark_roll, snap_upright, wrap_degrees

#: image (H,W,3), boxes (N,4), rolls (N,) or None -> landmarks (N,K,2) in image pixels, peak scores (N,K)
PredictFn = Callable[[np.ndarray, np.ndarray, "np.ndarray | None"], "tuple[np.ndarray, np.ndarray]"]
#: landmarks (N,K,2), peak scores (N,K) -> P(NME < 0.10) (N,)
QualityFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class Fit:
    """The network's fit of one face region, before anything is smoothed or reported."""

    landmarks: np.ndarray       # (K,2) image pixels
    scores: np.ndarray          # (K,) heatmap peak scores
    crop_roll: float            # degrees the crop was turned by (0: upright)
    score: float                # the detector's score (video: of the detection that began the track)
    quality: float | None       # P(NME < 0.10), None without a quality fit for the model

    @property
    def confidence(self) -> float:
        return float(np.mean(self.scores)) if len(self.scores) else 0.0


def model_predict(model) -> PredictFn:
    """The crop -> network -> image-pixels path of a runtime model (one batch for all boxes)."""
    def predict(image: np.ndarray, boxes: np.ndarray, rolls: np.ndarray | None = None):
        crops, mats = crop_faces(image, boxes, model.input_size, model.crop_scale, rolls)
        pts, scores = model.predict_crops(crops)
        return uncrop_points(pts, mats), scores
    return predict


class FacePipeline:
    """Regions -> fits -> faces for one landmark model (see the module doc).

    predict: the model's crop-and-fit function (`model_predict`); scheme: its landmarks;
    quality: its calibrated quality function or None; confidence_threshold: below this mean
    peak score a crop is not taken for a face (default: the package's measured one); align:
    turn crops upright by the face's roll; head_pose: fill `Face.head_pose` (68- or 98-point
    schemes); focal: the camera's focal length in pixels (default: the image's longer side)."""

    def __init__(self, predict: PredictFn, scheme: LandmarkScheme, quality: QualityFn | None = None,
                 confidence_threshold: float | None = None, align: bool = True, head_pose: bool = False,
                 focal: float | None = None) -> None:
        self.predict = predict
        self.scheme = scheme
        self.quality = quality
        self.confidence_threshold = float(confidence_threshold if confidence_threshold is not None
                                          else calibration()["tracking"]["threshold"])
        self.align = bool(align)
        self.head_pose = bool(head_pose)
        if self.head_pose:
            ibug68_indices(scheme)          # a scheme without the 68 iBUG points is refused now
        self.focal = focal

    # ------------------------------------------------------------------ regions -> fits
    def crop_rolls(self, rolls: np.ndarray) -> np.ndarray:
        """The rolls crops are turned by: the detector's (or the landmarks') roll, left upright
        under ALIGN_MIN_DEG, and upright throughout when the pipeline does not align."""
        return snap_upright(rolls) if self.align else np.zeros(len(rolls))

    def regions(self, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Crop regions (boxes (N,4), rolls (N,)) that fit faces whose landmarks (N,K,2) were
        these: their tight box, or for a face rolled by ALIGN_MIN_DEG or more its box in its own
        upright frame (MediaPipe: the previous landmarks align the next crop, so any roll is
        followed)."""
        landmarks = np.asarray(landmarks, np.float32)
        rolls = self.crop_rolls(landmark_roll(landmarks, self.scheme))
        boxes = np.stack([landmark_box(p) for p in landmarks]).astype(np.float64) if len(landmarks) \
            else np.zeros((0, 4))
        turned_ = rolls != 0
        if np.any(turned_):
            boxes[turned_] = face_frame_boxes(landmarks[turned_], rolls[turned_])
        return boxes, rolls

    def fit(self, image: np.ndarray, boxes: np.ndarray, rolls: np.ndarray, scores: np.ndarray,
            realign: bool | None = None) -> list[Fit]:
        """Fit each region (boxes (N,4), crop rolls (N,)) in one batch; `scores`: the detector's
        (N,). realign (default: the pipeline's align): where a confident fit's eye line shows
        the crop was turned wrongly, crop again by that roll (`_realign`)."""
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        rolls = np.asarray(rolls, np.float64).reshape(-1)
        if len(boxes) == 0:
            return []
        pts, lscores = self.predict(image, boxes, rolls)
        if self.align if realign is None else realign:
            rolls, pts, lscores = self._realign(image, rolls, pts, lscores)
        quality = self.quality(pts, lscores) if self.quality is not None else [None] * len(pts)
        return [Fit(p, s, float(r), float(d), None if q is None else float(q))
                for p, s, r, d, q in zip(pts, lscores, rolls, np.asarray(scores).reshape(-1), quality)]

    def _realign(self, image, rolls, pts, lscores):
        """The roll measured on the landmarks of a confident first pass: where it differs from the
        roll the crop was turned by (none, or the detector's keypoints) by ALIGN_MIN_DEG or more,
        crop again turned by it; kept where the model is surer and agrees it is turned so."""
        est = landmark_roll(pts, self.scheme)
        confident = lscores.mean(axis=1) >= self.confidence_threshold     # else the eye line means nothing
        # the detector's keypoints are rough on tilted faces (yuface: -7 degrees for a face at -30)
        off = np.abs(wrap_degrees(est - rolls)) >= ALIGN_MIN_DEG
        redo = np.flatnonzero(confident & off & (np.abs(wrap_degrees(est)) >= ALIGN_MIN_DEG))
        if len(redo) == 0:
            return rolls, pts, lscores
        p2, s2 = self.predict(image, face_frame_boxes(pts[redo], est[redo]), est[redo])
        agrees = np.abs(wrap_degrees(landmark_roll(p2, self.scheme) - est[redo])) < ALIGN_MIN_DEG
        better = (s2.mean(axis=1) > lscores[redo].mean(axis=1)) & agrees
        rolls, pts, lscores = rolls.copy(), pts.copy(), lscores.copy()
        idx = redo[better]
        rolls[idx], pts[idx], lscores[idx] = est[idx], p2[better], s2[better]
        return rolls, pts, lscores

    # ------------------------------------------------------------------ fits -> faces
    def faces(self, image_shape: tuple[int, ...], fits: list[Fit], landmarks: list[np.ndarray] | None = None,
              track_ids: list[int] | None = None) -> list[Face]:
        """The `Face` of each fit, in an image of this shape. landmarks: what to report instead
        of the fits' own (the tracker's smoothed ones); the box, roll and head pose follow the
        reported landmarks, the quality and peak scores are the network's fit's."""
        shown = [f.landmarks for f in fits] if landmarks is None else landmarks
        ids = [None] * len(fits) if track_ids is None else track_ids
        camera = camera_matrix(image_shape[1], image_shape[0], self.focal) if self.head_pose else None
        out = []
        for fit, pts, track_id in zip(fits, shown, ids):
            pts = np.asarray(pts, np.float32)
            out.append(Face(tuple(float(v) for v in landmark_box(pts)), fit.score, pts, fit.scores,
                            track_id=track_id, roll=float(landmark_roll(pts[None], self.scheme)[0]),
                            quality=fit.quality, head_pose=self._pose(pts, camera) if camera is not None else None))
        return out

    def _pose(self, landmarks: np.ndarray, camera: np.ndarray) -> HeadPose | None:
        """The head pose of one face (None where the solve fails: a degenerate fit)."""
        pts = to_ibug68(landmarks, self.scheme)
        if not np.all(np.isfinite(pts)):
            return None
        try:
            return solve_head_pose(pts, camera)
        except ValueError:
            return None
