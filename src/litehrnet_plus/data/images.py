"""Reading images robustly: every failure names the file and the problem.

Images come back as HxWx3 uint8 BGR (OpenCV order) whatever they were on disk: grayscale is
expanded, alpha is dropped, 16-bit is scaled to 8-bit.

Phones store photos as the sensor saw them and write an EXIF orientation tag saying how to
turn them upright. `read_image` applies it by default (as `cv2.imread` and every photo viewer
do), so a user's photo is upright. Dataset loaders pass `orient=False`: landmark annotations
refer to the stored pixel grid (none of the shared 300-W, WFLW or YouTube-Faces images carries
the tag, so the two readings agree there).
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from .. import MAX_IMAGE_PIXELS
from ..errors import ImageReadError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".jp2", ".pgm", ".ppm")
# Images above this many pixels are refused before decoding (bounded memory): 12,000 x 9,000
# is 108 Mpx and decodes fine; a decompression bomb of gigapixels does not.
MAX_PIXELS = MAX_IMAGE_PIXELS
# OpenCV's own guard (OPENCV_IO_MAX_IMAGE_PIXELS, checked by every decoder between the header
# and the pixels) is set to this by the package's __init__, before OpenCV loads. A process that
# loaded OpenCV before importing the package keeps OpenCV's default (2^30 pixels): the headers
# the package reads itself (header_size) are checked in any case.


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


def read_image(path: str | os.PathLike, orient: bool = True) -> np.ndarray:
    """Read an image file as HxWx3 uint8 BGR, or raise ImageReadError naming the file.

    orient: turn the pixels upright as the file's EXIF orientation tag says (JPEG, PNG, WebP)."""
    p = Path(path)
    if not p.exists():
        raise ImageReadError(f"{p}: no such file")
    if p.is_dir():
        raise ImageReadError(f"{p}: is a folder, not an image")
    if not p.is_file():
        # a FIFO, a device or a socket: reading it could block for ever
        raise ImageReadError(f"{p}: not a regular file (a pipe, device or socket); give an image file")
    try:
        data = np.fromfile(p, dtype=np.uint8)
    except OSError as e:
        raise ImageReadError(f"{p}: cannot read ({e.strerror or e})") from e
    return decode_image(data, str(p), orient)


def decode_image(data: np.ndarray | bytes, source: str = "image bytes", orient: bool = True) -> np.ndarray:
    """Decode an encoded image (the bytes of a JPEG, PNG, ...) as `read_image` reads a file;
    errors name `source`."""
    if isinstance(data, (bytes, bytearray)):
        data = np.frombuffer(data, dtype=np.uint8)
    if data.size == 0:
        raise ImageReadError(f"{source}: empty file")
    _check_header_size(source, data)
    try:
        img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    except cv2.error as e:
        if "MAX_IMAGE" in str(e):
            raise ImageReadError(f"{source}: image exceeds the limit of {MAX_PIXELS:,} pixels "
                                 "(refused before decoding)") from None
        raise ImageReadError(f"{source}: not a readable image ({str(e).strip().splitlines()[-1][:120]})") from None
    if img is None:
        raise ImageReadError(f"{source}: not a readable image (corrupt, truncated or not an image format)")
    if _truncated(data):
        raise ImageReadError(f"{source}: truncated image data")
    img = to_bgr8(img, source)
    return apply_orientation(img, exif_orientation(data)) if orient else img


# EXIF orientation value -> (rotation for cv2.rotate or None, mirror left-right first)
_ORIENTATIONS = {
    1: (None, False), 2: (None, True), 3: (cv2.ROTATE_180, False), 4: (cv2.ROTATE_180, True),
    5: (cv2.ROTATE_90_COUNTERCLOCKWISE, True), 6: (cv2.ROTATE_90_CLOCKWISE, False),   # 5: transpose
    7: (cv2.ROTATE_90_CLOCKWISE, True), 8: (cv2.ROTATE_90_COUNTERCLOCKWISE, False),   # 7: transverse
}


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Pixels as stored -> pixels upright, for an EXIF orientation value (1-8; others: as is).
    Tags 2, 4, 5 and 7 mirror the stored image left-right, then rotate it."""
    rotation, mirror = _ORIENTATIONS.get(orientation, (None, False))
    if mirror:
        image = image[:, ::-1]
    if rotation is not None:
        image = cv2.rotate(image, rotation)
    return np.ascontiguousarray(image)


def exif_orientation(data: np.ndarray | bytes) -> int:
    """The EXIF orientation tag (1-8) of an encoded JPEG, PNG or WebP image; 1 when absent or
    unreadable (a damaged tag never stops a photo from being read)."""
    raw = data.tobytes() if isinstance(data, np.ndarray) else bytes(data)
    try:
        tiff = _exif_block(raw)
        return _tiff_orientation(tiff) if tiff else 1
    except (IndexError, ValueError):
        return 1


def _exif_block(raw: bytes) -> bytes | None:
    """The TIFF-structured EXIF payload of a JPEG (APP1 segment), PNG (eXIf chunk) or WebP
    (EXIF chunk), or None."""
    if raw[:2] == b"\xff\xd8":
        i = 2
        while i + 4 <= len(raw) and raw[i] == 0xFF:
            marker = raw[i + 1]
            if marker in (0xD9, 0xDA):      # end of image, start of scan: no more metadata
                return None
            length = int.from_bytes(raw[i + 2:i + 4], "big")
            if marker == 0xE1 and raw[i + 4:i + 10] == b"Exif\x00\x00":
                return raw[i + 10:i + 2 + length]
            i += 2 + length
        return None
    if raw[:8] == b"\x89PNG\r\n\x1a\n":
        i = 8
        while i + 8 <= len(raw):
            length = int.from_bytes(raw[i:i + 4], "big")
            kind = raw[i + 4:i + 8]
            if kind == b"eXIf":
                return raw[i + 8:i + 8 + length]
            if kind in (b"IDAT", b"IEND"):
                return None
            i += 12 + length
        return None
    if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        i = 12
        while i + 8 <= len(raw):
            kind, length = raw[i:i + 4], int.from_bytes(raw[i + 4:i + 8], "little")
            if kind == b"EXIF":
                block = raw[i + 8:i + 8 + length]
                return block[6:] if block.startswith(b"Exif\x00\x00") else block
            i += 8 + length + (length & 1)
        return None
    return None


def _tiff_orientation(tiff: bytes) -> int:
    """Tag 0x0112 of IFD0 in a TIFF header + IFD structure."""
    order = {b"II": "little", b"MM": "big"}.get(tiff[:2])
    if order is None or int.from_bytes(tiff[2:4], order) != 42:
        return 1
    ifd = int.from_bytes(tiff[4:8], order)
    count = int.from_bytes(tiff[ifd:ifd + 2], order)
    for k in range(count):
        entry = tiff[ifd + 2 + 12 * k: ifd + 14 + 12 * k]
        if len(entry) < 12:
            break
        if int.from_bytes(entry[0:2], order) == 0x0112:
            value = int.from_bytes(entry[8:10], order)   # SHORT, left-justified in the value field
            return value if 1 <= value <= 8 else 1
    return 1


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


def _check_header_size(p: Path | str, data: np.ndarray) -> None:
    """Refuse images whose header declares more than MAX_PIXELS, before decoding them."""
    w, h = header_size(data)
    if w is not None and h is not None and w * h > MAX_PIXELS:
        raise ImageReadError(f"{p}: image of {w}x{h} pixels exceeds the limit of {MAX_PIXELS:,} pixels")


def header_size(data: np.ndarray | bytes) -> tuple[int | None, int | None]:
    """(width, height) an encoded PNG, JPEG, BMP, TIFF, WebP or PNM image declares, read from
    its header alone; (None, None) for other formats or an unreadable header."""
    raw = data.tobytes() if isinstance(data, np.ndarray) else bytes(data)
    try:
        if raw[:8] == b"\x89PNG\r\n\x1a\n" and len(raw) >= 24:
            return int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")
        if raw[:2] == b"\xff\xd8":
            return _jpeg_size(raw)
        if raw[:2] == b"BM" and len(raw) >= 26:
            return abs(int.from_bytes(raw[18:22], "little", signed=True)), \
                abs(int.from_bytes(raw[22:26], "little", signed=True))
        if raw[:4] in (b"II*\x00", b"MM\x00*"):
            return _tiff_size(raw)
        if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
            return _webp_size(raw)
        if raw[:1] == b"P" and raw[1:2] in b"123456":
            fields = raw[2:256].split(b"#")[0].split()
            return int(fields[0]), int(fields[1])
    except (IndexError, ValueError):
        pass
    return None, None


_JPEG_FRAMES = (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF)


def _jpeg_size(b: bytes) -> tuple[int | None, int | None]:
    """The frame header's size, following the segment chain through the whole file (metadata
    segments before it can be megabytes long)."""
    i = 2
    while i + 9 < len(b):
        if b[i] != 0xFF:
            i += 1
            continue
        marker = b[i + 1]
        if marker in _JPEG_FRAMES:
            return int.from_bytes(b[i + 7:i + 9], "big"), int.from_bytes(b[i + 5:i + 7], "big")
        if marker in (0xD8, 0x01, 0xFF) or 0xD0 <= marker <= 0xD7:
            i += 2 if marker != 0xFF else 1
            continue
        if marker in (0xD9, 0xDA):
            break
        i += 2 + int.from_bytes(b[i + 2:i + 4], "big")
    return None, None


def _tiff_size(b: bytes) -> tuple[int | None, int | None]:
    order = "little" if b[:2] == b"II" else "big"
    ifd = int.from_bytes(b[4:8], order)
    count = int.from_bytes(b[ifd:ifd + 2], order)
    size: dict[int, int] = {}
    for k in range(count):
        e = b[ifd + 2 + 12 * k: ifd + 14 + 12 * k]
        tag, kind = int.from_bytes(e[0:2], order), int.from_bytes(e[2:4], order)
        if tag in (256, 257):           # ImageWidth, ImageLength: SHORT or LONG
            size[tag] = int.from_bytes(e[8:10] if kind == 3 else e[8:12], order)
    if 256 not in size or 257 not in size:      # a damaged directory: no size to trust
        return None, None
    return size[256], size[257]


def _webp_size(b: bytes) -> tuple[int | None, int | None]:
    kind = b[12:16]
    if kind == b"VP8X":
        return 1 + int.from_bytes(b[24:27], "little"), 1 + int.from_bytes(b[27:30], "little")
    if kind == b"VP8L":
        bits = int.from_bytes(b[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if kind == b"VP8 ":
        return int.from_bytes(b[26:28], "little") & 0x3FFF, int.from_bytes(b[28:30], "little") & 0x3FFF
    return None, None


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files under `folder`, recursively, sorted (what cannot be read is left out: see
    find_images for the list of it)."""
    return find_images(folder)[0]


def find_images(folder: str | os.PathLike) -> tuple[list[Path], list[tuple[Path, str]]]:
    """(image files under `folder`, recursively, sorted; (path, why) for each folder or entry
    that could not be read, so a run can report them instead of skipping them silently).
    Links to folders are not followed (no loops)."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    found: list[Path] = []
    problems: list[tuple[Path, str]] = []

    def unreadable(e: OSError) -> None:
        problems.append((Path(e.filename or root), f"cannot read this folder ({e.strerror or e})"))

    for dirpath, _, names in os.walk(root, onerror=unreadable):
        for name in names:
            path = Path(dirpath) / name
            if path.suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            try:
                if path.is_file():
                    found.append(path)
            except OSError as e:            # a folder that can be listed but not entered
                problems.append((path, f"cannot read ({e.strerror or e})"))
    return sorted(found), sorted(problems)
