"""The mouth from 68 landmarks: how far it is open."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def mouth_aspect_ratio(points68: np.ndarray) -> float:
    """Inner-lip opening over mouth width: the three inner-lip gaps (61-67, 62-66, 63-65)
    averaged, over the inner corner distance (60-64); 0 for closed lips, 0.6 and more for a
    mouth open wide (docs/driver_monitoring.md)."""
    p = np.asarray(points68, dtype=np.float64)
    width = np.linalg.norm(p[60] - p[64])
    gap = (np.linalg.norm(p[61] - p[67]) + np.linalg.norm(p[62] - p[66]) + np.linalg.norm(p[63] - p[65])) / 3
    return float(gap / width) if width > 0 else 0.0


@dataclass(frozen=True)
class MouthState:
    """The mouth's aspect ratio and whether it is open as wide as a yawn."""

    aspect_ratio: float
    yawning: bool

    def to_dict(self) -> dict:
        return {"aspect_ratio": round(self.aspect_ratio, 4), "yawning": bool(self.yawning)}
