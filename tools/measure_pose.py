"""Turned heads: landmark accuracy and the yaw read from the landmarks, per model, by pose.

    python tools/measure_pose.py --models litehrnet_plus_30m.300w litehrnet_plus_10m.300w \
        --synthetic runs/profiled/lfpw_test_yaw --json benchmarks/pose_before.json

1. Synthetic turns (faces training never sees): lfpw/testset faces profiled by
   `litehrnet-plus profile` to 0, 30, 45, 60 and 75 degrees of yaw (`--synthetic`, made with
   `--yaws 0,30,45,60,75 --min-turn -15 --jitter 0 --pitch 0`). Per target angle, from the
   ground-truth box: NME (/ the box size sqrt(w h), as for large poses; and / inter-ocular), the
   yaw solved from the predicted landmarks against the rendered yaw, and the same solve on the
   true landmarks (the solver's own share).
2. wflw-partial (its 68-point subset), all faces and the large-pose subset: NME and FR@0.10
   (inter-ocular) from the ground-truth box and end to end (the detection nearest the truth), and
   the slope of the yaw solved from predicted landmarks on the yaw solved from the true ones,
   overall and by |yaw| bin.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from litehrnet_plus.benchmarks.groundtruth import detected_faces
from litehrnet_plus.data.formats import load_pts_folder, load_wflw
from litehrnet_plus.data.images import read_image
from litehrnet_plus.data.transforms import landmark_box
from litehrnet_plus.evaluation.metrics import FAILURE_THRESHOLD
from litehrnet_plus.fileio import atomic_write_json
from litehrnet_plus.inference.landmarker import FaceLandmarker
from litehrnet_plus.inference.headpose import camera_matrix, solve_head_pose
from litehrnet_plus.profiling.dataset import read_manifest
from litehrnet_plus.schemes import WFLW98_TO_IBUG68

ROOT = Path(__file__).resolve().parents[1]
YAW_BINS = ((0, 15), (15, 30), (30, 45), (45, 60), (60, 90))


def _yaw(points: np.ndarray, shape) -> float:
    return solve_head_pose(points, camera_matrix(shape[1], shape[0])).yaw


def _errors(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    """(NME / box size, NME / inter-ocular) of one face."""
    err = np.linalg.norm(pred - gt, axis=1).mean()
    w, h = np.ptp(gt, axis=0)
    return float(err / np.sqrt(w * h)), float(err / np.linalg.norm(gt[45] - gt[36]))


def synthetic(lm: FaceLandmarker, folder: Path) -> dict:
    rows = read_manifest(folder)
    yaw_of = {r["image"]: r["yaw"] for r in rows}
    by_target: dict[int, list] = {}
    for s in load_pts_folder(folder, num_landmarks=68):
        rel = s.image_path.relative_to(folder).as_posix()
        target = int(s.image_path.stem.rsplit("_y", 1)[1])
        image = read_image(s.image_path, orient=False)
        gt = s.landmarks.astype(np.float64)
        pred = lm.landmarks(image, landmark_box(gt)[None])[0].astype(np.float64)
        box_nme, iod_nme = _errors(pred, gt)
        by_target.setdefault(abs(target), []).append(
            (box_nme, iod_nme, yaw_of[rel], _yaw(pred, image.shape), _yaw(gt, image.shape)))
    out = {}
    for target in sorted(by_target):
        a = np.array(by_target[target])
        out[str(target)] = {"faces": len(a), "nme_box": round(float(a[:, 0].mean()), 4),
                            "nme_iod": round(float(a[:, 1].mean()), 4),
                            "fr@0.10_iod": round(float(np.mean(a[:, 1] > FAILURE_THRESHOLD)), 4),
                            "rendered_abs_yaw": round(float(np.abs(a[:, 2]).mean()), 2),
                            "abs_yaw_from_model": round(float(np.abs(a[:, 3]).mean()), 2),
                            "yaw_error_from_model": round(float(np.abs(a[:, 3] - a[:, 2]).mean()), 2),
                            "yaw_error_from_true_landmarks": round(float(np.abs(a[:, 4] - a[:, 2]).mean()), 2)}
    return out


def _summary(nme: list[float]) -> dict:
    a = np.array(nme)
    return {"faces": len(a), "nme": round(float(a.mean()), 4), "fr@0.10": round(float(np.mean(a > FAILURE_THRESHOLD)), 4)}


def wflw(lm: FaceLandmarker, root: Path) -> dict:
    samples = load_wflw(root, "test")
    idx = list(WFLW98_TO_IBUG68)
    gt_box = {"all": [], "large pose": []}
    yaws = []
    for s in samples:
        gt = s.landmarks[idx].astype(np.float64)
        image = read_image(s.image_path, orient=False)
        pred = lm.landmarks(image, landmark_box(gt)[None])[0].astype(np.float64)
        nme = _errors(pred, gt)[1]
        gt_box["all"].append(nme)
        if s.attributes.get("pose"):
            gt_box["large pose"].append(nme)
        yaws.append((_yaw(gt, image.shape), _yaw(pred, image.shape)))
    e2e = {"all": [], "large pose": []}
    for s, gt, best in detected_faces(lm, samples, lambda s: s.landmarks[idx].astype(np.float64)):
        if best is None:
            continue
        nme = _errors(best.landmarks.astype(np.float64), gt)[1]
        e2e["all"].append(nme)
        if s.attributes.get("pose"):
            e2e["large pose"].append(nme)
    y = np.array(yaws)
    slope = {"all": round(float(np.polyfit(y[:, 0], y[:, 1], 1)[0]), 3)}
    for lo, hi in YAW_BINS:
        sel = (np.abs(y[:, 0]) >= lo) & (np.abs(y[:, 0]) < hi)
        if sel.sum() >= 3:
            slope[f"{lo}-{hi}"] = {"faces": int(sel.sum()), "mean_abs_yaw_true": round(float(np.abs(y[sel, 0]).mean()), 2),
                                   "mean_abs_yaw_model": round(float(np.abs(y[sel, 1]).mean()), 2),
                                   "ratio": round(float(np.abs(y[sel, 1]).mean() / max(np.abs(y[sel, 0]).mean(), 1e-9)), 3)}
    large = len([s for s in samples if s.attributes.get("pose")])
    return {"ground_truth_box": {k: _summary(v) for k, v in gt_box.items()},
            "end_to_end": {**{k: {**_summary(v), "found": f"{len(v)} / {len(samples) if k == 'all' else large}"}
                              for k, v in e2e.items()}, "detector": lm.detector_name},
            "yaw_model_on_true_landmarks": slope}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", required=True, help="shipped tags or .onnx files")
    ap.add_argument("--synthetic", type=Path, help="the profiled lfpw/testset folder (skipped when not given)")
    ap.add_argument("--wflw", type=Path, default=ROOT.parent / "shared/data/wflw-partial")
    ap.add_argument("--no-wflw", action="store_true")
    ap.add_argument("--detector", default="auto", help="the face detector of the end-to-end figures")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    res = {}
    for model in args.models:
        lm = FaceLandmarker(model, detector=args.detector)
        r = {}
        if args.synthetic:
            r["synthetic"] = synthetic(lm, args.synthetic)
        if not args.no_wflw:
            r["wflw_partial"] = wflw(lm, args.wflw)
        res[model] = r
        print(json.dumps({model: r}, indent=1), flush=True)
    if args.json:
        atomic_write_json(args.json, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
