"""The README's driver-monitoring picture: overlays of the monitor at four moments of a video.

    python tools/make_driver_video.py out/driver.mp4
    python tools/plot_driver_frames.py out/driver.mp4 docs/driver_monitor.jpg --times 2.5 6.9 10.9 15.6
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from litehrnet_plus.fileio import atomic_write_bytes  # noqa: E402
from litehrnet_plus.inference.landmarker import FaceLandmarker  # noqa: E402
from litehrnet_plus.inference.video import open_video  # noqa: E402
from litehrnet_plus.monitor import DriverMonitor  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--times", type=float, nargs="+", default=[2.5, 6.9, 10.9, 15.6])
    ap.add_argument("--model", default=None)
    args = ap.parse_args(argv)
    monitor = DriverMonitor(FaceLandmarker(args.model))
    video = open_video(args.video)
    wanted = sorted(args.times)
    tiles = []
    for _, t, frame in video.frames():
        state = monitor.update(frame, t)
        if wanted and t >= wanted[0] - 1e-6:
            tiles.append(monitor.draw(frame, state))
            wanted.pop(0)
    video.close()
    if not tiles:
        raise SystemExit("no frame at the asked times")
    while len(tiles) % 2:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[i:i + 2]) for i in range(0, len(tiles), 2)]
    image = cv2.resize(np.vstack(rows), None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    atomic_write_bytes(args.out, buf.tobytes())
    print(f"{args.out}: {len(tiles)} frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())
