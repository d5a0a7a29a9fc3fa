"""Tests of data/formats.py. Fixtures are generated here (tiny images and annotation files
under tmp_path); real-data tests run only where ../shared/data exists."""
from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from litehrnet_plus.data.formats import (
    SPLITS_300W,
    WFLW_ATTRIBUTES,
    FaceSample,
    check_sample,
    load_300w,
    load_csv,
    load_dataset,
    load_pts_folder,
    load_wflw,
    load_wflw_list,
    read_pts,
    write_pts,
)
from conftest import DATA
from litehrnet_plus.data.transforms import landmark_box
from litehrnet_plus.errors import AnnotationError, ConfigError

REAL_DATA = DATA
_needs_data = pytest.mark.skipif(not REAL_DATA.is_dir(), reason=f"{REAL_DATA} not present")


def realdata(test):
    """Mark a test as needing ../shared/data, and skip it where that is absent."""
    return pytest.mark.realdata(_needs_data(test))


# ----------------------------------------------------------------------------- fixtures

def write_image(path: Path, h: int = 40, w: int = 50) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((h, w, 3), 128, dtype=np.uint8))
    return path


def face_points(k: int, seed: int = 0, w: int = 50, h: int = 40) -> np.ndarray:
    """k distinct in-image points with fractional coordinates."""
    rng = np.random.default_rng(seed)
    pts = np.stack([rng.uniform(2, w - 3, k), rng.uniform(2, h - 3, k)], axis=1)
    return pts.astype(np.float32)


def add_face(folder: Path, name: str, k: int = 68, seed: int = 0, ext: str = ".jpg") -> np.ndarray:
    """An image NAME<ext> with NAME.pts beside it; returns the 0-based landmarks."""
    pts = face_points(k, seed)
    write_image(folder / f"{name}{ext}")
    write_pts(folder / f"{name}.pts", pts)
    return pts


def pts_text(rows: list[str], header: bool = True, n_points: int | None = None) -> str:
    if not header:
        return "\n".join(rows) + "\n"
    n = len(rows) if n_points is None else n_points
    return f"version: 1\nn_points: {n}\n{{\n" + "\n".join(rows) + "\n}\n"


def coordinate_rows(k: int) -> list[str]:
    return [f"{i + 1.5} {2 * i + 3.25}" for i in range(k)]


def assert_annotation_error(call, *fragments: str) -> AnnotationError:
    with pytest.raises(AnnotationError) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value), f"{fragment!r} not in {str(info.value)!r}"
    return info.value


class Warnings(list):
    """A warn= callback that remembers the messages."""

    def __call__(self, message: str) -> None:
        self.append(message)


# ----------------------------------------------------------------------------- read/write .pts

def test_write_pts_is_one_based_on_disk_and_reads_back(tmp_path):
    pts = np.array([[0.0, 0.0], [10.25, 20.5], [99.0, 0.5]], dtype=np.float32)
    path = tmp_path / "a.pts"
    write_pts(path, pts)
    lines = path.read_text().splitlines()
    assert lines[:3] == ["version: 1", "n_points: 3", "{"] and lines[-1] == "}"
    assert [float(v) for v in lines[3].split()] == [1.0, 1.0]
    back = read_pts(path)
    assert back.dtype == np.float32 and back.shape == (3, 2)
    np.testing.assert_array_equal(back, pts)


def test_read_pts_without_header(tmp_path):
    path = tmp_path / "bare.pts"
    path.write_text("1 2\n3.5 4.5\n\n")
    np.testing.assert_array_equal(read_pts(path), [[0, 1], [2.5, 3.5]])


def test_read_pts_braces_only_crlf_and_bom(tmp_path):
    path = tmp_path / "win.pts"
    path.write_bytes("\ufeff{\r\n1 1\r\n2 2\r\n}\r\n".encode("utf-8"))
    np.testing.assert_array_equal(read_pts(path), [[0, 0], [1, 1]])


def test_read_pts_checks_expected_count(tmp_path):
    path = tmp_path / "five.pts"
    path.write_text(pts_text(coordinate_rows(5)))
    assert read_pts(path, num_landmarks=5).shape == (5, 2)
    assert_annotation_error(lambda: read_pts(path, num_landmarks=68), str(path), "5 points", "68")


BAD_PTS = {
    # name: (file text, fragment the message must contain besides the path, line or None)
    "n_points_disagrees": (pts_text(coordinate_rows(4), n_points=5), "n_points: 5", None),
    "nan": (pts_text(["1 2", "nan 3", "4 5"]), "NaN", 5),
    "inf": (pts_text(["1 2", "3 -inf", "4 5"]), "infinite", 5),
    "overflow": (pts_text(["1 2", "1e400 3"]), "infinite", 5),
    "non_numeric": (pts_text(["1 2", "3 abc"]), "non-numeric", 5),
    "three_fields": (pts_text(["1 2 3"]), "expected 'x y'", 4),
    "one_field": ("1\n2 3\n", "expected 'x y'", 1),
    "empty": ("", "empty", None),
    "whitespace_only": ("  \n\n\t\n", "empty", None),
    "header_only": ("version: 1\nn_points: 0\n{\n}\n", "n_points", None),
    "no_points": ("version: 1\n{\n}\n", "no points", None),
    "missing_brace": ("version: 1\nn_points: 2\n{\n1 2\n3 4\n", "missing closing", None),
    "text_after_brace": (pts_text(["1 2"]) + "5 6\n", "after the closing", 6),
    "bad_n_points": ("n_points: many\n{\n1 2\n}\n", "whole number", 1),
    "stray_brace": ("1 2\n}\n", "misplaced", None),
    "colon_in_point": ("1:2\n3 4\n", "expected 'x y'", 1),
}


@pytest.mark.parametrize("case", sorted(BAD_PTS))
def test_read_pts_rejects_malformed_files(tmp_path, case):
    text, fragment, line = BAD_PTS[case]
    path = tmp_path / f"{case}.pts"
    path.write_text(text)
    where = f"{path}:{line}" if line is not None else str(path)
    assert_annotation_error(lambda: read_pts(path), where, fragment)


def test_read_pts_missing_file_folder_and_binary(tmp_path):
    assert_annotation_error(lambda: read_pts(tmp_path / "none.pts"), str(tmp_path / "none.pts"), "no such")
    (tmp_path / "dir.pts").mkdir()
    assert_annotation_error(lambda: read_pts(tmp_path / "dir.pts"), str(tmp_path / "dir.pts"), "folder")
    binary = tmp_path / "bin.pts"
    binary.write_bytes(b"\xff\xfe\x00\x81garbage")
    assert_annotation_error(lambda: read_pts(binary), str(binary), "not a text file")


def test_write_pts_refuses_bad_landmarks(tmp_path):
    path = tmp_path / "out.pts"
    assert_annotation_error(lambda: write_pts(path, np.array([[1.0, np.nan]])), str(path), "NaN")
    assert_annotation_error(lambda: write_pts(path, np.zeros((3, 3))), str(path), "shape")
    assert_annotation_error(lambda: write_pts(path, np.zeros((0, 2))), str(path), "shape")
    assert not path.exists()


coordinate = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.tuples(coordinate, coordinate), min_size=1, max_size=120))
def test_pts_round_trip_property(tmp_path_factory, values):
    path = tmp_path_factory.mktemp("rt") / "face.pts"
    pts = np.asarray(values, dtype=np.float32)
    write_pts(path, pts)
    back = read_pts(path, num_landmarks=len(pts))
    # +1 and -1 happen in float64, so float32 landmarks come back exactly (but for values
    # so close to 0 that x + 1 rounds in float64)
    np.testing.assert_allclose(back, pts, rtol=0, atol=1e-12)


PTS_TOKENS = ["version: 1", "n_points: 2", "n_points: 3", "n_points: x", "{", "}", "1 2", "3.5 4",
              "nan 1", "1 inf", "a b", "1", "1 2 3", "", "   ", "1e999 0", "-0 +0", "n_points:",
              "\x00", "1,2", "0x10 1"]


def assert_valid_or_annotation_error(call) -> None:
    try:
        pts = call()
    except AnnotationError:
        return
    assert pts.dtype == np.float32 and pts.ndim == 2 and pts.shape[1] == 2 and len(pts) > 0
    assert np.all(np.isfinite(pts))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(st.sampled_from(PTS_TOKENS) | st.text(max_size=20), max_size=12))
def test_read_pts_garbage_lines_raise_only_annotation_error(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("garbage") / "g.pts"
    path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass"))
    assert_valid_or_annotation_error(lambda: read_pts(path))


@settings(max_examples=80, deadline=None)
@given(data=st.binary(max_size=200))
def test_read_pts_garbage_bytes_raise_only_annotation_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("bytes") / "b.pts"
    path.write_bytes(data)
    assert_valid_or_annotation_error(lambda: read_pts(path))


# ----------------------------------------------------------------------------- 300-W

@pytest.fixture
def w300(tmp_path) -> Path:
    """A tiny 300-W tree: afw (2 faces), lfpw/trainset (1), lfpw/testset (1); helen missing."""
    root = tmp_path / "300w"
    add_face(root / "afw", "a1", seed=1)
    add_face(root / "afw", "a2", seed=2, ext=".png")
    add_face(root / "lfpw" / "trainset", "t1", seed=3, ext=".JPG")
    add_face(root / "lfpw" / "testset", "s1", seed=4)
    write_image(root / "afw" / "unannotated.jpg")  # images without .pts are not faces
    return root


def test_load_300w_folder(w300):
    samples = load_300w(w300, "afw")
    assert [s.image_path.name for s in samples] == ["a1.jpg", "a2.png"]
    s = samples[0]
    assert s.subset == "afw" and s.landmarks.shape == (68, 2) and s.landmarks.dtype == np.float32
    np.testing.assert_allclose(s.landmarks, face_points(68, seed=1), atol=1e-5)
    np.testing.assert_array_equal(s.box, landmark_box(s.landmarks))
    assert s.detector_box is None and s.attributes == {}


def test_load_300w_train_split_warns_about_missing_helen(w300):
    warnings = Warnings()
    samples = load_300w(w300, "train", warn=warnings)
    assert [s.subset for s in samples] == ["afw", "afw", "lfpw/trainset"]
    assert len(warnings) == 1 and "helen/trainset" in warnings[0]


def test_load_300w_comma_list_without_duplicates(w300):
    samples = load_300w(w300, "afw, lfpw/testset,afw", warn=Warnings())
    assert [s.subset for s in samples] == ["afw", "afw", "lfpw/testset"]
    assert len(load_300w(w300, "common", warn=Warnings())) == 1


def test_load_300w_all_missing_is_fatal(w300):
    warnings = Warnings()
    with pytest.raises(FileNotFoundError) as info:
        load_300w(w300, "challenging", warn=warnings)
    assert str(w300) in str(info.value) and "challenging" in str(info.value)
    assert "ibug" in warnings[0]
    with pytest.raises(FileNotFoundError):
        load_300w(w300.parent / "elsewhere", "train", warn=Warnings())


def test_load_300w_pts_without_image(w300):
    orphan = w300 / "afw" / "orphan.pts"
    write_pts(orphan, face_points(68))
    assert_annotation_error(lambda: load_300w(w300, "afw"), str(orphan), "no image")
    warnings = Warnings()
    samples = load_300w(w300, "afw", strict=False, warn=warnings)
    assert len(samples) == 2 and any(str(orphan) in w for w in warnings)


def test_load_300w_wrong_point_count(w300):
    bad = w300 / "afw" / "a0.pts"
    write_image(w300 / "afw" / "a0.jpg")
    write_pts(bad, face_points(67))
    assert_annotation_error(lambda: load_300w(w300, "afw"), str(bad), "67 points")
    warnings = Warnings()
    assert len(load_300w(w300, "afw", strict=False, warn=warnings)) == 2
    assert str(bad) in warnings[0]


def test_load_300w_any_count_must_agree(tmp_path):
    add_face(tmp_path / "afw", "a", k=5, seed=1)
    odd = tmp_path / "afw" / "b.pts"
    add_face(tmp_path / "afw", "b", k=6, seed=2)
    assert_annotation_error(lambda: load_300w(tmp_path, "afw", num_landmarks=None), str(odd), "6 points")


def test_splits_300w_names():
    assert SPLITS_300W["train"] == ["afw", "helen/trainset", "lfpw/trainset"]
    assert SPLITS_300W["full"] == SPLITS_300W["common"] + SPLITS_300W["challenging"]
    assert SPLITS_300W["test"] == ["300W/01_Indoor", "300W/02_Outdoor"]


# ----------------------------------------------------------------------------- WFLW

def wflw_line(pts: np.ndarray, name: str, box: list[int] | None = None,
              flags: list[int] | None = None) -> str:
    fields = [f"{v:.6f}" for v in pts.reshape(-1)]
    if box is not None:
        fields += [str(v) for v in box] + [str(v) for v in flags]
    return " ".join(fields + [name])


@pytest.fixture
def wflw(tmp_path) -> tuple[Path, list[np.ndarray]]:
    """WFLW tree with 3 test faces on 2 images, flags as below, and per-attribute lists."""
    root = tmp_path / "wflw"
    names = ["1--Event/a.jpg", "1--Event/a.jpg", "2--Other/b.jpg"]
    flags = [[1, 0, 0, 0, 1, 0], [0, 0, 0, 0, 1, 1], [0, 1, 0, 0, 0, 0]]
    for name in set(names):
        write_image(root / "WFLW_images" / name)
    faces = [face_points(98, seed=k) for k in range(3)]
    lines = [wflw_line(p, n, [1, 2, 30, 35], f) for p, n, f in zip(faces, names, flags)]
    ann = root / "WFLW_annotations"
    (ann / "list_98pt_rect_attr_train_test").mkdir(parents=True)
    (ann / "list_98pt_rect_attr_train_test" / "list_98pt_rect_attr_test.txt").write_text("\n".join(lines) + "\n")
    (ann / "list_98pt_test").mkdir()
    for col, attr in enumerate(WFLW_ATTRIBUTES):
        file_attr = "largepose" if attr == "pose" else attr
        rows = [wflw_line(p, n) for p, n, f in zip(faces, names, flags) if f[col]]
        (ann / "list_98pt_test" / f"list_98pt_test_{file_attr}.txt").write_text("".join(r + "\n" for r in rows))
    return root, faces


def rect_attr_file(root: Path) -> Path:
    return root / "WFLW_annotations" / "list_98pt_rect_attr_train_test" / "list_98pt_rect_attr_test.txt"


def test_load_wflw_test(wflw):
    root, faces = wflw
    samples = load_wflw(root)
    assert len(samples) == 3
    s = samples[0]
    assert s.image_path == root / "WFLW_images" / "1--Event" / "a.jpg" and s.subset == "test"
    np.testing.assert_allclose(s.landmarks, faces[0], atol=1e-5)  # 0-based: no offset
    np.testing.assert_array_equal(s.box, landmark_box(s.landmarks))
    np.testing.assert_array_equal(s.detector_box, [1, 2, 30, 35])
    assert s.attributes == dict(zip(WFLW_ATTRIBUTES, [1, 0, 0, 0, 1, 0]))
    assert s.source == f"{rect_attr_file(root)}:1"


def test_load_wflw_attribute_filter(wflw):
    root, _ = wflw
    assert len(load_wflw(root, attribute="occlusion")) == 2
    assert len(load_wflw(root, attribute="largepose")) == 1  # list-file spelling accepted
    assert load_wflw(root, attribute="makeup") == []
    with pytest.raises(ConfigError, match="unknown WFLW attribute"):
        load_wflw(root, attribute="hats")
    with pytest.raises(ConfigError, match="unknown WFLW subset"):
        load_wflw(root, "val")


def test_load_wflw_attribute_lists_match_flags(wflw):
    root, _ = wflw
    full = load_wflw(root)
    for attr in WFLW_ATTRIBUTES:
        listed = load_wflw_list(root, attr)
        assert all(s.attributes == {attr: 1} for s in listed)
        flagged = [s for s in full if s.attributes[attr]]
        assert len(listed) == len(flagged)
        for a, b in zip(listed, flagged):
            assert a.image_path == b.image_path
            np.testing.assert_array_equal(a.landmarks, b.landmarks)
    assert len(load_wflw(root, "test_pose")) == len(load_wflw(root, "test_largepose")) == 1


@pytest.mark.parametrize("edit,fragment", [
    (lambda f: f[:-2] + f[-1:], "expected 207 fields"),
    (lambda f: ["1.0x"] + f[1:], "non-numeric"),
    (lambda f: f[:5] + ["nan"] + f[6:], "NaN"),
    (lambda f: f[:196 + 4] + ["2"] + f[201:], "must be 0 or 1"),
])
def test_load_wflw_malformed_line_names_file_and_line(wflw, edit, fragment):
    root, _ = wflw
    path = rect_attr_file(root)
    lines = path.read_text().splitlines()
    lines.insert(1, "")  # a blank line must not shift the reported line numbers
    lines[2] = " ".join(edit(lines[2].split()))
    path.write_text("\n".join(lines) + "\n")
    assert_annotation_error(lambda: load_wflw(root), f"{path}:3", fragment)
    assert len(load_wflw(root, strict=False, warn=Warnings())) == 2


WFLW_TOKENS = ["1.5", "-3", "nan", "inf", "1e999", "x", "", "0", "1", "2", "a.jpg", "1--Event/a.jpg", "\x00"]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 206), st.sampled_from(WFLW_TOKENS) | st.text(max_size=6)),
                      max_size=6),
       cut=st.integers(0, 210))
def test_load_wflw_garbled_lines_raise_only_annotation_error(wflw, edits, cut):
    """Any field of a real line replaced by garbage, or the line cut short: either the face
    still parses to finite points or an AnnotationError names the file and line."""
    root, _ = wflw
    path = rect_attr_file(root)
    pristine = path.with_suffix(".pristine")          # the fixture lives across examples
    if not pristine.exists():
        shutil.copy(path, pristine)
    lines = pristine.read_text().splitlines()
    fields = lines[1].split()
    for i, token in edits:
        fields[min(i, len(fields) - 1)] = token
    lines[1] = " ".join(fields[:cut]).replace("\n", " ")
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8", "surrogatepass"))
    try:
        samples = load_wflw(root)
    except AnnotationError as e:
        assert str(path) in str(e)
        return
    assert all(np.isfinite(s.landmarks).all() and s.landmarks.shape == (98, 2) for s in samples)


def test_load_wflw_missing_image_and_missing_list(wflw):
    root, _ = wflw
    (root / "WFLW_images" / "2--Other" / "b.jpg").unlink()
    assert_annotation_error(lambda: load_wflw(root), f"{rect_attr_file(root)}:3", "b.jpg")
    with pytest.raises(FileNotFoundError, match="list_98pt_rect_attr_train"):
        load_wflw(root, "train")


# ----------------------------------------------------------------------------- CSV

def csv_text(rows: list[tuple[str, np.ndarray]], header: str | None = None) -> str:
    lines = [] if header is None else [header]
    lines += [",".join([name] + [repr(float(v)) for v in pts.reshape(-1)]) for name, pts in rows]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("header", [None, "image,x0,y0,x1,y1,x2,y2", ",0,1,2,3,4,5"],
                         ids=["no_header", "named_header", "pandas_header"])
def test_load_csv_header_detection(tmp_path, header):
    write_image(tmp_path / "f1.jpg")
    write_image(tmp_path / "f2.jpg")
    faces = [face_points(3, seed=1), face_points(3, seed=2)]
    path = tmp_path / "faces.csv"
    path.write_text(csv_text(list(zip(["f1.jpg", "f2.jpg"], faces)), header))
    samples = load_csv(path)
    assert [s.image_path for s in samples] == [tmp_path / "f1.jpg", tmp_path / "f2.jpg"]
    np.testing.assert_array_equal(samples[1].landmarks, faces[1])  # 0-based: no offset
    assert samples[0].subset == "faces"


def test_load_csv_finds_images_in_sibling_folder(tmp_path):
    write_image(tmp_path / "training" / "x.jpg")
    path = tmp_path / "training_frames_keypoints.csv"
    path.write_text(csv_text([("x.jpg", face_points(68))]))
    assert load_csv(path)[0].image_path == tmp_path / "training" / "x.jpg"
    write_image(tmp_path / "elsewhere" / "x.jpg")
    assert load_csv(path, tmp_path / "elsewhere")[0].image_path == tmp_path / "elsewhere" / "x.jpg"


BAD_CSV = {
    # name: (rows after a good first row, fragment, bad line number)
    "count_disagrees": (["f.jpg,1,2,3,4"], "4 coordinates, expected 6", 3),
    "odd_count": (None, "even", 2),
    "non_numeric": (["f.jpg,1,2,3,x,5,6"], "non-numeric", 3),
    "nan": (["f.jpg,1,2,3,nan,5,6"], "NaN", 3),
    "inf": (["f.jpg,1,2,3,4,5,inf"], "infinite", 3),
    "empty_name": ([",1,2,3,4,5,6"], "empty image name", 3),
    "missing_image": (["gone.jpg,1,2,3,4,5,6"], "gone.jpg", 3),
}


@pytest.mark.parametrize("case", sorted(BAD_CSV))
def test_load_csv_errors_name_file_and_line(tmp_path, case):
    rows, fragment, line = BAD_CSV[case]
    write_image(tmp_path / "f.jpg")
    first = "f.jpg,1,2,3,4,5" if rows is None else "f.jpg,1,2,3,4,5,6"
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(["name,x0,y0,x1,y1,x2,y2", first] + (rows or [])) + "\n")
    assert_annotation_error(lambda: load_csv(path), f"{path}:{line}", fragment)


def test_load_csv_line_numbers_count_blank_lines(tmp_path):
    write_image(tmp_path / "f.jpg")
    path = tmp_path / "gaps.csv"
    path.write_text("f.jpg,1,2,3,4\n\n\nf.jpg,1,2,x,4\n")
    assert_annotation_error(lambda: load_csv(path), f"{path}:4")


def test_load_csv_expected_count_empty_and_header_only(tmp_path):
    write_image(tmp_path / "f.jpg")
    path = tmp_path / "three.csv"
    path.write_text("f.jpg,1,2,3,4,5,6\n")
    assert load_csv(path, num_landmarks=3)[0].landmarks.shape == (3, 2)
    assert_annotation_error(lambda: load_csv(path, num_landmarks=68), f"{path}:1", "expected 136")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert_annotation_error(lambda: load_csv(empty), str(empty), "no data rows")
    header_only = tmp_path / "header.csv"
    header_only.write_text("name,x0,y0\n")
    assert_annotation_error(lambda: load_csv(header_only), str(header_only), "no data rows")


def test_load_csv_missing_image_not_strict(tmp_path):
    write_image(tmp_path / "f.jpg")
    path = tmp_path / "some.csv"
    path.write_text("f.jpg,1,2,3,4\ngone.jpg,1,2,3,4\n")
    warnings = Warnings()
    assert len(load_csv(path, strict=False, warn=warnings)) == 1
    assert f"{path}:2" in warnings[0]


@settings(max_examples=40, deadline=None)
@given(k=st.integers(2, 40), seed=st.integers(0, 2**16), header=st.booleans(),
       scale=st.sampled_from([1.0, 1e3, 1e6]))
def test_csv_round_trip_property(tmp_path_factory, k, seed, header, scale):
    folder = tmp_path_factory.mktemp("csv")
    write_image(folder / "img.png", 8, 8)
    rng = np.random.default_rng(seed)
    faces = [(rng.uniform(-1, 1, (k, 2)) * scale).astype(np.float32) for _ in range(3)]
    path = folder / "rt.csv"
    head = ",".join(["name"] + [f"{a}{i}" for i in range(k) for a in "xy"]) if header else None
    path.write_text(csv_text([("img.png", f) for f in faces], head))
    samples = load_csv(path, num_landmarks=k)
    for sample, face in zip(samples, faces):
        np.testing.assert_array_equal(sample.landmarks, face)


CSV_TOKENS = ["f.jpg", "", "1", "2.5", "nan", "inf", "x", '"', '"a,b"', "1e999", " ", "-3", "\x00"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.lists(st.sampled_from(CSV_TOKENS) | st.text(max_size=8), max_size=8),
                     max_size=6))
def test_csv_garbage_raises_only_annotation_error(tmp_path_factory, rows):
    folder = tmp_path_factory.mktemp("garbage_csv")
    write_image(folder / "f.jpg", 8, 8)
    path = folder / "g.csv"
    path.write_bytes("\n".join(",".join(r) for r in rows).encode("utf-8", "surrogatepass"))
    try:
        samples = load_csv(path)
    except AnnotationError:
        return
    for s in samples:
        assert s.landmarks.dtype == np.float32 and np.all(np.isfinite(s.landmarks))


# ----------------------------------------------------------------------------- .pts folders

def test_load_pts_folder_recursive_any_count(tmp_path):
    add_face(tmp_path, "top", k=5, seed=1)
    add_face(tmp_path / "sub" / "deeper", "low", k=5, seed=2, ext=".png")
    write_image(tmp_path / "sub" / "no_annotation.jpg")
    samples = load_pts_folder(tmp_path)
    assert [s.subset for s in samples] == ["sub/deeper", ""]
    assert all(s.landmarks.shape == (5, 2) for s in samples)
    assert [s.image_path.name for s in load_pts_folder(tmp_path, recursive=False)] == ["top.jpg"]


def test_load_pts_folder_counts_must_agree(tmp_path):
    add_face(tmp_path, "a", k=5, seed=1)
    add_face(tmp_path, "b", k=7, seed=2)
    assert_annotation_error(lambda: load_pts_folder(tmp_path), str(tmp_path / "b.pts"), "7 points")


def test_load_pts_folder_nothing_there(tmp_path):
    with pytest.raises(FileNotFoundError, match="no .pts files"):
        load_pts_folder(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such folder"):
        load_pts_folder(tmp_path / "missing")


# ----------------------------------------------------------------------------- dispatch

def test_load_dataset_dispatches(w300, wflw, tmp_path):
    assert len(load_dataset("300w", w300, "afw")) == 2
    assert len(load_dataset("300W", w300, "lfpw/testset")) == 1
    assert len(load_dataset("wflw", wflw[0])) == 3
    assert len(load_dataset("pts", w300, "afw")) == 2
    write_image(tmp_path / "c" / "test" / "f.jpg")
    (tmp_path / "c" / "test_frames_keypoints.csv").write_text("f.jpg,1,2,3,4\n")
    assert len(load_dataset("csv", tmp_path / "c", "test")) == 1
    assert len(load_dataset("csv", tmp_path / "c" / "test_frames_keypoints.csv")) == 1
    with pytest.raises(ConfigError, match="unknown dataset kind"):
        load_dataset("coco", tmp_path)


# ----------------------------------------------------------------------------- check_sample

def sample_with(pts, **kw) -> FaceSample:
    pts = np.asarray(pts, dtype=np.float32)
    return FaceSample(Path("img.jpg"), pts, landmark_box(pts), source="faces.pts", **kw)


def test_check_sample_accepts_points_near_the_border():
    check_sample(sample_with([[-5.0, 1.0], [54.0, 44.0]]), image_shape=(40, 50, 3))


@pytest.mark.parametrize("pts,fragment", [
    ([[1.0, 2.0], [np.nan, 3.0]], "NaN"),
    ([[1.0, 2.0], [3.0, np.inf]], "NaN or infinite"),
    ([[1.0, 2.0], [1.0, 9.0]], "zero or negative size"),
    ([[4.0, 4.0], [4.0, 4.0]], "zero or negative size"),
])
def test_check_sample_rejects(pts, fragment):
    assert_annotation_error(lambda: check_sample(sample_with(pts)), "faces.pts", fragment)


def test_check_sample_far_outside_the_image():
    far = sample_with([[1.0, 2.0], [120.0, 30.0]])
    check_sample(far)  # no image shape: nothing to compare with
    assert_annotation_error(lambda: check_sample(far, image_shape=(40, 50)), "faces.pts", "img.jpg",
                            "outside")
    assert_annotation_error(lambda: check_sample(sample_with([[1.0, 2.0], [30.0, -41.0]]), (40, 50)),
                            "outside")


def test_check_sample_bad_detector_box():
    s = sample_with([[1.0, 2.0], [3.0, 4.0]], detector_box=np.array([5, 5, 5, 9]))
    assert_annotation_error(lambda: check_sample(s), "detector box")


def test_face_sample_normalises_types():
    s = FaceSample("a.jpg", [[1, 2], [3, 4]], [1, 2, 3, 4])
    assert isinstance(s.image_path, Path)
    assert s.landmarks.dtype == np.float32 and s.box.dtype == np.float32
    assert s.detector_box is None and s.subset == "" and s.attributes == {}
    assert FaceSample("b.jpg", [[0, 0]], [0, 0, 1, 1]).attributes is not s.attributes


# ----------------------------------------------------------------------------- real data

W300_COUNTS = {"afw": 337, "helen/trainset": 870, "lfpw/trainset": 805, "lfpw/testset": 224}


@pytest.fixture(scope="module")
def real_300w() -> dict[str, list[FaceSample]]:
    return {folder: load_300w(REAL_DATA / "300w", folder) for folder in W300_COUNTS}


@realdata
@pytest.mark.parametrize("folder", sorted(W300_COUNTS))
def test_real_300w_folder_counts(real_300w, folder):
    samples = real_300w[folder]
    assert len(samples) == W300_COUNTS[folder]
    assert all(s.landmarks.shape == (68, 2) and s.subset == folder for s in samples)


@realdata
def test_real_300w_splits():
    assert len(load_300w(REAL_DATA / "300w", "train", warn=Warnings())) == 2012
    warnings = Warnings()
    common = load_300w(REAL_DATA / "300w", "common", warn=warnings)
    assert len(common) == 224 and {s.subset for s in common} == {"lfpw/testset"}
    assert len(warnings) == 1 and "helen/testset" in warnings[0]


@realdata
def test_real_300w_landmarks_inside_images(real_300w):
    for samples in real_300w.values():
        for s in samples:
            h, w = cv2.imread(str(s.image_path), cv2.IMREAD_UNCHANGED).shape[:2]
            check_sample(s, (h, w))
            # within the outer pixel edges: [-0.5, size - 0.5] in the pixel-centre convention
            assert s.landmarks[:, 0].min() >= -0.5 and s.landmarks[:, 0].max() <= w - 0.5, s.source
            assert s.landmarks[:, 1].min() >= -0.5 and s.landmarks[:, 1].max() <= h - 0.5, s.source


@realdata
def test_real_wflw_test_set_and_attribute_lists():
    root = REAL_DATA / "wflw-partial"
    full = load_wflw(root, "test")
    assert len(full) == 206 and all(s.landmarks.shape == (98, 2) for s in full)
    assert len({s.image_path for s in full}) == 175
    for attr in WFLW_ATTRIBUTES:
        listed = {(s.image_path, s.landmarks.tobytes()) for s in load_wflw_list(root, attr)}
        flagged = {(s.image_path, s.landmarks.tobytes()) for s in full if s.attributes[attr] == 1}
        assert listed == flagged, attr
        assert len(load_wflw(root, attribute=attr)) == len(flagged)


@realdata
def test_real_ytf68_csv():
    root = REAL_DATA / "ytf-68"
    train = load_csv(root / "training_frames_keypoints.csv", num_landmarks=68)
    test = load_csv(root / "test_frames_keypoints.csv", num_landmarks=68)
    assert len(train) == 3462 and len(test) == 770
    assert train[0].image_path.parent == root / "training" and test[0].image_path.parent == root / "test"
    assert all(s.landmarks.shape == (68, 2) for s in train + test)

