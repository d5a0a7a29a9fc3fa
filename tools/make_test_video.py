"""Synthesise test videos (640x480) from one still image, with the exact image->frame affine
of every frame, so landmark ground truth follows along:

  pan   a slow pan and zoom over the image (tracking, frames/s, smoothing lag)
  still the image standing still with a little pixel noise each frame (jitter)
  cut   the pan over one image, then an abrupt cut to another image (re-detection)

    .venv/bin/python tools/make_test_video.py pan examples/astronaut.jpg out/pan.mp4 --frames 300
"""
from __future__ import annotations

import argparse
from pathlib import Path

from litehrnet_plus.benchmarks.clips import SIZE, cut_frames, pan_frames, still_frames, write_video
from litehrnet_plus.data.images import read_image


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["pan", "still", "cut"])
    ap.add_argument("image", type=Path)
    ap.add_argument("output", type=Path)
    ap.add_argument("--second", type=Path, help="second image for 'cut'")
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--noise", type=float, default=2.0, help="pixel noise std for 'still'")
    args = ap.parse_args()
    image = read_image(args.image)
    if args.kind == "pan":
        frames = pan_frames(image, args.frames)
    elif args.kind == "still":
        frames = still_frames(image, args.frames, args.noise)
    else:
        if args.second is None:
            ap.error("'cut' needs --second")
        frames = cut_frames(image, read_image(args.second), args.frames // 2)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_video([f for f, _ in frames], args.output)
    print(f"wrote {args.output} ({len(frames)} frames, {SIZE[0]}x{SIZE[1]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
