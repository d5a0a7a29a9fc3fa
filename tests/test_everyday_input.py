"""What users feed the package every day: phone photos with an EXIF orientation, streams
stopped with Ctrl-C, arguments of the wrong kind, output names, the version."""
from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from conftest import ASTRONAUT, ROOT
from litehrnet_plus import __version__
from litehrnet_plus.cli import main
from litehrnet_plus.errors import BoxError, ConfigError, ImageReadError
from litehrnet_plus.inference.landmarker import FaceLandmarker
from litehrnet_plus.inference.runtime import choose_backend
from litehrnet_plus.batch.results import ResultsWriter, read_results, validate

SHIPPED = "litehrnet_plus_10m.300w"


def exif_jpeg(image: np.ndarray, orientation: int) -> bytes:
    """JPEG bytes of `image` with an APP1 segment whose IFD0 holds Orientation."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    ifd = struct.pack("<H", 1) + struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack("<I", 0)
    payload = b"Exif\x00\x00" + b"II" + struct.pack("<HI", 42, 8) + ifd
    jpeg = buf.tobytes()
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


@pytest.fixture(scope="module")
def shipped() -> FaceLandmarker:
    return FaceLandmarker(SHIPPED)


# ----------------------------------------------------------------------------- EXIF
def test_sideways_phone_photo_gives_upright_landmarks(shipped, tmp_path):
    """A phone stores the portrait turned 90 degrees (pixels rotated counter-clockwise) and
    tags it orientation 6. By path, by bytes and by cv2.imread's array, the package sees the
    upright portrait: the same face and landmarks as the upright original."""
    upright = cv2.imread(str(ASTRONAUT))
    stored = cv2.rotate(upright, cv2.ROTATE_90_COUNTERCLOCKWISE)
    photo = tmp_path / "phone.jpg"
    photo.write_bytes(exif_jpeg(stored, 6))
    reference = shipped.detect(upright)[0]
    for source in (photo, photo.read_bytes(), cv2.imread(str(photo))):
        face = shipped.detect(source)[0]
        assert face.confidence > 0.5
        err = np.linalg.norm(face.landmarks - reference.landmarks, axis=1).mean()
        assert err < 2.0, (type(source).__name__, err)     # pixels; JPEG re-encoding only
    # the stored pixels alone (as a dataset loader reads them) are the sideways face
    from litehrnet_plus.data.images import read_image
    assert read_image(photo, orient=False).shape == stored.shape


def test_predict_cli_overlay_of_a_phone_photo_is_upright(tmp_path, capsys):
    upright = cv2.imread(str(ASTRONAUT))
    photo = tmp_path / "phone.jpg"
    photo.write_bytes(exif_jpeg(cv2.rotate(upright, cv2.ROTATE_90_CLOCKWISE), 8))
    overlay = tmp_path / "overlay.jpg"
    assert main(["predict", str(photo), "--model", SHIPPED, "--out", str(overlay)]) == 0
    assert overlay.is_file() and cv2.imread(str(overlay)).shape == upright.shape   # a file, upright


# ----------------------------------------------------------------------------- arguments
def test_public_arguments_are_validated(shipped):
    image = cv2.imread(str(ASTRONAUT))
    for bad in (-1, 0, -3, 2.5, "2", True):
        with pytest.raises(ConfigError, match="max_faces"):
            shipped.detect(image, max_faces=bad)
    assert len(shipped.detect(image, max_faces=1)) == 1
    with pytest.raises(BoxError, match="numbers"):
        shipped.landmarks(image, "10 20 30 40")
    with pytest.raises(BoxError, match="numbers"):
        shipped.landmarks(image, [["a", "b", "c", "d"]])
    with pytest.raises(ImageReadError, match="image bytes: not a readable image"):
        shipped.detect(b"\x00\x01 not an image")
    with pytest.raises(ImageReadError, match="file path, encoded image bytes or an HxWx3"):
        shipped.detect(12345)
    with pytest.raises(ConfigError, match="threads"):
        FaceLandmarker(SHIPPED, threads=0)
    with pytest.raises(ConfigError, match="flip_test"):
        FaceLandmarker(SHIPPED, flip_test="yes")
    with pytest.raises(ConfigError, match="detector"):
        FaceLandmarker(SHIPPED, detector=3)


def test_version_and_options_are_recorded(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"litehrnet-plus {__version__}"
    js = tmp_path / "r.json"
    assert main(["predict", str(ASTRONAUT), "--model", SHIPPED, "--json", str(js), "--flip-test",
                 "--max-faces", "1", "--threads", "1"]) == 0
    doc = json.loads(js.read_text())
    validate(doc)
    assert doc["version"] == __version__
    assert doc["options"] == {"flip_test": True, "max_faces": 1, "threads": 1, "orientations": "auto",
                              "min_quality": FaceLandmarker().default_min_quality, "min_face": None,
                              "backend": choose_backend(SHIPPED), "head_pose": False}
    assert doc["processed"] == 1 and doc["interrupted"] is False


def test_output_names_and_folder_of_videos(tmp_path, capsys):
    from test_cli_predict import make_video

    videos = tmp_path / "videos"
    videos.mkdir()
    make_video(videos / "a.mp4", frames=3)
    assert main(["predict", str(videos), "--model", SHIPPED]) == 2
    assert "holds no images but videos (a.mp4)" in capsys.readouterr().err
    # --out NAME.mp4 is the annotated video itself; --json NAME.txt is refused up front
    out = tmp_path / "annotated.mp4"
    assert main(["predict", str(videos / "a.mp4"), "--model", SHIPPED, "--out", str(out)]) == 0
    assert out.is_file() and not (out / "a.mp4").exists()
    assert main(["predict", str(ASTRONAUT), "--model", SHIPPED, "--json", str(tmp_path / "r.txt")]) == 2
    assert ".jsonl" in capsys.readouterr().err


# ----------------------------------------------------------------------------- streams
def test_results_writer_is_valid_however_it_ends(tmp_path):
    header = {"schema_version": 1, "model": "m", "detector": "d", "num_landmarks": 1, "scheme": "s",
              "video": "v", "fps": 30.0}
    face = {"box": [0, 0, 1, 1], "score": 1.0, "landmarks": [[0.5, 0.5]], "landmark_scores": [1.0], "track_id": 0}
    for name in ("r.json", "r.jsonl"):
        w = ResultsWriter(tmp_path / name, header, "frames")
        for i in range(3):
            w.add({"frame": i, "width": 2, "height": 2, "faces": [face]})
        if name.endswith(".json"):
            assert not (tmp_path / name).exists()          # in place only once finished
        else:
            assert len((tmp_path / name).read_text().splitlines()) == 4   # live: header + 3 frames
        w.fail("v frame 3", "broken")
        w.close(interrupted="SIGINT")
        doc = read_results(tmp_path / name)
        validate(doc)
        assert doc["processed"] == 3 and doc["interrupted"] == "SIGINT"
        assert [f["frame"] for f in doc["frames"]] == [0, 1, 2] and doc["failures"][0]["error"] == "broken"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def _long_video(path, frames: int = 1200) -> None:
    image = cv2.resize(cv2.imread(str(ASTRONAUT)), (240, 240))
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (320, 240))
    for i in range(frames):
        canvas = np.zeros((240, 320, 3), np.uint8)
        x = 10 + abs(i % 120 - 60)                 # a smooth pan back and forth
        canvas[:, x:x + 240] = image[:, :min(240, 320 - x)]
        w.write(canvas)
    w.release()


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_stopping_a_real_video_run_keeps_a_playable_video_and_its_json(tmp_path, sig, code):
    """The real command in its own process, stopped in the middle: the annotated video plays
    up to the last processed frame and the JSON holds exactly those frames."""
    video = tmp_path / "long.mp4"
    _long_video(video)
    js, live = tmp_path / "res.json", tmp_path / "res.jsonl"
    outs = [tmp_path / "a" / "long.mp4", tmp_path / "b.mp4"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    procs = [subprocess.Popen([sys.executable, "-m", "litehrnet_plus.cli", "predict", str(video), "--model", SHIPPED,
                               "--threads", "1", "--out", str(out.parent if out.name == "long.mp4" else out),
                               "--json", str(results)], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
             for out, results in zip(outs, (js, live))]
    deadline = time.time() + 120
    partial = tmp_path / ".res.json.partial"
    # wait until both runs are well into the video (their results files grow frame by frame)
    while time.time() < deadline:
        done = [partial.is_file() and partial.read_text().count('"frame"') >= 30,
                live.is_file() and live.read_text().count('"frame"') >= 30]
        if all(done):
            break
        time.sleep(0.2)
    for p in procs:
        p.send_signal(sig)
    for p, name, results in zip(procs, outs, (js, live)):
        _, err = p.communicate(timeout=60)
        assert p.returncode == code, err[-2000:]
        assert "interrupted" in err and "Traceback" not in err
        doc = read_results(results)
        validate(doc)
        assert doc["interrupted"] == sig.name
        frames = [f["frame"] for f in doc["frames"]]
        assert 30 <= len(frames) < 1200 and frames == list(range(len(frames)))
        assert all(face.get("track_id") == 0 for f in doc["frames"] for face in f["faces"])
        cap = cv2.VideoCapture(str(name))        # the video plays, to the last processed frame
        n = 0
        while cap.read()[0]:
            n += 1
        assert n == len(frames)
    assert not [p.name for p in tmp_path.rglob(".*partial*")]
