"""Driver monitoring: the head-pose convention, the eye and mouth measures, the eye-state
classifier's file, the event logic on scripted sequences, and the `monitor` command."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import DATA
from litehrnet_plus.hub import available as shipped_tags
from litehrnet_plus.errors import ConfigError
from litehrnet_plus.batch.results import read_results, validate
from litehrnet_plus.monitor import DriverMonitor, MonitorConfig
from litehrnet_plus.monitor.driver import DriverFace
from litehrnet_plus.monitor.eyes import (EYE_MODEL_FILE, EyeState, EyeStateModel, eye_aspect_ratio, eye_crop_matrices,
                                         eye_crops)
from litehrnet_plus.inference.headpose import (HeadPose, angles_from_rotation, camera_matrix, face_model, project,
                                             rotation_from_angles, solve_head_pose)
from litehrnet_plus.monitor.mouth import MouthState, mouth_aspect_ratio
from litehrnet_plus.schemes import IBUG68
from test_everyday_input import _long_video as _video   # a face panning back and forth, 320x240

ROOT = Path(__file__).resolve().parents[1]
ASTRONAUT = ROOT / "examples" / "astronaut.jpg"
SHARED = DATA
SHIPPED = "litehrnet_plus_10m.300w"


# ----------------------------------------------------------------------------- head pose
def _render(yaw, pitch, roll, size=(640, 480), distance=600.0):
    cam = camera_matrix(*size)
    pose = HeadPose(yaw, pitch, roll, rotation_from_angles(yaw, pitch, roll), np.array([0.0, 0.0, distance]))
    return project(face_model(), pose, cam), cam


@pytest.mark.parametrize("angles", [(0, 0, 0), (30, 0, 0), (-45, 0, 0), (0, 20, 0), (0, -25, 0), (0, 0, 30),
                                    (25, -15, 10), (-60, 20, -35), (70, 10, 5)])
def test_a_face_turned_by_known_angles_gives_those_angles(angles):
    pts, cam = _render(*angles)
    pose = solve_head_pose(pts, cam)
    assert np.allclose((pose.yaw, pose.pitch, pose.roll), angles, atol=0.05)
    assert pose.translation[2] == pytest.approx(600.0, rel=1e-3)


def test_pose_signs_follow_the_documented_convention():
    front, _ = _render(0, 0, 0)
    nose = 30
    left, _ = _render(30, 0, 0)      # yaw > 0: the face turns towards the image's left
    assert left[nose, 0] - left[27, 0] < front[nose, 0] - front[27, 0] - 5
    up, _ = _render(0, 20, 0)        # pitch > 0: looking up, the nose tip rises above its frontal place
    assert up[nose, 1] - up[27, 1] < front[nose, 1] - front[27, 1] - 5
    rolled, _ = _render(0, 0, 20)    # roll > 0: the eye line 36 -> 45 slopes downwards
    assert rolled[45, 1] > rolled[36, 1] + 10


def test_angles_round_trip():
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = (rng.uniform(-85, 85), rng.uniform(-80, 80), rng.uniform(-170, 170))
        r = rotation_from_angles(*a)
        assert np.allclose(r @ r.T, np.eye(3)) and np.linalg.det(r) == pytest.approx(1.0)
        assert np.allclose(angles_from_rotation(r), a, atol=1e-6)


def test_the_generic_head_is_symmetric_and_in_millimetres():
    m = face_model()
    assert m.shape == (68, 3)
    assert np.linalg.norm(m[45] - m[36]) == pytest.approx(90.0, abs=0.01)
    mirrored = m[IBUG68.flip_permutation()] * np.array([-1, 1, 1])
    assert np.abs(mirrored - m).max() < 0.01
    assert m[30, 2] < m[36, 2] - 10          # the nose tip is nearer the camera than the eye corners
    assert m[8, 1] > m[30, 1] > m[27, 1]      # chin below nose tip below nose bridge (y down)


# ----------------------------------------------------------------------------- eyes and mouth
def _eye_points(openness: float, centre=(100.0, 100.0), width=40.0, angle=0.0) -> np.ndarray:
    """Six iBUG eye points (corner, two upper lid, corner, two lower lid)."""
    h = 0.3 * width * openness / 2
    local = np.array([[-width / 2, 0], [-width / 6, -h], [width / 6, -h], [width / 2, 0], [width / 6, h],
                      [-width / 6, h]])
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    return local @ np.array([[c, s], [-s, c]]) + centre


def _face_points(open_left=1.0, open_right=1.0, mouth_gap=0.0) -> np.ndarray:
    pts = np.zeros((68, 2))
    pts[36:42] = _eye_points(open_left, (100, 100))
    pts[42:48] = _eye_points(open_right, (180, 100))
    x = np.array([-30, -15, 0, 15, 30, 15, 0, -15]) + 140
    y = np.array([0, -1, -1, -1, 0, 1, 1, 1]) * mouth_gap * 30 + 200
    pts[60:68] = np.stack([x, y], axis=1)
    return pts


def test_eye_aspect_ratio_measures_the_lid_opening():
    ear = eye_aspect_ratio(_face_points(1.0, 0.0))
    assert ear["left"] == pytest.approx(0.3) and ear["right"] == pytest.approx(0.0)


def test_mouth_aspect_ratio_measures_the_inner_lip_gap():
    assert mouth_aspect_ratio(_face_points(mouth_gap=0.0)) == pytest.approx(0.0)
    assert mouth_aspect_ratio(_face_points(mouth_gap=1.0)) == pytest.approx(1.0)


def test_eye_crops_are_centred_and_turned_upright():
    img = np.zeros((200, 300), np.uint8)
    pts = _face_points()
    pts[36:42] = _eye_points(1.0, (100, 100), angle=30)
    # a bright bar along the tilted eye line, through its centre
    d = np.array([np.cos(np.radians(30)), np.sin(np.radians(30))])
    for t in np.linspace(-15, 15, 200):
        x, y = np.round(np.array([100, 100]) + t * d).astype(int)
        img[y - 1:y + 2, x - 1:x + 2] = 255
    crop = eye_crops(img, pts)[0].astype(float)
    rows = crop.sum(axis=1)
    assert abs(int(np.argmax(rows)) - 15.5) <= 1.5        # the bar runs horizontally through the middle
    assert crop[:, 10:22].mean(axis=1).argmax() == np.argmax(rows)
    m = eye_crop_matrices(pts)[0]
    assert np.allclose(m[:, :2] @ pts[36:42].mean(0) + m[:, 2], (15.5, 15.5))


def test_shipped_eye_state_model_file():
    model = EyeStateModel(EYE_MODEL_FILE)
    assert model.input_size == 32
    figures = model.info["figures"]
    assert figures["test"]["accuracy"] > 0.9 and figures["test"]["roc_auc"] > 0.95
    p = model.closed_probability(np.random.default_rng(0).integers(0, 255, (5, 32, 32), dtype=np.uint8))
    assert p.shape == (5,) and np.all((p >= 0) & (p <= 1))


def test_shipped_eye_state_model_matches_its_pytorch_weights():
    torch = pytest.importorskip("torch")
    from litehrnet_plus.engine.eye_state import EyeStateNet, predict_logits
    net = EyeStateNet()
    net.load_state_dict(torch.load(EYE_MODEL_FILE.with_suffix(".pt"), weights_only=True))
    crops = np.random.default_rng(1).integers(0, 255, (8, 32, 32), dtype=np.uint8)
    want = 1 / (1 + np.exp(-predict_logits(net, crops)))
    assert np.allclose(EyeStateModel(EYE_MODEL_FILE).closed_probability(crops), want, atol=1e-5)


def test_eye_state_export_round_trip(tmp_path):
    pytest.importorskip("torch")
    from litehrnet_plus.engine.eye_state import EyeStateNet, export_eye_state
    net = EyeStateNet()
    export_eye_state(net, tmp_path / "eyes.onnx", {"input_size": 32, "figures": {}})
    m = EyeStateModel(tmp_path / "eyes.onnx")
    assert m.info["input_size"] == 32 and (tmp_path / "eyes.pt").is_file()


def test_a_missing_eye_model_is_a_clear_error(tmp_path):
    from litehrnet_plus.errors import CheckpointError
    with pytest.raises(CheckpointError, match="no eye-state model"):
        EyeStateModel(tmp_path / "none.onnx")


# ----------------------------------------------------------------------------- events over time
FPS = 30.0


class _NoLandmarker:
    """Just what DriverMonitor reads off a landmarker when its frames are analysed elsewhere."""

    class model:
        scheme = IBUG68
        card = None

    detector = None


def _monitor(**cfg) -> DriverMonitor:
    return DriverMonitor(_NoLandmarker(), MonitorConfig(**cfg), eye_model=None, tracker=object())


def _face(closed_p: float = 0.0, mar: float = 0.0, yaw: float = 0.0, pitch: float = 0.0) -> DriverFace:
    eyes = {s: EyeState(0.3, 1.0, closed_p) for s in ("left", "right")}
    pose = HeadPose(yaw, pitch, 0.0, rotation_from_angles(yaw, pitch, 0.0), np.array([0, 0, 600.0]))
    return DriverFace((0, 0, 1, 1), 1.0, np.zeros((68, 2), np.float32), head_pose=pose, eyes=eyes,
                      mouth=MouthState(mar, mar >= 0.5))


def _play(monitor: DriverMonitor, script: list[tuple[float, dict | None]]):
    """script: (seconds, face keywords or None for no face); returns the states."""
    states, i = [], 0
    for seconds, kw in script:
        for _ in range(int(round(seconds * FPS))):
            states.append(monitor.step(None if kw is None else _face(**kw), i / FPS))
            i += 1
    return states


def test_blinks_long_blinks_and_microsleeps_with_their_times():
    m = _monitor(forward=(0.0, 0.0))
    states = _play(m, [(2.0, {}), (0.2, {"closed_p": 0.9}), (2.0, {}), (0.7, {"closed_p": 0.9}), (1.0, {}),
                       (1.5, {"closed_p": 0.9}), (1.0, {})])
    events = m.finish()
    assert [e.kind for e in events] == ["blink", "long_blink", "microsleep"]
    blink, long_blink, sleep = events
    assert blink.start == pytest.approx(2.0) and blink.duration == pytest.approx(0.2, abs=1e-9)
    assert long_blink.duration == pytest.approx(0.7, abs=1e-9)
    assert sleep.start == pytest.approx(4.9 + 1.0) and sleep.duration == pytest.approx(1.5, abs=1e-9)
    # the microsleep alert comes the frame the closure reaches microsleep_s, not when it ends
    assert sleep.alert == pytest.approx(sleep.start + 1.0)
    alerted = [s.time for s in states if "microsleep" in s.alerts]
    assert alerted[0] == pytest.approx(sleep.start + 1.0) and len(alerted) == int(round(0.5 * FPS))
    assert blink.alert is None and long_blink.alert is None


def test_hysteresis_keeps_a_closure_whole():
    m = _monitor(forward=(0.0, 0.0))
    _play(m, [(1.0, {}), (0.1, {"closed_p": 0.8}), (0.1, {"closed_p": 0.4}), (0.1, {"closed_p": 0.8}), (1.0, {})])
    events = m.finish()
    assert [e.kind for e in events] == ["blink"] and events[0].duration == pytest.approx(0.3, abs=1e-9)


def test_perclos_is_the_closed_share_of_the_window():
    m = _monitor(forward=(0.0, 0.0), perclos_window_s=10.0, perclos_min_s=5.0, perclos_alert=0.15)
    # a cycle of 0.8 s open and 0.2 s closed: 20% of the time, and each a blink
    script = [(0.8, {}), (0.2, {"closed_p": 0.9})] * 15
    states = _play(m, script)
    assert states[int(4 * FPS)].perclos is None            # less than perclos_min_s seen
    late = [s.perclos for s in states[-60:]]
    assert np.allclose(late, 0.2, atol=0.02)
    assert "drowsy" in states[-1].alerts
    assert states[-1].blink_rate == pytest.approx(60.0, rel=0.1)    # one blink a second


def test_yawn_needs_its_duration_and_speech_does_not_count():
    m = _monitor(forward=(0.0, 0.0))
    _play(m, [(1.0, {}), (0.4, {"mar": 0.7}), (1.0, {}), (2.0, {"mar": 0.8}), (1.0, {})])
    events = m.finish()
    assert [e.kind for e in events] == ["yawn"]
    assert events[0].start == pytest.approx(2.4) and events[0].peak == pytest.approx(0.8)
    assert events[0].alert == pytest.approx(2.4 + 1.5)


def test_distraction_from_a_learnt_straight_ahead():
    m = _monitor(calibration_s=2.0, distraction_yaw=30, distraction_s=2.0)
    # the camera sees the driver turned by 15 degrees when looking ahead
    _play(m, [(3.0, {"yaw": 15.0}), (1.0, {"yaw": 40.0}), (1.0, {"yaw": 15.0}), (3.0, {"yaw": 55.0}),
              (1.0, {"yaw": 15.0})])
    events = m.finish()
    assert [e.kind for e in events] == ["distraction"]      # 40 is within 30 degrees of 15
    assert events[0].start == pytest.approx(5.0) and events[0].duration == pytest.approx(3.0, abs=1e-9)
    assert events[0].peak == pytest.approx(40.0)


def test_a_lost_face_ends_what_was_going_on_and_raises_its_alert():
    m = _monitor(forward=(0.0, 0.0), face_lost_s=1.0)
    states = _play(m, [(1.0, {}), (0.3, {"closed_p": 0.9}), (2.0, None), (1.0, {})])
    events = m.finish()
    assert [e.kind for e in events] == ["blink", "face_lost"]
    assert events[1].duration == pytest.approx(2.0, abs=1e-9) and events[1].alert == pytest.approx(1.3 + 1.0)
    assert states[int(1.5 * FPS)].eyes_closed is None


def test_monitor_config_is_checked():
    with pytest.raises(ConfigError, match="microsleep_s"):
        MonitorConfig(blink_max_s=2.0, microsleep_s=1.0)
    with pytest.raises(ConfigError, match="open_probability"):
        MonitorConfig(open_probability=0.8, closed_probability=0.5)
    with pytest.raises(ConfigError, match="unknown monitor setting"):
        MonitorConfig().with_(perclos=0.2)
    with pytest.raises(ConfigError, match="forward"):
        MonitorConfig(forward=(1.0,))


def test_a_scheme_without_eyes_and_mouth_is_refused():
    from litehrnet_plus.schemes import custom_scheme

    class Other(_NoLandmarker):
        class model:
            scheme = custom_scheme(5, name="five")
            card = None

    with pytest.raises(ConfigError, match="68-point"):
        DriverMonitor(Other(), eye_model=None, tracker=object())


# ----------------------------------------------------------------------------- on images and video
def test_analyse_fills_pose_eyes_and_mouth_on_a_photo():
    from litehrnet_plus import FaceLandmarker
    lm = FaceLandmarker(SHIPPED)
    image = cv2.imread(str(ASTRONAUT))
    faces = DriverMonitor(lm).analyse(image, lm.detect(image))
    f = faces[0]
    assert abs(f.head_pose.yaw) < 30 and abs(f.head_pose.roll) < 15
    assert set(f.eyes) == {"left", "right"} and all(0.5 < e.openness < 1.5 for e in f.eyes.values())
    assert all(e.closed_probability < 0.5 for e in f.eyes.values())
    d = f.to_dict()
    assert set(d["head_pose"]) == {"yaw", "pitch", "roll", "rotation", "translation"}
    assert set(d["eyes"]["left"]) == {"aspect_ratio", "openness", "closed_probability"}
    assert d["mouth"]["yawning"] is False


def _cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "litehrnet_plus.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_monitor_command_writes_video_json_and_events(tmp_path):
    video = tmp_path / "drive.mp4"
    _video(video, 45)
    r = _cli("monitor", str(video), "--model", SHIPPED, "--out", str(tmp_path / "out"), "--json",
             str(tmp_path / "res.json"), "--set", "calibration_s=0.5", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    doc = read_results(tmp_path / "res.json")
    validate(doc)
    assert doc["monitor"]["calibration_s"] == 0.5 and doc["events"] == []
    assert len(doc["frames"]) == 45
    face = doc["frames"][-1]["faces"][0]
    assert {"head_pose", "eyes", "mouth"} <= set(face)
    assert doc["frames"][-1]["driver"]["eyes_closed"] is False
    events = json.loads((tmp_path / "out" / "drive.events.json").read_text())
    assert events["processed"] == 45 and events["events"] == []
    cap = cv2.VideoCapture(str(tmp_path / "out" / "drive.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 45


def test_monitor_command_refuses_photos_and_bad_settings(tmp_path):
    r = _cli("monitor", str(ASTRONAUT), cwd=tmp_path)
    assert r.returncode == 2 and "video file or a webcam" in r.stderr
    video = tmp_path / "v.mp4"
    _video(video, 3)
    r = _cli("monitor", str(video), "--set", "nonsense=1", cwd=tmp_path)
    assert r.returncode == 2 and "unknown monitor setting" in r.stderr


def test_stopping_a_monitor_run_keeps_its_frames_and_events(tmp_path):
    video = tmp_path / "long.mp4"
    _video(video, 1200)
    live = tmp_path / "res.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    p = subprocess.Popen([sys.executable, "-m", "litehrnet_plus.cli", "monitor", str(video), "--model", SHIPPED,
                          "--out", str(tmp_path / "out"), "--json", str(live)], cwd=tmp_path, env=env,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (live.is_file() and live.read_text().count('"frame"') >= 30):
        time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err[-2000:]
    doc = read_results(live)
    validate(doc)
    assert doc["interrupted"] == "SIGINT" and "events" in doc
    n = len(doc["frames"])
    assert 30 <= n < 1200 and all("driver" in f for f in doc["frames"])
    events = json.loads((tmp_path / "out" / "long.events.json").read_text())
    assert events["processed"] == n and events["interrupted"] == "SIGINT"
    cap = cv2.VideoCapture(str(tmp_path / "out" / "long.mp4"))
    count = 0
    while cap.read()[0]:
        count += 1
    assert count == n


@pytest.fixture(scope="module")
def driver_video(tmp_path_factory):
    """The scripted driver video of real held-out photos (tools/make_driver_video.py), the same
    photos on every Python whatever its face detector (benchmarks/driver_video.script.json)."""
    if not (SHARED / "300w").is_dir() or not (SHARED / "wflw-partial").is_dir():
        pytest.skip(f"{SHARED} is absent")
    video = tmp_path_factory.mktemp("driver") / "driver.mp4"
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "make_driver_video.py"), str(video), "--data", str(SHARED),
                        "--photos", str(ROOT / "benchmarks" / "driver_video.script.json")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return video


# Shipped models known to miss a scripted event, and why (strict: the day one catches it, this fails).
MISSES_AN_EVENT: dict[str, str] = {}


@pytest.mark.realdata
@pytest.mark.parametrize("model", [pytest.param(t, marks=pytest.mark.xfail(strict=True, reason=MISSES_AN_EVENT[t]))
                                   if t in MISSES_AN_EVENT else t for t in shipped_tags()])
def test_monitor_on_a_video_of_real_faces(tmp_path, driver_video, model):
    r = _cli("monitor", str(driver_video), "--model", model, "--json", str(tmp_path / "res.json"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    doc = read_results(tmp_path / "res.json")
    script = json.loads(driver_video.with_name("driver.script.json").read_text())
    # each scripted stretch gives its event, to within a few frames
    expected = {"shut": ("blink", "microsleep"), "yawn": ("yawn",), "turned": ("distraction",),
                "turned other way": ("distraction",)}
    for seg in script["segments"]:
        if seg["state"] not in expected:
            continue
        hits = [e for e in doc["events"] if e["kind"] in expected[seg["state"]]
                and abs(e["start"] - seg["start"]) < 0.2 and abs(e["end"] - seg["end"]) < 0.2]
        assert len(hits) == 1, (seg, doc["events"])
    kinds = [e["kind"] for e in doc["events"]]
    assert kinds.count("blink") == 1 and kinds.count("microsleep") == 1
    assert kinds.count("distraction") == 2          # the scripted turns, and no other
