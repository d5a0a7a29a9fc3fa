"""Face crops and augmentation as one affine transform (image -> network input), shared by
training, evaluation and inference so every path crops a face the same way.

Convention: 0-based pixel coordinates with pixel centres at integers, which is also what
cv2.warpAffine assumes, so `transform_points(pts, M)` follows `warp(image, M)` exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..card import DEFAULT_CROP_SCALE
from ..errors import BoxError

# A crop covers DEFAULT_CROP_SCALE times the face box's longer side (benchmark convention: the
# tight box of the landmarks). Detector boxes are calibrated into that convention first.


def landmark_box(landmarks: np.ndarray) -> np.ndarray:
    """Tight box (x1, y1, x2, y2) of the landmarks: the benchmark face-box convention."""
    pts = np.asarray(landmarks, dtype=np.float32)
    return np.concatenate([pts.min(axis=0), pts.max(axis=0)]).astype(np.float32)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in a (N,4) with every box in b (M,4) -> (N,M), boxes x1,y1,x2,y2."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)[:, None]
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)[None]
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = w * h
    area = lambda x: (x[..., 2] - x[..., 0]) * (x[..., 3] - x[..., 1])  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-12)


def check_box(box: np.ndarray) -> np.ndarray:
    b = np.asarray(box, dtype=np.float64).reshape(-1)
    if b.shape != (4,) or not np.all(np.isfinite(b)):
        raise BoxError(f"a face box must be 4 finite numbers (x1, y1, x2, y2), got {box!r}")
    if b[2] - b[0] <= 0 or b[3] - b[1] <= 0:
        raise BoxError(f"face box {b.tolist()} has zero or negative size")
    return b


def crop_matrix(box: np.ndarray, output_size: int, scale: float = DEFAULT_CROP_SCALE,
                rotation_deg: float = 0.0, flip: bool = False,
                shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """2x3 affine map from image pixels to a square crop of `output_size` pixels.

    The crop is centred on the box centre (moved by `shift`, in fractions of the crop side),
    covers `scale` x the box's longer side, is rotated by `rotation_deg` (counter-clockwise in
    the image) and optionally mirrored horizontally.
    """
    b = check_box(box)
    cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    side = max(b[2] - b[0], b[3] - b[1]) * scale
    zoom = output_size / side
    cx += shift[0] * side
    cy += shift[1] * side
    t = np.deg2rad(rotation_deg)
    cos, sin = np.cos(t) * zoom, np.sin(t) * zoom
    a = np.array([[cos, sin], [-sin, cos]])
    if flip:
        a[0] *= -1
    centre_out = (output_size - 1) / 2
    offset = np.array([centre_out, centre_out]) - a @ np.array([cx, cy])
    return np.hstack([a, offset[:, None]]).astype(np.float64)


def invert_affine(m: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(np.asarray(m, dtype=np.float64))


def transform_points(pts: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine map to (..., 2) points."""
    p = np.asarray(pts, dtype=np.float64)
    return (p @ m[:, :2].T + m[:, 2]).astype(np.float32)


def warp(image: np.ndarray, m: np.ndarray, output_size: int) -> np.ndarray:
    """Resample the crop; outside the image is black. Bilinear, or area-like when shrinking
    a lot (pre-blur avoids aliasing on large faces)."""
    zoom = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    src = image
    if zoom < 0.5:
        # halve the source first, as often as the crop's zoom allows (a mipmap level), so the
        # bilinear sampling runs at a zoom of 0.5-1 and does not alias; never below 1 pixel, so
        # a box far larger than the image still gives a crop rather than an OpenCV error. Each
        # halving is a 2x2 box average, OpenCV's vectorised INTER_AREA case (an odd factor's
        # general case costs 3-4x as much: 0.15 against 0.04 ms for a 250-px face). Only the
        # crop's own region is shrunk, cut on the shrink's block grid, so every block, and so
        # every crop pixel, is the one a shrink of the whole frame would give.
        levels = min(int(np.floor(np.log2(1 / zoom))), int(np.log2(min(image.shape[:2]))))
        factor = 2 ** levels
        h, w = image.shape[:2]
        x0, y0, x1, y1 = _footprint(image.shape, m, output_size, factor)
        if (x1 - x0) % factor or (y1 - y0) % factor:
            # the region ends on the frame's edge inside a block: OpenCV rounds that partial block
            # differently for a cut than for the whole frame, so shrink the whole frame
            x0, y0, x1, y1 = 0, 0, w, h
        region = _halve(image[y0:y1, x0:x1], levels)
        if (x0, y0, x1, y1) == (0, 0, w, h):
            src = region
        else:
            # placed in a frame of the whole shrunk size (zero pages, never touched outside the
            # region): the sampling then runs with the very same matrix, so it rounds the same way
            src = np.zeros((*_halved_shape(h, w, levels), *image.shape[2:]), dtype=image.dtype)
            ys, xs = y0 // factor, x0 // factor
            src[ys:ys + region.shape[0], xs:xs + region.shape[1]] = region[:src.shape[0] - ys, :src.shape[1] - xs]
        up = np.array([[factor, 0, (factor - 1) / 2], [0, factor, (factor - 1) / 2]], dtype=np.float64)
        m = m @ np.vstack([up, [0, 0, 1]])
    return cv2.warpAffine(src, m, (output_size, output_size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _halve(image: np.ndarray, levels: int) -> np.ndarray:
    """The image shrunk by 2 `levels` times, each a 2x2 box average."""
    for _ in range(levels):
        image = cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    return image


def _halved_shape(h: int, w: int, levels: int) -> tuple[int, int]:
    """The size `_halve` gives a whole h x w frame (OpenCV rounds each halving's size)."""
    for _ in range(levels):
        h, w = int(np.rint(h / 2)), int(np.rint(w / 2))
    return max(h, 1), max(w, 1)


def _footprint(shape: tuple[int, ...], m: np.ndarray, output_size: int, factor: int) -> tuple[int, int, int, int]:
    """The image region (x0, y0, x1, y1) a crop samples, with a margin of two blocks for the
    bilinear taps, on multiples of `factor` (or the image's edge)."""
    h, w = shape[:2]
    inv = cv2.invertAffineTransform(m)
    corners = np.array([[-1, -1], [output_size, -1], [-1, output_size], [output_size, output_size]], dtype=np.float64)
    pts = corners @ inv[:, :2].T + inv[:, 2]
    lo = np.floor(pts.min(axis=0)) - 2 * factor
    hi = np.ceil(pts.max(axis=0)) + 2 * factor
    x0, y0 = (int(max(0, v) // factor * factor) for v in lo)
    x1, y1 = (int(min(size, -(-int(v) // factor) * factor)) for v, size in zip(hi, (w, h)))
    if x1 <= x0 or y1 <= y0:             # the crop lies outside the image: any block row will do
        return 0, 0, min(w, factor), min(h, factor)
    return x0, y0, x1, y1


@dataclass(frozen=True)
class AugmentConfig:
    """Training augmentation (paper Sec. 4.1: flip, scale, rotation, 0-1 normalisation)."""

    flip_prob: float = 0.5
    scale_range: tuple[float, float] = (0.75, 1.25)   # multiplies the crop scale
    rotation_deg: float = 30.0                        # uniform in [-r, r]; the paper states 90
    rotation_prob: float = 1.0
    shift: float = 0.05                               # centre jitter, fraction of the crop side
    color: float = 0.2                                # brightness/contrast jitter amplitude
    # photometric (data/photometric.py), all off by default: colour casts, hue, RGB for BGR,
    # grey cameras, blur, sensor noise, JPEG, occluding patches
    channel_gain: float = 0.0                         # per-channel gains exp(U(-g, g))
    hue: float = 0.0                                  # hue shift, degrees in [-h, h]
    channel_swap_prob: float = 0.0
    grayscale_prob: float = 0.0
    blur_prob: float = 0.0                            # Gaussian, sigma 0.5-1.5 px
    noise: float = 0.0                                # Gaussian, sigma up to noise x 255
    jpeg_prob: float = 0.0                            # quality 20-80
    occlusion_prob: float = 0.0                       # a patch of 15-40% of each side

    @classmethod
    def none(cls) -> "AugmentConfig":
        return cls(flip_prob=0.0, scale_range=(1.0, 1.0), rotation_deg=0.0, shift=0.0, color=0.0)


def sample_matrix(box: np.ndarray, output_size: int, aug: AugmentConfig, rng: np.random.Generator,
                  base_scale: float = DEFAULT_CROP_SCALE, can_flip: bool = True) -> tuple[np.ndarray, bool]:
    """Draw one random crop transform; returns (matrix, flipped)."""
    flip = can_flip and rng.random() < aug.flip_prob
    scale = base_scale * rng.uniform(*aug.scale_range)
    rot = rng.uniform(-aug.rotation_deg, aug.rotation_deg) if rng.random() < aug.rotation_prob else 0.0
    shift = tuple(rng.uniform(-aug.shift, aug.shift, size=2)) if aug.shift > 0 else (0.0, 0.0)
    return crop_matrix(box, output_size, scale, rot, flip, shift), flip


def flip_landmarks(pts: np.ndarray, perm: list[int]) -> np.ndarray:
    """Reorder mirrored landmarks so index i is again the same semantic point."""
    return np.asarray(pts)[perm]


def to_input(crops: np.ndarray) -> np.ndarray:
    """(N,H,W,3) or (H,W,3) uint8 BGR crops -> float32 NCHW RGB in [0, 1] (paper: 0-1 range)."""
    c = np.asarray(crops)
    if c.ndim == 3:
        c = c[None]
    return np.ascontiguousarray(c[..., ::-1].transpose(0, 3, 1, 2), dtype=np.float32) / 255.0


def check_boxes(boxes: np.ndarray) -> np.ndarray:
    """(N,4) float64 boxes (a single (4,) box is accepted), or BoxError naming the problem."""
    if isinstance(boxes, (str, bytes)):
        raise BoxError(f"boxes must be numbers (N,4) x1,y1,x2,y2, got the text {boxes!r}")
    try:
        b = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError):
        raise BoxError(f"boxes must be numbers (N,4) x1,y1,x2,y2, got {boxes!r}") from None
    if b.ndim == 1 and b.size == 4:
        b = b[None]
    if b.size == 0:
        return np.zeros((0, 4), dtype=np.float64)
    if b.ndim != 2 or b.shape[1] != 4:
        raise BoxError(f"boxes must be (N,4) x1,y1,x2,y2, got shape {b.shape}")
    return b


def crop_faces(image: np.ndarray, boxes: np.ndarray, output_size: int,
               scale: float = DEFAULT_CROP_SCALE, angles: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Crop every face box of one image: (N,S,S,3) uint8 crops and their (N,2,3) image->crop
    matrices. Training, evaluation and inference all crop through here.

    angles: each face's roll in degrees (its eye line's slope, image y down); the crop is turned
    by it so the face is upright, and the box is then the face's box in its own upright frame
    (centre in image pixels). None: upright crops of image-aligned boxes."""
    b = check_boxes(boxes)
    rolls = np.zeros(len(b)) if angles is None else np.asarray(angles, dtype=np.float64).reshape(-1)
    if len(rolls) != len(b) or not np.all(np.isfinite(rolls)):
        raise BoxError(f"angles must be {len(b)} finite numbers (one per box), got {angles!r}")
    crops = np.zeros((len(b), output_size, output_size, 3), np.uint8)
    mats = np.zeros((len(b), 2, 3), np.float64)
    for i, box in enumerate(b):
        mats[i] = crop_matrix(box, output_size, scale, rotation_deg=float(rolls[i]))
        crops[i] = warp(image, mats[i], output_size)
    return crops, mats


def uncrop_points(pts: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """Map (N,K,2) crop-pixel points back to image pixels through each crop's inverse."""
    pts = np.asarray(pts)
    out = np.zeros(pts.shape, np.float32)
    for i, m in enumerate(matrices):
        out[i] = transform_points(pts[i], invert_affine(m))
    return out
