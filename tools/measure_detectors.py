"""Detection rate and speed of each face detector, in the benchmark convention.

A ground-truth face counts as found when some calibrated detection overlaps its tight
landmark box with IoU > 0.5. Time is the median wall time of one detector call per image
(after one warm-up call), image decoding excluded.

Data: ../shared/data/300w/lfpw/testset (224 faces, images <= 320 px) and the full-size
wflw-partial images (206 faces on 175 images; boxes: tight box of the 98 landmarks).

    .venv/bin/python tools/measure_detectors.py --detectors yuface dlib --json benchmarks/detectors.json
    .venv-mediapipe/bin/python tools/measure_detectors.py --detectors mediapipe haar \
        --json benchmarks/detectors.json --update     # OpenCV 4 + numpy<2 venv
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from litehrnet_plus.benchmarks.groundtruth import write_results, DATA, TEST_300W, faces_300w, faces_wflw, iou  # noqa: E402

from litehrnet_plus.data.images import read_image  # noqa: E402
from litehrnet_plus.inference.detectors import get_detector  # noqa: E402


def measure(detector, faces) -> dict:
    found, times, sizes = 0, [], []
    detector(read_image(faces[0][0]))                 # warm-up (lazy initialisation)
    for path, gts in faces:
        image = read_image(path)
        sizes.append(max(image.shape[:2]))
        t = time.perf_counter()
        boxes = detector(image)[0]
        times.append(time.perf_counter() - t)
        if len(boxes):
            found += int(np.sum(iou(gts, boxes).max(axis=1) > 0.5))
    n = sum(len(g) for _, g in faces)
    return {"faces": n, "images": len(faces), "found": found, "detection_rate": round(found / n, 4),
            "median_ms": round(1000 * float(np.median(times)), 2),
            "p90_ms": round(1000 * float(np.percentile(times, 90)), 2),
            "median_image_side": int(np.median(sizes))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--detectors", nargs="+", default=["yuface", "dlib"])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--update", action="store_true", help="add to / replace entries of an existing --json")
    args = ap.parse_args()
    sets = {"300w_lfpw_testset": faces_300w(TEST_300W, args.data), "wflw_partial": faces_wflw(args.data)}
    env = {"cpu_count": os.cpu_count(), "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
           "python": platform.python_version(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}
    results = {}
    for name in args.detectors:
        det = get_detector(name)
        results[name] = {key: measure(det, faces) for key, faces in sets.items()} | {"environment": env}
        print(f"{name}: {json.dumps(results[name])}", flush=True)
    if args.json:
        write_results(args.json, results, args.update)
    return 0


if __name__ == "__main__":
    sys.exit(main())
