"""Photometric augmentation of training crops: what cameras and users do to a face's pixels
(colour casts, white balance, RGB given for BGR, grey cameras, blur, sensor noise, JPEG,
things in front of the face). Geometry is left alone, so the landmark targets stay exact;
under an occluding patch the targets stay too (the model learns to infer hidden points).

Every step is off unless its AugmentConfig field asks for it (data/transforms.py).
"""
from __future__ import annotations

import cv2
import numpy as np


def photometric(crop: np.ndarray, aug, rng: np.random.Generator) -> np.ndarray:
    """A uint8 HxWx3 BGR crop changed as `aug` (an AugmentConfig) draws."""
    x = crop
    if aug.channel_swap_prob > 0 and rng.random() < aug.channel_swap_prob:
        x = x[..., ::-1]                                   # RGB handed in as BGR
    if aug.hue > 0:
        hsv = cv2.cvtColor(np.ascontiguousarray(x), cv2.COLOR_BGR2HSV)
        shift = int(round(rng.uniform(-aug.hue, aug.hue) / 2))       # OpenCV hue is 0-179
        hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + shift) % 180).astype(np.uint8)
        x = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    f = x.astype(np.float32)
    if aug.channel_gain > 0:
        f = f * np.exp(rng.uniform(-aug.channel_gain, aug.channel_gain, 3)).astype(np.float32)
    if aug.grayscale_prob > 0 and rng.random() < aug.grayscale_prob:
        g = np.clip(f, 0, 255) @ np.array([0.114, 0.587, 0.299], np.float32)
        f = np.repeat(g[..., None], 3, axis=2)
    if aug.color > 0:                                      # brightness and contrast
        f = f * (1.0 + rng.uniform(-aug.color, aug.color)) + 255.0 * rng.uniform(-aug.color, aug.color) / 2
    if aug.occlusion_prob > 0 and rng.random() < aug.occlusion_prob:
        h, w = f.shape[:2]
        ph, pw = (rng.uniform(0.15, 0.4, 2) * (h, w)).astype(int)
        y0, x0 = rng.integers(0, h - ph + 1), rng.integers(0, w - pw + 1)
        patch = rng.uniform(0, 255, 3) + rng.normal(0, 20, (ph, pw, 3))
        f[y0:y0 + ph, x0:x0 + pw] = patch
    if aug.blur_prob > 0 and rng.random() < aug.blur_prob:
        f = cv2.GaussianBlur(f, (0, 0), rng.uniform(0.5, 1.5))
    if aug.noise > 0:
        f = f + rng.normal(0, rng.uniform(0, aug.noise) * 255.0, f.shape).astype(np.float32)
    out = np.clip(f, 0, 255).astype(np.uint8)
    if aug.jpeg_prob > 0 and rng.random() < aug.jpeg_prob:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(20, 80))])
        out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return np.ascontiguousarray(out)
