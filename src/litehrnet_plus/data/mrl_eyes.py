"""mrl-eyes: near-infrared eye crops labelled open / closed, and crops re-cut from them in the
framing that face landmarks give (what the eye-state classifier sees at run time)."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import cv2
import numpy as np

from ..errors import AnnotationError
from .images import read_image

# An eye spans this fraction of an mrl-eyes crop's width, and of ours (1 / EYE_CROP_SCALE);
# the random scale of training crops is centred on their ratio.
MRL_EYE_FRACTION = 0.62


def load_mrl(root: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images (N,100,100) uint8 grey, closed labels (N,) {0,1}, index (N,)) from labels.csv."""
    root = Path(root)
    table = root / "labels.csv"
    if not table.is_file():
        raise AnnotationError(f"{table}: no such file (mrl-eyes: labels.csv beside open/ and closed/)")
    images, closed, index = [], [], []
    with open(table, newline="", encoding="utf-8") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            try:
                state, idx = int(row["state"]), int(row["index"])
            except (KeyError, ValueError):
                raise AnnotationError(f"{table}:{line}: needs integer 'state' and 'index' columns") from None
            images.append(cv2.cvtColor(read_image(root / row["file"], orient=False), cv2.COLOR_BGR2GRAY))
            closed.append(1 - state)
            index.append(idx)
    return np.stack(images), np.array(closed, dtype=np.int64), np.array(index, dtype=np.int64)


def block(index: np.ndarray, rng: tuple[int, int]) -> np.ndarray:
    return (index >= rng[0]) & (index <= rng[1])


def recut(image: np.ndarray, rng: np.random.Generator, augment: dict | None, size: int,
          eye_crop_scale: float) -> np.ndarray:
    """A crop of an mrl-eyes image framed as landmarks frame an eye: size x size pixels, the eye
    1 / eye_crop_scale of its width. augment None: exactly that; else a dict of scale_jitter
    (scale x exp(U(-j, j))), shift (of the side) and rotation (degrees), plus a random flip
    and camera degradations (blur, gamma, contrast, brightness, noise, JPEG)."""
    h, w = image.shape
    # an mrl crop of side w shows an eye of MRL_EYE_FRACTION * w; ours shows one of size / scale
    zoom = (size / eye_crop_scale) / (MRL_EYE_FRACTION * w)
    angle, dx, dy, flip = 0.0, 0.0, 0.0, False
    if augment is not None:
        j = augment["scale_jitter"]
        zoom *= math.exp(rng.uniform(-j, j))
        angle = rng.uniform(-augment["rotation"], augment["rotation"])
        dx, dy = rng.uniform(-augment["shift"], augment["shift"], 2) * size
        flip = bool(rng.random() < 0.5)
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, zoom)
    m[:, 2] += np.array([(size - 1) / 2 + dx, (size - 1) / 2 + dy]) - np.array([(w - 1) / 2, (h - 1) / 2])
    src = image
    if augment is not None and zoom < 0.5:       # shrink in steps, as a small eye in a camera image is
        src = cv2.GaussianBlur(image, (0, 0), 0.5 / zoom * 0.6)
    crop = cv2.warpAffine(src, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if augment is None:
        return crop
    if flip:
        crop = crop[:, ::-1]
    x = crop.astype(np.float32)
    if rng.random() < 0.3:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.3, 1.2))
    x = 255.0 * (np.clip(x / 255.0, 0, 1) ** math.exp(rng.uniform(-0.5, 0.5)))     # gamma
    x = (x - x.mean()) * rng.uniform(0.6, 1.4) + x.mean() + rng.uniform(-30, 30)  # contrast, brightness
    if rng.random() < 0.5:
        x = x + rng.normal(0, rng.uniform(1, 8), x.shape)
    out = np.clip(x, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 90))])
        out = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return np.ascontiguousarray(out)


