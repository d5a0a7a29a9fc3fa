"""A contact sheet of profiled faces: each row one source face and its turned views, landmarks drawn."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..data.formats import read_pts
from ..data.images import read_image
from ..fileio import atomic_write_bytes, check_writable
from .dataset import read_records

TILE = 200
JAW_COLOUR, INNER_COLOUR = (0, 200, 255), (80, 255, 80)


def _tile(image: np.ndarray, points: np.ndarray, label: str) -> np.ndarray:
    h, w = image.shape[:2]
    s = TILE / max(h, w)
    tile = np.zeros((TILE, TILE, 3), np.uint8)
    small = cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    tile[:small.shape[0], :small.shape[1]] = small
    for i, (x, y) in enumerate(points * s):
        cv2.circle(tile, (int(round(x)), int(round(y))), 2, JAW_COLOUR if i < 17 else INNER_COLOUR, -1, cv2.LINE_AA)
    cv2.putText(tile, label, (4, TILE - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(tile, label, (4, TILE - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def contact_sheet(root: str | Path, out: str | Path, faces: int = 6, views: int = 5, seed: int = 0) -> np.ndarray:
    """`faces` profiled faces drawn at random (by `seed`) with up to `views` of their views,
    evenly spread over the views each has."""
    root, out = Path(root), Path(out)
    done = [r for r in read_records(out) if r["status"] == "profiled"]
    if not done:
        raise FileNotFoundError(f"{out}: no profiled faces to draw")
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(done), size=min(faces, len(done)), replace=False)
    rows = []
    for k in sorted(pick):
        r = done[k]
        src = root / r["source"]
        tiles = [_tile(read_image(src, orient=False), read_pts(src.with_suffix(".pts")), f"photo {r['yaw']:+.0f}")]
        vs = r["views"]
        for j in np.unique(np.linspace(0, len(vs) - 1, min(views, len(vs))).round().astype(int)):
            v = vs[j]
            img = out / v["image"]
            tiles.append(_tile(read_image(img, orient=False), read_pts(img.with_suffix(".pts")), f"yaw {v['yaw']:+.0f}"))
        tiles += [np.zeros((TILE, TILE, 3), np.uint8)] * (views + 1 - len(tiles))
        rows.append(np.hstack(tiles))
    return np.vstack(rows)


def write_sheet(path: str | Path, sheet: np.ndarray, overwrite: bool = True) -> None:
    path = check_writable(path, overwrite)
    ext = path.suffix.lower() or ".jpg"
    ok, buf = cv2.imencode(ext, sheet, [cv2.IMWRITE_JPEG_QUALITY, 90] if ext in (".jpg", ".jpeg") else [])
    if not ok:
        raise OSError(f"{path}: cannot encode an image of this type (use .jpg or .png)")
    atomic_write_bytes(path, buf.tobytes())
