"""False detections: crops of the wflw-partial photos that hold none of the annotated faces
(square tiles clear of every annotated face's box grown 2x), run through `detect`; how many
faces come back, and how many of them the quality score lets through.

    python tools/measure_false_detections.py --json benchmarks/false_detections.json

WFLW does not annotate every face of a crowd photo, so some "false" detections are real,
unannotated faces; --sheet writes them as a contact sheet to look at.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from litehrnet_plus.data.formats import load_wflw  # noqa: E402
from litehrnet_plus.data.images import read_image  # noqa: E402
from litehrnet_plus.fileio import atomic_write_bytes, atomic_write_json  # noqa: E402
from litehrnet_plus.benchmarks.groundtruth import face_free_tiles  # noqa: E402
from litehrnet_plus.inference.landmarker import FaceLandmarker  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wflw", type=Path, default=ROOT.parent / "shared/data/wflw-partial")
    ap.add_argument("--models", nargs="+", default=["litehrnet_plus_30m.300w", "litehrnet_plus_10m.300w"])
    ap.add_argument("--side", type=int, default=320)
    ap.add_argument("--sheet", type=Path, help="contact sheet of the detections (JPEG)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    by_image: dict = {}
    for s in load_wflw(args.wflw, "test"):
        by_image.setdefault(s.image_path, []).append(np.r_[s.landmarks.min(0), s.landmarks.max(0)])
    tiles = [t for p, b in sorted(by_image.items()) for t in face_free_tiles(read_image(p, orient=False), b, args.side)]
    res = {"tiles": len(tiles), "tile_side": args.side, "models": []}
    for tag in args.models:
        lm = FaceLandmarker(tag)
        faces = [(i, f) for i, t in enumerate(tiles) for f in lm.detect(t)]
        q = np.array([f.quality for _, f in faces]) if faces else np.zeros(0)
        res["models"].append({"model": tag, "detections": len(faces),
                              "tiles_with_a_detection": len({i for i, _ in faces}),
                              "kept_at_quality_0.5": int(np.sum(q >= 0.5)),
                              "kept_at_quality_0.8": int(np.sum(q >= 0.8)),
                              "quality": [round(float(v), 3) for v in q]})
        if args.sheet and tag == args.models[0] and faces:
            cells = []
            for i, f in faces[:48]:
                x1, y1, x2, y2 = (int(round(v)) for v in f.box)
                c = tiles[i][max(0, y1):max(y1 + 1, y2), max(0, x1):max(x1 + 1, x2)]
                c = cv2.resize(c, (96, 96))
                cv2.putText(c, f"{f.quality:.2f}", (2, 92), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 255), 1)
                cells.append(c)
            while len(cells) % 8:
                cells.append(np.zeros((96, 96, 3), np.uint8))
            sheet = np.vstack([np.hstack(cells[i:i + 8]) for i in range(0, len(cells), 8)])
            atomic_write_bytes(args.sheet, cv2.imencode(".jpg", sheet)[1].tobytes())
    print(json.dumps({**res, "models": [{k: v for k, v in m.items() if k != "quality"} for m in res["models"]]},
                     indent=1))
    if args.json:
        atomic_write_json(args.json, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
