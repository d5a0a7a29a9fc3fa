"""Head pose from 68 landmarks: a generic 3D face, a PnP solve, Euler angles.

Frames. Camera: x right, y down, z forward (OpenCV). Head model (`face_model_ibug68.json`,
derived from the fitted 3D landmarks of AFLW2000-3D by `tools/derive_head_model.py`): the
same axes for a face looking straight into the camera, origin between the eyes, millimetres
(the outer eye corners 90 mm apart: a typical adult; only the translation depends on it). The
pose maps model points into the camera: X_cam = R X_model + t.

Angles (degrees, AFLW2000-3D's convention): R = Rx(-pitch) Ry(yaw) Rz(roll) with
  yaw > 0   the face turns towards the image's left,
  pitch > 0 the face looks up,
  roll > 0  the eye line from point 36 to point 45 slopes downwards in the image.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from ..errors import ConfigError
from ..schemes import IBUG68, WFLW98_TO_IBUG68, LandmarkScheme

MODEL_FILE = Path(__file__).with_name("face_model_ibug68.json")
# The points the solver fits: the inner face (brows, nose, eyes, mouth), not the jaw line. In
# 300-W's and WFLW's convention (and so in the shipped models' output) the jaw points of a turned
# face sit on the cheek's visible outline, which slides over the 3D surface as the head turns: a
# solve that includes them reads a face rendered at 60 degrees as 27 (the inner face: 47;
# tools/measure_pose.py). On AFLW2000-3D, whose annotations put the jaw at fixed 3D points, the
# inner face costs 0.25 degrees of yaw error and gains 1 degree of pitch
# (tools/measure_head_pose.py reports both).
SOLVE_POINTS = tuple(range(17, 68))


@dataclass(frozen=True)
class HeadPose:
    """A head's orientation (degrees, see the module doc) and position (model units: mm)."""

    yaw: float
    pitch: float
    roll: float
    rotation: np.ndarray          # (3,3): X_cam = rotation @ X_model + translation
    translation: np.ndarray       # (3,)

    def to_dict(self) -> dict:
        return {"yaw": round(self.yaw, 2), "pitch": round(self.pitch, 2), "roll": round(self.roll, 2),
                "rotation": np.round(self.rotation, 5).tolist(),
                "translation": np.round(self.translation, 2).tolist()}


# ----------------------------------------------------------------------------- angles
def _rx(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def rotation_from_angles(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """The rotation of a head turned by these angles (degrees)."""
    y, p, r = np.radians([yaw, pitch, roll])
    return _rx(-p) @ _ry(y) @ _rz(r)


def angles_from_rotation(rot: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a rotation matrix (inverse of rotation_from_angles)."""
    rot = np.asarray(rot, dtype=np.float64)
    yaw = np.arcsin(np.clip(rot[0, 2], -1.0, 1.0))
    pitch = -np.arctan2(-rot[1, 2], rot[2, 2])
    roll = np.arctan2(-rot[0, 1], rot[0, 0])
    return tuple(float(v) for v in np.degrees([yaw, pitch, roll]))


# ----------------------------------------------------------------------------- the 3D model
@lru_cache(maxsize=1)
def face_model() -> np.ndarray:
    """The generic head (68,3) in model coordinates (mm)."""
    doc = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    pts = np.asarray(doc["points"], dtype=np.float64)
    if pts.shape != (68, 3):
        raise ConfigError(f"{MODEL_FILE}: 'points' must be 68x3, got {pts.shape}")
    return pts


def ibug68_indices(scheme: LandmarkScheme) -> list[int] | None:
    """Which of a scheme's points are the 68 iBUG ones (None: all of them, in order), or
    ConfigError for a scheme that has no eyes and mouth to read."""
    if scheme.num_landmarks == 68 and scheme.name == IBUG68.name:
        return None
    if scheme.num_landmarks == 98:
        return list(WFLW98_TO_IBUG68)
    raise ConfigError(f"head pose, eyes and mouth need 68-point (iBUG) or 98-point (WFLW) landmarks, "
                      f"got scheme {scheme.name!r} with {scheme.num_landmarks} points")


def to_ibug68(landmarks: np.ndarray, scheme: LandmarkScheme) -> np.ndarray:
    """The 68 iBUG points of a face in `scheme` (68: as is; WFLW-98: the standard subset)."""
    pts = np.asarray(landmarks, dtype=np.float64)
    idx = ibug68_indices(scheme)
    return pts if idx is None else pts[..., idx, :]


def camera_matrix(width: int, height: int, focal: float | None = None) -> np.ndarray:
    """Intrinsics of an image: focal length `focal` pixels (default: the image's longer side, a
    field of view of about 53 degrees, typical of webcams and cabin cameras), principal point
    at the centre (pixel centres at integers)."""
    f = float(max(width, height) if focal is None else focal)
    return np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1]], dtype=np.float64)


def solve_head_pose(points68: np.ndarray, camera: np.ndarray, model: np.ndarray | None = None,
                    use: tuple[int, ...] = SOLVE_POINTS) -> HeadPose:
    """The pose that projects the generic head onto 68 image points (iBUG order), by
    perspective-n-point: SQPnP (a global solver: no initial guess, no flipped solutions)
    refined by Levenberg-Marquardt."""
    model = face_model() if model is None else model
    obj = np.ascontiguousarray(model[list(use)], dtype=np.float64)
    img = np.ascontiguousarray(np.asarray(points68, dtype=np.float64)[list(use)])
    try:
        ok, rvec, tvec = cv2.solvePnP(obj, img, camera, None, flags=cv2.SOLVEPNP_SQPNP)
    except cv2.error:           # SQPnP refuses points that span almost no angle (a tiny, far face)
        ok, rvec, tvec = cv2.solvePnP(obj, img, camera, None, flags=cv2.SOLVEPNP_EPNP)
    if not ok:
        raise ValueError("head pose: the PnP solve failed")
    rvec, tvec = cv2.solvePnPRefineLM(obj, img, camera, None, rvec, tvec)
    rot, _ = cv2.Rodrigues(rvec)
    yaw, pitch, roll = angles_from_rotation(rot)
    return HeadPose(yaw, pitch, roll, rot, tvec.reshape(3))


def project(model: np.ndarray, pose: HeadPose, camera: np.ndarray) -> np.ndarray:
    """Model points (N,3) in image pixels (N,2) under `pose`."""
    cam = model @ pose.rotation.T + pose.translation
    uv = cam @ camera.T
    return uv[:, :2] / uv[:, 2:3]


# ----------------------------------------------------------------------------- rigid alignment
def similarity_align(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(s, R, t) minimising |s R src + t - dst|^2 over point sets (N,3) (Umeyama), R proper."""
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - mu_s, dst - mu_d
    u, sig, vt = np.linalg.svd(b.T @ a)
    d = np.sign(np.linalg.det(u @ vt))
    fix = np.diag([1.0, 1.0, d])
    rot = u @ fix @ vt
    scale = float(np.sum(sig * np.diag(fix)) / np.sum(a * a))
    return scale, rot, mu_d - scale * rot @ mu_s
