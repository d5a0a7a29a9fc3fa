"""How well the head-pose solver measures pose, on what this machine has (no AFLW2000 photos).

    python tools/measure_head_pose.py --json benchmarks/head_pose.json

1. Real face geometry (AFLW2000-3D labels): each face's pose is the rotation that aligns the
   generic head to its fitted 3D points; the solver gets the hand re-annotated 2D points of the
   same face (450x450 image, the default intrinsics). Mean absolute error per angle, by |yaw|
   bin, for the inner-face points the solver uses and for all 68.
2. Synthetic renders: each AFLW2000-3D face's own 3D shape (not the generic head) turned by a
   random pose (yaw +-75, pitch +-40, roll +-40), projected by a 640x480 camera from 40-90 cm,
   with landmark errors added: none; Gaussian noise whose mean point error is a given NME (the
   shipped models' lfpw/testset NMEs); and the model's own errors on lfpw/testset (each render
   gets one real face's residuals, in inter-ocular units, turned by the render's roll), which
   keeps their structure (whole regions shifted together). The error of the solved angles.
3. 300-W roll: on lfpw/testset, the roll the solver gives from the model's landmarks (ground
   truth box) against the eye-line angle of the ground truth (points 36 -> 45).
4. Real photos, the landmarks' share of the error: on lfpw/testset and wflw-partial (its
   68-point subset), the pose solved from the model's landmarks (ground-truth box) against the
   pose solved from the ground-truth landmarks, by |yaw| bin of the latter.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from litehrnet_plus.data.formats import load_300w  # noqa: E402
from litehrnet_plus.data.images import read_image  # noqa: E402
from litehrnet_plus.data.transforms import landmark_box  # noqa: E402
from litehrnet_plus.fileio import atomic_write_json  # noqa: E402
from litehrnet_plus.inference.headpose import (SOLVE_POINTS, angles_from_rotation, camera_matrix, face_model,  # noqa: E402
                                             rotation_from_angles, similarity_align, solve_head_pose)

BINS = ((0, 30), (30, 60), (60, 90))
SUBSETS = {"all 68": tuple(range(68)), "inner face (17-67, the default)": SOLVE_POINTS}


def angle_errors(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    return np.abs((pred - truth + 180.0) % 360.0 - 180.0)


def summary(err: np.ndarray, yaw: np.ndarray) -> dict:
    out = {"faces": len(err), "mae": {k: round(float(v), 2) for k, v in zip(("yaw", "pitch", "roll"), err.mean(0))},
           "mae_mean": round(float(err.mean()), 2), "by_abs_yaw": {}}
    for lo, hi in BINS:
        m = (np.abs(yaw) > lo if lo else np.abs(yaw) >= 0) & (np.abs(yaw) <= hi)
        if m.any():
            out["by_abs_yaw"][f"{lo}-{hi}"] = {"faces": int(m.sum()), "mae_mean": round(float(err[m].mean()), 2),
                                               "mae": [round(float(v), 2) for v in err[m].mean(0)]}
    return out


def real_geometry(data: Path) -> dict:
    pts3 = np.load(data / "AFLW2000-3D.pts68.npy").astype(np.float64).transpose(0, 2, 1)
    pts3[..., 2] *= -1.0
    pts2 = np.load(data / "AFLW2000-3D-Reannotated.pts68.npy").astype(np.float64).transpose(0, 2, 1)
    model, cam = face_model(), camera_matrix(450, 450)
    truth = np.array([angles_from_rotation(similarity_align(model, x)[1]) for x in pts3])
    results = {}
    for name, use in SUBSETS.items():
        pred = np.array([[p.yaw, p.pitch, p.roll] for p in (solve_head_pose(x, cam, use=use) for x in pts2)])
        results[name] = summary(angle_errors(pred, truth), truth[:, 0])
    return results


def synthetic(data: Path, nmes: list, seed: int = 0, n: int = 2000) -> dict:
    """nmes: floats (Gaussian noise of that NME) or (name, residuals (M,68,2) in inter-ocular units)."""
    rng = np.random.default_rng(seed)
    shapes = np.load(data / "AFLW2000-3D.pts68.npy").astype(np.float64).transpose(0, 2, 1)
    shapes[..., 2] *= -1.0
    model, cam = face_model(), camera_matrix(640, 480)
    out = {}
    for nme in nmes:
        truth, pred = [], []
        for i in range(n):
            x = shapes[i % len(shapes)]
            s, r, t = similarity_align(x, model)          # the face's own shape in model units, frontal
            face = s * x @ r.T + t
            angles = (rng.uniform(-75, 75), rng.uniform(-40, 40), rng.uniform(-40, 40))
            rot = rotation_from_angles(*angles)
            pos = np.array([rng.uniform(-100, 100), rng.uniform(-80, 80), rng.uniform(400, 900)])
            uv = (face @ rot.T + pos) @ cam.T
            uv = uv[:, :2] / uv[:, 2:3]
            iod = np.linalg.norm(uv[45] - uv[36])
            if isinstance(nme, tuple):
                c, sn = np.cos(np.radians(angles[2])), np.sin(np.radians(angles[2]))
                res = nme[1][rng.integers(len(nme[1]))]
                uv = uv + iod * res @ np.array([[c, sn], [-sn, c]])
            else:
                # mean Euclidean error of an isotropic 2D Gaussian is sigma * sqrt(pi / 2)
                uv = uv + rng.normal(0.0, nme * iod / np.sqrt(np.pi / 2), uv.shape)
            p = solve_head_pose(uv, cam)
            truth.append(angles)
            pred.append((p.yaw, p.pitch, p.roll))
        truth = np.array(truth)
        out[nme[0] if isinstance(nme, tuple) else f"gaussian nme {nme:.4f}"] = summary(angle_errors(np.array(pred), truth), truth[:, 0])
    return out


def roll_300w(root: Path, model_tag: str) -> tuple[dict, np.ndarray]:
    """The roll comparison, and the model's residuals (pred - truth) / inter-ocular distance."""
    from litehrnet_plus.inference.landmarker import FaceLandmarker
    lm = FaceLandmarker(model_tag)
    errs, errs_gt, residuals = [], [], []
    for s in load_300w(root, "lfpw/testset"):
        image = read_image(s.image_path, orient=False)
        gt = s.landmarks.astype(np.float64)
        pred = lm.landmarks(image, landmark_box(gt)[None])[0]
        residuals.append((pred - gt) / np.linalg.norm(gt[45] - gt[36]))
        cam = camera_matrix(image.shape[1], image.shape[0])
        eye_line = np.degrees(np.arctan2(gt[45, 1] - gt[36, 1], gt[45, 0] - gt[36, 0]))
        errs.append(angle_errors(np.array(solve_head_pose(pred, cam).roll), eye_line))
        errs_gt.append(angle_errors(np.array(solve_head_pose(gt, cam).roll), eye_line))
    return {"model": model_tag, "faces": len(errs), "roll_mae_from_model_landmarks": round(float(np.mean(errs)), 2),
            "roll_mae_from_ground_truth_landmarks": round(float(np.mean(errs_gt)), 2)}, np.array(residuals)


def photos(w300: Path, wflw: Path, model_tag: str) -> dict:
    from litehrnet_plus.data.formats import load_wflw
    from litehrnet_plus.inference.landmarker import FaceLandmarker
    from litehrnet_plus.schemes import WFLW98_TO_IBUG68
    lm = FaceLandmarker(model_tag)
    out = {"model": model_tag}
    sets = {"lfpw/testset": [(s.image_path, s.landmarks) for s in load_300w(w300, "lfpw/testset")],
            "wflw-partial": [(s.image_path, s.landmarks[list(WFLW98_TO_IBUG68)]) for s in load_wflw(wflw, "test")]}
    for name, faces in sets.items():
        truth, pred = [], []
        for path, gt in faces:
            image = read_image(path, orient=False)
            gt = gt.astype(np.float64)
            cam = camera_matrix(image.shape[1], image.shape[0])
            p = solve_head_pose(lm.landmarks(image, landmark_box(gt)[None])[0], cam)
            g = solve_head_pose(gt, cam)
            truth.append((g.yaw, g.pitch, g.roll))
            pred.append((p.yaw, p.pitch, p.roll))
        truth, pred = np.array(truth), np.array(pred)
        out[name] = summary(angle_errors(pred, truth), truth[:, 0])
        out[name]["yaw_slope_pred_on_truth"] = round(float(np.polyfit(truth[:, 0], pred[:, 0], 1)[0]), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--aflw", type=Path, default=ROOT.parent / "shared/data/aflw2000-3d-labels")
    ap.add_argument("--300w", dest="w300", type=Path, default=ROOT.parent / "shared/data/300w")
    ap.add_argument("--wflw", type=Path, default=ROOT.parent / "shared/data/wflw-partial")
    ap.add_argument("--model", default="litehrnet_plus_10m.300w")
    ap.add_argument("--nme", type=float, nargs="+", default=[0.0371, 0.0418],
                    help="Gaussian landmark noise of the synthetic renders, as NME (default: 30M's, 10M's)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    roll, residuals = roll_300w(args.w300, args.model)
    noise = [0.0] + args.nme + [(f"{args.model} residuals on lfpw/testset", residuals)]
    res = {"real_geometry_aflw2000": real_geometry(args.aflw), "synthetic": synthetic(args.aflw, noise),
           "roll_300w_lfpw_testset": roll,
           "photos_model_vs_ground_truth_landmarks": photos(args.w300, args.wflw, args.model)}
    print(json.dumps(res, indent=1))
    if args.json:
        atomic_write_json(args.json, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
