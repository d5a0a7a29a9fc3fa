"""Property-based fuzzing of everything that parses a user's file: image bytes (headers, EXIF,
decoding), .pts, CSV rows, config YAML and model cards. Each parser must return a valid result
or raise its documented UserError, never crash with another exception.

CI runs a brief pass; for a long one set LITEHRNET_FUZZ_EXAMPLES (examples per target), e.g.
    LITEHRNET_FUZZ_EXAMPLES=20000 python -m pytest -q tests/test_fuzz.py
or run the coverage-guided harness on the same properties, tests/fuzz_atheris.py
(docs/reliability.md records the long runs).
"""
from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from litehrnet_plus.card import ModelCard
from litehrnet_plus.data.formats import parse_csv, read_pts
from litehrnet_plus.data.images import decode_image, exif_orientation, header_size
from litehrnet_plus.errors import UserError

EXAMPLES = int(os.environ.get("LITEHRNET_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))


def _seed_images() -> list[bytes]:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (17, 23, 3), dtype=np.uint8)
    return [cv2.imencode(ext, img)[1].tobytes() for ext in (".png", ".jpg", ".bmp", ".tiff", ".webp", ".ppm")]


SEEDS = _seed_images()


@st.composite
def mutated_image(draw) -> bytes:
    """A real encoded image with bytes flipped, cut or inserted (headers are what breaks)."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "cut", "insert"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[pos:pos + draw(st.integers(1, 64))]
        else:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=32))
    return bytes(data)


# The properties, one function per parser: the hypothesis tests below and the coverage-guided
# harness (tests/fuzz_atheris.py) check the same ones.
def check_image_bytes(data: bytes) -> None:
    w, h = header_size(data)
    assert (w is None) == (h is None) and (w is None or (w >= 0 and h >= 0)), (w, h)
    assert 1 <= exif_orientation(data) <= 8
    try:
        img = decode_image(data, "fuzz")
    except UserError:
        return
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3 and min(img.shape[:2]) >= 1


def check_pts_file(path) -> None:
    try:
        pts = read_pts(path)
    except UserError:
        return
    assert pts.ndim == 2 and pts.shape[1] == 2 and len(pts) >= 1 and np.all(np.isfinite(pts))


def check_card(d: dict) -> None:
    try:
        card = ModelCard.from_dict(d, "fuzz card")
    except UserError:
        return
    assert card.num_landmarks >= 1 and card.input_size >= 1


@FUZZ
@given(st.one_of(mutated_image(), st.binary(max_size=512)))
def test_image_bytes_decode_or_refuse(data):
    check_image_bytes(data)


_PTS_LINE = st.one_of(st.text(max_size=30), st.builds(lambda x, y: f"{x} {y}", st.floats(allow_nan=True),
                                                         st.floats(allow_nan=True)))


@FUZZ
@given(st.lists(_PTS_LINE, max_size=80), st.sampled_from(["", "version: 1\nn_points: 68\n{\n"]), st.booleans())
def test_pts_files_parse_or_refuse(tmp_path_factory, lines, header, close):
    path = tmp_path_factory.mktemp("pts") / "f.pts"
    path.write_text(header + "\n".join(lines) + ("\n}\n" if close and header else "\n"), encoding="utf-8")
    check_pts_file(path)


@FUZZ
@given(st.lists(st.lists(st.one_of(st.text(max_size=12), st.floats(allow_nan=True).map(str)), max_size=12),
                max_size=20))
def test_csv_rows_parse_or_refuse(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("csv") / "f.csv"
    path.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8")
    try:
        out = parse_csv(path)
    except UserError:
        return
    for name, pts, where in out:
        assert isinstance(name, str) and pts.shape[1] == 2 and np.all(np.isfinite(pts))


_JSONISH = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10)),
                        lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                        max_leaves=12)
_CARD_KEYS = ["model", "num_landmarks", "input_size", "crop_scale", "codec", "activation", "track_threshold",
              "tag", "scheme", "graph", "training"]


@FUZZ
@given(st.dictionaries(st.sampled_from(_CARD_KEYS) | st.text(max_size=8), _JSONISH, max_size=8))
def test_model_cards_parse_or_refuse(d):
    check_card(d)


@FUZZ
@given(st.one_of(st.text(max_size=200),
                 st.dictionaries(st.sampled_from(["model", "data", "train", "augment", "codec", "out", "base", "x"]),
                                 _JSONISH, max_size=5)))
def test_config_yaml_parses_or_refuses(tmp_path_factory, doc):
    yaml = pytest.importorskip("yaml")
    from litehrnet_plus.engine.config import load_config

    path = tmp_path_factory.mktemp("cfg") / "c.yaml"
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc), encoding="utf-8")
    try:
        load_config(path)
    except UserError:
        pass


@pytest.mark.parametrize("d", [{"input_size": float("inf")}, {"training": True}, {"training": "0"}, {"extra": [1]}])
def test_cards_the_long_fuzz_runs_found(d):
    """Inputs the long fuzz runs found (docs/reliability.md), kept as cases."""
    with pytest.raises(UserError):
        ModelCard.from_dict(d, "fuzz card")
