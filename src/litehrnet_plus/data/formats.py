"""Dataset readers: 300-W (.pts), WFLW (official list files), CSV and plain .pts folders.

Every reader returns FaceSample objects in one convention: 0-based pixel coordinates with
pixel centres at integers (what transforms.py and cv2.warpAffine assume). Malformed
annotations raise AnnotationError naming the file (and the line for list formats).
NumPy + OpenCV only: no PyTorch here.
"""
from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..choices import DATASET_KINDS
from ..errors import AnnotationError, ConfigError
from ..fileio import atomic_write_text
from .images import IMAGE_EXTENSIONS
from .transforms import landmark_box

Warn = Callable[[str], None]
# No image is a billion pixels wide: larger values are corrupt (and would lose all
# precision, or overflow, as float32).
MAX_COORDINATE = 1e9


@dataclass(eq=False)  # arrays make field-wise == ambiguous: samples compare by identity
class FaceSample:
    """One annotated face.

    box: the tight box of the landmarks (the benchmark protocol), x1, y1, x2, y2.
    detector_box: a box given by the dataset itself (WFLW's rect), kept apart from `box`.
    source: where the annotation came from ("a.pts" or "list.txt:12"), for error messages.
    """

    image_path: Path
    landmarks: np.ndarray
    box: np.ndarray
    subset: str = ""
    attributes: dict[str, int] = field(default_factory=dict)
    detector_box: np.ndarray | None = None
    source: str = ""

    def __post_init__(self) -> None:
        # callers may pass lists or float64: normalise once so every consumer sees one dtype
        self.image_path = Path(self.image_path)
        self.landmarks = np.asarray(self.landmarks, dtype=np.float32).reshape(-1, 2)
        self.box = np.asarray(self.box, dtype=np.float32).reshape(-1)
        if self.detector_box is not None:
            self.detector_box = np.asarray(self.detector_box, dtype=np.float32).reshape(-1)


def _make_sample(image_path: Path, landmarks: np.ndarray, subset: str, source: str,
                 attributes: dict[str, int] | None = None,
                 detector_box: np.ndarray | None = None) -> FaceSample:
    return FaceSample(image_path=image_path, landmarks=landmarks, box=landmark_box(landmarks),
                      subset=subset, attributes=dict(attributes or {}),
                      detector_box=detector_box, source=source)


# ----------------------------------------------------------------------------- numbers

def _parse_number(text: str, where: str) -> float:
    """A finite float of plausible size for a pixel coordinate."""
    try:
        value = float(text)
    except ValueError:
        raise AnnotationError(f"{where}: non-numeric value {text[:40]!r}") from None
    if not math.isfinite(value):
        raise AnnotationError(f"{where}: value {text[:40]!r} is NaN or infinite")
    if abs(value) > MAX_COORDINATE:
        raise AnnotationError(f"{where}: value {text[:40]!r} is out of range for a pixel coordinate")
    return value


def _parse_numbers(fields: Sequence[str], where: str) -> list[float]:
    return [_parse_number(f.strip(), where) for f in fields]


def _is_file(path: Path) -> bool:
    """Path.is_file() that says False instead of raising for names the OS refuses (too long,
    NUL bytes): such names in an annotation are just missing images."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _to_points(values: Sequence[float]) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).reshape(-1, 2).astype(np.float32)


def _read_text(path: Path) -> str:
    """The annotation file's text, or AnnotationError naming the file."""
    if not path.exists():
        raise AnnotationError(f"{path}: no such annotation file")
    if path.is_dir():
        raise AnnotationError(f"{path}: is a folder, not an annotation file")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise AnnotationError(f"{path}: cannot read ({e.strerror or e})") from e
    try:
        # utf-8-sig: files saved by Windows editors start with a byte-order mark
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AnnotationError(f"{path}: not a text file (invalid UTF-8)") from None


# ----------------------------------------------------------------------------- .pts

def read_pts(path: str | os.PathLike, *, num_landmarks: int | None = None) -> np.ndarray:
    """Read an iBUG .pts file as (K, 2) float32 0-based pixel-centre coordinates.

    The `version:` / `n_points:` / `{ }` header is optional. On disk coordinates are 1-based
    (the iBUG convention), so 1 is subtracted. `num_landmarks` additionally checks the count.
    """
    p = Path(path)
    text = _read_text(p)
    lines = [(i, line.strip()) for i, line in enumerate(text.splitlines(), start=1)]
    lines = [(i, line) for i, line in lines if line]
    if not lines:
        raise AnnotationError(f"{p}: empty annotation file")
    declared, body = _split_pts_header(p, lines)
    values: list[float] = []
    for lineno, line in body:
        fields = line.split()
        if len(fields) != 2:
            raise AnnotationError(f"{p}:{lineno}: expected 'x y', got {line[:60]!r}")
        values.extend(_parse_numbers(fields, f"{p}:{lineno}"))
    count = len(values) // 2
    if count == 0:
        raise AnnotationError(f"{p}: no points")
    if declared is not None and declared != count:
        raise AnnotationError(f"{p}: header says n_points: {declared} but the file has {count} points")
    if num_landmarks is not None and count != num_landmarks:
        raise AnnotationError(f"{p}: {count} points, expected {num_landmarks}")
    # subtract in float64, round to float32 once: write_pts -> read_pts is then exact
    return (np.asarray(values, dtype=np.float64).reshape(-1, 2) - 1.0).astype(np.float32)


def _split_pts_header(p: Path, lines: list[tuple[int, str]]
                      ) -> tuple[int | None, list[tuple[int, str]]]:
    """(n_points from the header or None, the numbered coordinate lines)."""
    declared: int | None = None
    start = 0
    # header: leading "key: value" lines (a key is a name, so "1:2" is a bad point, not a header)
    while start < len(lines) and lines[start][1].partition(":")[0].strip().isidentifier():
        lineno, line = lines[start]
        key, sep, value = line.partition(":")
        if not sep:
            break
        if key.strip().lower() == "n_points":
            declared = _parse_count(value.strip(), f"{p}:{lineno}")
        start += 1
    body = lines[start:]
    if not body or body[0][1] != "{":
        if any(line in ("{", "}") for _, line in body):
            raise AnnotationError(f"{p}: misplaced '{{' or '}}'")
        return declared, body
    closing = [k for k, (_, line) in enumerate(body) if line == "}"]
    if not closing:
        raise AnnotationError(f"{p}: missing closing '}}' (truncated file?)")
    end = closing[0]
    if end != len(body) - 1:
        raise AnnotationError(f"{p}:{body[end + 1][0]}: unexpected text after the closing '}}'")
    return declared, body[1:end]


def _parse_count(text: str, where: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise AnnotationError(f"{where}: n_points must be a whole number, got {text[:40]!r}") from None
    if n < 1:
        raise AnnotationError(f"{where}: n_points must be at least 1, got {n}")
    return n


def write_pts(path: str | os.PathLike, landmarks: np.ndarray) -> None:
    """Write 0-based landmarks as an iBUG .pts file (1-based on disk, with the header)."""
    p = Path(path)
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] == 0:
        raise AnnotationError(f"{p}: landmarks must have shape (K, 2) with K >= 1, got {pts.shape}")
    if not np.all(np.isfinite(pts)):
        raise AnnotationError(f"{p}: refusing to write NaN or infinite landmarks")
    if np.abs(pts + 1.0).max() > MAX_COORDINATE:
        raise AnnotationError(f"{p}: landmarks beyond +-{MAX_COORDINATE:g} pixels are not coordinates")
    # repr() is the shortest text that reads back to the same float64: an exact round trip
    rows = [f"{x!r} {y!r}" for x, y in (pts + 1.0).tolist()]
    text = "version: 1\nn_points: {}\n{{\n{}\n}}\n".format(len(rows), "\n".join(rows))
    atomic_write_text(p, text)


# ----------------------------------------------------------------------------- folders of .pts

def _images_by_stem(folder: Path) -> dict[str, Path]:
    """Image files of one folder by stem; where two share a stem, IMAGE_EXTENSIONS order wins."""
    rank = {ext: k for k, ext in enumerate(IMAGE_EXTENSIONS)}
    best: dict[str, Path] = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            path = Path(entry.path)
            ext = path.suffix.lower()
            if ext not in rank or not entry.is_file():
                continue
            old = best.get(path.stem)
            if old is None or rank[ext] < rank[old.suffix.lower()]:
                best[path.stem] = path
    return best


def _report(error: AnnotationError, strict: bool, warn: Warn) -> None:
    """strict: raise; otherwise tell the user and let the caller skip the sample."""
    if strict:
        raise error
    warn(f"skipped: {error}")


def _pts_samples(pts_files: Iterable[Path], root: Path, num_landmarks: int | None,
                 strict: bool, warn: Warn, subset: str | None = None) -> list[FaceSample]:
    """Samples for .pts files that have an image of the same stem beside them; subset is
    `subset`, or else each file's folder relative to `root`."""
    samples: list[FaceSample] = []
    image_maps: dict[Path, dict[str, Path]] = {}
    for pts_path in pts_files:
        folder = pts_path.parent
        if folder not in image_maps:
            image_maps[folder] = _images_by_stem(folder)
        try:
            image = image_maps[folder].get(pts_path.stem)
            if image is None:
                raise AnnotationError(f"{pts_path}: no image {pts_path.stem}.* beside it "
                                      f"(looked for {', '.join(IMAGE_EXTENSIONS)})")
            landmarks = read_pts(pts_path, num_landmarks=num_landmarks)
            name = subset if subset is not None else _relative(folder, root)
            sample = _make_sample(image, landmarks, name, str(pts_path))
            check_sample(sample)
        except AnnotationError as e:
            _report(e, strict, warn)
            continue
        if num_landmarks is None:
            # the first file fixes the count for all others
            num_landmarks = len(landmarks)
        samples.append(sample)
    return samples


def _relative(folder: Path, root: Path) -> str:
    rel = folder.relative_to(root).as_posix()
    return "" if rel == "." else rel


def load_pts_folder(folder: str | os.PathLike, *, recursive: bool = True,
                    num_landmarks: int | None = None, strict: bool = True,
                    warn: Warn = print) -> list[FaceSample]:
    """Custom data: every NAME.pts with an image NAME.<ext> beside it, any landmark count
    (all files must agree). subset = the folder relative to `folder` ("" at the top)."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder of .pts annotations")
    found = root.rglob("*.pts") if recursive else root.glob("*.pts")
    pts_files = sorted(p for p in found if p.is_file())
    if not pts_files:
        raise FileNotFoundError(f"{root}: no .pts files" + (" (searched sub-folders too)" if recursive else ""))
    return _pts_samples(pts_files, root, num_landmarks, strict, warn)


# ----------------------------------------------------------------------------- 300-W

SPLITS_300W: dict[str, list[str]] = {
    "train": ["afw", "helen/trainset", "lfpw/trainset"],
    "common": ["helen/testset", "lfpw/testset"],
    "challenging": ["ibug"],
    "full": ["helen/testset", "lfpw/testset", "ibug"],
    "test": ["300W/01_Indoor", "300W/02_Outdoor"],
}


def _split_names(subset: str | Sequence[str]) -> list[str]:
    parts = subset.split(",") if isinstance(subset, str) else list(subset)
    return [s.strip().strip("/") for s in parts if s.strip()]


def _300w_folders(subset: str | Sequence[str]) -> list[str]:
    """Split names expanded to folders, each once, in order."""
    folders: list[str] = []
    for name in _split_names(subset):
        for folder in SPLITS_300W.get(name, [name]):
            if folder not in folders:
                folders.append(folder)
    return folders


def load_300w(root: str | os.PathLike, subset: str | Sequence[str] = "train", *,
              num_landmarks: int | None = 68, strict: bool = True,
              warn: Warn = print) -> list[FaceSample]:
    """300-W faces of a split ("train", "common", "challenging", "full", "test"), a folder
    ("lfpw/testset"), or a comma-separated list of either.

    A missing folder is reported through `warn` and skipped (partial copies of 300-W are
    common); nothing found at all raises FileNotFoundError. Annotation problems raise
    AnnotationError, or with strict=False are reported through `warn` and skipped.
    """
    base = Path(root)
    folders = _300w_folders(subset)
    samples: list[FaceSample] = []
    any_folder = False
    for folder in folders:
        path = base / folder
        if not path.is_dir():
            warn(f"300-W: folder {path} not found, skipped")
            continue
        any_folder = True
        pts_files = sorted(p for p in path.glob("*.pts") if p.is_file())
        if not pts_files:
            warn(f"300-W: folder {path} holds no .pts files, skipped")
            continue
        samples.extend(_pts_samples(pts_files, base, num_landmarks, strict, warn, subset=folder))
        if samples and num_landmarks is None:
            num_landmarks = len(samples[0].landmarks)  # all folders must agree too
    if not samples:
        what = "no usable faces" if any_folder else "none of the folders exist"
        raise FileNotFoundError(
            f"300-W root {base}, subset {subset!r}: {what} (looked in {', '.join(folders) or 'nothing'}; "
            f"splits: {', '.join(SPLITS_300W)})")
    return samples


# ----------------------------------------------------------------------------- WFLW

WFLW_ATTRIBUTES = ("pose", "expression", "illumination", "makeup", "occlusion", "blur")
# file names of the official per-attribute test lists differ from the attribute names
_WFLW_LIST_NAMES = {"pose": "largepose"}
_WFLW_POINTS = 98


def _wflw_attribute(name: str) -> str:
    """Canonical attribute name; "largepose" (the list-file spelling) means "pose"."""
    key = name.strip().lower()
    key = {v: k for k, v in _WFLW_LIST_NAMES.items()}.get(key, key)
    if key not in WFLW_ATTRIBUTES:
        raise ConfigError(f"unknown WFLW attribute {name!r} (known: {', '.join(WFLW_ATTRIBUTES)})")
    return key


def wflw_rect_attr_file(root: str | os.PathLike, split: str) -> Path:
    return (Path(root) / "WFLW_annotations" / "list_98pt_rect_attr_train_test"
            / f"list_98pt_rect_attr_{split}.txt")


def wflw_attribute_file(root: str | os.PathLike, attribute: str) -> Path:
    attr = _wflw_attribute(attribute)
    return (Path(root) / "WFLW_annotations" / "list_98pt_test"
            / f"list_98pt_test_{_WFLW_LIST_NAMES.get(attr, attr)}.txt")


def _numbered_lines(path: Path) -> list[tuple[int, str]]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: WFLW annotation list not found")
    text = _read_text(path)
    return [(i, line.strip()) for i, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _parse_flags(fields: Sequence[str], where: str) -> dict[str, int]:
    flags: dict[str, int] = {}
    for name, text in zip(WFLW_ATTRIBUTES, fields):
        if text not in ("0", "1"):
            raise AnnotationError(f"{where}: attribute {name} must be 0 or 1, got {text[:20]!r}")
        flags[name] = int(text)
    return flags


def _parse_wflw_line(fields: list[str], with_rect_attr: bool, where: str
                     ) -> tuple[np.ndarray, np.ndarray | None, dict[str, int], str]:
    """(landmarks, file box or None, attribute flags, image name) of one list line."""
    n_coords = 2 * _WFLW_POINTS
    expected = n_coords + (10 if with_rect_attr else 0) + 1
    if len(fields) != expected:
        layout = "196 coordinates, 4 box, 6 attributes, image name" if with_rect_attr \
            else "196 coordinates, image name"
        raise AnnotationError(f"{where}: expected {expected} fields ({layout}), got {len(fields)}")
    landmarks = _to_points(_parse_numbers(fields[:n_coords], where))
    if not with_rect_attr:
        return landmarks, None, {}, fields[-1]
    box = np.asarray(_parse_numbers(fields[n_coords:n_coords + 4], where), dtype=np.float32)
    flags = _parse_flags(fields[n_coords + 4:n_coords + 10], where)
    return landmarks, box, flags, fields[-1]


def _read_wflw_list(path: Path, image_root: Path, subset: str, with_rect_attr: bool,
                    strict: bool, warn: Warn) -> list[FaceSample]:
    samples: list[FaceSample] = []
    for lineno, line in _numbered_lines(path):
        where = f"{path}:{lineno}"
        try:
            landmarks, box, flags, name = _parse_wflw_line(line.split(), with_rect_attr, where)
            image = image_root / name
            if not _is_file(image):
                raise AnnotationError(f"{where}: image {image} not found")
            sample = _make_sample(image, landmarks, subset, where, flags, box)
            check_sample(sample)
        except AnnotationError as e:
            _report(e, strict, warn)
            continue
        samples.append(sample)
    return samples


def load_wflw(root: str | os.PathLike, subset: str = "test", *, attribute: str | None = None,
              strict: bool = True, warn: Warn = print) -> list[FaceSample]:
    """WFLW faces from the official annotation lists (coordinates are 0-based already).

    subset "train"/"test": the rect_attr list; `attribute` keeps the faces whose flag is 1.
    subset "test_<attribute>" (e.g. "test_pose", "test_largepose"): the official
    per-attribute test list (see load_wflw_list). `box` is the tight landmark box (benchmark
    protocol); the list's own box is kept as `detector_box`.
    """
    if subset.startswith("test_"):
        if attribute is not None:
            raise ConfigError(f"WFLW subset {subset!r} is already one attribute; drop attribute={attribute!r}")
        return load_wflw_list(root, subset[len("test_"):], strict=strict, warn=warn)
    if subset not in ("train", "test"):
        raise ConfigError(f"unknown WFLW subset {subset!r} (use 'train', 'test' or 'test_<attribute>')")
    path = wflw_rect_attr_file(root, subset)
    samples = _read_wflw_list(path, Path(root) / "WFLW_images", subset, True, strict, warn)
    if attribute is None:
        return samples
    attr = _wflw_attribute(attribute)
    return [s for s in samples if s.attributes[attr] == 1]


def load_wflw_list(root: str | os.PathLike, attribute: str, *, strict: bool = True,
                   warn: Warn = print) -> list[FaceSample]:
    """The official per-attribute test list list_98pt_test_<attr>.txt ("pose" reads the
    "largepose" file). Those lines carry no box and no other flags: attributes = {attr: 1}."""
    attr = _wflw_attribute(attribute)
    path = wflw_attribute_file(root, attr)
    samples = _read_wflw_list(path, Path(root) / "WFLW_images", f"test_{attr}", False, strict, warn)
    for s in samples:
        s.attributes = {attr: 1}
    return samples


# ----------------------------------------------------------------------------- CSV

def _csv_rows(path: Path) -> list[tuple[int, list[str]]]:
    """Non-empty CSV rows with their 1-based line numbers."""
    text = _read_text(path)
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        rows = [(reader.line_num, row) for row in reader]
    except csv.Error as e:
        raise AnnotationError(f"{path}: not a valid CSV file ({e})") from None
    return [(n, row) for n, row in rows if any(f.strip() for f in row)]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_header(row: list[str]) -> bool:
    """A header names all coordinate columns with non-numbers, or numbers them 0, 1, 2, ...
    (what pandas writes, as in the YouTube-Faces CSVs). A first data row with only some bad
    fields is not taken for a header, so its error is reported instead of dropped."""
    coords = [f.strip() for f in row[1:]]
    if not coords or not any(_is_number(f) for f in coords):
        return True
    return coords == [str(k) for k in range(len(coords))]


def _parse_csv_row(row: list[str], where: str, num_coords: int | None) -> tuple[str, list[float]]:
    name = row[0].strip()
    if not name:
        raise AnnotationError(f"{where}: empty image name")
    coords = row[1:]
    if num_coords is not None and len(coords) != num_coords:
        raise AnnotationError(f"{where}: {len(coords)} coordinates, expected {num_coords} "
                              "(all rows must have the same landmark count)")
    if not coords or len(coords) % 2:
        raise AnnotationError(f"{where}: expected an even, non-zero number of coordinates "
                              f"x0,y0,x1,y1,..., got {len(coords)}")
    return name, _parse_numbers(coords, where)


def parse_csv(csv_path: str | os.PathLike, *, num_landmarks: int | None = None
              ) -> list[tuple[str, np.ndarray, str]]:
    """(image name, (K, 2) float32 landmarks, "file:line") for every data row of a CSV."""
    path = Path(csv_path)
    rows = _csv_rows(path)
    if rows and _is_header(rows[0][1]):
        rows = rows[1:]
    if not rows:
        raise AnnotationError(f"{path}: no data rows")
    num_coords = None if num_landmarks is None else 2 * num_landmarks
    out: list[tuple[str, np.ndarray, str]] = []
    for lineno, row in rows:
        where = f"{path}:{lineno}"
        name, values = _parse_csv_row(row, where, num_coords)
        num_coords = len(values)  # the first row fixes the count for all others
        out.append((name, _to_points(values), where))
    return out


def _csv_image_root(path: Path, first_image: str) -> Path:
    """The CSV's folder, else a sibling named by the CSV's stem prefix
    ("training_frames_keypoints.csv" -> "training/"), whichever holds the first image."""
    stem = path.stem
    candidates = [path.parent, path.parent / stem.split("_")[0], path.parent / stem]
    for folder in candidates:
        if _is_file(folder / first_image):
            return folder
    return path.parent


def load_csv(csv_path: str | os.PathLike, image_root: str | os.PathLike | None = None, *,
             num_landmarks: int | None = None, strict: bool = True,
             warn: Warn = print) -> list[FaceSample]:
    """Rows `name,x0,y0,x1,y1,...` (0-based pixels; header row optional; any landmark count,
    equal in all rows). Image names are relative to `image_root` (default: see
    _csv_image_root). A row whose image is missing raises, or with strict=False is skipped."""
    path = Path(csv_path)
    rows = parse_csv(path, num_landmarks=num_landmarks)
    root = Path(image_root) if image_root is not None else _csv_image_root(path, rows[0][0])
    subset = path.stem
    samples: list[FaceSample] = []
    for name, landmarks, where in rows:
        try:
            image = root / name
            if not _is_file(image):
                raise AnnotationError(f"{where}: image {image} not found")
            sample = _make_sample(image, landmarks, subset, where)
            check_sample(sample)
        except AnnotationError as e:
            _report(e, strict, warn)
            continue
        samples.append(sample)
    return samples


def _csv_in_folder(folder: Path, subset: str | None) -> Path:
    """The CSV named by `subset` in `folder`: a file name, a stem, or a unique stem prefix."""
    if subset is None:
        found = sorted(folder.glob("*.csv"))
        if len(found) == 1:
            return found[0]
        raise ConfigError(f"{folder}: {len(found)} CSV files; name one as the subset")
    for candidate in (folder / subset, folder / f"{subset}.csv"):
        if candidate.is_file():
            return candidate
    found = sorted(folder.glob(f"{subset}*.csv"))
    if len(found) == 1:
        return found[0]
    raise FileNotFoundError(f"{folder}: no single CSV file matches subset {subset!r}")


# ----------------------------------------------------------------------------- dispatch

def load_dataset(kind: str, root: str | os.PathLike, subset: str | None = None,
                 **kw) -> list[FaceSample]:
    """kind "300w", "wflw", "csv" (root: the CSV, or its folder with subset naming it) or
    "pts" (root, or root/subset, is a folder of images with .pts beside them)."""
    key = kind.strip().lower().replace("-", "")
    base = Path(root)
    if key == "300w":
        return load_300w(base, subset or "train", **kw)
    if key == "wflw":
        return load_wflw(base, subset or "test", **kw)
    if key == "csv":
        return load_csv(base if base.is_file() else _csv_in_folder(base, subset), **kw)
    if key == "pts":
        return load_pts_folder(base / subset if subset else base, **kw)
    raise ConfigError(f"unknown dataset kind {kind!r} (known: {', '.join(DATASET_KINDS)})")


# ----------------------------------------------------------------------------- checks

def check_sample(sample: FaceSample, image_shape: Sequence[int] | None = None) -> None:
    """Refuse NaN/inf landmarks, degenerate boxes and, given the image shape, points more
    than one image size outside the image (a sign of a wrong convention or a wrong file)."""
    where = sample.source or str(sample.image_path)
    pts = np.asarray(sample.landmarks)
    if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] == 0:
        raise AnnotationError(f"{where}: landmarks must have shape (K, 2), got {pts.shape}")
    if not np.all(np.isfinite(pts)):
        raise AnnotationError(f"{where}: landmarks contain NaN or infinite values")
    _check_box(sample.box, "face box", where)
    if sample.detector_box is not None:
        _check_box(sample.detector_box, "detector box", where)
    if image_shape is not None:
        _check_inside(pts, image_shape, where, sample.image_path)


def _check_box(box: np.ndarray, what: str, where: str) -> None:
    b = np.asarray(box, dtype=np.float64).reshape(-1)
    if b.shape != (4,) or not np.all(np.isfinite(b)):
        raise AnnotationError(f"{where}: {what} must be 4 finite numbers, got {b.tolist()}")
    if b[2] - b[0] <= 0 or b[3] - b[1] <= 0:
        raise AnnotationError(f"{where}: {what} {b.tolist()} has zero or negative size "
                              "(all landmarks on one line or point?)")


def _check_inside(pts: np.ndarray, image_shape: Sequence[int], where: str, image: Path) -> None:
    h, w = int(image_shape[0]), int(image_shape[1])
    far = ((pts[:, 0] < -w) | (pts[:, 0] > 2 * w - 1) | (pts[:, 1] < -h) | (pts[:, 1] > 2 * h - 1))
    if np.any(far):
        k = int(np.argmax(far))
        raise AnnotationError(
            f"{where}: landmark {k} at ({pts[k, 0]:.1f}, {pts[k, 1]:.1f}) lies more than one image "
            f"size outside {image} ({w}x{h}): wrong image, or wrong coordinate convention?")
