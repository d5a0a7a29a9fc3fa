"""Video and webcam input: frames with their times, from a file or a camera.

Tracking (the detector only when needed, smoothing) is tracking.py's.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..errors import VideoReadError

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")


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
