"""The table that reads MediaPipe Face Mesh's 468 points as 300-W's 68: for each of the 68, the
vertex nearest it on average over 300-W training faces (inter-ocular units), so MediaPipe's NME
can be measured against 300-W ground truth (`bench --mode video`). Held-out check: lfpw/testset.

Each face is cropped from its photo around its ground-truth box (2x its size, at most 640 px a
side) so that Face Mesh's own detector, made for faces near the camera, sees it.

    python tools/fit_mediapipe_68.py --mediapipe-python /path/to/mp-env/bin/python --install
"""
from __future__ import annotations

import argparse

import cv2
import numpy as np

from litehrnet_plus.benchmarks.groundtruth import DATA
from litehrnet_plus.benchmarks.facemesh import TABLE_FILE, MediaPipeWorker, mediapipe_python
from litehrnet_plus.data.formats import load_300w
from litehrnet_plus.data.images import read_image
from litehrnet_plus.fileio import atomic_write_json

TRAIN = ("afw", "helen/trainset", "lfpw/trainset")


def face_crops(samples, side: int = 640):
    """Each face cropped around its box (2x its size), scaled to at most `side` px; the
    ground truth moved with it."""
    images, truths = [], []
    for s in samples:
        image = read_image(s.image_path, orient=False)
        (x1, y1), (x2, y2) = s.landmarks.min(0), s.landmarks.max(0)
        size = 2.0 * max(x2 - x1, y2 - y1)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        scale = min(1.0, side / size)
        m = np.array([[scale, 0, side / 2 - scale * cx], [0, scale, side / 2 - scale * cy]])
        out = int(min(side, round(size * scale)))
        m[:, 2] -= (side - out) / 2
        images.append(cv2.warpAffine(image, m, (out, out)))
        truths.append(s.landmarks @ m[:, :2].T + m[:, 2])
    return images, np.stack(truths)


def iod(truth: np.ndarray) -> np.ndarray:
    return np.linalg.norm(truth[:, 36] - truth[:, 45], axis=1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mediapipe-python")
    ap.add_argument("--every", type=int, default=4, help="every Nth training face (default 4)")
    ap.add_argument("--install", action="store_true", help=f"write {TABLE_FILE.name} into the package")
    args = ap.parse_args()
    python, note = mediapipe_python(args.mediapipe_python)
    if python is None:
        raise SystemExit(note)
    train = [s for sub in TRAIN for s in load_300w(DATA / "300w", sub)][::args.every]
    test = load_300w(DATA / "300w", "lfpw/testset")
    worker = MediaPipeWorker(python)
    try:
        images, truth = face_crops(train)
        mesh = worker.images(images)
        test_images, test_truth = face_crops(test)
        test_mesh = worker.images(test_images)
    finally:
        worker.close()
    found = np.all(np.isfinite(mesh[:, :, 0]), axis=1)
    # distance of every vertex to every true point, over the faces found: (faces, 468, 68)
    d = np.linalg.norm(mesh[found][:, :, None, :] - truth[found][:, None, :, :], axis=3) / iod(truth[found])[:, None, None]
    # a face Face Mesh put elsewhere (another face in the crop) would pull the table: drop faces
    # whose best vertices are far off on average
    best = d.min(axis=1).mean(axis=1)
    good = best < np.median(best) * 3
    table = np.argmin(np.median(d[good], axis=0), axis=0)
    per_point = np.median(d[good][:, table, np.arange(68)], axis=0)
    test_found = np.all(np.isfinite(test_mesh[:, :, 0]), axis=1)
    test_err = np.linalg.norm(test_mesh[test_found][:, table] - test_truth[test_found], axis=2).mean(1) / \
        iod(test_truth[test_found])
    doc = {"vertices": [int(v) for v in table], "mediapipe": note,
           "train_faces": int(found.sum()), "train_faces_used": int(good.sum()), "train_faces_given": len(train),
           "median_error_per_point_iod": [round(float(e), 4) for e in per_point],
           "lfpw_testset": {"faces": len(test), "found": int(test_found.sum()),
                            "nme_iod": round(float(test_err.mean()), 5),
                            "failure_rate_0.10": round(float((test_err > 0.10).mean()), 4)},
           "command": "python tools/fit_mediapipe_68.py --mediapipe-python PYTHON --install"}
    print({k: v for k, v in doc.items() if k not in ("vertices", "median_error_per_point_iod")})
    if args.install:
        atomic_write_json(TABLE_FILE, doc)
        print(f"wrote {TABLE_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
