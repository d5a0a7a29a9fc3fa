"""End-to-end accuracy on faces turned in the image plane: lfpw/testset photos rotated by each
angle (canvas expanded so nothing is cut), the default detector and the shipped model, the
ground truth rotated with the pixels. A face is found when a returned face's landmark centre
lies within 0.5 x the ground-truth box size of the rotated truth's; its NME is inter-ocular. Compared: orientations="upright", "auto" (the default) and "all".

    python tools/measure_rotation.py --model litehrnet_plus_30m.300w --json benchmarks/rotation.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from litehrnet_plus.data.formats import load_300w  # noqa: E402
from litehrnet_plus.data.images import read_image  # noqa: E402
from litehrnet_plus.inference.landmarker import FaceLandmarker  # noqa: E402
from litehrnet_plus.benchmarks.groundtruth import matched_face, turned_photo  # noqa: E402

ANGLES = (0, 45, 90, 180, 270)


def measure(lm: FaceLandmarker, samples, angle: float, orientations: str) -> dict:
    errors, found, times = [], 0, []
    for s in samples:
        image, gt = turned_photo(read_image(s.image_path, orient=False), s.landmarks.astype(np.float64), angle)
        t = time.perf_counter()
        faces = lm.detect(image, orientations=orientations)
        times.append(time.perf_counter() - t)
        best = matched_face(faces, gt)
        if best is None:
            continue
        found += 1
        iod = np.linalg.norm(gt[36] - gt[45])
        errors.append(float(np.linalg.norm(best.landmarks - gt, axis=1).mean() / iod))
    e = np.array(errors)
    return {"angle": angle, "orientations": orientations, "faces": len(samples), "found": found,
            "found_rate": round(found / len(samples), 4),
            "nme": round(float(e.mean()), 5) if len(e) else None,
            "fr@0.10": round(float(np.mean(e > 0.10)), 4) if len(e) else None,
            "median_ms_per_image": round(1000 * float(np.median(times)), 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="litehrnet_plus_30m.300w")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--limit", type=int, default=0, help="only the first N faces (quick check)")
    ap.add_argument("--angles", default=",".join(map(str, ANGLES)))
    ap.add_argument("--orientations", default="upright,auto,all")
    ap.add_argument("--detector", default="auto")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    samples = load_300w(args.data / "300w", "lfpw/testset")
    if args.limit:
        samples = samples[: args.limit]
    lm = FaceLandmarker(args.model, threads=1, detector=args.detector)
    rows = []
    for orientations in args.orientations.split(","):
        for angle in (float(a) for a in args.angles.split(",")):
            row = measure(lm, samples, angle, orientations)
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        from litehrnet_plus.fileio import atomic_write_json
        atomic_write_json(args.json, {"model": args.model, "detector": lm.detector_name, "rows": rows,
                                      "command": "python " + " ".join(sys.argv)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
