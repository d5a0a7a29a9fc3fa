"""Fit and check the per-face quality score: the probability that a face's NME is below 0.10,
as a logistic function of the model's mean heatmap peak score.

Fit: 300-W training faces (every --every-th), each cropped from its ground-truth box and from
boxes moved, scaled and turned away from it (so good fits and failures are both present), the
NME of each fit against the truth. Check (held out): wflw-partial's 206 faces, 68-point models
measured through the standard WFLW-98 -> 300-W-68 correspondence, from the ground-truth box and
end to end with the default detector: ROC AUC of (1 - quality) for failures (NME > 0.10), and
a reliability table (predicted vs observed share of good fits).

    python tools/calibrate_quality.py --model litehrnet_plus_30m.300w --json benchmarks/quality_30m.json --install
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from litehrnet_plus.data.formats import load_300w, load_wflw  # noqa: E402
from litehrnet_plus.data.images import read_image  # noqa: E402
from litehrnet_plus.data.transforms import crop_faces, uncrop_points  # noqa: E402
from litehrnet_plus.fileio import atomic_write_json  # noqa: E402
from litehrnet_plus.evaluation.metrics import roc_auc  # noqa: E402
from groundtruth import matched_face  # noqa: E402
from litehrnet_plus.inference.landmarker import FaceLandmarker  # noqa: E402
from litehrnet_plus.schemes import WFLW98_TO_IBUG68  # noqa: E402

FAIL = 0.10


def fit_logistic(x: np.ndarray, y: np.ndarray, iters: int = 50) -> tuple[float, float]:
    """P(y=1) = sigmoid(a x + b) by Newton's method (a tiny ridge keeps it finite)."""
    a, b = 0.0, 0.0
    X = np.stack([x, np.ones_like(x)], 1)
    w = np.zeros(2)
    for _ in range(iters):
        p = 1 / (1 + np.exp(-X @ w))
        g = X.T @ (p - y) + 1e-6 * w
        h = (X * (p * (1 - p))[:, None]).T @ X + 1e-6 * np.eye(2)
        w -= np.linalg.solve(h, g)
    a, b = w
    return float(a), float(b)


def fit_samples(lm: FaceLandmarker, root: Path, every: int, rng: np.random.Generator):
    m, nme = [], []
    for s in load_300w(root / "300w", "train")[::every]:
        image = read_image(s.image_path, orient=False)
        b = s.box.astype(np.float64)
        size = max(b[2] - b[0], b[3] - b[1])
        boxes, rolls = [b], [0.0]
        for _ in range(4):                        # moved, scaled and turned boxes
            shift = rng.uniform(-0.6, 0.6, 2) * size
            scale = rng.uniform(0.6, 1.6)
            c = (b[:2] + b[2:]) / 2 + shift
            half = (b[2:] - b[:2]) / 2 * scale
            boxes.append(np.r_[c - half, c + half])
            rolls.append(rng.uniform(-60, 60))
        crops, mats = crop_faces(image, np.array(boxes), lm.model.input_size, lm.model.crop_scale, np.array(rolls))
        pts, scores = lm.model.predict_crops(crops)
        pts = uncrop_points(pts, mats)
        iod = np.linalg.norm(s.landmarks[36] - s.landmarks[45])
        m.extend(scores.mean(axis=1))
        nme.extend(np.linalg.norm(pts - s.landmarks, axis=2).mean(axis=1) / iod)
    return np.array(m), np.array(nme)


def wflw_check(lm: FaceLandmarker, root: Path, quality) -> dict:
    samples = load_wflw(root / "wflw-partial", "test")
    out = {}
    # from the ground-truth box
    m, nme = [], []
    for s in samples:
        gt = s.landmarks[list(WFLW98_TO_IBUG68)]
        image = read_image(s.image_path, orient=False)
        box = np.r_[gt.min(0), gt.max(0)]
        pts, scores = lm.predict(image, box[None])
        m.append(scores.mean())
        nme.append(np.linalg.norm(pts[0] - gt, axis=1).mean() / np.linalg.norm(gt[36] - gt[45]))
    out["ground_truth_box"] = _summary(np.array(m), np.array(nme), quality)
    # end to end: the face nearest the truth among the detections (missed faces are left out)
    m, nme = [], []
    by_image: dict = {}
    for s in samples:
        by_image.setdefault(s.image_path, []).append(s)
    for path, faces_here in by_image.items():
        found = lm.detect(read_image(path, orient=False))
        for s in faces_here:
            gt = s.landmarks[list(WFLW98_TO_IBUG68)]
            best = matched_face(found, gt)
            if best is None:
                continue
            m.append(best.confidence)
            nme.append(np.linalg.norm(best.landmarks - gt, axis=1).mean() / np.linalg.norm(gt[36] - gt[45]))
    out["end_to_end"] = _summary(np.array(m), np.array(nme), quality)
    out["end_to_end"]["found"] = f"{len(m)} / {len(samples)}"
    return out


def _summary(m: np.ndarray, nme: np.ndarray, quality) -> dict:
    q = quality(m)
    fail = nme > FAIL
    bins = np.linspace(0, 1, 6)
    table = []
    for lo, hi in zip(bins[:-1], bins[1:]):
        sel = (q >= lo) & (q < hi if hi < 1 else q <= hi)
        if sel.any():
            table.append({"quality": f"{lo:.1f}-{hi:.1f}", "faces": int(sel.sum()),
                          "predicted_good": round(float(q[sel].mean()), 3),
                          "observed_good": round(float(np.mean(~fail[sel])), 3)})
    keep = q >= 0.5
    return {"faces": len(m), "nme": round(float(nme.mean()), 4), "fr@0.10": round(float(fail.mean()), 4),
            "roc_auc_failure": round(roc_auc(1 - q, fail), 4),
            "spearman_score_vs_nme": round(float(np.corrcoef(np.argsort(np.argsort(m)),
                                                             np.argsort(np.argsort(nme)))[0, 1]), 4),
            "kept_at_quality_0.5": {"faces": int(keep.sum()),
                                    "nme": round(float(nme[keep].mean()), 4) if keep.any() else None,
                                    "fr@0.10": round(float(fail[keep].mean()), 4) if keep.any() else None},
            "reliability": table}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="litehrnet_plus_30m.300w")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--every", type=int, default=4, help="every N-th 300-W training face")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--install", action="store_true", help="write the fit into inference/calibration.json")
    a = ap.parse_args()
    lm = FaceLandmarker(a.model, threads=1)
    m, nme = fit_samples(lm, a.data, a.every, np.random.default_rng(0))
    slope, bias = fit_logistic(m, (nme < FAIL).astype(float))
    quality = lambda x: 1 / (1 + np.exp(-(slope * np.asarray(x) + bias)))  # noqa: E731
    res = {"model": a.model, "definition": f"P(NME < {FAIL}) = sigmoid(a * mean peak score + b)",
           "a": round(slope, 4), "b": round(bias, 4),
           "fit": {"crops": len(m), "good_share": round(float(np.mean(nme < FAIL)), 4),
                   "roc_auc_failure": round(roc_auc(1 - quality(m), nme >= FAIL), 4)},
           "check_wflw_partial": wflw_check(lm, a.data, quality),
           "command": "python " + " ".join(sys.argv)}
    print(json.dumps(res, indent=1))
    if a.json:
        atomic_write_json(a.json, res)
    if a.install:
        from litehrnet_plus.inference.calibration import calibration, install
        models = dict(calibration().get("quality", {}).get("models", {}))
        models[a.model] = {"a": res["a"], "b": res["b"], "measured_by": res["command"]}
        install("quality", None, {"definition": res["definition"], "models": models})
    return 0


if __name__ == "__main__":
    sys.exit(main())
