"""Derive the generic 3D head of the head-pose solver from AFLW2000-3D's fitted 3D landmarks.

    .venv/bin/python tools/derive_head_model.py [--data ../shared/data/aflw2000-3d-labels]

1. The 2,000 fitted shapes (x, y image pixels, z depth with larger z nearer the camera) are put
   in the camera's right-handed frame (z flipped: away from the camera).
2. Generalised Procrustes: each shape is aligned to the running mean by a similarity
   (Umeyama), the mean re-estimated, until it stops moving.
3. The mean is made exactly symmetric: averaged with its mirror image (points swapped by the
   iBUG flip pairs, x negated), aligned to it.
4. Axes: x along the direction that joins every left/right point pair (the normal of the
   symmetry plane, from point 36 towards 45); y the image's downward direction in that plane;
   z = x cross y. What is left free is the pitch of the frame (a rotation about x): it is the
   one whose yaw, for each face aligned to the mean, best matches the dataset's yaw labels.
5. Origin between the outer eye corners; scale: the outer eye corners 90 mm apart.

Writes src/litehrnet_plus/inference/face_model_ibug68.json with the figures of each step.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from litehrnet_plus.fileio import atomic_write_text  # noqa: E402
from litehrnet_plus.inference.headpose import MODEL_FILE, _rx, angles_from_rotation, similarity_align  # noqa: E402
from litehrnet_plus.schemes import IBUG68  # noqa: E402

EYE_CORNERS_MM = 90.0


def load(data: Path) -> tuple[np.ndarray, np.ndarray]:
    pts = np.load(data / "AFLW2000-3D.pts68.npy").astype(np.float64).transpose(0, 2, 1)   # (N,68,3)
    pts[..., 2] *= -1.0
    return pts, np.load(data / "AFLW2000-3D.pose.npy").astype(np.float64)


def procrustes_mean(shapes: np.ndarray, start: np.ndarray, iters: int = 20) -> tuple[np.ndarray, int]:
    mean = start - start.mean(axis=0)
    for it in range(iters):
        aligned = []
        for x in shapes:
            s, r, t = similarity_align(x, mean)
            aligned.append(s * x @ r.T + t)
        new = np.mean(aligned, axis=0)
        s, r, t = similarity_align(new, mean)       # keep the reference's pose and size
        new = s * new @ r.T + t
        moved = float(np.abs(new - mean).max())
        mean = new
        if moved < 1e-6:
            return mean, it + 1
    return mean, iters


def symmetrise(mean: np.ndarray) -> np.ndarray:
    mirror = mean[IBUG68.flip_permutation()] * np.array([-1.0, 1.0, 1.0])
    s, r, t = similarity_align(mirror, mean)
    return (mean + s * mirror @ r.T + t) / 2


def face_axes(shape: np.ndarray) -> np.ndarray:
    """Rows x, y, z of the face frame before the pitch fit."""
    diffs = np.array([shape[b] - shape[a] for a, b in IBUG68.flip_pairs])
    x = np.linalg.svd(diffs, full_matrices=False)[2][0]
    x = x if np.dot(x, shape[45] - shape[36]) > 0 else -x
    y = np.array([0.0, 1.0, 0.0]) - x[1] * x
    y /= np.linalg.norm(y)
    return np.stack([x, y, np.cross(x, y)])


def yaw_errors(model: np.ndarray, shapes: np.ndarray, labels: np.ndarray, pitch_deg: float) -> np.ndarray:
    tilt = _rx(np.radians(pitch_deg))
    rots = [similarity_align(model, x)[1] for x in shapes]
    return np.array([angles_from_rotation(r @ tilt)[0] for r in rots]) - labels


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data/aflw2000-3d-labels"))
    ap.add_argument("--out", type=Path, default=MODEL_FILE)
    args = ap.parse_args(argv)
    shapes, yaw = load(args.data)
    mean, iters = procrustes_mean(shapes, shapes[int(np.argmin(np.abs(yaw)))])
    sym = symmetrise(mean)
    model = (sym - sym.mean(axis=0)) @ face_axes(sym).T
    labelled = np.abs(yaw) <= 90                 # a few labels are wrapped beyond 90
    grid = np.arange(-10.0, 10.01, 0.25)
    mae = [float(np.mean(np.abs(yaw_errors(model, shapes[labelled], yaw[labelled], a)))) for a in grid]
    pitch = float(grid[int(np.argmin(mae))])
    model = model @ _rx(np.radians(pitch)).T
    model -= (model[36] + model[45]) / 2
    model *= EYE_CORNERS_MM / np.linalg.norm(model[45] - model[36])
    asym = float(np.abs(model - model[IBUG68.flip_permutation()] * [-1, 1, 1]).max())
    doc = {"what": "generic 68-point (iBUG) 3D head; x right, y down, z away from the camera for a "
                   "face looking into it; mm, outer eye corners 90 mm apart; origin between them",
           "source": "AFLW2000-3D fitted 3D landmarks (2,000 faces), tools/derive_head_model.py",
           "procrustes_iterations": iters, "frame_pitch_deg": pitch,
           "yaw_label_mae_deg": round(min(mae), 3), "yaw_label_faces": int(labelled.sum()),
           "max_asymmetry_mm": round(asym, 6),
           "points": np.round(model, 3).tolist()}
    atomic_write_text(args.out, json.dumps(doc, indent=1) + "\n")
    print(f"{args.out}: {iters} Procrustes iterations, frame pitch {pitch:+.2f} deg, "
          f"yaw vs labels MAE {min(mae):.3f} deg on {labelled.sum()} faces")
    return 0


if __name__ == "__main__":
    sys.exit(main())
