"""Every threshold of the driver monitor, in one place (docs/driver_monitoring.md says where
each default comes from: measured here, or a convention of driver-drowsiness work)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class MonitorConfig:
    # eyes: a frame's eyes are "closed" when the mean P(closed) of the two reaches
    # `closed_probability`, and open again when it falls below `open_probability` (hysteresis:
    # no flicker, and no delay, since both act on the frame at hand). Without the classifier the
    # eye aspect ratio decides: closed at openness <= 1 - 0.8 (80% closed, PERCLOS's P80).
    closed_probability: float = 0.5
    open_probability: float = 0.35
    blink_max_s: float = 0.5          # a closure up to this long is a blink
    microsleep_s: float = 1.0         # a closure this long raises a microsleep alert (at that moment)
    perclos_window_s: float = 60.0    # PERCLOS: share of the last window's time with the eyes closed
    perclos_alert: float = 0.15       # drowsiness alert while PERCLOS is at least this
    perclos_min_s: float = 10.0       # ... once the window holds at least this much time
    blink_rate_window_s: float = 60.0
    # mouth: a yawn is the inner lips open at least `yawn_mar` for at least `yawn_min_s`
    # (speech opens them for a fraction of a second). The models under-read a wide-open mouth
    # (true MAR 0.81 reads 0.78 with the 30M, 0.36 with the 10M: tools/measure_mouth.py), so the
    # bar sits below the true opening of a yawn; lower it to 0.3 for the 10M.
    yawn_mar: float = 0.4
    yawn_min_s: float = 1.5
    # distraction: the head outside a cone around straight ahead for at least `distraction_s`
    distraction_yaw: float = 30.0     # degrees either side
    distraction_pitch: float = 20.0   # degrees up or down
    distraction_s: float = 2.0
    # straight ahead (yaw, pitch): None learns it as the median pose of the first
    # `calibration_s` seconds with a face (a camera mounted off-axis sees the driver turned)
    forward: tuple[float, float] | None = None
    calibration_s: float = 3.0
    face_lost_s: float = 2.0          # no face this long: a face_lost alert
    max_gap_s: float = 0.5            # a longer gap between frames counts as this much time

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name == "forward":
                if v is not None and (len(v) != 2 or not all(isinstance(x, (int, float)) for x in v)):
                    raise ConfigError(f"forward must be None or (yaw, pitch) in degrees, got {v!r}")
            elif isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise ConfigError(f"{f.name} must be a number >= 0, got {v!r}")
        if not 0 < self.open_probability <= self.closed_probability <= 1:
            raise ConfigError("need 0 < open_probability <= closed_probability <= 1, got "
                              f"{self.open_probability} and {self.closed_probability}")
        if self.microsleep_s < self.blink_max_s:
            raise ConfigError(f"microsleep_s ({self.microsleep_s}) must be at least blink_max_s ({self.blink_max_s})")

    def with_(self, **changes) -> "MonitorConfig":
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ConfigError(f"unknown monitor setting(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)
