"""The crop path shrinks only the crop's own region of a large frame: every crop equals the one
the whole-frame shrink gave, bit for bit (so landmarks and the golden files are unchanged)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from litehrnet_plus.data.transforms import crop_matrix, warp


def whole_frame_warp(image: np.ndarray, m: np.ndarray, output_size: int) -> np.ndarray:
    """The plain crop path: the whole frame halved (2x2 box averages) until the crop's zoom is
    0.5-1, then sampled."""
    zoom = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    src = image
    if zoom < 0.5:
        factor = 1
        while factor * 2 <= min(1 / zoom, min(image.shape[:2])):
            src = cv2.resize(src, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
            factor *= 2
        up = np.array([[factor, 0, (factor - 1) / 2], [0, factor, (factor - 1) / 2]], dtype=np.float64)
        m = m @ np.vstack([up, [0, 0, 1]])
    return cv2.warpAffine(src, m, (output_size, output_size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


@pytest.mark.parametrize("seed", range(200))
def test_region_crop_equals_the_whole_frame_crop(seed):
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(120, 1300, size=2))
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    side = float(rng.uniform(30, 1.6 * max(h, w)))
    cx, cy = rng.uniform(-0.3 * w, 1.3 * w), rng.uniform(-0.3 * h, 1.3 * h)   # some beyond the edges
    box = np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])
    m = crop_matrix(box, 96, 1.25, rotation_deg=float(rng.uniform(-180, 180)))
    np.testing.assert_array_equal(warp(image, m, 96), whole_frame_warp(image, m, 96))
