"""One frame pipeline with two modes: photos (`detect`) and video (`detect_for_video`) build
their faces by the same rules, head pose is an optional output of both, and a stage plugged
into the video runner (the driver monitor's way in) is called and recorded without the runner
knowing what it is."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

import litehrnet_plus
from conftest import ASTRONAUT
from litehrnet_plus.data.transforms import landmark_box
from litehrnet_plus.errors import ConfigError
from litehrnet_plus.inference.face import Face
from litehrnet_plus.inference.headpose import camera_matrix, solve_head_pose, to_ibug68
from litehrnet_plus.inference.landmarker import FaceLandmarker
from litehrnet_plus.inference.roll import landmark_roll
from litehrnet_plus.inference.tracking import FaceTracker

SHIPPED = "litehrnet_plus_tiny.300w"


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return cv2.imread(str(ASTRONAUT))


def pan(photo: np.ndarray, n: int = 6) -> list[np.ndarray]:
    """The photo moved right a few pixels a frame."""
    h, w = photo.shape[:2]
    return [cv2.warpAffine(photo, np.float32([[1, 0, 3 * i], [0, 1, 0]]), (w, h)) for i in range(n)]


def same_rules(face: Face, scheme) -> None:
    """The rules every Face is built by: the box is the landmarks' tight box, the roll their
    eye line's slope."""
    assert face.box == tuple(float(v) for v in landmark_box(face.landmarks))
    assert face.roll == pytest.approx(float(landmark_roll(face.landmarks[None], scheme)[0]))


def test_face_and_head_pose_are_exported_at_the_top_level():
    assert litehrnet_plus.Face is Face
    assert litehrnet_plus.HeadPose.__name__ == "HeadPose" and "Face" in litehrnet_plus.__all__


def test_photo_and_video_faces_follow_the_same_rules(photo):
    lm = FaceLandmarker(SHIPPED, threads=1)
    (face,) = lm.detect(photo)
    same_rules(face, lm.model.scheme)
    assert face.track_id is None and face.head_pose is None and 0 <= face.quality <= 1
    frames = pan(photo)
    tracked = [lm.detect_for_video(f, i / 30) for i, f in enumerate(frames)]
    assert all(len(fs) == 1 for fs in tracked) and {fs[0].track_id for fs in tracked} == {0}
    for fs in tracked:
        same_rules(fs[0], lm.model.scheme)
        assert 0 <= fs[0].quality <= 1
    # the first frame of a stream is the photo's fit (no smoothing history yet)
    np.testing.assert_allclose(tracked[0][0].landmarks, face.landmarks, atol=1e-4)
    # video mode is the tracker's work: the same faces as a FaceTracker of the same settings
    reference = FaceTracker(FaceLandmarker(SHIPPED, threads=1))
    for i, f in enumerate(frames):
        np.testing.assert_allclose(reference.update(f, i / 30)[0].landmarks, tracked[i][0].landmarks, atol=1e-4)


def test_video_mode_refuses_time_going_back_and_resets(photo):
    lm = FaceLandmarker(SHIPPED, threads=1, max_faces=1)
    lm.detect_for_video(photo, 1.0)
    with pytest.raises(ConfigError, match="must not decrease"):
        lm.detect_for_video(photo, 0.5)
    lm.reset_video()
    faces = lm.detect_for_video(photo, 0.0)          # a new stream: time starts again
    assert len(faces) == 1 and faces[0].track_id == 1       # ids are never reused within a landmarker


def test_head_pose_is_an_optional_output_of_both_modes(photo):
    lm = FaceLandmarker(SHIPPED, threads=1, head_pose=True, focal=900)
    (face,) = lm.detect(photo)
    expected = solve_head_pose(to_ibug68(face.landmarks, lm.model.scheme), camera_matrix(photo.shape[1],
                                                                                          photo.shape[0], 900))
    assert face.head_pose is not None
    assert (face.head_pose.yaw, face.head_pose.pitch, face.head_pose.roll) == pytest.approx(
        (expected.yaw, expected.pitch, expected.roll))
    assert abs(face.head_pose.yaw) < 30 and face.to_dict()["head_pose"]["yaw"] == round(expected.yaw, 2)
    # a mirrored photo turns the head (and rolls it) the other way: here about 3 degrees each
    (mirrored,) = lm.detect(photo[:, ::-1].copy())
    assert face.head_pose.yaw < -1 and mirrored.head_pose.yaw > 1 and face.roll > 1 and mirrored.roll < -1
    tracked = [lm.detect_for_video(f, i / 30)[0] for i, f in enumerate(pan(photo, 3))]
    assert all(f.head_pose is not None and abs(f.head_pose.yaw - face.head_pose.yaw) < 5 for f in tracked)
    with pytest.raises(ConfigError, match="head_pose must be"):
        FaceLandmarker(SHIPPED, head_pose="yes")
    with pytest.raises(ConfigError, match="focal"):
        FaceLandmarker(SHIPPED, head_pose=True, focal=-3)


def test_head_pose_needs_68_or_98_points():
    from litehrnet_plus.inference.fitting import FacePipeline
    from litehrnet_plus.schemes import scheme_for

    with pytest.raises(ConfigError, match="68-point"):
        FacePipeline(lambda *a: None, scheme_for(5), head_pose=True)


class CountingStage:
    """A stage of the video runner: numbers each frame, draws a bar, sums up."""

    label = "counting"
    summary_name = "counts"

    def __init__(self) -> None:
        self.frames = 0

    def settings(self) -> dict:
        return {"counting": {"every": 1}}

    def read(self, frame, t, faces):
        self.frames += 1
        return faces[:1], {"counted": self.frames}

    def draw(self, frame, faces):
        out = frame.copy()
        out[:4] = (0, 255, 0)
        return out

    def finish(self) -> dict:
        return {"counted_frames": self.frames}


def test_a_stage_plugs_into_the_video_runner(tmp_path, photo):
    from litehrnet_plus.batch.predict import Options, run_video
    from litehrnet_plus.batch.results import read_results

    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (photo.shape[1], photo.shape[0]))
    for f in pan(photo, 4):
        writer.write(f)
    writer.release()
    out = tmp_path / "out"
    stage = CountingStage()
    report = run_video(FaceLandmarker(SHIPPED, threads=1), str(video),
                       Options(out=out, json=tmp_path / "r.json", max_faces=1), stage=stage)
    doc = read_results(tmp_path / "r.json")
    assert report.processed == 4 and report.summary == {"counted_frames": 4}
    assert [e["counted"] for e in doc["frames"]] == [1, 2, 3, 4] and doc["counted_frames"] == 4
    assert doc["counting"] == {"every": 1}
    assert json.loads((out / "clip.counts.json").read_text())["counted_frames"] == 4
    cap = cv2.VideoCapture(str(out / "clip.mp4"))
    ok, first = cap.read()
    cap.release()
    assert ok and first[1].mean(axis=0)[1] > 200          # the stage drew the overlay


def test_predict_head_pose_option(tmp_path):
    from litehrnet_plus.cli import main

    js = tmp_path / "r.json"
    assert main(["predict", str(ASTRONAUT), "--model", SHIPPED, "--json", str(js), "--head-pose"]) == 0
    doc = json.loads(js.read_text())
    pose = doc["images"][0]["faces"][0]["head_pose"]
    assert set(pose) == {"yaw", "pitch", "roll", "rotation", "translation"} and doc["options"]["head_pose"] is True
