"""Eyes from 68 landmarks: eye aspect ratios, the eye crops the eye-state
classifier reads, and the ONNX eye-state classifier itself (no PyTorch).

Sides are the image's: "left" is the eye on the image's left (points 36-41, the person's right
eye), "right" the eye on the image's right (42-47).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from ..errors import CheckpointError
from ..inference.runtime import session_options
from ..schemes import IBUG68

# each eye's six points in the 68-point scheme (its groups: eye_l on the image's left)
EYE_POINTS = {side: tuple(range(*IBUG68.groups[group])) for side, group in (("left", "eye_l"), ("right", "eye_r"))}

# The eye crop: a square centred on the eye's six points, turned upright along its corner line,
# EYE_CROP_SCALE x the corner distance wide (an eye then spans about 60% of the crop, as in the
# mrl-eyes crops the classifier learns from), resampled to EYE_INPUT x EYE_INPUT grey pixels.
EYE_INPUT = 32
EYE_CROP_SCALE = 1.6
EYE_MODEL_FILE = Path(__file__).with_name("eye_state_mrl.onnx")
EYE_METADATA_KEY = "litehrnet_plus_eye_state"


def eye_aspect_ratio(points68: np.ndarray) -> dict[str, float]:
    """Eye aspect ratio (Soukupova & Cech): the two lid distances over twice the corner
    distance; about 0.3 for an open eye, near 0 for a closed one."""
    out = {}
    p = np.asarray(points68, dtype=np.float64)
    for side, (p1, p2, p3, p4, p5, p6) in EYE_POINTS.items():
        width = np.linalg.norm(p[p1] - p[p4])
        out[side] = float((np.linalg.norm(p[p2] - p[p6]) + np.linalg.norm(p[p3] - p[p5])) / (2 * width)) \
            if width > 0 else 0.0
    return out


def eye_crop_matrices(points68: np.ndarray, size: int = EYE_INPUT, scale: float = EYE_CROP_SCALE) -> np.ndarray:
    """(2,2,3) affines image -> crop for the left and right eye (see EYE_CROP_SCALE)."""
    p = np.asarray(points68, dtype=np.float64)
    mats = []
    for idx in EYE_POINTS.values():
        pts = p[list(idx)]
        centre = pts.mean(axis=0)
        d = pts[3] - pts[0]
        width = max(float(np.hypot(*d)), 1e-3)
        angle = np.arctan2(d[1], d[0])
        s = size / (scale * width)
        c, sn = s * np.cos(angle), s * np.sin(angle)
        # rotate by -angle, scale, and put the eye centre at the crop centre
        m = np.array([[c, sn, 0.0], [-sn, c, 0.0]])
        m[:, 2] = (size - 1) / 2 - m[:, :2] @ centre
        mats.append(m)
    return np.stack(mats)


def eye_crops(gray: np.ndarray, points68: np.ndarray, size: int = EYE_INPUT,
              scale: float = EYE_CROP_SCALE) -> np.ndarray:
    """The two eye crops (2,size,size) uint8 of a grey image (left, right)."""
    return np.stack([cv2.warpAffine(gray, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                     for m in eye_crop_matrices(points68, size, scale)])


def to_gray(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def normalise_crops(crops: np.ndarray) -> np.ndarray:
    """uint8 crops (N,S,S) -> the classifier's input (N,1,S,S) float32: each crop to zero mean
    and unit contrast, so the camera's exposure and IR illumination do not matter."""
    x = crops.astype(np.float32)
    mean = x.mean(axis=(1, 2), keepdims=True)
    std = x.std(axis=(1, 2), keepdims=True)
    return ((x - mean) / np.maximum(std, 4.0))[:, None]


@dataclass(frozen=True)
class EyeState:
    """One eye: its aspect ratio, that ratio over the typical open eye's (1 = open as usual,
    0 = shut), and the classifier's probability that it is closed (None without a classifier)."""

    aspect_ratio: float
    openness: float
    closed_probability: float | None

    def to_dict(self) -> dict:
        out = {"aspect_ratio": round(self.aspect_ratio, 4), "openness": round(self.openness, 4)}
        if self.closed_probability is not None:
            out["closed_probability"] = round(self.closed_probability, 4)
        return out


class EyeStateModel:
    """The ONNX eye-state classifier: eye crops in, P(closed) out."""

    def __init__(self, path: str | Path = EYE_MODEL_FILE) -> None:
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"{path}: no eye-state model (tools/train_eye_state.py writes it)")
        try:
            self.session = ort.InferenceSession(str(path), session_options(1), providers=["CPUExecutionProvider"])
        except Exception as e:     # onnxruntime raises its own exception types
            raise CheckpointError(f"{path}: not a readable ONNX model ({e})") from None
        meta = self.session.get_modelmeta().custom_metadata_map.get(EYE_METADATA_KEY)
        self.info = json.loads(meta) if meta else {}
        self.input_size = int(self.info.get("input_size", EYE_INPUT))
        self.input_name = self.session.get_inputs()[0].name

    def closed_probability(self, crops: np.ndarray) -> np.ndarray:
        """P(closed) for uint8 crops (N,S,S)."""
        logits = self.session.run(None, {self.input_name: normalise_crops(crops)})[0].reshape(-1)
        return 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))


@lru_cache(maxsize=1)
def shipped_eye_model() -> EyeStateModel:
    return EyeStateModel(EYE_MODEL_FILE)
