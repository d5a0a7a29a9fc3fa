"""Driver monitoring on the landmarks: head pose, eye state, mouth, and the driver's states
over time (`DriverMonitor`). ONNX Runtime, NumPy and OpenCV only, like inference/."""
from __future__ import annotations

from .config import MonitorConfig
from .driver import DriverMonitor, DriverState, Event

__all__ = ["DriverMonitor", "DriverState", "Event", "MonitorConfig"]
