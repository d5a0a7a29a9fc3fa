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


@pytest.mark.parametrize("zoom", [0.45, 0.3, 0.24, 0.13, 0.06])
def test_a_shrunk_crop_does_not_alias(zoom):
    # a one-pixel checkerboard is grey at any zoom below 1/2: each halving averages its 2x2
    # blocks; sampled without them it would come out in black and white stripes
    board = np.indices((1600, 1600)).sum(axis=0) % 2 * 255
    image = np.repeat(board[..., None], 3, axis=2).astype(np.uint8)
    side = 96 / zoom / 1.25
    box = np.array([800 - side / 2, 800 - side / 2, 800 + side / 2, 800 + side / 2])
    crop = warp(image, crop_matrix(box, 96, 1.25), 96).astype(float)
    assert abs(crop.mean() - 127.5) < 2 and crop.std() < 2
    plain = cv2.warpAffine(image, crop_matrix(box, 96, 1.25), (96, 96), flags=cv2.INTER_LINEAR)
    assert plain.std() > 40                 # the test can tell: bilinear alone aliases
