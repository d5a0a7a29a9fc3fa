"""The annotated video of a run: written to a hidden file and renamed into place when closed, so
however the run ends the frames written so far are a playable video."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np


class VideoWriter:
    """Writes to a hidden temporary file beside the target; closed and renamed into place
    however the run ends, so the frames written so far are a playable video."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
        fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix.lower() == ".avi" else "mp4v"))
        self.writer = cv2.VideoWriter(str(self.tmp), fourcc, fps, size)
        if not self.writer.isOpened():
            raise OSError(f"{path}: cannot open a video writer for this format")
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        self.writer.write(frame)
        self.frames += 1

    def close(self) -> None:
        self.writer.release()
        if not self.frames:
            self.tmp.unlink(missing_ok=True)
            return
        if plays(self.tmp):
            os.replace(self.tmp, self.path)
            return
        # OpenCV does not report failed writes: a full disk shows as a file that does not open
        # (an .mp4 without its index). Keep it, under a name that says what it is.
        partial = self.path.with_name(f"{self.path.stem}.partial{self.path.suffix}")
        os.replace(self.tmp, partial)
        raise OSError(f"{self.path}: the video could not be finished (disk full?); the {self.frames} frames "
                      f"written are in {partial}, which may not play")


def plays(path: Path) -> bool:
    """Whether a written video opens and gives its first frame."""
    cap = cv2.VideoCapture(str(path))
    try:
        return bool(cap.isOpened() and cap.read()[0])
    finally:
        cap.release()
