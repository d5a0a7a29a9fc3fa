"""`DriverMonitor`: head pose, eyes and mouth per frame, and the driver's states over time.

    monitor = DriverMonitor(FaceLandmarker("litehrnet_plus_10m.300w"))
    for index, t, frame in video.frames():
        state = monitor.update(frame, t)      # DriverState: the face, PERCLOS, alerts, events
    events = monitor.finish()                 # every event of the stream

or on faces tracked elsewhere (`monitor.read(frame, t, faces)`); the `monitor` command plugs it
into the video runner as a stage (stage.py). The monitor builds on inference/, never the reverse.

Per frame (the tracked driver's face, the tracker following one face): head pose by PnP on a
generic head, each eye's aspect ratio and the eye-state classifier's P(closed), the mouth's
aspect ratio. Over time: blinks, long closures and microsleeps, PERCLOS over a sliding window,
blink rate, yawns, distraction (head outside a cone around straight ahead) and a lost face.
An alert is raised on the frame its condition is met (a microsleep once the eyes have been
closed `microsleep_s`); the thresholds are in `MonitorConfig`.
"""
from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..inference.calibration import calibration
from ..inference.face import Face
from ..inference.headpose import camera_matrix, ibug68_indices, solve_head_pose, to_ibug68
from ..inference.landmarker import FaceLandmarker
from ..inference.tracking import FaceTracker
from .config import MonitorConfig
from .eyes import EyeState, EyeStateModel, eye_aspect_ratio, eye_crops, shipped_eye_model, to_gray
from .mouth import MouthState, mouth_aspect_ratio

_EPS = 1e-6     # seconds: frame times are sums of 1/fps, and 1.3 + 1.0 must reach 2.3


@dataclass
class Event:
    """Something the driver did, from `start` to `end` (seconds; end None while it lasts).
    alert: when the alert was raised (microsleep, yawn, distraction, drowsy, face_lost)."""

    kind: str
    start: float
    end: float | None = None
    start_frame: int = 0
    end_frame: int | None = None
    peak: float | None = None        # the largest value of what triggered it (MAR, degrees, PERCLOS)
    alert: float | None = None

    @property
    def duration(self) -> float | None:
        return None if self.end is None else self.end - self.start

    def to_dict(self) -> dict:
        out = {"kind": self.kind, "start": round(self.start, 4),
               "end": None if self.end is None else round(self.end, 4),
               "duration": None if self.end is None else round(self.end - self.start, 4),
               "start_frame": self.start_frame, "end_frame": self.end_frame}
        if self.peak is not None:
            out["peak"] = round(float(self.peak), 4)
        if self.alert is not None:
            out["alert"] = round(self.alert, 4)
        return out


@dataclass
class DriverFace(Face):
    """A face as the monitor reads it: the landmarker's `Face` (with its head pose) and each eye
    ("left"/"right" in the image) and the mouth."""

    eyes: dict[str, EyeState] | None = None
    mouth: MouthState | None = None

    def to_dict(self) -> dict:
        out = super().to_dict()
        if self.eyes is not None:
            out["eyes"] = {side: e.to_dict() for side, e in self.eyes.items()}
        if self.mouth is not None:
            out["mouth"] = self.mouth.to_dict()
        return out


@dataclass
class DriverState:
    """The monitor's reading of one frame."""

    frame: int
    time: float
    face: DriverFace | None
    eyes_closed: bool | None              # None: no face
    perclos: float | None                 # None until the window holds perclos_min_s of face time
    blink_rate: float | None              # blinks per minute, same condition
    alerts: list[str] = field(default_factory=list)    # active now
    events: list[Event] = field(default_factory=list)  # ended on this frame

    def to_dict(self) -> dict:
        return {"eyes_closed": self.eyes_closed,
                "perclos": None if self.perclos is None else round(self.perclos, 4),
                "blink_rate": None if self.blink_rate is None else round(self.blink_rate, 2),
                "alerts": list(self.alerts), "events": [e.to_dict() for e in self.events]}


class _Run:
    """A condition's current stretch of frames: when it began and its peak value; `least`: how
    long it must last to be an event (None: the eye closures, classified by duration)."""

    def __init__(self, kind: str, least: float | None) -> None:
        self.kind = kind
        self.least = least
        self.event: Event | None = None

    def update(self, active: bool, t: float, frame: int, value: float | None = None) -> Event | None:
        """Feed one frame; returns the event that ended on it, if any."""
        if active:
            if self.event is None:
                self.event = Event(self.kind, t, start_frame=frame, peak=value)
            elif value is not None:
                self.event.peak = value if self.event.peak is None else max(self.event.peak, value)
            return None
        return self.close(t, frame)

    def close(self, t: float, frame: int) -> Event | None:
        ended, self.event = self.event, None
        if ended is not None:
            ended.end, ended.end_frame = t, frame
        return ended

    def lasted(self, t: float) -> float:
        return 0.0 if self.event is None else t - self.event.start


class DriverMonitor:
    """Driver states from a stream (see the module doc). landmarker: a FaceLandmarker (68- or
    98-point model; default: the package's default, with head pose); eye_model: the shipped
    classifier ("shipped"), a path to another, or None (the eye aspect ratio alone); focal: the
    camera's focal length in pixels (default: the frame's longer side). `update` tracks the one
    driver itself (a tracker of one face); `read` takes faces tracked elsewhere."""

    def __init__(self, landmarker: FaceLandmarker | None = None, config: MonitorConfig | None = None,
                 eye_model: str | Path | EyeStateModel | None = "shipped", focal: float | None = None,
                 tracker: FaceTracker | None = None) -> None:
        self.landmarker = landmarker if landmarker is not None else FaceLandmarker(head_pose=True, focal=focal)
        self.config = config or MonitorConfig()
        if eye_model == "shipped":
            eye_model = shipped_eye_model()
        elif isinstance(eye_model, (str, Path)):
            eye_model = EyeStateModel(eye_model)
        self.eye_model = eye_model
        self.focal = focal
        self.open_ear = float(calibration()["eyes"]["open_ear"])
        self.scheme = self.landmarker.model.scheme
        ibug68_indices(self.scheme)             # refuse a scheme without eyes and mouth now
        self.tracker = tracker or FaceTracker(self.landmarker, max_faces=1)
        self.reset()

    def reset(self) -> None:
        self.events: list[Event] = []
        self._frame = -1
        self._last_t: float | None = None
        self._closed = False
        cfg = self.config
        self._closure, self._yawn = _Run("closure", None), _Run("yawn", cfg.yawn_min_s)
        self._away, self._drowsy = _Run("distraction", cfg.distraction_s), _Run("drowsy", 0.0)
        self._lost = _Run("face_lost", cfg.face_lost_s)
        self._window: deque[tuple[float, float, bool]] = deque()   # (t, dt, closed) of face frames
        self._window_time = self._window_closed = 0.0
        self._blinks: deque[float] = deque()
        self._face_time = 0.0
        self._calibration: list[tuple[float, float]] = []
        self._forward = self.config.forward

    # ------------------------------------------------------------------ per face
    def analyse(self, image: np.ndarray, faces: list[Face]) -> list[DriverFace]:
        """`faces` read by the monitor: their head pose (the landmarker's where it made one with
        this focal length), eyes and mouth (a photo's faces, or a frame's)."""
        if not faces:
            return []
        h, w = image.shape[:2]
        camera = camera_matrix(w, h, self.focal)
        gray = to_gray(image)
        out = []
        for face in faces:
            pts = to_ibug68(face.landmarks, self.scheme)
            pose = face.head_pose if face.head_pose is not None and self.landmarker.pipeline.focal == self.focal \
                else solve_head_pose(pts, camera)
            ear = eye_aspect_ratio(pts)
            probs = (self.eye_model.closed_probability(eye_crops(gray, pts)) if self.eye_model is not None
                     else (None, None))
            eyes = {side: EyeState(ear[side], ear[side] / self.open_ear, None if p is None else float(p))
                    for side, p in zip(("left", "right"), probs)}
            mar = mouth_aspect_ratio(pts)
            fields = {f.name: getattr(face, f.name) for f in dataclasses.fields(Face)}
            out.append(DriverFace(**{**fields, "head_pose": pose}, eyes=eyes,
                                  mouth=MouthState(mar, mar >= self.config.yawn_mar)))
        return out

    # ------------------------------------------------------------------ over time
    def update(self, frame: np.ndarray, t: float) -> DriverState:
        """Track the driver's face in this frame (t: seconds, increasing) and read it."""
        return self.read(frame, t, self.tracker.update(frame, t))

    def read(self, frame: np.ndarray, t: float, faces: list[Face]) -> DriverState:
        """Read this frame's driver: the first of `faces` (tracked elsewhere, best first)."""
        return self.step(self.analyse(frame, faces[:1])[0] if faces else None, t)

    def step(self, face: DriverFace | None, t: float) -> DriverState:
        """Advance by one frame whose face (or None) was analysed already."""
        cfg = self.config
        self._frame += 1
        n = self._frame
        dt = 0.0 if self._last_t is None else min(max(t - self._last_t, 0.0), cfg.max_gap_s)
        self._last_t = t
        ended: list[Event] = []
        alerts: list[str] = []
        if face is None:
            # nothing to read: the stretches in progress end here
            for run in (self._closure, self._yawn, self._away):
                ended += self._keep(run, run.close(t, n))
            self._closed = False
            self._lost.update(True, t, n)
            if self._lost.lasted(t) >= cfg.face_lost_s - _EPS:
                self._alert(self._lost, t, alerts)
            return DriverState(n, t, None, None, *self._rates(t), alerts, ended)
        ended += self._keep(self._lost, self._lost.update(False, t, n))
        self._face_time += dt
        # eyes
        self._closed = self._eyes_closed(face)
        self._window.append((t, dt, self._closed))
        self._window_time += dt
        self._window_closed += dt if self._closed else 0.0
        while self._window and self._window[0][0] <= t - cfg.perclos_window_s:
            _, d, c = self._window.popleft()
            self._window_time -= d
            self._window_closed -= d if c else 0.0
        ended += self._keep(self._closure, self._closure.update(self._closed, t, n))
        if self._closure.lasted(t) >= cfg.microsleep_s - _EPS:
            self._alert(self._closure, t, alerts, "microsleep")
        # mouth
        mar = face.mouth.aspect_ratio if face.mouth is not None else 0.0
        ended += self._keep(self._yawn, self._yawn.update(mar >= cfg.yawn_mar, t, n, mar))
        if self._yawn.lasted(t) >= cfg.yawn_min_s - _EPS:
            self._alert(self._yawn, t, alerts)
        # head
        away, deviation = self._looking_away(face)
        ended += self._keep(self._away, self._away.update(away, t, n, deviation))
        if self._away.lasted(t) >= cfg.distraction_s - _EPS:
            self._alert(self._away, t, alerts)
        # PERCLOS
        perclos, rate = self._rates(t)
        drowsy = perclos is not None and perclos >= cfg.perclos_alert
        ended += self._keep(self._drowsy, self._drowsy.update(drowsy, t, n, perclos))
        if drowsy:
            self._alert(self._drowsy, t, alerts)
        return DriverState(n, t, face, self._closed, perclos, rate, alerts, ended)

    def finish(self, t: float | None = None) -> list[Event]:
        """End the stretches in progress (at `t`, default the last frame's time); all events."""
        t = self._last_t if t is None else t
        if t is not None:
            for run in (self._closure, self._yawn, self._away, self._drowsy, self._lost):
                self._keep(run, run.close(t, self._frame))
        return list(self.events)

    def draw(self, frame: np.ndarray, state: DriverState) -> np.ndarray:
        """The overlay of a frame: landmarks, pose axes, eye and mouth state, alerts."""
        from .draw import draw_driver
        return draw_driver(frame, state, self.scheme, self.focal)

    # ------------------------------------------------------------------ helpers
    def _eyes_closed(self, face: Face) -> bool:
        cfg = self.config
        eyes = list((face.eyes or {}).values())
        if not eyes:
            return False
        probs = [e.closed_probability for e in eyes if e.closed_probability is not None]
        if probs:
            p = float(np.mean(probs))
            return p >= (cfg.open_probability if self._closed else cfg.closed_probability)
        return float(np.mean([e.openness for e in eyes])) <= 0.2     # 80% closed by the aspect ratio

    def _looking_away(self, face: Face) -> tuple[bool, float]:
        cfg = self.config
        pose = face.head_pose
        if pose is None:
            return False, 0.0
        if self._forward is None:
            self._calibration.append((pose.yaw, pose.pitch))
            if self._face_time < cfg.calibration_s:
                return False, 0.0
            self._forward = tuple(float(v) for v in np.median(np.array(self._calibration), axis=0))
        dyaw, dpitch = pose.yaw - self._forward[0], pose.pitch - self._forward[1]
        away = abs(dyaw) > cfg.distraction_yaw or abs(dpitch) > cfg.distraction_pitch
        return away, float(max(abs(dyaw), abs(dpitch)))

    def _rates(self, t: float) -> tuple[float | None, float | None]:
        cfg = self.config
        while self._blinks and self._blinks[0] <= t - cfg.blink_rate_window_s:
            self._blinks.popleft()
        if self._window_time < cfg.perclos_min_s:
            return None, None
        span = min(self._face_time, cfg.blink_rate_window_s)
        return self._window_closed / self._window_time, 60.0 * len(self._blinks) / span

    def _closure_event(self, run_event: Event) -> Event:
        d = run_event.duration
        kind = ("blink" if d <= self.config.blink_max_s + _EPS else
                "microsleep" if d >= self.config.microsleep_s - _EPS else "long_blink")
        run_event.kind = kind
        if kind != "microsleep":
            run_event.alert = None
        if kind in ("blink", "long_blink"):
            self._blinks.append(run_event.end)
        self.events.append(run_event)
        return run_event

    def _keep(self, run: _Run, event: Event | None) -> list[Event]:
        """An ended stretch of `run` as the event it makes: an eye closure by its duration,
        anything else if it lasted run.least seconds."""
        if event is None:
            return []
        if run.least is None:
            return [self._closure_event(event)]
        if event.duration < run.least - _EPS:
            return []
        self.events.append(event)
        return [event]

    @staticmethod
    def _alert(run: _Run, t: float, alerts: list[str], name: str | None = None) -> None:
        if run.event.alert is None:
            run.event.alert = t
        alerts.append(name or run.kind)
