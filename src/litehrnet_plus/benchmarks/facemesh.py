"""MediaPipe Face Mesh as a reference, run in its own environment (`facemesh_worker.py`) and
driven over a pipe; its 468 points read as the 68 of 300-W through a measured vertex table.

The Python of an environment with the `mediapipe` extra is given by --mediapipe-python or the
LITEHRNET_MEDIAPIPE_PYTHON variable; without one, MediaPipe is skipped with a line saying so.
"""
from __future__ import annotations

import json
import os
import struct
import subprocess
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import ConfigError

WORKER = Path(__file__).with_name("facemesh_worker.py")
#: for each of the 68 points of 300-W, the Face Mesh vertex that lands nearest it on 300-W's
#: training faces (tools/fit_mediapipe_68.py writes it, with the error of each point)
TABLE_FILE = Path(__file__).with_name("facemesh_68.json")
ENV_VARIABLE = "LITEHRNET_MEDIAPIPE_PYTHON"


@lru_cache(maxsize=1)
def vertex_table() -> np.ndarray:
    """The 68 Face Mesh vertices that stand for 300-W's points."""
    if not TABLE_FILE.is_file():
        raise ConfigError(f"{TABLE_FILE}: no MediaPipe -> 68-point table (tools/fit_mediapipe_68.py writes it)")
    table = np.asarray(json.loads(TABLE_FILE.read_text())["vertices"], dtype=np.int64)
    if table.shape != (68,) or table.min() < 0 or table.max() >= 468:
        raise ConfigError(f"{TABLE_FILE}: 'vertices' must be 68 indices into the 468 Face Mesh points")
    return table


def to_68(points468: np.ndarray) -> np.ndarray:
    """(..., 468, 2) Face Mesh points -> (..., 68, 2) in 300-W's scheme."""
    return np.asarray(points468)[..., vertex_table(), :]


def mediapipe_python(given: str | None = None) -> tuple[str | None, str]:
    """The Python to run the worker with, and a line saying which (or why there is none)."""
    python = given or os.environ.get(ENV_VARIABLE)
    if not python:
        return None, (f"MediaPipe skipped: give the Python of an environment with the 'mediapipe' extra "
                      f"(--mediapipe-python PATH or {ENV_VARIABLE}); it needs numpy<2, so its own environment")
    probe = subprocess.run([python, "-c", "import mediapipe; print(mediapipe.__version__)"],
                           capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        return None, f"MediaPipe skipped: {python} cannot import mediapipe ({probe.stderr.strip().splitlines()[-1:]})"
    return python, f"MediaPipe {probe.stdout.strip()} (Face Mesh, tracking mode) in {python}"


class MediaPipeWorker:
    """The worker process: frames sent once, then timed tracking passes over them."""

    def __init__(self, python: str) -> None:
        # MediaPipe logs its graph set-up to stderr at length: the protocol reports errors itself
        self.proc = subprocess.Popen([python, str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)

    def _send(self, message: dict, payload: bytes = b"") -> None:
        body = json.dumps(message).encode()
        self.proc.stdin.write(struct.pack("<I", len(body)) + body + payload)
        self.proc.stdin.flush()

    def _reply(self) -> dict:
        head = self.proc.stdout.read(4)
        if len(head) < 4:
            raise RuntimeError(f"the MediaPipe worker ended (exit {self.proc.poll()})")
        reply = json.loads(self.proc.stdout.read(struct.unpack("<I", head)[0]))
        if not reply.get("ok"):
            raise RuntimeError(f"MediaPipe worker: {reply.get('error')}")
        return reply

    def load(self, frames: list[np.ndarray]) -> None:
        h, w = frames[0].shape[:2]
        self._send({"cmd": "frames", "n": len(frames), "height": h, "width": w},
                   b"".join(np.ascontiguousarray(f).tobytes() for f in frames))
        self._reply()

    def track(self, keep: bool = False) -> dict:
        """One pass of Face Mesh in tracking mode over the loaded frames: wall and CPU seconds,
        and with `keep` the (frames, 468, 2) points (NaN where no face)."""
        self._send({"cmd": "track", "keep": keep})
        reply = self._reply()
        if keep:
            reply["points"] = np.asarray(reply["points"], dtype=np.float64)
        return reply

    def images(self, images: list[np.ndarray]) -> np.ndarray:
        """Static images (each on its own): (n, 468, 2) points, NaN where no face."""
        self._send({"cmd": "images", "n": len(images)})
        for im in images:
            self._send({"height": im.shape[0], "width": im.shape[1]}, np.ascontiguousarray(im).tobytes())
        return np.asarray(self._reply()["points"], dtype=np.float64)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self._send({"cmd": "quit"})
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
