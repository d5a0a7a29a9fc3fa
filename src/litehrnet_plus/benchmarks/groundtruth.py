"""Ground truth for the measuring tools (tools/): the faces of the 300-W and WFLW folders, which
returned face matches which true one, and face-free tiles. The data is never shipped: it is read
from $LITEHRNET_DATA, else from `shared/data` beside the checkout (the development layout)."""
from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from ..data.formats import load_300w, load_wflw
from ..data.images import read_image
from ..data.transforms import box_iou as iou  # noqa: F401  (the tools' name for it)
from ..fileio import atomic_write_json, check_writable


def write_results(path: Path, results: dict, update: bool) -> None:
    """Write a tool's JSON results; with update, merge into the existing file's entries."""
    old = json.loads(path.read_text()) if update and path.exists() else {}
    atomic_write_json(check_writable(path, overwrite=update), {**old, **results})


DATA = Path(os.environ.get("LITEHRNET_DATA") or Path(__file__).resolve().parents[4] / "shared" / "data")
TRAIN_300W = ("300w/afw", "300w/helen/trainset", "300w/lfpw/trainset")
TEST_300W = ("300w/lfpw/testset",)


def faces_300w(folders: tuple[str, ...], root: Path = DATA) -> list[tuple[Path, np.ndarray]]:
    """(image, (1,4) tight landmark box) for each face of the 300-W folders."""
    return [(s.image_path, s.box[None].astype(np.float64))
            for folder in folders for s in load_300w(root / "300w", folder.removeprefix("300w/"))]


def faces_wflw(root: Path = DATA) -> list[tuple[Path, np.ndarray]]:
    """(image, (F,4) tight boxes of the 98 landmarks) per WFLW image, several faces per image."""
    by_image: dict[Path, list[np.ndarray]] = defaultdict(list)
    for s in load_wflw(root / "wflw-partial", "test"):
        by_image[s.image_path].append(s.box.astype(np.float64))
    return [(image, np.stack(boxes)) for image, boxes in sorted(by_image.items())]


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


def matched_face(faces, truth: np.ndarray):
    """The returned face whose landmark centre is nearest the true landmarks' centre, if it
    lies within 0.5 x the true landmarks' mean extent (the face was found); else None."""
    centre = truth.mean(axis=0)
    best = min(faces, key=lambda f: np.linalg.norm(f.landmarks.mean(axis=0) - centre), default=None)
    if best is None or np.linalg.norm(best.landmarks.mean(axis=0) - centre) > 0.5 * np.ptp(truth, axis=0).mean():
        return None
    return best


def detected_faces(lm, samples, truth=lambda s: s.landmarks):
    """End to end: (sample, its true points, the detection that matches it or None), detecting
    once per image, with every detection kept (min_quality=0: the floor is a reporting choice,
    not what the detector and the model can do)."""
    by_image: dict = defaultdict(list)
    for s in samples:
        by_image[s.image_path].append(s)
    for path, group in by_image.items():
        found = lm.detect(read_image(path, orient=False), min_quality=0)
        for s in group:
            gt = truth(s)
            yield s, gt, matched_face(found, gt)


def face_free_tiles(image: np.ndarray, boxes: list[np.ndarray], side: int) -> list[np.ndarray]:
    """Square tiles of `side` pixels that overlap no face (each face box grown to a square on its
    longer side): images to count false detections on."""
    h, w = image.shape[:2]
    grown = []
    for b in boxes:
        c, half = (b[:2] + b[2:]) / 2, (b[2:] - b[:2]).max()
        grown.append(np.r_[c - half, c + half])
    out = []
    for y in range(0, h - side + 1, side):
        for x in range(0, w - side + 1, side):
            if all(x + side <= g[0] or x >= g[2] or y + side <= g[1] or y >= g[3] for g in grown):
                out.append(image[y:y + side, x:x + side])
    return out


def turned_photo(image: np.ndarray, points: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """The photo turned counter-clockwise by `angle` degrees on a canvas expanded so nothing is
    cut, and its points moved with it."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(np.ceil(h * sin + w * cos)), int(np.ceil(h * cos + w * sin))
    m[0, 2] += (nw - 1) / 2 - (w - 1) / 2
    m[1, 2] += (nh - 1) / 2 - (h - 1) / 2
    out = cv2.warpAffine(image, m, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return out, np.asarray(points) @ m[:, :2].T + m[:, 2]
