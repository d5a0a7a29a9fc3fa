"""The driver monitor on a video: its events against the video's script, and its cost per
frame beside the landmark tracking's (one thread, the same process, interleaved).

    python tools/make_driver_video.py out/driver.mp4
    python tools/measure_monitor.py out/driver.mp4 --json benchmarks/monitor.json

Timing: the decoded frames are run through (a) the face tracker alone and (b) the full
monitor (tracker + head pose + eye crops and classifier + mouth + events), alternating
rounds of the whole clip, order reversed every round; medians of the per-frame times. The
per-stage split times each stage of DriverMonitor.analyse on the tracked faces.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from litehrnet_plus.fileio import atomic_write_json  # noqa: E402
from litehrnet_plus.inference.landmarker import FaceLandmarker  # noqa: E402
from litehrnet_plus.inference.tracking import FaceTracker
from litehrnet_plus.inference.video import open_video  # noqa: E402
from litehrnet_plus.monitor import DriverMonitor  # noqa: E402
from litehrnet_plus.monitor.eyes import eye_aspect_ratio, eye_crops, to_gray  # noqa: E402
from litehrnet_plus.inference.headpose import camera_matrix, solve_head_pose  # noqa: E402
from litehrnet_plus.monitor.mouth import mouth_aspect_ratio  # noqa: E402


def frames_of(path: Path, fps_hint: float = 30.0) -> tuple[list[np.ndarray], float]:
    video = open_video(path)
    frames = [f for _, _, f in video.frames()]
    fps = video.fps or fps_hint
    video.close()
    return frames, fps


def run(step, frames, fps) -> list[float]:
    times = []
    for i, f in enumerate(frames):
        t0 = time.perf_counter()
        step(f, i / fps)
        times.append(time.perf_counter() - t0)
    return times


def events_vs_script(monitor: DriverMonitor, frames, fps, script: dict | None) -> dict:
    monitor.reset()
    monitor.tracker.reset()
    for i, f in enumerate(frames):
        monitor.update(f, i / fps)
    events = [e.to_dict() for e in monitor.finish()]
    return {"events": events}


def stage_times(lm: FaceLandmarker, frames, fps, rounds: int = 3) -> dict:
    tracker = FaceTracker(lm, max_faces=1)
    faces = [(f, tracker.update(f, i / fps)) for i, f in enumerate(frames)]
    faces = [(f, fs[0]) for f, fs in faces if fs]
    monitor = DriverMonitor(lm)
    stages = {"head pose (PnP)": [], "eye crops": [], "eye classifier (2 eyes)": [], "aspect ratios": []}
    for _ in range(rounds):
        for frame, face in faces:
            cam = camera_matrix(frame.shape[1], frame.shape[0])
            t0 = time.perf_counter()
            solve_head_pose(face.landmarks, cam)
            t1 = time.perf_counter()
            crops = eye_crops(to_gray(frame), face.landmarks)
            t2 = time.perf_counter()
            monitor.eye_model.closed_probability(crops)
            t3 = time.perf_counter()
            eye_aspect_ratio(face.landmarks)
            mouth_aspect_ratio(face.landmarks)
            t4 = time.perf_counter()
            for k, v in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                stages[k].append(v)
    return {k: round(1e3 * float(np.median(v)), 4) for k, v in stages.items()}


def measure(tag: str, frames, fps, script, rounds: int) -> dict:
    lm = FaceLandmarker(tag, threads=1)
    monitor = DriverMonitor(lm)
    res = {"model": tag, **events_vs_script(monitor, frames, fps, script)}
    tracker = FaceTracker(lm, max_faces=1)
    per = {"tracking": [], "monitor": []}
    for r in range(rounds):
        order = ("tracking", "monitor") if r % 2 == 0 else ("monitor", "tracking")
        for name in order:
            if name == "tracking":
                tracker.reset()
                per[name] += run(tracker.update, frames, fps)
            else:
                monitor.reset()
                monitor.tracker.reset()
                per[name] += run(monitor.update, frames, fps)
    med = {k: 1e3 * float(np.median(v)) for k, v in per.items()}
    res["ms_per_frame_median"] = {k: round(v, 4) for k, v in med.items()}
    res["monitor_extra_ms"] = round(med["monitor"] - med["tracking"], 4)
    res["stages_ms_median"] = stage_times(lm, frames, fps)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video", type=Path)
    ap.add_argument("--models", nargs="+", default=["litehrnet_plus_30m.300w", "litehrnet_plus_10m.300w"])
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    frames, fps = frames_of(args.video)
    script_file = args.video.with_name(args.video.stem + ".script.json")
    script = json.loads(script_file.read_text()) if script_file.is_file() else None
    res = {"video": args.video.name, "frames": len(frames),
           "script": None if script is None else [{k: s[k] for k in ("state", "start", "end")}
                                                  for s in script["segments"]],
           "models": [measure(tag, frames, fps, script, args.rounds) for tag in args.models]}
    for m in res["models"]:
        print(m["model"], m["ms_per_frame_median"], "extra", m["monitor_extra_ms"], m["stages_ms_median"])
        for e in m["events"]:
            print("  ", e)
    if args.json:
        atomic_write_json(args.json, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
