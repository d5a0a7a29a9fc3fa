"""A face's roll, and the geometry of crops and copies turned by it (MediaPipe's way with faces
at any roll: the crop is turned so the face is upright).

A face's roll is the slope of its eye line (degrees, image y down: positive when the line from
the subject's right eye -- at the image's left -- to the left eye runs downwards). It comes from
the detector's eye keypoints, from the previous frame's landmarks when tracking, or from a first
upright pass of the landmark model. Detectors look for upright faces, so a photo turned by 90 or
180 degrees is searched in turned copies (`turned`; the policy is in orientation.py), and what
they find is mapped back (`map_back`).
"""
from __future__ import annotations

import cv2
import numpy as np

from ..schemes import LandmarkScheme

# Rolls below this are left upright: the models were trained with rotations of +-30 degrees,
# and upright crops of upright faces give exactly the landmarks they always gave.
ALIGN_MIN_DEG = 15.0
# the map back from an image that was not turned
UPRIGHT = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
# image turned by k x 90 degrees counter-clockwise for the detector to see an upright face
_ROTATE = {0: None, 90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_CLOCKWISE}


def wrap_degrees(degrees: np.ndarray) -> np.ndarray:
    """Angles in (-180, 180]."""
    return -((180.0 - np.asarray(degrees, np.float64)) % 360.0 - 180.0)


def snap_upright(rolls: np.ndarray) -> np.ndarray:
    """Rolls in (-180, 180], those under ALIGN_MIN_DEG set to 0 (their crops stay upright)."""
    r = wrap_degrees(rolls)
    return np.where(np.abs(r) < ALIGN_MIN_DEG, 0.0, r)


def roll_from_eyes(right_eye: np.ndarray, left_eye: np.ndarray) -> np.ndarray:
    """(N,2), (N,2) -> (N,) roll in degrees."""
    d = np.asarray(left_eye, np.float64) - np.asarray(right_eye, np.float64)
    return np.degrees(np.arctan2(d[..., 1], d[..., 0]))


def landmark_roll(landmarks: np.ndarray, scheme: LandmarkScheme) -> np.ndarray:
    """Roll of each face (N,K,2) from its eye landmarks (the scheme's outer eye corners)."""
    if scheme.eye_corners is None:
        return np.zeros(len(landmarks))
    a, b = scheme.eye_corners
    pts = np.asarray(landmarks, np.float64)
    return roll_from_eyes(pts[:, a], pts[:, b])


def face_frame_boxes(landmarks: np.ndarray, rolls: np.ndarray) -> np.ndarray:
    """The tight box of each face's landmarks in its own upright frame (turned by -roll about
    the landmarks' centre), with the centre given back in image pixels: (N,4)."""
    pts = np.asarray(landmarks, np.float64)
    t = np.radians(np.asarray(rolls, np.float64))[:, None]
    centre = pts.mean(axis=1, keepdims=True)
    d = pts - centre
    # coordinates along the face's own x (eye line) and y axes
    u = d[..., 0] * np.cos(t) + d[..., 1] * np.sin(t)
    v = -d[..., 0] * np.sin(t) + d[..., 1] * np.cos(t)
    lo_u, hi_u, lo_v, hi_v = u.min(1), u.max(1), v.min(1), v.max(1)
    mu, mv = (lo_u + hi_u) / 2, (lo_v + hi_v) / 2
    t = t[:, 0]
    cx = centre[:, 0, 0] + mu * np.cos(t) - mv * np.sin(t)
    cy = centre[:, 0, 1] + mu * np.sin(t) + mv * np.cos(t)
    w, h = hi_u - lo_u, hi_v - lo_v
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def turned(image: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The image turned counter-clockwise by k degrees (0, 90, 180, 270), and the 2x3 map from
    the turned copy's pixels back to the image's."""
    if k == 0:
        return image, UPRIGHT
    h, w = image.shape[:2]
    back = {90: [[0, -1.0, w - 1], [1.0, 0, 0]],          # copy (u,v) -> image (w-1-v, u)
            180: [[-1.0, 0, w - 1], [0, -1.0, h - 1]],
            270: [[0, 1.0, 0], [-1.0, 0, h - 1]]}[k]      # copy (u,v) -> image (v, h-1-u)
    return cv2.rotate(image, _ROTATE[k]), np.array(back)


def map_back(boxes: np.ndarray, keypoints: np.ndarray | None, back: np.ndarray, k: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Boxes and keypoints a detector found in a copy turned by k: face-frame boxes (centre in
    image pixels), their roll (from the eyes when there are keypoints, else the turn itself),
    and the keypoints in image pixels."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    centre = np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], axis=1) @ back[:, :2].T + back[:, 2]
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    out = np.stack([centre[:, 0] - w / 2, centre[:, 1] - h / 2, centre[:, 0] + w / 2, centre[:, 1] + h / 2], axis=1)
    # an upright face of the copy: its eye line is the copy's x axis, mapped back
    rolls = np.full(len(b), float(np.degrees(np.arctan2(back[1, 0], back[0, 0]))))
    kps = None
    if keypoints is not None:
        kps = np.asarray(keypoints, np.float64) @ back[:, :2].T + back[:, 2]
        rolls = roll_from_eyes(kps[:, 0], kps[:, 1])
    return out, rolls, kps
