"""Ground-truth face boxes of the shared data sets, for the detector tools (not part of the
package: the tools read `../shared/data`, which is never shipped)."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np


def write_results(path: Path, results: dict, update: bool) -> None:
    """Write a tool's JSON results; with update, merge into the existing file's entries."""
    from litehrnet_plus.fileio import atomic_write_json, check_writable

    old = json.loads(path.read_text()) if update and path.exists() else {}
    atomic_write_json(check_writable(path, overwrite=update), {**old, **results})

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TRAIN_300W = ("300w/afw", "300w/helen/trainset", "300w/lfpw/trainset")
TEST_300W = ("300w/lfpw/testset",)
WFLW_LIST = "wflw-partial/WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_test.txt"


def read_pts(path: Path) -> np.ndarray:
    """iBUG .pts -> (K,2) float32, 0-based (the files are 1-based)."""
    lines = path.read_text().splitlines()
    start = lines.index("{") + 1
    end = lines.index("}", start)
    return np.array([[float(v) for v in ln.split()] for ln in lines[start:end]], dtype=np.float32) - 1.0


def tight_box(pts: np.ndarray) -> np.ndarray:
    return np.concatenate([pts.min(axis=0), pts.max(axis=0)]).astype(np.float64)


def faces_300w(folders: tuple[str, ...], root: Path = DATA) -> list[tuple[Path, np.ndarray]]:
    """(image, (F,4) tight landmark boxes) for each image of the 300-W folders."""
    out = []
    for folder in folders:
        for pts in sorted((root / folder).glob("*.pts")):
            img = next((pts.with_suffix(e) for e in (".jpg", ".png") if pts.with_suffix(e).exists()), None)
            if img is not None:
                out.append((img, tight_box(read_pts(pts))[None]))
    return out


def faces_wflw(root: Path = DATA) -> list[tuple[Path, np.ndarray]]:
    """(image, (F,4) tight boxes of the 98 landmarks) per WFLW image, several faces per image."""
    by_image: dict[str, list[np.ndarray]] = defaultdict(list)
    for line in (root / WFLW_LIST).read_text().splitlines():
        parts = line.split()
        if len(parts) != 196 + 4 + 6 + 1:
            continue
        pts = np.array(parts[:196], dtype=np.float64).reshape(98, 2)
        by_image[parts[-1]].append(tight_box(pts))
    images = root / "wflw-partial" / "WFLW_images"
    return [(images / name, np.stack(boxes)) for name, boxes in sorted(by_image.items())]


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in a (N,4) with every box in b (M,4) -> (N,M)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)[:, None]
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)[None]
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = w * h
    area = lambda x: (x[..., 2] - x[..., 0]) * (x[..., 3] - x[..., 1])  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)


def nearest(gt: np.ndarray, boxes: np.ndarray, max_dist: float = 0.35) -> int | None:
    """Index of the detection whose centre is nearest the ground-truth centre, if within
    max_dist x the ground-truth size (mean of width and height); used to match raw boxes,
    whose framing differs from the ground truth's too much for an IoU test."""
    if len(boxes) == 0:
        return None
    size = ((gt[2] - gt[0]) + (gt[3] - gt[1])) / 2
    c = (boxes[:, :2] + boxes[:, 2:]) / 2
    d = np.hypot(*(c - (gt[:2] + gt[2:]) / 2).T) / size
    i = int(np.argmin(d))
    return i if d[i] < max_dist else None
