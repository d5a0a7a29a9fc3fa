"""Which photos the upright pass leaves a reason to search turned copies of: the signal behind
`orientations="auto"` (inference/orientation.py), and what it costs.

Signal: lfpw/testset's photos upright and turned by 90, 180 and 270 degrees (canvas expanded),
the upright pass only; for each candidate quality bar, how many photos `reason_to_look` would
search again: few of the upright ones (the cost), nearly all of the turned ones (the faces
found).

Cost: upright photos (the first --photos of lfpw/testset and of wflw-partial), each timed with
orientations "upright", "auto" and "all" in interleaved rounds (the order turned each round),
one thread; the median over photos of each mode's time over "upright"'s.

    python tools/measure_orientation_rule.py --json benchmarks/orientation_rule.json
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from litehrnet_plus.benchmarks.groundtruth import DATA, turned_photo
from litehrnet_plus.benchmarks.latency import machine_info
from litehrnet_plus.data.formats import load_300w
from litehrnet_plus.data.images import find_images, read_image
from litehrnet_plus.fileio import atomic_write_json
from litehrnet_plus.inference.landmarker import FaceLandmarker
from litehrnet_plus.inference.orientation import find_faces, reason_to_look

BARS = (0.3, 0.5, 0.7, 0.8, 0.9)


def signal(lm: FaceLandmarker) -> dict:
    floor = lm.default_min_quality
    photos = sorted({s.image_path for s in load_300w(DATA / "300w", "lfpw/testset")})
    looked: dict[int, dict[float, int]] = {}
    for angle in (0, 90, 180, 270):
        counts = {bar: 0 for bar in BARS}
        for path in photos:
            fits = find_faces(turned_photo(read_image(path, orient=False), np.zeros((0, 2)), angle)[0], lm.detector,
                              lm.pipeline, "upright")
            for bar in BARS:
                counts[bar] += reason_to_look(lm.pipeline, fits, floor, bar)
        looked[angle] = counts
        print(angle, counts, flush=True)
    return {"photos": len(photos), "floor": floor,
            "searched_again": {str(a): {str(b): n for b, n in c.items()} for a, c in looked.items()}}


def cost(lm: FaceLandmarker, n: int, rounds: int) -> dict:
    lfpw, _ = find_images(DATA / "300w" / "lfpw" / "testset")
    wflw, _ = find_images(DATA / "wflw-partial")
    out = {}
    for name, paths in (("lfpw/testset", lfpw[:n]), ("wflw-partial", wflw[:n])):
        images = [read_image(p) for p in paths]
        modes = ["upright", "auto", "all"]
        times = {m: [[] for _ in images] for m in modes}
        for r in range(rounds):
            for i, image in enumerate(images):
                for mode in (modes[r % 3:] + modes[:r % 3]):
                    start = time.perf_counter()
                    lm.detect(image, orientations=mode)
                    times[mode][i].append(time.perf_counter() - start)
        med = {m: [statistics.median(t) for t in times[m]] for m in modes}
        out[name] = {"photos": len(images), "rounds": rounds,
                     "ms_per_photo": {m: round(1e3 * statistics.median(med[m]), 1) for m in modes},
                     "time_vs_upright": {m: round(statistics.median(a / u for a, u in zip(med[m], med["upright"])), 3)
                                         for m in ("auto", "all")},
                     "total_vs_upright": {m: round(sum(med[m]) / sum(med["upright"]), 3) for m in ("auto", "all")}}
        print(name, out[name], flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="litehrnet_plus_30m.300w")
    ap.add_argument("--photos", type=int, default=24, help="upright photos per set for the cost")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--detector", default="auto")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    lm = FaceLandmarker(args.model, threads=1, detector=args.detector)
    doc = {"model": args.model, "detector": lm.detector_name, "machine": machine_info(),
           "signal": signal(lm), "cost": cost(lm, args.photos, args.rounds),
           "command": "python tools/measure_orientation_rule.py" + (f" --json {args.json}" if args.json else "")}
    if args.json:
        atomic_write_json(args.json, doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
