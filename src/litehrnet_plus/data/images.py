"""Reading images robustly: every failure names the file and the problem.

Images come back as HxWx3 uint8 BGR (OpenCV order) whatever they were on disk: grayscale is
expanded, alpha is dropped, 16-bit is scaled to 8-bit.
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from ..errors import ImageReadError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".jp2", ".pgm", ".ppm")
# Images above this many pixels are refused before decoding (bounded memory): 12,000 x 9,000
# is 108 Mpx and decodes fine; a decompression bomb of gigapixels does not.
MAX_PIXELS = 200_000_000


def to_bgr8(image: np.ndarray, source: str = "image") -> np.ndarray:
    """Normalise an in-memory image to HxWx3 uint8 BGR."""
    img = np.asarray(image)
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3 or img.shape[2] not in (1, 3, 4) or img.shape[0] < 1 or img.shape[1] < 1:
        raise ImageReadError(f"{source}: expected an HxW, HxWx3 or HxWx4 image, got shape {img.shape}")
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype in (np.float32, np.float64):
        if not np.all(np.isfinite(img)):
            raise ImageReadError(f"{source}: image holds NaN or infinite values")
        scale = 255.0 if img.max(initial=0) <= 1.0 else 1.0
        img = np.clip(img * scale, 0, 255).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise ImageReadError(f"{source}: unsupported pixel type {img.dtype}")
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    elif img.shape[2] == 4:
        img = img[:, :, :3]
    return np.ascontiguousarray(img)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as HxWx3 uint8 BGR, or raise ImageReadError naming the file."""
    p = Path(path)
    if not p.exists():
        raise ImageReadError(f"{p}: no such file")
    if p.is_dir():
        raise ImageReadError(f"{p}: is a folder, not an image")
    try:
        data = np.fromfile(p, dtype=np.uint8)
    except OSError as e:
        raise ImageReadError(f"{p}: cannot read ({e.strerror or e})") from e
    if data.size == 0:
        raise ImageReadError(f"{p}: empty file")
    _check_header_size(p, data)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ImageReadError(f"{p}: not a readable image (corrupt, truncated or not an image format)")
    if _truncated(data):
        raise ImageReadError(f"{p}: truncated image data")
    return to_bgr8(img, str(p))


def _truncated(data: np.ndarray) -> bool:
    """JPEG without its end marker or PNG without IEND: OpenCV decodes those partially (grey
    bottom rows) without an error, which would silently corrupt results. The JPEG end marker
    is looked for after the last start-of-scan, so trailers after it are fine and an embedded
    thumbnail's own end marker does not hide a truncated main image."""
    raw = data.tobytes()
    if raw[:2] == b"\xff\xd8":
        sos = raw.rfind(b"\xff\xda")
        return sos < 0 or raw.find(b"\xff\xd9", sos) < 0
    if raw[:8] == b"\x89PNG\r\n\x1a\n":
        return raw.rfind(b"IEND") < 0
    return False


def _check_header_size(p: Path, data: np.ndarray) -> None:
    """Refuse images whose header declares more than MAX_PIXELS, before decoding them."""
    head = data[:32].tobytes()
    w = h = None
    if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) >= 24:
        w, h = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    elif head[:2] == b"\xff\xd8":
        w, h = _jpeg_size(data)
    if w is not None and h is not None and w * h > MAX_PIXELS:
        raise ImageReadError(f"{p}: image of {w}x{h} pixels exceeds the limit of {MAX_PIXELS:,} pixels")


def _jpeg_size(data: np.ndarray) -> tuple[int | None, int | None]:
    b = data[: min(len(data), 1 << 20)].tobytes()
    i = 2
    while i + 9 < len(b):
        if b[i] != 0xFF:
            i += 1
            continue
        marker = b[i + 1]
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            return int.from_bytes(b[i + 7:i + 9], "big"), int.from_bytes(b[i + 5:i + 7], "big")
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        i += 2 + int.from_bytes(b[i + 2:i + 4], "big")
    return None, None


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files under `folder`, recursively, sorted."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
