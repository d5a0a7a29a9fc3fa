"""What inference returns (`Face`) and the JSON that `predict` writes.

JSON document (schema_version 1), one per run:

    {"schema_version": 1, "model": tag, "detector": name, "num_landmarks": K, "scheme": name,
     "coordinates": "0-based pixels, pixel centres at integers",
     "images": [{"file": rel. path, "width": W, "height": H, "faces": [FACE, ...]}, ...],   # images
     "video": path, "fps": f, "frames": [{"frame": i, "width": W, "height": H,
                                          "faces": [FACE, ...]}, ...],                        # video
     "failures": [{"file": path, "error": message}, ...]}

    FACE = {"box": [x1, y1, x2, y2], "score": s, "landmarks": [[x, y], ...] (K),
            "landmark_scores": [p, ...] (K)}
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SCHEMA_VERSION = 1
COORDINATES = "0-based pixels, pixel centres at integers"


@dataclass
class Face:
    """One face: its box (benchmark convention: tight box of the landmarks, x1, y1, x2, y2),
    the detector's score, landmarks (K,2) float32 in image pixels and their peak scores (K,)."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray
    landmark_scores: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))

    @property
    def confidence(self) -> float:
        """Mean heatmap peak score: how face-like the crop looked to the landmark model."""
        return float(np.mean(self.landmark_scores)) if len(self.landmark_scores) else 0.0

    def to_dict(self) -> dict:
        return {"box": [round(float(v), 2) for v in self.box],
                "score": round(float(self.score), 4),
                "landmarks": np.round(np.asarray(self.landmarks, dtype=np.float64), 2).tolist(),
                "landmark_scores": np.round(np.asarray(self.landmark_scores, dtype=np.float64), 4).tolist()}


def image_entry(file: str, image_shape: tuple[int, ...], faces: list[Face]) -> dict:
    return {"file": file, "width": int(image_shape[1]), "height": int(image_shape[0]),
            "faces": [f.to_dict() for f in faces]}


def frame_entry(index: int, image_shape: tuple[int, ...], faces: list[Face]) -> dict:
    return {"frame": int(index), "width": int(image_shape[1]), "height": int(image_shape[0]),
            "faces": [f.to_dict() for f in faces]}


def document(model: str, detector: str, num_landmarks: int, scheme: str, **body) -> dict:
    """The top level of a results file; body holds images/failures or video/fps/frames/failures."""
    return {"schema_version": SCHEMA_VERSION, "model": model, "detector": detector,
            "num_landmarks": int(num_landmarks), "scheme": scheme, "coordinates": COORDINATES, **body}


def validate(doc: dict) -> None:
    """Raise ValueError naming the first problem if `doc` does not follow the schema."""
    def need(cond: bool, what: str) -> None:
        if not cond:
            raise ValueError(f"results JSON: {what}")

    need(isinstance(doc, dict) and doc.get("schema_version") == SCHEMA_VERSION,
         f"schema_version must be {SCHEMA_VERSION}")
    for key in ("model", "detector", "scheme"):
        need(isinstance(doc.get(key), str), f"{key!r} must be a string")
    k = doc.get("num_landmarks")
    need(isinstance(k, int) and k > 0, "'num_landmarks' must be a positive integer")
    need(("images" in doc) != ("frames" in doc), "exactly one of 'images' or 'frames' is required")
    need(isinstance(doc.get("failures", []), list), "'failures' must be a list")
    entries = doc.get("images", doc.get("frames"))
    need(isinstance(entries, list), "'images'/'frames' must be a list")
    for i, e in enumerate(entries):
        where = f"entry {i}"
        need(isinstance(e, dict), f"{where} is not an object")
        need(isinstance(e.get("file" if "images" in doc else "frame"), str if "images" in doc else int),
             f"{where}: missing 'file'/'frame'")
        need(all(isinstance(e.get(d), int) and e[d] > 0 for d in ("width", "height")), f"{where}: bad width/height")
        need(isinstance(e.get("faces"), list), f"{where}: 'faces' must be a list")
        for j, f in enumerate(e["faces"]):
            need(isinstance(f.get("box"), list) and len(f["box"]) == 4, f"{where} face {j}: box must be 4 numbers")
            need(isinstance(f.get("score"), (int, float)), f"{where} face {j}: score must be a number")
            pts = np.asarray(f.get("landmarks"), dtype=np.float64)
            need(pts.shape == (k, 2) and bool(np.all(np.isfinite(pts))), f"{where} face {j}: landmarks must be {k}x2")
            need(len(f.get("landmark_scores", [])) == k, f"{where} face {j}: landmark_scores must have {k} values")
