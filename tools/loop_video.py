"""A long video for soak runs: a clip looped to N frames (the driver video looped 143 times is
the 100,000-frame soak of docs/reliability.md).

    python tools/make_driver_video.py out/driver.mp4 --photos benchmarks/driver_video.script.json
    python tools/loop_video.py out/driver.mp4 out/long.mp4 --frames 100000
    litehrnet-plus monitor out/long.mp4 --model litehrnet_plus_tiny.300w --json out/long.jsonl &
    while kill -0 $! 2>/dev/null; do ps -o rss= -p $!; sleep 10; done     # resident set, KiB
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path)
    ap.add_argument("output", type=Path)
    ap.add_argument("--frames", type=int, default=100_000)
    args = ap.parse_args(argv)
    cap = cv2.VideoCapture(str(args.source))
    frames = []
    while (got := cap.read())[0]:
        frames.append(got[1])
    if not frames:
        print(f"error: {args.source}: no frames could be read", file=sys.stderr)
        return 2
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(args.output), cv2.VideoWriter_fourcc(*"mp4v"), cap.get(cv2.CAP_PROP_FPS) or 30.0, (w, h))
    for i in range(args.frames):
        writer.write(frames[i % len(frames)])
    writer.release()
    print(f"{args.output}: {args.frames} frames ({len(frames)}-frame clip looped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
