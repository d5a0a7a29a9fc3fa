"""Tests of data/images.py on files generated here: every bad file must give an
ImageReadError naming it, every good one an HxWx3 uint8 BGR array."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from litehrnet_plus.data import images
from litehrnet_plus.data.images import list_images, read_image
from litehrnet_plus.errors import ImageReadError


def encoded(ext: str, image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(ext, image)
    assert ok
    return buf.tobytes()


def noise_image(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    # noise so the compressed data is long enough to cut in the middle of the pixels
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR declares width x height (8-bit RGB) and that has no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IEND", b"")


def jpeg_header_only(width: int, height: int) -> bytes:
    """SOI + a baseline SOF0 segment declaring width x height, 3 components."""
    sof = struct.pack(">BHHB", 8, height, width, 3) + b"\x01\x11\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8" + b"\xff\xc0" + struct.pack(">H", len(sof) + 2) + sof + b"\xff\xd9"


def assert_refused(path: Path, *words: str) -> None:
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    message = str(info.value)
    assert str(path) in message
    for word in words:
        assert word in message


# ----------------------------------------------------------------------------- bad files

def test_missing_file(tmp_path):
    assert_refused(tmp_path / "nope.jpg", "no such file")


def test_folder(tmp_path):
    folder = tmp_path / "looks_like.jpg"
    folder.mkdir()
    assert_refused(folder, "folder")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.png"
    p.write_bytes(b"")
    assert_refused(p, "empty")


def test_text_file_named_jpg(tmp_path):
    p = tmp_path / "notes.jpg"
    p.write_text("this is not a picture\n" * 10)
    assert_refused(p)


@pytest.mark.parametrize("ext", [".jpg", ".png"])
@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_files(tmp_path, ext, keep):
    data = encoded(ext, noise_image())
    p = tmp_path / f"cut{ext}"
    p.write_bytes(data[: int(len(data) * keep)])
    assert_refused(p)


def test_jpeg_cut_just_before_end_marker(tmp_path):
    data = encoded(".jpg", noise_image())
    p = tmp_path / "almost.jpg"
    p.write_bytes(data[:-2])
    assert_refused(p, "truncated")


@pytest.mark.parametrize("ext,make", [(".png", png_header_only), (".jpg", jpeg_header_only)])
def test_oversize_header_refused_before_decoding(tmp_path, monkeypatch, ext, make):
    p = tmp_path / f"bomb{ext}"
    p.write_bytes(make(30000, 30000))

    def no_decode(*args, **kwargs):
        raise AssertionError("read_image decoded an image whose header is over the limit")

    monkeypatch.setattr(images.cv2, "imdecode", no_decode)
    assert_refused(p, "30000x30000", "exceeds")


# ----------------------------------------------------------------------------- good files

def test_colour_jpeg_and_png(tmp_path):
    img = noise_image(20, 30)
    cv2.imwrite(str(tmp_path / "a.png"), img)
    cv2.imwrite(str(tmp_path / "a.jpg"), img)
    png = read_image(tmp_path / "a.png")
    np.testing.assert_array_equal(png, img)  # lossless, and still BGR
    jpg = read_image(tmp_path / "a.jpg")
    assert jpg.shape == (20, 30, 3) and jpg.dtype == np.uint8


def test_grayscale_png_becomes_three_equal_channels(tmp_path):
    gray = np.arange(12 * 9, dtype=np.uint8).reshape(12, 9)
    cv2.imwrite(str(tmp_path / "g.png"), gray)
    out = read_image(tmp_path / "g.png")
    assert out.shape == (12, 9, 3) and out.dtype == np.uint8
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], gray)


def test_rgba_png_drops_alpha(tmp_path):
    bgra = np.zeros((6, 7, 4), dtype=np.uint8)
    bgra[..., 0], bgra[..., 1], bgra[..., 2], bgra[..., 3] = 10, 20, 30, 77
    cv2.imwrite(str(tmp_path / "rgba.png"), bgra)
    out = read_image(tmp_path / "rgba.png")
    assert out.shape == (6, 7, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, bgra[..., :3])


@pytest.mark.parametrize("channels", [1, 3])
def test_16bit_png_becomes_8bit(tmp_path, channels):
    deep = (np.arange(10 * 11 * channels, dtype=np.uint16).reshape(10, 11, channels) * 600)
    cv2.imwrite(str(tmp_path / "deep.png"), deep if channels == 3 else deep[..., 0])
    out = read_image(tmp_path / "deep.png")
    assert out.shape == (10, 11, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[..., 0], (deep[..., 0] >> 8).astype(np.uint8))


def test_tiny_8x8_image(tmp_path):
    img = noise_image(8, 8)
    cv2.imwrite(str(tmp_path / "tiny.png"), img)
    np.testing.assert_array_equal(read_image(tmp_path / "tiny.png"), img)


def test_non_ascii_path(tmp_path):
    p = tmp_path / "visage_été_顔.png"
    p.write_bytes(encoded(".png", noise_image(5, 6)))
    assert read_image(p).shape == (5, 6, 3)


def test_header_within_limit_is_decoded(tmp_path):
    img = noise_image(40, 50)
    cv2.imwrite(str(tmp_path / "ok.jpg"), img)
    assert read_image(tmp_path / "ok.jpg").shape == (40, 50, 3)


def test_complete_jpeg_with_trailing_bytes_is_read(tmp_path):
    p = tmp_path / "trailer.jpg"
    p.write_bytes(encoded(".jpg", noise_image(16, 16)) + b"\x00" * 100)
    assert read_image(p).shape == (16, 16, 3)


# ----------------------------------------------------------------------------- listing

def test_list_images_finds_nested_images_only(tmp_path):
    img = noise_image(4, 4)
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "dir.jpg").mkdir()  # a folder with an image suffix is not an image
    wanted = [tmp_path / "top.jpg", tmp_path / "a" / "mid.PNG", tmp_path / "a" / "b" / "deep.bmp"]
    for p in wanted:
        p.write_bytes(encoded(".png", img))
    for other in ["notes.txt", "a/face.pts", "a/b/labels.csv", "a/b/noext"]:
        (tmp_path / other).write_text("x")
    assert list_images(tmp_path) == sorted(wanted)


def test_list_images_of_empty_folder(tmp_path):
    assert list_images(tmp_path) == []


def test_list_images_of_missing_folder_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        list_images(tmp_path / "nope")


# ----------------------------------------------------------------------------- EXIF orientation
def exif_app1(orientation: int, byte_order: str = "II") -> bytes:
    """A JPEG APP1 segment holding a TIFF IFD0 with one entry: Orientation (0x0112, SHORT)."""
    o = "<" if byte_order == "II" else ">"
    ifd = struct.pack(o + "H", 1) + struct.pack(o + "HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(o + "I", 0)
    tiff = byte_order.encode() + struct.pack(o + "HI", 42, 8) + ifd
    payload = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def with_orientation(jpeg: bytes, orientation: int, byte_order: str = "II") -> bytes:
    return jpeg[:2] + exif_app1(orientation, byte_order) + jpeg[2:]


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("byte_order", ["II", "MM"])
def test_exif_orientation_matches_opencv_imread(tmp_path, orientation, byte_order):
    """Every orientation tag, both byte orders: read_image turns the photo upright exactly as
    cv2.imread (which honours the tag) does; orient=False keeps the stored pixels."""
    stored = noise_image(40, 64)
    data = with_orientation(encoded(".jpg", stored), orientation, byte_order)
    path = tmp_path / f"o{orientation}.jpg"
    path.write_bytes(data)
    assert images.exif_orientation(data) == orientation
    upright = read_image(path)
    reference = cv2.imread(str(path))
    assert upright.shape == reference.shape
    np.testing.assert_array_equal(upright, reference)
    raw = read_image(path, orient=False)
    assert raw.shape == (40, 64, 3)
    assert raw.shape[:2] == (upright.shape[:2] if orientation < 5 else upright.shape[1::-1])


def test_exif_orientation_in_png_and_damaged_tags():
    tiff = exif_app1(6)[10:]  # the TIFF block alone
    png = encoded(".png", noise_image(8, 8))
    png_tagged = png[:33] + png_chunk(b"eXIf", tiff) + png[33:]   # after IHDR (8 + 25 bytes)
    assert images.exif_orientation(png_tagged) == 6
    assert images.exif_orientation(png) == 1
    jpeg = encoded(".jpg", noise_image(8, 8))
    # cut inside the IFD, a bad byte-order mark, an out-of-range value: all read as upright
    assert images.exif_orientation(jpeg[:2] + exif_app1(6)[:20] + jpeg[2:]) == 1
    assert images.exif_orientation(with_orientation(jpeg, 6).replace(b"Exif\x00\x00II", b"Exif\x00\x00XX")) == 1
    assert images.exif_orientation(with_orientation(jpeg, 9)) == 1
