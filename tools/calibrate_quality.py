"""Fit and check the per-face quality score: the probability that a face's NME is below 0.10,
as the product of two logistic functions (a noisy AND, `calibration.quality_probability`): one
of the model's mean heatmap peak score, one of how face-like the landmarks are under the
scheme's shape model (log residual outside its modes, log Mahalanobis distance along them;
inference/shape_model.py).

Shape model: generalised Procrustes + PCA of the 300-W training faces' ground truth (the modes
that explain 95% of the variance), written to inference/shape_models.json with --install.
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

from litehrnet_plus.data.formats import load_300w, load_wflw  # noqa: E402
from litehrnet_plus.data.images import read_image  # noqa: E402
from litehrnet_plus.data.transforms import crop_faces, uncrop_points  # noqa: E402
from litehrnet_plus.fileio import atomic_write_json  # noqa: E402
from litehrnet_plus.evaluation.metrics import roc_auc  # noqa: E402
from litehrnet_plus.benchmarks.groundtruth import detected_faces  # noqa: E402
from litehrnet_plus.inference import calibration as cal  # noqa: E402
from litehrnet_plus.inference.calibration import quality_features, quality_probability  # noqa: E402
from litehrnet_plus.inference.quality_fit import fit_noisy_and  # noqa: E402
from litehrnet_plus.inference.landmarker import FaceLandmarker  # noqa: E402
from litehrnet_plus.inference.shape_model import ShapeModel  # noqa: E402
from litehrnet_plus.schemes import WFLW98_TO_IBUG68  # noqa: E402

FAIL = 0.10
DEFINITION = (f"P(NME < {FAIL}) = sigmoid(peaks[0] * mean peak score + peaks[1]) * sigmoid(shape[0] * "
              "log shape residual + shape[1] * log shape mahalanobis + shape[2])")
SHAPE_SCHEME = "ibug68"          # the 300-W training shapes the shape model is fitted on


def fit_samples(lm: FaceLandmarker, root: Path, every: int, rng: np.random.Generator):
    """Landmarks, peak scores and NME of the fit crops (see the module's text)."""
    pts_all, scores_all, nme = [], [], []
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
        pts_all.extend(pts)
        scores_all.extend(scores)
        nme.extend(np.linalg.norm(pts - s.landmarks, axis=2).mean(axis=1) / iod)
    return np.array(pts_all), np.array(scores_all), np.array(nme)


def wflw_check(lm: FaceLandmarker, root: Path, quality) -> dict:
    samples = load_wflw(root / "wflw-partial", "test")
    out = {}
    # from the ground-truth box
    pts_all, scores_all, nme = [], [], []
    for s in samples:
        gt = s.landmarks[list(WFLW98_TO_IBUG68)]
        image = read_image(s.image_path, orient=False)
        box = np.r_[gt.min(0), gt.max(0)]
        pts, scores = lm.predict(image, box[None])
        pts_all.append(pts[0])
        scores_all.append(scores[0])
        nme.append(np.linalg.norm(pts[0] - gt, axis=1).mean() / np.linalg.norm(gt[36] - gt[45]))
    out["ground_truth_box"] = _summary(np.array(pts_all), np.array(scores_all), np.array(nme), quality)
    # end to end: the face nearest the truth among the detections (missed faces are left out)
    pts_all, scores_all, nme = [], [], []
    for s, gt, best in detected_faces(lm, samples, lambda s: s.landmarks[list(WFLW98_TO_IBUG68)]):
        if best is None:
            continue
        pts_all.append(best.landmarks)
        scores_all.append(best.landmark_scores)
        nme.append(np.linalg.norm(best.landmarks - gt, axis=1).mean() / np.linalg.norm(gt[36] - gt[45]))
    out["end_to_end"] = _summary(np.array(pts_all), np.array(scores_all), np.array(nme), quality)
    out["end_to_end"]["found"] = f"{len(nme)} / {len(samples)}"
    return out


def _summary(pts: np.ndarray, scores: np.ndarray, nme: np.ndarray, quality) -> dict:
    q = quality(pts, scores)
    m = scores.mean(axis=1)
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
            "roc_auc_failure_peak_score_only": round(roc_auc(-m, fail), 4),
            "spearman_score_vs_nme": round(float(np.corrcoef(np.argsort(np.argsort(m)),
                                                             np.argsort(np.argsort(nme)))[0, 1]), 4),
            "kept_at_quality_0.5": {"faces": int(keep.sum()),
                                    "nme": round(float(nme[keep].mean()), 4) if keep.any() else None,
                                    "fr@0.10": round(float(fail[keep].mean()), 4) if keep.any() else None},
            "reliability": table}


def install_shape_model(shape: ShapeModel, training_shapes: int) -> None:
    """Write the scheme's shape model into inference/shape_models.json. Every model's quality
    fit reads it: after it changes, re-run this tool for each shipped model."""
    shapes = json.loads(cal.SHAPE_MODELS_FILE.read_text()) if cal.SHAPE_MODELS_FILE.exists() else {
        "about": "Shape models of the landmark schemes (inference/shape_model.py), fitted on ground-truth "
                 "training shapes by tools/calibrate_quality.py --install; re-run it, do not edit."}
    shapes.setdefault("schemes", {})[SHAPE_SCHEME] = {
        **shape.to_dict(), "training_shapes": training_shapes,
        "measured_by": "python tools/calibrate_quality.py --install (300-W training ground truth)"}
    atomic_write_json(cal.SHAPE_MODELS_FILE, shapes)
    cal.shape_model.cache_clear()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="litehrnet_plus_30m.300w")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--every", type=int, default=4, help="every N-th 300-W training face")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--install", action="store_true", help="write the fit into inference/calibration.json")
    a = ap.parse_args()
    truth = np.array([s.landmarks for s in load_300w(a.data / "300w", "train")])
    shape = ShapeModel.fit(truth)
    if a.install:           # first: the landmarker below reads the installed shape model
        install_shape_model(shape, len(truth))
    lm = FaceLandmarker(a.model, threads=1, backend="onnxruntime")
    scheme = lm.model.scheme.name
    if scheme != SHAPE_SCHEME:
        raise SystemExit(f"{a.model}: scheme {scheme!r}; this tool fits {SHAPE_SCHEME!r} shapes (300-W)")
    pts, scores, nme = fit_samples(lm, a.data, a.every, np.random.default_rng(0))
    params = fit_noisy_and(quality_features(pts, scores, shape), (nme < FAIL).astype(float))
    quality = lambda p, s: quality_probability(quality_features(p, s, shape), params)  # noqa: E731
    res = {"model": a.model, "definition": DEFINITION,
           "peaks": [round(float(v), 4) for v in params[:2]], "shape": [round(float(v), 4) for v in params[2:]],
           "shape_model": {"scheme": scheme, "training_shapes": len(truth), "modes": len(shape.modes)},
           "fit": {"crops": len(nme), "good_share": round(float(np.mean(nme < FAIL)), 4),
                   "roc_auc_failure": round(roc_auc(1 - quality(pts, scores), nme >= FAIL), 4)},
           "check_wflw_partial": wflw_check(lm, a.data, quality),
           "command": "python " + " ".join(sys.argv)}
    print(json.dumps(res, indent=1))
    if a.json:
        atomic_write_json(a.json, res)
    if a.install:
        models = dict(cal.calibration().get("quality", {}).get("models", {}))
        models[a.model] = {"peaks": res["peaks"], "shape": res["shape"], "shape_model": scheme,
                           "measured_by": res["command"]}
        cal.install("quality", None, {"definition": DEFINITION, "models": models})
    return 0


if __name__ == "__main__":
    sys.exit(main())
