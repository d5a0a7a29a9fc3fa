"""Synthetic test clips (640x480) from one still image, with the exact image -> frame affine of
every frame, so landmark ground truth follows along (tools/make_test_video.py writes them):

  pan   a slow pan and zoom over the image (tracking, frames/s, smoothing lag)
  still the image standing still with a little pixel noise each frame (jitter)
  cut   the pan over one image, then an abrupt cut to another image (re-detection)
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

SIZE = (640, 480)


def pan_matrix(shape: tuple[int, ...], i: int, n: int, size: tuple[int, int] = SIZE, zoom_gain: float = 0.3,
               pan: float = 0.15) -> np.ndarray:
    """Image -> frame affine at frame i of n: the image fitted into the frame, zoomed from 0.9x
    to (0.9 + zoom_gain)x and panned sideways by `pan` of the frame width over the clip (slow:
    by default a face moves about 0.3 px per frame at 300 frames)."""
    h, w = shape[:2]
    fit = min(size[0] / w, size[1] / h)
    s = i / max(n - 1, 1)
    zoom = fit * (0.9 + zoom_gain * s)
    dx = (s - 0.5) * pan * size[0]
    cx, cy = (w - 1) / 2, (h - 1) / 2
    fx, fy = (size[0] - 1) / 2 + dx, (size[1] - 1) / 2
    return np.array([[zoom, 0, fx - zoom * cx], [0, zoom, fy - zoom * cy]], dtype=np.float64)


def _fit(shape: tuple[int, ...], size: tuple[int, int]) -> np.ndarray:
    h, w = shape[:2]
    z = min(size[0] / w, size[1] / h)
    return np.array([[z, 0, (size[0] - 1) / 2 - z * (w - 1) / 2], [0, z, (size[1] - 1) / 2 - z * (h - 1) / 2]])


def render(image: np.ndarray, m: np.ndarray, size: tuple[int, int] = SIZE) -> np.ndarray:
    return cv2.warpAffine(image, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def pan_frames(image: np.ndarray, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(render(image, m), m) for m in (pan_matrix(image.shape, i, n) for i in range(n))]


def still_frames(image: np.ndarray, n: int, noise: float = 2.0, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """The same frame n times plus Gaussian pixel noise of std `noise` (grey levels), as a
    camera sensor adds: the landmark changes between frames are then pure jitter."""
    rng = np.random.default_rng(seed)
    m = _fit(image.shape, SIZE)
    base = render(image, m).astype(np.float32)
    return [(np.clip(base + rng.normal(0, noise, base.shape), 0, 255).astype(np.uint8), m) for _ in range(n)]


def cut_frames(first: np.ndarray, second: np.ndarray, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """n frames of `first` standing still, then n of `second`, fitted so the faces do not overlap."""
    out = [(render(first, m), m) for m in [_shifted(first.shape, -0.25)] * n]
    return out + [(render(second, m), m) for m in [_shifted(second.shape, 0.25)] * n]


def _shifted(shape: tuple[int, ...], fraction: float) -> np.ndarray:
    """Fit the image into half the frame width, its centre moved by fraction x frame width."""
    h, w = shape[:2]
    z = min(SIZE[0] / 2 / w, SIZE[1] / h)
    cx = (SIZE[0] - 1) / 2 + fraction * SIZE[0]
    return np.array([[z, 0, cx - z * (w - 1) / 2], [0, z, (SIZE[1] - 1) / 2 - z * (h - 1) / 2]])


def write_video(frames: list[np.ndarray], path: Path, fps: float = 30.0) -> None:
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix.lower() == ".avi" else "mp4v"))
    writer = cv2.VideoWriter(str(path), fourcc, fps, (frames[0].shape[1], frames[0].shape[0]))
    if not writer.isOpened():
        raise OSError(f"{path}: cannot open a video writer")
    for f in frames:
        writer.write(f)
    writer.release()
