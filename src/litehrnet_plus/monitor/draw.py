"""The driver monitor's overlay: landmarks, head-pose axes, eye and mouth state, alerts."""
from __future__ import annotations

import cv2
import numpy as np

from ..inference.draw import draw_faces
from ..schemes import LandmarkScheme
from .driver import DriverState
from ..inference.headpose import camera_matrix, face_model, project, to_ibug68

AXES = ((0, 0, 255), (0, 200, 0), (255, 80, 0))     # x red, y green, z blue (BGR)
ALERT = (0, 0, 255)
TEXT = (255, 255, 255)
AXIS_MM = 60.0


def draw_driver(frame: np.ndarray, state: DriverState, scheme: LandmarkScheme, focal: float | None = None) -> np.ndarray:
    """A copy of `frame` with the driver's face, pose axes (from the nose tip: x red to the
    face's left-of-image side, y green down, z blue out of the face) and a panel of readings."""
    face = state.face
    out = draw_faces(frame, [face], scheme) if face is not None else frame.copy()
    h, w = frame.shape[:2]
    scale = max(0.5, min(w, h) / 800)
    thick = max(1, int(round(scale * 2)))
    lines: list[tuple[str, tuple[int, int, int]]] = []
    if face is not None and face.head_pose is not None:
        pose = face.head_pose
        cam = camera_matrix(w, h, focal)
        nose = to_ibug68(face.landmarks, scheme)[30]
        # the axes of the solved pose, drawn from the nose tip's landmark
        origin = face_model()[30]
        ends = project(origin + np.vstack([np.zeros(3), AXIS_MM * np.eye(3) * np.array([1, 1, -1])]), pose, cam)
        shift = nose - ends[0]
        for end, colour in zip(ends[1:], AXES):
            cv2.line(out, tuple(int(round(v)) for v in nose), tuple(int(round(v)) for v in end + shift), colour,
                     thick + 1, cv2.LINE_AA)
        lines.append((f"yaw {pose.yaw:+.0f}  pitch {pose.pitch:+.0f}  roll {pose.roll:+.0f}", TEXT))
    if face is not None and face.eyes:
        parts = []
        for side in ("left", "right"):
            e = face.eyes.get(side)
            if e is not None:
                p = "" if e.closed_probability is None else f" p{e.closed_probability:.2f}"
                parts.append(f"{side[0].upper()} {e.openness:.2f}{p}")
        lines.append(("eyes " + ("CLOSED  " if state.eyes_closed else "open  ") + "  ".join(parts),
                      ALERT if state.eyes_closed else TEXT))
    if face is not None and face.mouth is not None:
        lines.append((f"mouth {face.mouth.aspect_ratio:.2f}" + ("  yawning" if face.mouth.yawning else ""), TEXT))
    if state.perclos is not None:
        lines.append((f"PERCLOS {100 * state.perclos:.0f}%  blinks {state.blink_rate:.0f}/min", TEXT))
    if face is None:
        lines.append(("no face", ALERT))
    for a in state.alerts:
        lines.append((a.upper().replace("_", " "), ALERT))
    step = int(22 * scale * 1.6)
    if lines:
        # a dark panel under the text keeps it readable on any background
        width = max(cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)[0][0] for t, _ in lines) + 20
        y1 = min(h, step * len(lines) + step // 2)
        region = out[:y1, :min(w, width)]
        region[:] = (region * 0.45).astype(np.uint8)
    y = step
    for text, colour in lines:
        cv2.putText(out, text, (10, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thick, cv2.LINE_AA)
        y += step
    return out
