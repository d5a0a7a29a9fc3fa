"""`Face`: what the landmarker returns for one face, in photos and in video alike.

Every `Face` is built in one place (`fitting.FacePipeline.faces`), by one set of rules: the box
is the tight box of the landmarks (the benchmark convention the models were trained on), the
roll is the slope of their eye line, the quality is that of the network's own fit (before any
smoothing). Stages built on top (the driver monitor) extend it by subclassing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .headpose import HeadPose


@dataclass
class Face:
    """One face: its box (x1, y1, x2, y2: the tight box of the landmarks), the detector's score
    (in video: the score of the detection that started its track), landmarks (K,2) float32 in
    image pixels and their heatmap peak scores (K,)."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray
    landmark_scores: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    track_id: int | None = None      # video: the same number for the same face across frames
    roll: float = 0.0                # degrees the face's eye line slopes (image y down)
    quality: float | None = None     # probability that this fit's NME is below 0.10 (calibrated)
    head_pose: HeadPose | None = None   # FaceLandmarker(head_pose=True): yaw, pitch, roll, position

    @property
    def confidence(self) -> float:
        """Mean heatmap peak score: how face-like the crop looked to the landmark model."""
        return float(np.mean(self.landmark_scores)) if len(self.landmark_scores) else 0.0

    def to_dict(self) -> dict:
        out = {"box": [round(float(v), 2) for v in self.box],
               "score": round(float(self.score), 4),
               "landmarks": np.round(np.asarray(self.landmarks, dtype=np.float64), 2).tolist(),
               "landmark_scores": np.round(np.asarray(self.landmark_scores, dtype=np.float64), 4).tolist()}
        if self.track_id is not None:
            out["track_id"] = int(self.track_id)
        out["roll"] = round(float(self.roll), 2)
        if self.quality is not None:
            out["quality"] = round(float(self.quality), 4)
        if self.head_pose is not None:
            out["head_pose"] = self.head_pose.to_dict()
        return out
