"""Measure the tracker's lost-face threshold on the mean heatmap peak score.

On 300-W TRAINING images, crop each face the way tracking does:
  kept  the ground-truth landmark box moved by <= 10% of its size and scaled by 0.9-1.1
        (what frame-to-frame motion leaves: the face is still in the crop);
  lost  the box moved by 75-100% of its size in a random direction (the face has left the
        crop: a cut, or a face leaving the frame), and small boxes (40% size) on the image
        corners (background only).
The threshold is the one that best separates the two (max balanced accuracy; the middle of
the range of thresholds that reach it).

    .venv/bin/python tools/calibrate_tracking.py --model MODEL.onnx --json benchmarks/tracking.json --overwrite
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from litehrnet_plus.benchmarks.groundtruth import DATA, TRAIN_300W, faces_300w  # noqa: E402

from litehrnet_plus.data.images import read_image  # noqa: E402
from litehrnet_plus.fileio import atomic_write_json, check_writable  # noqa: E402
from litehrnet_plus.data.transforms import crop_faces  # noqa: E402
from litehrnet_plus.inference.runtime import OnnxHeatmapModel  # noqa: E402


def boxes_for(gt: np.ndarray, shape: tuple[int, ...], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    w, h = gt[2] - gt[0], gt[3] - gt[1]
    size = (w + h) / 2

    def box(cx: float, cy: float, s: float) -> list[float]:
        return [cx - s * w / 2, cy - s * h / 2, cx + s * w / 2, cy + s * h / 2]

    cx, cy = (gt[0] + gt[2]) / 2, (gt[1] + gt[3]) / 2
    kept = []
    for _ in range(3):
        d = rng.uniform(0, 0.10) * size
        a = rng.uniform(0, 2 * np.pi)
        kept.append(box(cx + d * np.cos(a), cy + d * np.sin(a), rng.uniform(0.9, 1.1)))
    lost = []
    for _ in range(3):
        d = rng.uniform(0.75, 1.0) * size
        a = rng.uniform(0, 2 * np.pi)
        lost.append(box(cx + d * np.cos(a), cy + d * np.sin(a), 1.0))
    ih, iw = shape[:2]
    corner = 0.4 * min(w, h)
    for x, y in ((corner / 2, corner / 2), (iw - corner / 2, ih - corner / 2)):
        lost.append([x - corner / 2, y - corner / 2, x + corner / 2, y + corner / 2])
    return np.array(kept), np.array(lost)


def best_threshold(kept: np.ndarray, lost: np.ndarray) -> tuple[float, float]:
    grid = np.round(np.arange(0.005, 1.0, 0.005), 3)
    bal = np.array([(np.mean(kept >= t) + np.mean(lost < t)) / 2 for t in grid])
    # the middle of the best plateau: as far from both score distributions as the data allow
    best = np.flatnonzero(bal >= bal.max() - 1e-12)
    i = int(best[len(best) // 2])
    return float(grid[i]), float(bal[i])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="shipped tag or .onnx file")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--every", type=int, default=5, help="use every N-th training image (default 5: ~400 faces)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--overwrite", action="store_true")
    ap.add_argument("--install", action="store_true",
                    help="make this the package's default threshold (inference/calibration.json), for models "
                         "whose card carries none")
    args = ap.parse_args()
    model = OnnxHeatmapModel(args.model)
    rng = np.random.default_rng(0)
    kept_s, lost_s = [], []
    for path, gts in faces_300w(TRAIN_300W, args.data)[:: args.every]:
        image = read_image(path)
        kept, lost = boxes_for(gts[0], image.shape, rng)
        crops, _ = crop_faces(image, np.concatenate([kept, lost]), model.input_size, model.crop_scale)
        _, scores = model.predict_crops(crops)
        conf = scores.mean(axis=1)
        kept_s.extend(conf[: len(kept)])
        lost_s.extend(conf[len(kept):])
    kept_a, lost_a = np.array(kept_s), np.array(lost_s)
    t, bal = best_threshold(kept_a, lost_a)
    pct = lambda a: {p: round(float(np.percentile(a, p)), 4) for p in (1, 5, 50, 95, 99)}  # noqa: E731
    res = {"model": str(args.model), "model_meta": {"model": model.card.model, **{k: model.card.training.get(k) for k in ("epoch", "metrics")}},
           "kept_crops": len(kept_a), "lost_crops": len(lost_a), "kept_percentiles": pct(kept_a),
           "lost_percentiles": pct(lost_a), "threshold": t, "balanced_accuracy": round(bal, 4),
           "kept_below": round(float(np.mean(kept_a < t)), 4), "lost_above": round(float(np.mean(lost_a >= t)), 4)}
    print(json.dumps(res, indent=1))
    if args.json:
        atomic_write_json(check_writable(args.json, args.overwrite), res)
    if args.install:
        from litehrnet_plus.inference.calibration import install
        install("tracking", None, {"threshold": t, "model": str(args.model),
                                   "measured_by": f"tools/calibrate_tracking.py --model {args.model} --json {args.json} "
                                                  "--install"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
