"""A driver-monitoring test video from real photos: held-out faces (300-W lfpw/testset and
wflw-partial, never used in training) chosen by their ground truth, placed at the same spot
of a 640x480 frame and held for scripted stretches, with sensor noise and a slight sway:

    looking ahead (3 s) | eyes shut 0.2 s (a blink) | ahead | mouth wide open 2.5 s (a yawn) |
    ahead | eyes shut 1.6 s (a microsleep) | ahead | head turned one way 3 s (distraction) |
    ahead | head turned the other way 3 s (distraction) | ahead

    python tools/make_driver_video.py out/driver.mp4      # also writes out/driver.script.json
    python tools/make_driver_video.py out/driver.mp4 --photos benchmarks/driver_video.script.json

The photos are chosen by their ground truth and by which faces the frame shows besides the
driver, found with the face detector: detectors differ (CenterFace sees a partner's half face
that yuface does not), so `--photos` rebuilds the video of an earlier run's script whatever the
detector; benchmarks/driver_video.script.json is the video the monitor's figures and tests use.

The faces change between stretches (no photo shows one person doing everything), so this
checks the monitor on real pixels and real timing, not identity-specific calibration.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from litehrnet_plus.data.formats import load_300w, load_wflw  # noqa: E402
from litehrnet_plus.data.images import read_image  # noqa: E402
from litehrnet_plus.fileio import atomic_write_json  # noqa: E402
from litehrnet_plus.inference.landmarker import FaceLandmarker  # noqa: E402
from litehrnet_plus.monitor.eyes import eye_aspect_ratio  # noqa: E402
from litehrnet_plus.inference.headpose import camera_matrix, solve_head_pose  # noqa: E402
from litehrnet_plus.monitor.mouth import mouth_aspect_ratio  # noqa: E402
from litehrnet_plus.schemes import WFLW98_TO_IBUG68  # noqa: E402

SIZE = (640, 480)
FPS = 30.0
# (state, seconds)
SCRIPT = (("ahead", 3.0), ("shut", 0.2), ("ahead", 2.0), ("yawn", 2.5), ("ahead", 2.0), ("shut", 1.6),
          ("ahead", 2.0), ("turned", 3.0), ("ahead", 2.0), ("turned other way", 3.0), ("ahead", 2.0))


def candidates(data: Path) -> list[tuple[Path, np.ndarray]]:
    out = [(s.image_path, s.landmarks.astype(np.float64)) for s in load_300w(data / "300w", "lfpw/testset")]
    out += [(s.image_path, s.landmarks[list(WFLW98_TO_IBUG68)].astype(np.float64))
            for s in load_wflw(data / "wflw-partial", "test")]
    return out


def describe(path: Path, pts: np.ndarray, others: list[np.ndarray]) -> dict:
    h, w = read_image(path, orient=False).shape[:2]
    pose = solve_head_pose(pts, camera_matrix(w, h))
    ear = eye_aspect_ratio(pts)
    return {"yaw": pose.yaw, "pitch": pose.pitch, "ear": min(ear.values()), "ear_max": max(ear.values()),
            "mar": mouth_aspect_ratio(pts), "height": float(np.ptp(pts[:, 1])),
            "alone": float(not any(_in_frame(placement(pts), o) for o in others))}


def _in_frame(m: np.ndarray, other: np.ndarray) -> bool:
    """Whether another annotated face of the photo shows in the frame (a cabin camera sees one driver)."""
    c = other.mean(axis=0) @ m[:, :2].T + m[:, 2]
    return bool(-0.1 * SIZE[0] <= c[0] <= 1.1 * SIZE[0] and -0.1 * SIZE[1] <= c[1] <= 1.1 * SIZE[1])


def others_in_photo(faces: list[tuple[Path, np.ndarray]]) -> list[list[np.ndarray]]:
    by_image: dict[Path, list[np.ndarray]] = {}
    for path, pts in faces:
        by_image.setdefault(path, []).append(pts)
    return [[o for o in by_image[path] if o is not pts] for path, pts in faces]


def pick(pool: list[tuple[Path, np.ndarray, dict]], state: str, lm: FaceLandmarker) -> tuple[Path, np.ndarray, dict]:
    tests = {"ahead": lambda d: abs(d["yaw"]) < 10 and abs(d["pitch"]) < 12 and d["ear"] > 0.28 and d["mar"] < 0.05,
             "shut": lambda d: d["ear_max"] <= 0.1 and abs(d["yaw"]) < 25 and d["mar"] < 0.2,
             "yawn": lambda d: d["mar"] >= 0.6 and d["ear"] >= 0.12 and abs(d["yaw"]) < 20,
             # a head turned sideways (not also bowed: that would script a second kind of distraction),
             # to the image's right (yaw < 0), then to its left
             "turned": lambda d: -75 <= d["yaw"] <= -45 and abs(d["pitch"]) < 15 and d["ear"] > 0.15,
             "turned other way": lambda d: 45 <= d["yaw"] <= 75 and abs(d["pitch"]) < 15 and d["ear"] > 0.15}
    found = [c for c in pool if tests[state](c[2]) and c[2]["height"] >= 80 and c[2]["alone"]]
    # the largest face (the sharpest) whose frame shows no other face: a cabin camera sees one
    # driver (faces the dataset did not annotate are found as the package reports faces: by the
    # detector, less what the quality floor drops, so no detector's false alarms decide)
    for c in sorted(found, key=lambda c: -c[2]["height"]):
        frame = cv2.warpAffine(read_image(c[0], orient=False), placement(c[1]), SIZE)
        if len(lm.detect(frame)) == 1:
            return c
    raise SystemExit(f"no photo shows {state!r} alone")


def pinned(pool: list[tuple[Path, np.ndarray, dict]], state: str, script: Path) -> tuple[Path, np.ndarray, dict]:
    """The face of `state` that an earlier run's script names: its photo's face whose ground
    truth the script recorded."""
    segment = next((s for s in json.loads(script.read_text())["segments"] if s["state"] == state), None)
    if segment is None:
        raise SystemExit(f"{script}: no {state!r} segment")
    want = segment["ground_truth"]
    for c in pool:
        if c[0].as_posix().endswith(segment["photo"]) and all(abs(c[2][k] - v) < 1e-2 for k, v in want.items()):
            return c
    raise SystemExit(f"{script}: the {state!r} face of {segment['photo']} is not in the data")


def placement(pts: np.ndarray) -> np.ndarray:
    """Photo -> frame similarity: the landmark box centre to the frame's, 240 px tall."""
    box = np.r_[pts.min(0), pts.max(0)]
    s = 240.0 / (box[3] - box[1])
    c = (box[:2] + box[2:]) / 2
    return np.array([[s, 0, (SIZE[0] - 1) / 2 - s * c[0]], [0, s, (SIZE[1] - 1) / 2 - s * c[1]]])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("output", type=Path)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/data",
                    help="the folder holding 300w/ (with lfpw/testset) and wflw-partial/ (default %(default)s)")
    ap.add_argument("--detector", default="auto", help="finds the faces a photo must not show besides its driver")
    ap.add_argument("--photos", type=Path, help="a script JSON of an earlier run: its photos, not a new choice")
    args = ap.parse_args(argv)
    missing = [d for d in ("300w/lfpw/testset", "wflw-partial") if not (args.data / d).is_dir()]
    if missing:
        print(f"error: {args.data}: no {' or '.join(missing)} there; pass --data DIR, the folder that holds "
              "300-W (300w/lfpw/testset) and WFLW (wflw-partial/)", file=sys.stderr)
        return 2
    faces = candidates(args.data)
    pool = [(p, pts, describe(p, pts, others)) for (p, pts), others in zip(faces, others_in_photo(faces))]
    if args.photos:
        chosen = {state: pinned(pool, state, args.photos) for state in dict(SCRIPT)}
    else:
        lm = FaceLandmarker(detector=args.detector)
        chosen = {state: pick(pool, state, lm) for state in dict(SCRIPT)}
    rng = np.random.default_rng(0)
    frames, segments = [], []
    for state, seconds in SCRIPT:
        path, pts, info = chosen[state]
        image = read_image(path, orient=False)
        m = placement(pts)
        n = int(round(seconds * FPS))
        segments.append({"state": state, "start": round(len(frames) / FPS, 4),
                         "end": round((len(frames) + n) / FPS, 4), "photo": str(path.relative_to(args.data)),
                         "ground_truth": {k: round(v, 3) for k, v in info.items()}})
        for i in range(n):
            sway = m.copy()
            sway[:, 2] += 2.0 * np.sin(2 * np.pi * np.array([0.3, 0.2]) * len(frames) / FPS)
            f = cv2.warpAffine(image, sway, SIZE, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            frames.append(np.clip(f + rng.normal(0, 2.0, f.shape), 0, 255).astype(np.uint8))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(args.output), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    for f in frames:
        writer.write(f)
    writer.release()
    script = args.output.with_name(args.output.stem + ".script.json")
    atomic_write_json(script, {"fps": FPS, "frames": len(frames), "segments": segments})
    print(f"{args.output}: {len(frames)} frames; {script}")
    for s in segments:
        print(f"  {s['start']:5.2f}-{s['end']:5.2f} s  {s['state']:7s} {s['photo']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
