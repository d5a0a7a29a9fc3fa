"""`litehrnet-plus predict` end to end (in-process, random-weight model)."""
from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from conftest import ASTRONAUT, DATA
from litehrnet_plus.cli import main
from litehrnet_plus.inference.detectors import get_detector
from litehrnet_plus.batch.results import validate


def predict(model, *args) -> int:
    return main(["predict", *map(str, args), "--model", str(model), "--threads", "1"])


def make_video(path, frames: int = 12, size=(320, 240)) -> None:
    image = cv2.resize(cv2.imread(str(ASTRONAUT)), (size[1], size[1]))
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix == ".avi" else "mp4v"))
    w = cv2.VideoWriter(str(path), fourcc, 15.0, size)
    for i in range(frames):
        canvas = np.zeros((size[1], size[0], 3), np.uint8)
        x = 20 + 2 * i                                  # slow pan
        canvas[:, x:x + size[1]] = image[:, : size[0] - x]
        w.write(canvas)
    w.release()


@pytest.fixture()
def folder(tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    shutil.copy(ASTRONAUT, src / "astronaut.jpg")
    cv2.imwrite(str(src / "sub" / "small.png"), cv2.resize(cv2.imread(str(ASTRONAUT)), (256, 256)))
    (src / "sub" / "text.jpg").write_text("not an image")
    data = ASTRONAUT.read_bytes()
    (src / "truncated.jpg").write_bytes(data[: len(data) // 2])
    return src


def test_folder_round_trip(folder, tmp_path, random_onnx, capsys):
    out, js = tmp_path / "out", tmp_path / "res.json"
    assert predict(random_onnx, folder, "--out", out, "--json", js, "--boxes") == 1
    err = capsys.readouterr().err
    assert "2 failed" in err and "text.jpg" in err and "truncated.jpg" in err
    assert (out / "astronaut.jpg").is_file() and (out / "sub" / "small.png").is_file()
    assert not (out / "sub" / "text.jpg").exists() and not (out / "truncated.jpg").exists()
    doc = json.loads(js.read_text())
    validate(doc)
    assert [e["file"] for e in doc["images"]] == ["astronaut.jpg", "sub/small.png"]
    assert sorted(f["file"] for f in doc["failures"]) == ["sub/text.jpg", "truncated.jpg"]
    assert len(doc["images"][0]["faces"]) >= 1 and doc["images"][0]["width"] == 512
    overlay = cv2.imread(str(out / "astronaut.jpg"))
    assert overlay.shape == (512, 512, 3)
    # outputs are never replaced silently
    assert predict(random_onnx, folder, "--out", out, "--json", js) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert predict(random_onnx, folder, "--out", out, "--json", js, "--overwrite") == 1
    # ... and inputs never, even with --overwrite
    assert predict(random_onnx, folder, "--out", folder, "--overwrite") == 2
    assert "would replace this input" in capsys.readouterr().err


def test_single_image_to_stdout(random_onnx, capsys):
    assert predict(random_onnx, ASTRONAUT) == 0
    doc = json.loads(capsys.readouterr().out)
    validate(doc)
    assert doc["images"][0]["file"] == str(ASTRONAUT) and doc["detector"] == get_detector("auto").name


def test_clear_errors(tmp_path, random_onnx, capsys, monkeypatch):
    fake = tmp_path / "fake.jpg"
    fake.write_text("text")
    assert predict(random_onnx, fake) == 2
    assert "fake.jpg" in capsys.readouterr().err
    assert predict(random_onnx, tmp_path / "missing.jpg") == 2
    assert "missing.jpg: no such file" in capsys.readouterr().err
    junk = tmp_path / "broken.mp4"
    junk.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    assert predict(random_onnx, junk) == 2
    assert "broken.mp4" in capsys.readouterr().err
    assert predict(tmp_path / "nomodel.onnx", ASTRONAUT) == 2
    assert "nomodel.onnx: no such model file" in capsys.readouterr().err
    assert main(["predict", str(ASTRONAUT), "--model", str(random_onnx), "--detector", "nope"]) == 2
    assert "unknown face detector" in capsys.readouterr().err
    assert predict(random_onnx, "7") == 2                 # webcam index that does not exist
    assert "webcam 7: cannot be opened" in capsys.readouterr().err
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert predict(random_onnx, ASTRONAUT, "--show") == 2
    assert "no display" in capsys.readouterr().err


@pytest.mark.parametrize("ext", [".mp4", ".avi"])
def test_video_round_trip(tmp_path, random_onnx, ext, capsys):
    video = tmp_path / f"clip{ext}"
    make_video(video)
    out, js = tmp_path / "out", tmp_path / "clip.json"
    assert predict(random_onnx, video, "--out", out, "--json", js) == 0
    doc = json.loads(js.read_text())
    validate(doc)
    assert [f["frame"] for f in doc["frames"]] == list(range(12)) and doc["fps"] == pytest.approx(15.0)
    assert sum(bool(f["faces"]) for f in doc["frames"]) >= 10
    cap = cv2.VideoCapture(str(out / "clip.mp4"))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 12
    assert not list(out.glob(".*"))     # no temporary file left behind


@pytest.mark.realdata
def test_folder_of_300w_images(tmp_path, random_onnx):
    src = tmp_path / "faces"
    src.mkdir()
    for name in ("image_0001.jpg", "image_0002.jpg", "image_0003.jpg"):
        shutil.copy(DATA / "300w" / "lfpw" / "testset" / name, src / name)
    js = tmp_path / "faces.json"
    assert predict(random_onnx, src, "--json", js) == 0
    doc = json.loads(js.read_text())
    assert all(len(e["faces"]) >= 1 for e in doc["images"]) and len(doc["images"]) == 3


def test_video_that_ends_early_keeps_its_frames_and_fails(tmp_path, random_onnx, capsys):
    """A video cut off mid-stream (the container still announces all its frames): the frames
    before the cut are processed and written, the run reports the truncation and exits 1."""
    video = tmp_path / "cut.avi"
    make_video(video, frames=20)
    data = video.read_bytes()
    video.write_bytes(data[: len(data) // 2])
    js = tmp_path / "cut.json"
    assert predict(random_onnx, video, "--json", js, "--out", tmp_path / "out") == 1
    doc = json.loads(js.read_text())
    validate(doc)
    assert 3 <= len(doc["frames"]) < 20
    assert "truncated" in doc["failures"][0]["error"]
    assert (tmp_path / "out" / "cut.mp4").is_file()
    assert "cut.avi" in capsys.readouterr().err


def test_video_with_corrupt_frames_does_not_crash(tmp_path, random_onnx):
    """Garbage bytes in the middle of an MJPG stream: no traceback, valid JSON for every frame
    that decoded; OpenCV drops the damaged frame and the run goes on to the end."""
    video = tmp_path / "damaged.avi"
    make_video(video, frames=20)
    data = bytearray(video.read_bytes())
    rng = np.random.default_rng(0)
    start = len(data) * 2 // 5
    data[start:start + 3000] = rng.integers(0, 256, 3000, dtype=np.uint8).tobytes()
    video.write_bytes(bytes(data))
    js = tmp_path / "damaged.json"
    code = predict(random_onnx, video, "--json", js)
    doc = json.loads(js.read_text())
    validate(doc)
    assert len(doc["frames"]) >= 18 and doc["frames"][-1]["frame"] >= 18
    assert code == (1 if doc["failures"] else 0)


def test_max_faces_keeps_the_best_faces(tmp_path, random_onnx):
    image = cv2.imread(str(ASTRONAUT))
    two = tmp_path / "two.png"
    cv2.imwrite(str(two), np.hstack([image, image]))
    for extra, expected in (((), 2), (("--max-faces", "1"), 1)):
        js = tmp_path / f"two{expected}.json"
        assert predict(random_onnx, two, "--json", js, *extra) == 0
        assert len(json.loads(js.read_text())["images"][0]["faces"]) == expected
    with pytest.raises(SystemExit):
        predict(random_onnx, two, "--max-faces", "0")
