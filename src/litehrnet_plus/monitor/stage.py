"""The driver monitor as a stage of the video runner (batch/predict.py's `FrameStage`): the
runner tracks the faces, the monitor reads each frame's driver, its state goes into the
frame's entry and the overlay, its events into the results."""
from __future__ import annotations

import dataclasses

import numpy as np

from ..inference.face import Face
from .driver import DriverMonitor, DriverState


class MonitorStage:
    """`monitor` plugged into `run_video(..., stage=MonitorStage(monitor))`."""

    label = "monitor"
    summary_name = "events"

    def __init__(self, monitor: DriverMonitor) -> None:
        self.monitor = monitor
        self._state: DriverState | None = None

    def settings(self) -> dict:
        return {"monitor": dataclasses.asdict(self.monitor.config)}

    def read(self, frame: np.ndarray, t: float, faces: list[Face]) -> tuple[list[Face], dict]:
        self._state = state = self.monitor.read(frame, t, faces)
        return ([state.face] if state.face is not None else []), {"driver": state.to_dict()}

    def draw(self, frame: np.ndarray, faces: list[Face]) -> np.ndarray:
        return self.monitor.draw(frame, self._state)

    def finish(self) -> dict:
        return {"events": [e.to_dict() for e in self.monitor.finish()]}
