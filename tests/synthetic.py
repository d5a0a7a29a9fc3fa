"""Synthetic face-like data the tests generate themselves (no ../shared needed)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from litehrnet_plus.data.formats import write_pts


def template68() -> np.ndarray:
    """A rough 68-point iBUG layout in a unit box (x right, y down)."""
    pts = []
    t = np.linspace(np.pi, 0, 17)
    pts += list(zip(0.5 - 0.5 * np.cos(t), 0.45 + 0.55 * np.sin(t)))                # jaw 0-16
    for cx in (0.25, 0.75):                                                         # brows 17-26
        pts += [(cx - 0.15 + 0.075 * i, 0.2 - 0.04 * np.sin(np.pi * i / 4)) for i in range(5)]
    pts += [(0.5, 0.3 + 0.07 * i) for i in range(4)]                                # nose bridge 27-30
    pts += [(0.4 + 0.05 * i, 0.6 - 0.02 * abs(i - 2)) for i in range(5)]            # nostrils 31-35
    for cx in (0.28, 0.72):                                                         # eyes 36-47
        a = np.linspace(np.pi, -np.pi, 7)[:6]
        pts += list(zip(cx + 0.1 * np.cos(a), 0.32 - 0.04 * np.sin(a)))
    a = np.linspace(np.pi, -np.pi, 13)[:12]
    pts += list(zip(0.5 + 0.2 * np.cos(a), 0.78 - 0.08 * np.sin(a)))                # outer mouth 48-59
    a = np.linspace(np.pi, -np.pi, 9)[:8]
    pts += list(zip(0.5 + 0.12 * np.cos(a), 0.78 - 0.03 * np.sin(a)))               # inner mouth 60-67
    return np.array(pts, dtype=np.float32)


def make_face(rng: np.random.Generator, size: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """An image with a drawn face and its (68,2) landmarks in pixel-centre coordinates."""
    side = rng.uniform(0.45, 0.6) * size
    origin = rng.uniform(0.15 * size, size - side - 0.15 * size, size=2)
    pts = template68() * side + origin + rng.normal(0, 0.5, (68, 2))
    img = np.full((size, size, 3), rng.integers(40, 90), np.uint8)
    cv2.ellipse(img, tuple(int(v) for v in pts.mean(0)), (int(side * 0.55), int(side * 0.65)), 0, 0, 360,
                (150, 170, 200), -1)
    for p in pts:
        cv2.circle(img, (int(round(p[0])), int(round(p[1]))), 1, (20, 20, 20), -1)
    return img, pts.astype(np.float32)


def make_300w(root: Path, counts: dict[str, int], seed: int = 0, size: int = 96) -> Path:
    """Folders in 300-W layout (NAME.jpg + NAME.pts, 1-based on disk)."""
    rng = np.random.default_rng(seed)
    for folder, n in counts.items():
        d = root / folder
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            img, pts = make_face(rng, size)
            cv2.imwrite(str(d / f"img_{i:03d}.png"), img)
            write_pts(d / f"img_{i:03d}.pts", pts)
    return root


TINY_MODEL = {"stem_channels": 8, "stem_out_channels": 8, "widths": [8, 16, 32, 64], "num_modules": [1, 1, 1]}


def tiny_config(root: Path, out: Path, epochs: int = 3, **train) -> dict:
    return {"model": {"name": "litehrnet_plus_10m", "overrides": dict(TINY_MODEL)},
            "data": {"kind": "300w", "root": str(root), "train": "afw", "val": "lfpw/testset"},
            "augment": {"rotation_deg": 20.0},
            "train": {"epochs": epochs, "batch_size": 4, "val_every": 1, "threads": 1, "seed": 3, **train},
            "out": str(out)}
