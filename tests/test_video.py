"""Tracking, re-detection, smoothing and video input. The tracker logic is tested with a stub
'landmarker' whose confidence is the brightness of the crop (a white square is the 'face'),
because a random-weight model's confidence means nothing."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import ASTRONAUT, DATA
from litehrnet_plus.schemes import IBUG68
from litehrnet_plus.errors import VideoReadError
from litehrnet_plus.inference.fitting import FacePipeline
from litehrnet_plus.inference.smoothing import OneEuroFilter
from litehrnet_plus.inference.tracking import FaceTracker
from litehrnet_plus.inference.video import open_video

GRID = np.stack(np.meshgrid(np.linspace(0, 1, 17), np.linspace(0, 1, 4)), -1).reshape(-1, 2)[:68]


class SquareFaces:
    """Detector: bounding boxes of white squares. Landmarks: a grid spanning the box.
    Confidence: mean brightness of the box."""

    def __init__(self) -> None:
        self.calls = 0
        # the real pipeline (regions, fits, faces) around the stub's crop-and-fit
        self.pipeline = FacePipeline(self.predict, IBUG68)

    def detector(self, image: np.ndarray):
        self.calls += 1
        n, _, stats, _ = cv2.connectedComponentsWithStats((image[:, :, 0] > 128).astype(np.uint8))
        boxes = [[x, y, x + w - 1, y + h - 1] for x, y, w, h, _ in stats[1:]]
        return np.array(boxes, np.float32).reshape(-1, 4), np.ones(len(boxes), np.float32)

    def predict(self, image: np.ndarray, boxes: np.ndarray, angles=None):
        """Like the model: look inside the crop (box widened by 25%), put the landmarks on the
        white region found there; confidence = how much of the box that region fills."""
        pts, scores = [], []
        for x1, y1, x2, y2 in np.asarray(boxes, dtype=float):
            mx, my = 0.125 * (x2 - x1), 0.125 * (y2 - y1)
            ox, oy = max(int(x1 - mx), 0), max(int(y1 - my), 0)
            patch = image[oy:max(int(y2 + my) + 1, 0), ox:max(int(x2 + mx) + 1, 0), 0] > 128
            ys, xs = np.nonzero(patch)
            if len(xs):
                a, b = np.array([xs.min() + ox, ys.min() + oy]), np.array([xs.max() + ox, ys.max() + oy])
                conf = len(xs) / ((x2 - x1 + 1) * (y2 - y1 + 1))
            else:
                a, b, conf = np.array([x1, y1]), np.array([x2, y2]), 0.0
            pts.append(a + GRID * (b - a))
            scores.append(np.full(68, min(conf, 1.0)))
        return np.array(pts, np.float32).reshape(-1, 68, 2), np.array(scores, np.float32).reshape(-1, 68)


def frame(*squares: tuple[int, int], size: int = 60) -> np.ndarray:
    img = np.zeros((240, 320, 3), np.uint8)
    for x, y in squares:
        img[y:y + size, x:x + size] = 255
    return img


def test_tracker_detects_once_then_tracks():
    stub = SquareFaces()
    tr = FaceTracker(stub, threshold=0.5, redetect_interval=0, smooth=False)
    for i in range(10):
        faces = tr.update(frame((50 + i, 40)), i / 30)
        assert len(faces) == 1
    assert tr.detector_runs == 1
    assert faces[0].box[0] == pytest.approx(59, abs=1e-3)


def test_tracker_redetects_after_cut():
    stub = SquareFaces()
    tr = FaceTracker(stub, threshold=0.5, redetect_interval=0, smooth=True)
    for i in range(8):
        tr.update(frame((40, 40)), i / 30)
    assert tr.detector_runs == 1
    faces = tr.update(frame((220, 150)), 8 / 30)     # the content jumps: the old crop is dark
    assert tr.detector_runs == 2
    assert len(faces) == 1
    cx = (faces[0].box[0] + faces[0].box[2]) / 2
    assert cx == pytest.approx(220 + 29.5, abs=1e-3)   # a new track: the smoother starts afresh


def test_tracker_periodic_redetect_adds_new_faces_without_duplicates():
    stub = SquareFaces()
    tr = FaceTracker(stub, threshold=0.5, redetect_interval=5, smooth=False)
    for i in range(12):
        squares = [(30, 30)] + ([(200, 120)] if i >= 3 else [])
        faces = tr.update(frame(*squares), i / 30)
        assert len(faces) == (1 if i < 5 else 2), i
    assert tr.detector_runs == 3      # frames 0, 5 and 10


def test_tracker_with_max_faces_skips_periodic_redetection_until_a_face_is_lost():
    stub = SquareFaces()
    tr = FaceTracker(stub, threshold=0.5, redetect_interval=5, smooth=False, max_faces=1)
    for i in range(12):
        faces = tr.update(frame((30, 30), (200, 120)), i / 30)
        assert len(faces) == 1                       # the second face is never taken on
    assert tr.detector_runs == 1
    tr.update(frame((200, 120)), 12 / 30)            # the tracked face leaves: re-detect
    assert tr.detector_runs == 2 and len(tr.tracks) == 1
    with pytest.raises(ValueError, match="max_faces"):
        FaceTracker(stub, max_faces=0)


def test_tracker_with_no_face_keeps_looking():
    stub = SquareFaces()
    tr = FaceTracker(stub, threshold=0.5, smooth=False)
    for i in range(3):
        assert tr.update(frame(), i / 30) == []
    assert tr.detector_runs == 3


def test_threshold_from_model_metadata(random_onnx):
    from litehrnet_plus.inference.calibration import calibration
    from litehrnet_plus.inference.landmarker import FaceLandmarker

    lm = FaceLandmarker(random_onnx)
    assert FaceTracker(lm).threshold == 0.0                  # from the file's metadata
    assert FaceTracker(SquareFaces()).threshold == calibration()["tracking"]["threshold"]
    assert FaceTracker(lm, threshold=0.7).threshold == 0.7


def test_one_euro_filter():
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    rng = np.random.default_rng(0)
    still = [f(np.array([5.0]) + rng.normal(0, 1, 1), t / 30) for t in range(300)]
    assert np.std(np.diff(np.ravel(still[50:]))) < 0.4 * np.std(np.diff(rng.normal(0, 1, 300)))
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    out = [f(np.array([0.0 if t < 10 else 10.0]), t / 30)[0] for t in range(200)]
    assert out[0] == 0 and out[11] < 10 and out[-1] == pytest.approx(10, abs=1e-3)
    # speed raises the cutoff: with beta the step is followed faster
    g = OneEuroFilter(min_cutoff=1.0, beta=5.0)
    fast = [g(np.array([0.0 if t < 10 else 10.0]), t / 30, scale=10.0)[0] for t in range(20)]
    assert fast[12] > out[12]
    with pytest.raises(ValueError):
        OneEuroFilter(min_cutoff=0)


def test_open_video_errors(tmp_path):
    with pytest.raises(VideoReadError, match="no such video file"):
        open_video(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(VideoReadError, match="junk.mp4"):
        open_video(junk)
    text = tmp_path / "notes.avi"
    text.write_text("not a video")
    with pytest.raises(VideoReadError, match="notes.avi"):
        open_video(text)


def test_open_video_frames(tmp_path):
    path = tmp_path / "clip.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (320, 240))
    for i in range(6):
        w.write(frame((10 * i, 20)))
    w.release()
    v = open_video(path)
    got = list(v.frames())
    v.close()
    assert len(got) == 6 and v.fps == pytest.approx(25.0)
    assert got[2][1] == pytest.approx(2 / 25) and got[0][2].shape == (240, 320, 3)


@pytest.mark.realdata
def test_trained_model_redetects_after_cut():
    """With shipped weights: a cut from the astronaut to a 300-W face makes the tracker re-detect."""
    from litehrnet_plus import hub
    from litehrnet_plus.data.images import read_image
    from litehrnet_plus.inference.landmarker import FaceLandmarker

    if not hub.available():
        pytest.skip("no shipped weights yet")
    lm = FaceLandmarker(threads=1)
    tr = FaceTracker(lm, redetect_interval=0)
    first = cv2.resize(read_image(ASTRONAUT), (320, 320))
    second = cv2.copyMakeBorder(read_image(DATA / "300w/lfpw/testset/image_0001.jpg"), 0, 0, 0, 0,
                                cv2.BORDER_CONSTANT)
    canvas = np.zeros((320, 640, 3), np.uint8)
    a, b = canvas.copy(), canvas.copy()
    a[:, :320] = first
    b[: second.shape[0], 640 - second.shape[1]:] = second
    for i in range(5):
        tr.update(a, i / 30)
    runs = tr.detector_runs
    faces = tr.update(b, 5 / 30)
    assert tr.detector_runs == runs + 1 and faces
    assert min((f.box[0] + f.box[2]) / 2 for f in faces) > 320


def test_measured_constants_come_from_the_tools_records():
    """inference/calibration.json (what the package uses) holds what the tools measured:
    the detector calibrations of benchmarks/detector_calibration.json and the tracking
    threshold of benchmarks/tracking_threshold.json."""
    import json

    from conftest import ROOT
    from litehrnet_plus.inference.detectors import calibrations
    from litehrnet_plus.inference.calibration import calibration

    record = json.loads((ROOT / "benchmarks" / "detector_calibration.json").read_text())
    for name, entry in record.items():
        cal = calibrations()[name]
        assert (cal.dx, cal.dy, cal.sw, cal.sh) == tuple(entry["calibration"][k] for k in ("dx", "dy", "sw", "sh"))
    tracking = json.loads((ROOT / "benchmarks" / "tracking_threshold.json").read_text())
    assert calibration()["tracking"]["threshold"] == tracking["threshold"]


def test_calibration_install_writes_the_file(tmp_path):
    import json
    import shutil

    from litehrnet_plus.inference import calibration

    copy = tmp_path / "calibration.json"
    shutil.copy(calibration.CALIBRATION_FILE, copy)
    calibration.install("detectors", "mine", {"dx": 0.1, "dy": 0.2, "sw": 1.0, "sh": 1.1}, path=copy)
    calibration.install("tracking", None, {"threshold": 0.42}, path=copy)
    data = json.loads(copy.read_text())
    assert data["detectors"]["mine"]["sh"] == 1.1 and data["tracking"]["threshold"] == 0.42
    assert data["tracking"]["one_euro"]["beta"] == 100.0          # the rest is kept
