"""Hostile image files: headers that declare gigapixels in a few bytes are refused before
decoding, in every format, with bounded memory; honest headers read their true size."""
from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import ROOT
from litehrnet_plus.data.images import MAX_PIXELS, header_size


def bmp_bomb(w: int = 30000, h: int = 30000) -> bytes:
    """An 8-bit RLE BMP of w x h pixels in about a kilobyte (the run-length data is one end marker)."""
    palette, rle = bytes(256 * 4), b"\x00\x01"
    offset = 14 + 40 + len(palette)
    dib = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 8, 1, len(rle), 2835, 2835, 256, 0)
    return b"BM" + struct.pack("<IHHI", offset + len(rle), 0, 0, offset) + dib + palette + rle


def tiff_bomb(w: int = 25000, h: int = 25000) -> bytes:
    entries = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, 8), (277, 3, 1, 1), (278, 4, 1, h), (279, 4, 1, w * h)]
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHI", tag, kind, count) + (struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value))
        for tag, kind, count, value in entries) + struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8 + 16) + bytes(16) + ifd


def webp_bomb(w: int = 16383, h: int = 16383) -> bytes:
    bits = (w - 1) | ((h - 1) << 14)
    payload = b"\x2f" + struct.pack("<I", bits) + bytes(16)
    chunk = b"VP8L" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def jpeg_bomb(w: int = 30000, h: int = 30000, metadata_mb: float = 1.3) -> bytes:
    """A JPEG whose frame header comes after megabytes of APP2 segments."""
    seg = b"\xff\xe2" + struct.pack(">H", 65535) + bytes(65533)
    app = seg * int(metadata_mb * (1 << 20) / len(seg) + 1)
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, h, w, 3) + b"\x01\x11\x00\x02\x11\x00\x03\x11\x00"
    return b"\xff\xd8" + app + sof + b"\xff\xda" + bytes(12) + b"\xff\xd9"


def hdr_bomb(w: int = 30000, h: int = 30000) -> bytes:
    """Radiance HDR, a format the package's own header reader does not know: OpenCV's guard."""
    return b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n" + f"-Y {h} +X {w}\n".encode() + bytes(64)


BOMBS = {"bomb.bmp": bmp_bomb, "bomb.tiff": tiff_bomb, "bomb.webp": webp_bomb, "bomb.jpg": jpeg_bomb,
         "bomb.hdr": hdr_bomb}


@pytest.mark.parametrize("name", ["bomb.bmp", "bomb.tiff", "bomb.webp", "bomb.jpg"])
def test_forged_headers_read_their_declared_size(name):
    w, h = header_size(BOMBS[name]())
    assert w * h > MAX_PIXELS


def test_bombs_are_refused_before_decoding_with_bounded_memory(tmp_path):
    for name, make in BOMBS.items():
        (tmp_path / name).write_bytes(make())
    # a fresh process whose address space is capped below what any bomb would need to decode
    code = f"""
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
from litehrnet_plus.data.images import read_image
from litehrnet_plus.errors import ImageReadError
out = {{}}
for name in {sorted(BOMBS)!r}:
    try:
        read_image({str(tmp_path)!r} + "/" + name)
        out[name] = "decoded"
    except ImageReadError as e:
        out[name] = str(e)
    except MemoryError:
        out[name] = "MemoryError"
print(json.dumps(out))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src")})
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    for name, message in out.items():
        assert message.startswith(str(tmp_path / name)) and "exceeds the limit" in message, (name, message)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".tiff", ".webp", ".ppm", ".pgm"])
def test_honest_headers_read_the_true_size(ext):
    rng = np.random.default_rng(len(ext))
    for _ in range(5):
        h, w = (int(v) for v in rng.integers(1, 300, size=2))
        img = rng.integers(0, 256, (h, w, 1 if ext == ".pgm" else 3), dtype=np.uint8)
        ok, buf = cv2.imencode(ext, img)
        assert ok
        assert header_size(buf) == (w, h), (ext, w, h)
