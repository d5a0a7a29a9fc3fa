"""The mouth aspect ratio (MAR) our landmarks give against the ground truth's, on held-out
faces (300-W lfpw/testset and wflw-partial's 68-point subset, ground-truth box): how far the
models under-read a wide-open mouth, and the yawn threshold that best separates wide-open
mouths (true MAR >= 0.6) from the rest, for each model.

    python tools/measure_mouth.py --json benchmarks/mouth.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from litehrnet_plus.data.formats import load_300w, load_wflw  # noqa: E402
from litehrnet_plus.data.images import read_image  # noqa: E402
from litehrnet_plus.data.transforms import landmark_box  # noqa: E402
from litehrnet_plus.fileio import atomic_write_json  # noqa: E402
from litehrnet_plus.inference.landmarker import FaceLandmarker  # noqa: E402
from litehrnet_plus.monitor.config import MonitorConfig  # noqa: E402
from litehrnet_plus.monitor.mouth import mouth_aspect_ratio  # noqa: E402
from litehrnet_plus.schemes import WFLW98_TO_IBUG68  # noqa: E402

WIDE = 0.6
DEFAULT = MonitorConfig().yawn_mar


def faces(data: Path):
    for s in load_300w(data / "300w", "lfpw/testset"):
        yield s.image_path, s.landmarks.astype(np.float64)
    for s in load_wflw(data / "wflw-partial", "test"):
        yield s.image_path, s.landmarks[list(WFLW98_TO_IBUG68)].astype(np.float64)


def measure(tag: str, data: Path) -> dict:
    lm = FaceLandmarker(tag)
    truth, pred = [], []
    for path, gt in faces(data):
        p = lm.landmarks(read_image(path, orient=False), landmark_box(gt)[None])[0]
        truth.append(mouth_aspect_ratio(gt))
        pred.append(mouth_aspect_ratio(p))
    truth, pred = np.array(truth), np.array(pred)
    wide = truth >= WIDE
    grid = np.round(np.arange(0.2, 0.9, 0.01), 2)
    bal = [0.5 * (np.mean(pred[wide] >= g) + np.mean(pred[~wide] < g)) for g in grid]
    best = float(grid[int(np.argmax(bal))])
    slope = float(np.polyfit(truth, pred, 1)[0])
    return {"model": tag, "faces": len(truth), "wide_open": int(wide.sum()),
            "predicted_mar_of_wide_open_median": round(float(np.median(pred[wide])), 3),
            "true_mar_of_wide_open_median": round(float(np.median(truth[wide])), 3),
            "slope_predicted_on_true": round(slope, 3),
            "best_threshold": best, "balanced_accuracy_at_best": round(float(max(bal)), 3),
            "default_yawn_mar": DEFAULT,
            "at_default": {"wide_open_found": round(float(np.mean(pred[wide] >= DEFAULT)), 3),
                           "others_above": round(float(np.mean(pred[~wide] >= DEFAULT)), 3)},
            "at_best": {"wide_open_found": round(float(np.mean(pred[wide] >= best)), 3),
                        "others_above": round(float(np.mean(pred[~wide] >= best)), 3)}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/data")
    ap.add_argument("--models", nargs="+", default=["litehrnet_plus_10m.300w", "litehrnet_plus_30m.300w"])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    res = [measure(tag, args.data) for tag in args.models]
    print(json.dumps(res, indent=1))
    if args.json:
        atomic_write_json(args.json, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
