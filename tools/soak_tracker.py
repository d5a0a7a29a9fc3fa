"""Memory over a long stream: the resident set size of the tracked-video path, sampled.

    python tools/soak_tracker.py --frames 100000 --mode full      # tracker with re-detection every 30 frames
    python tools/soak_tracker.py --frames 6000 --mode track       # tracker without re-detection
    python tools/soak_tracker.py --frames 3000 --mode detect      # the face detector alone

The frames are the example photo panning in a 640x480 frame, made in memory (no decoding), so
what grows is the tracking path itself. Prints frame number and RSS in MB, six samples and the last.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from litehrnet_plus import FaceLandmarker
from litehrnet_plus.inference.tracking import FaceTracker

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=6000)
    ap.add_argument("--mode", choices=("full", "track", "detect"), default="full")
    ap.add_argument("--model", default="litehrnet_plus_tiny.300w")
    ap.add_argument("--detector", default="auto")
    args = ap.parse_args(argv)
    photo = cv2.resize(cv2.imread(str(ROOT / "examples" / "astronaut.jpg")), (480, 480))
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:, 80:560] = photo
    lm = FaceLandmarker(args.model, detector=args.detector)
    tracker = FaceTracker(lm, max_faces=1, redetect_interval=30 if args.mode == "full" else 0)
    every = max(1, args.frames // 6)
    for i in range(args.frames):
        f = np.roll(frame, (i % 40) - 20, axis=1)
        if args.mode == "detect":
            lm.detector(f)
        else:
            tracker.update(f, i / 30)
        if i % every == 0 or i == args.frames - 1:
            runs = i + 1 if args.mode == "detect" else tracker.detector_runs
            print(f"{args.mode} frame {i}: RSS {rss_mb():.1f} MB ({lm.detector_name}: {runs} runs)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
