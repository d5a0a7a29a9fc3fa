"""Faults a batch run must survive: degenerate images, unreadable folders, bad arguments of the
wrong type. Each test reproduces the fault first (the files are made here)."""
from __future__ import annotations

import json
import os
import shutil

import cv2
import numpy as np
import pytest

from conftest import ASTRONAUT
from litehrnet_plus.cli import main
from litehrnet_plus.inference.landmarker import FaceLandmarker


@pytest.mark.parametrize("shape", [(1, 3000), (3000, 1), (1, 1), (2, 5000)])
def test_degenerate_images_give_no_faces_not_an_error(tmp_path, shape):
    path = tmp_path / "strip.png"
    cv2.imwrite(str(path), np.full((*shape, 3), 128, np.uint8))
    assert FaceLandmarker().detect(path) == []
    assert FaceLandmarker(min_face=20).detect(path) == []


def test_a_degenerate_image_does_not_stop_a_folder(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(ASTRONAUT, src / "a.jpg")
    cv2.imwrite(str(src / "b_strip.png"), np.full((1, 3000, 3), 128, np.uint8))
    shutil.copy(ASTRONAUT, src / "c.jpg")
    rc = main(["predict", str(src), "--json", str(tmp_path / "r.json")])
    doc = json.loads((tmp_path / "r.json").read_text())
    assert rc == 0 and [i["file"] for i in doc["images"]] == ["a.jpg", "b_strip.png", "c.jpg"]
    assert [len(i["faces"]) for i in doc["images"]] == [1, 0, 1]


# ----------------------------------------------------------------------------- a full disk
# A file-size limit (RLIMIT_FSIZE, with SIGXFSZ ignored) makes every write past it fail with
# EFBIG, in Python and in OpenCV's native writers alike: a full disk for one file at a time.
_FULL_DISK = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from litehrnet_plus.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _full_disk(limit: int, *args: str, cwd=None):
    import subprocess
    import sys

    from conftest import ROOT
    return subprocess.run([sys.executable, "-c", _FULL_DISK, str(limit), *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})


def _clip(path, frames: int = 90, size=(320, 240)) -> None:
    image = cv2.resize(cv2.imread(str(ASTRONAUT)), (size[1], size[1]))
    rng = np.random.default_rng(0)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, size)
    for i in range(frames):
        canvas = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)   # noise: frames that do not compress
        x = 10 + i % 40
        canvas[:, x:x + size[1]] = image[:, : size[0] - x]
        w.write(canvas)
    w.release()


def test_a_full_disk_keeps_whole_lines_and_a_video_that_says_what_it_is(tmp_path):
    from litehrnet_plus.batch.results import read_results
    clip = tmp_path / "clip.avi"
    _clip(clip)
    r = _full_disk(150_000, "predict", str(clip), "--out", str(tmp_path / "out.mp4"),
                   "--json", str(tmp_path / "out.jsonl"), "--model", "litehrnet_plus_tiny.300w")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert str(tmp_path / "out") in r.stderr                     # the error names the file
    doc = read_results(tmp_path / "out.jsonl")                   # whole lines only: it reads
    assert 0 < doc["processed"] == len(doc["frames"])
    assert (tmp_path / "out.jsonl").read_text().endswith("\n")
    # the video is either whole and playable, or kept under a name that says it is not
    final, partial = tmp_path / "out.mp4", tmp_path / "out.partial.mp4"
    assert final.exists() != partial.exists()
    if final.exists():
        cap = cv2.VideoCapture(str(final))
        assert cap.read()[0]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]      # no hidden leftovers


def test_a_full_disk_leaves_an_incomplete_json_named_so(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(12):
        shutil.copy(ASTRONAUT, src / f"{i:02d}.jpg")
    r = _full_disk(20_000, "predict", str(src), "--json", str(tmp_path / "r.json"), "--model", "litehrnet_plus_tiny.300w")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert f"{tmp_path / 'r.json'}: cannot write results" in r.stderr
    assert not (tmp_path / "r.json").exists() and not list(tmp_path.glob(".r.json*"))
    text = (tmp_path / "r.incomplete.json").read_text()
    assert text.count('"file"') >= 1 and len(text.encode()) <= 20_000


def test_a_torn_last_line_is_dropped_by_the_reader(tmp_path):
    from litehrnet_plus.batch.results import read_results
    path = tmp_path / "r.jsonl"
    whole = '{"header": {"model": "m"}, "entries": "images"}\n{"file": "a.jpg", "faces": []}\n'
    path.write_text(whole + '{"file": "b.jpg", "fa')
    doc = read_results(path)
    assert [e["file"] for e in doc["images"]] == ["a.jpg"] and doc["interrupted"] == "unfinished"


# ----------------------------------------------------------------------------- odd files
def test_a_fifo_input_is_refused_at_once(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT
    fifo = tmp_path / "input.jpg"
    os.mkfifo(fifo)
    r = subprocess.run([sys.executable, "-m", "litehrnet_plus.cli", "predict", str(fifo)], capture_output=True,
                       text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert r.returncode == 2 and "not a regular file" in r.stderr
    from litehrnet_plus.data.images import read_image
    from litehrnet_plus.errors import ImageReadError
    with pytest.raises(ImageReadError, match="not a regular file"):
        read_image(fifo)


def test_results_are_not_written_through_a_dangling_link(tmp_path):
    link = tmp_path / "r.jsonl"
    link.symlink_to(tmp_path / "elsewhere" / "target.jsonl")
    for extra in ([], ["--overwrite"]):
        rc = main(["predict", str(ASTRONAUT), "--json", str(link), *extra])
        assert rc == 2
    assert not (tmp_path / "elsewhere").exists()


def test_a_failed_training_start_leaves_nothing_that_blocks_the_rerun(tmp_path):
    pytest.importorskip("torch")
    from synthetic import make_300w, tiny_config

    from litehrnet_plus.engine.config import config_from_dict
    from litehrnet_plus.engine.train import train
    raw = tiny_config(tmp_path / "missing", tmp_path / "run", epochs=1)
    with pytest.raises(FileNotFoundError):
        train(config_from_dict(raw), progress=False, log=lambda *a: None)
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())
    make_300w(tmp_path / "missing", {"afw": 8, "lfpw/testset": 2})
    train(config_from_dict(raw), progress=False, log=lambda *a: None)       # the rerun just works
    assert (tmp_path / "run" / "last.pt").is_file()


def test_nothing_is_recorded_under_the_home_folder(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    env.update(HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / ".cache"), PYTHONPATH=str(ROOT / "src"))
    r = subprocess.run([sys.executable, "-c", "import litehrnet_plus, onnxruntime; from litehrnet_plus import "
                        f"FaceLandmarker; FaceLandmarker('litehrnet_plus_tiny.300w').detect({str(ASTRONAUT)!r})"],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr[-1000:]
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


# ----------------------------------------------------------------------------- evaluate
def test_evaluate_goes_on_past_bad_annotations_and_reports_each(tmp_path, capsys):
    from synthetic import make_face

    from litehrnet_plus.data.formats import write_pts
    rng = np.random.default_rng(0)
    data = tmp_path / "faces"
    data.mkdir()
    for i in range(4):
        img, pts = make_face(rng)
        cv2.imwrite(str(data / f"good_{i}.png"), img)
        write_pts(data / f"good_{i}.pts", pts)
    img, pts = make_face(rng)
    cv2.imwrite(str(data / "a_67.png"), img)                 # sorts first, one point short
    write_pts(data / "a_67.pts", pts[:67])
    cv2.imwrite(str(data / "far.png"), img)                  # a million pixels outside the image
    write_pts(data / "far.pts", pts + 1e6)
    cv2.imwrite(str(data / "nan.png"), img)
    (data / "nan.pts").write_text("version: 1\nn_points: 68\n{\n" + "nan 1\n" * 68 + "}\n")
    (data / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    write_pts(data / "corrupt.pts", pts)
    rc = main(["evaluate", "--model", "litehrnet_plus_tiny.300w", "--dataset", "pts", "--root", str(data),
               "--json", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert rc == 1
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["all"]["faces"] == 4                          # the good ones are evaluated
    assert "4 faces left out" in err
    assert "a_67.pts: 67 points, expected 68" in err         # the bad file is blamed, not the next one
    assert "far.pts" in err and "outside" in err
    assert "nan.pts:4: " in err or "nan.pts" in err and "NaN" in err
    assert "corrupt.png" in err


# ----------------------------------------------------------------------------- resume
@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_a_killed_folder_run_resumes_to_the_uninterrupted_outputs(tmp_path, capsys, suffix):
    src = tmp_path / "in"
    src.mkdir()
    photo = cv2.imread(str(ASTRONAUT))
    for i in range(5):
        cv2.imwrite(str(src / f"{i}.jpg"), np.roll(photo, 25 * i, axis=1))
    full = tmp_path / f"full{suffix}"
    assert main(["predict", str(src), "--json", str(full), "--model", "litehrnet_plus_tiny.300w"]) == 0
    text = full.read_text()
    # what SIGKILL after two and a half images leaves: two whole entries and a torn third,
    # under the final name (.jsonl) or in the hidden partial (.json)
    if suffix == ".jsonl":
        lines = text.splitlines(keepends=True)
        killed = "".join(lines[:3]) + lines[3][: len(lines[3]) // 2]
        target = tmp_path / "r.jsonl"
        target.write_text(killed)
    else:
        cut = text.index('\n  {"file": "2.jpg"')
        target = tmp_path / "r.json"
        (tmp_path / ".r.json.partial").write_text(text[:cut + 40])
    capsys.readouterr()
    assert main(["predict", str(src), "--json", str(target), "--model", "litehrnet_plus_tiny.300w", "--resume"]) == 0
    assert "resuming: 2 of 5 images done" in capsys.readouterr().err
    from litehrnet_plus.batch.results import read_results
    a, b = read_results(full), read_results(target)
    assert [e["file"] for e in b["images"]] == [e["file"] for e in a["images"]] == [f"{i}.jpg" for i in range(5)]
    for ea, eb in zip(a["images"], b["images"]):
        np.testing.assert_allclose(np.array([f["landmarks"] for f in ea["faces"]]),
                                   np.array([f["landmarks"] for f in eb["faces"]]), atol=1e-3)
    assert b["processed"] == 5 and not b["interrupted"] and not list(tmp_path.glob(".r.json*"))
    # --resume needs the folder's results file
    assert main(["predict", str(src), "--resume"]) == 2


# ----------------------------------------------------------------------------- folders that cannot be read
def _folder_with_two_photos(tmp_path):
    src = tmp_path / "in"
    (src / "locked").mkdir(parents=True)
    (src / "shut").mkdir()
    shutil.copy(ASTRONAUT, src / "a.jpg")
    shutil.copy(ASTRONAUT, src / "locked" / "b.jpg")
    shutil.copy(ASTRONAUT, src / "shut" / "c.jpg")
    return src


def _deny(monkeypatch, src):
    """What permissions do to a user other than root (root reads everything): `locked` cannot be
    listed (no r), `shut` can be listed but not entered (no x)."""
    from pathlib import Path
    real_scandir, real_is_file = os.scandir, Path.is_file

    def scandir(path="."):
        if os.fspath(path) == os.fspath(src / "locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    def is_file(self):
        if self.parent == src / "shut":
            raise PermissionError(13, "Permission denied", str(self))
        return real_is_file(self)
    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(Path, "is_file", is_file)


def test_unreadable_folders_are_reported_not_skipped(tmp_path, monkeypatch):
    from litehrnet_plus.data.images import find_images
    src = _folder_with_two_photos(tmp_path)
    _deny(monkeypatch, src)
    files, problems = find_images(src)
    assert files == [src / "a.jpg"]
    assert [(p.relative_to(src).as_posix(), why.split(" (")[0]) for p, why in problems] == \
        [("locked", "cannot read this folder"), ("shut/c.jpg", "cannot read")]


def test_a_run_over_unreadable_folders_does_the_rest_and_fails(tmp_path, monkeypatch):
    src = _folder_with_two_photos(tmp_path)
    _deny(monkeypatch, src)
    rc = main(["predict", str(src), "--json", str(tmp_path / "r.json"), "--model", "litehrnet_plus_tiny.300w"])
    doc = json.loads((tmp_path / "r.json").read_text())
    assert rc == 1 and [e["file"] for e in doc["images"]] == ["a.jpg"]
    assert sorted(f["file"] for f in doc["failures"]) == ["locked", "shut/c.jpg"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder whatever its permissions")
def test_real_permissions(tmp_path):
    src = _folder_with_two_photos(tmp_path)
    os.chmod(src / "locked", 0o000)
    os.chmod(src / "shut", 0o600)
    try:
        rc = main(["predict", str(src), "--json", str(tmp_path / "r.json"), "--model", "litehrnet_plus_tiny.300w"])
        doc = json.loads((tmp_path / "r.json").read_text())
        assert rc == 1 and [e["file"] for e in doc["images"]] == ["a.jpg"] and len(doc["failures"]) == 2
    finally:
        os.chmod(src / "locked", 0o755)
        os.chmod(src / "shut", 0o755)
