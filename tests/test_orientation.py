"""Faces at any roll: turned copies for the detector, crops turned upright by the face's roll,
tracking that follows a turning head (shipped model: the landmarks must be right, not just
well-formed)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import ASTRONAUT
from litehrnet_plus import hub
from litehrnet_plus.inference.roll import face_frame_boxes, landmark_roll, map_back, roll_from_eyes, turned
from litehrnet_plus.schemes import IBUG68

SHIPPED = "litehrnet_plus_10m.300w"
needs_weights = pytest.mark.skipif(SHIPPED not in hub.available(), reason="weights are not shipped")


def rotate_points(pts: np.ndarray, angle: float, shape) -> np.ndarray:
    h, w = shape[:2]
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
    return pts @ m[:, :2].T + m[:, 2], m


def test_turned_copies_map_back_exactly():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (30, 50, 3), dtype=np.uint8)
    for k in (0, 90, 180, 270):
        copy, back = turned(image, k)
        v, u = np.unravel_index(rng.integers(0, copy.shape[0] * copy.shape[1], 20), copy.shape[:2])
        xy = np.stack([u, v], 1) @ back[:, :2].T + back[:, 2]
        assert np.array_equal(copy[v, u], image[xy[:, 1].astype(int), xy[:, 0].astype(int)]), k
        # an upright face in the copy has the copy's x axis as its eye line: its roll here is k
        _, rolls, _ = map_back(np.array([[0, 0, 10, 10]]), None, back, k)
        assert np.isclose((rolls[0] - k + 180) % 360 - 180, 0), (k, rolls)


def test_face_frame_box_of_turned_landmarks_is_the_upright_box():
    rng = np.random.default_rng(1)
    pts = rng.uniform(0, 40, (1, 68, 2)) * [1.0, 1.3] + 100
    upright = np.r_[pts[0].min(0), pts[0].max(0)]
    for angle in (0.0, 30.0, 90.0, -135.0, 180.0):
        t = np.radians(angle)
        rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
        centre = (upright[:2] + upright[2:]) / 2
        turned_pts = (pts - centre) @ rot.T + centre + [7.0, -3.0]
        box = face_frame_boxes(turned_pts, np.array([angle]))[0]
        np.testing.assert_allclose(box[2:] - box[:2], upright[2:] - upright[:2], atol=1e-9)
        np.testing.assert_allclose((box[:2] + box[2:]) / 2, centre + [7.0, -3.0], atol=1e-9)
    assert roll_from_eyes(np.array([[0.0, 0.0]]), np.array([[0.0, 5.0]]))[0] == pytest.approx(90.0)
    assert landmark_roll(turned_pts, IBUG68).shape == (1,)


@needs_weights
@pytest.mark.parametrize("angle", [90, 180, 270, 35])
def test_a_turned_photo_gives_the_turned_landmarks(angle):
    from litehrnet_plus.inference.landmarker import FaceLandmarker

    lm = FaceLandmarker(SHIPPED, threads=1)
    image = cv2.imread(str(ASTRONAUT))
    reference = lm.detect(image)[0].landmarks
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
    photo = cv2.warpAffine(image, m, (w, h))                  # the astronaut's face stays inside
    expected = reference @ m[:, :2].T + m[:, 2]
    face = min(lm.detect(photo), key=lambda f: np.linalg.norm(f.landmarks.mean(0) - expected.mean(0)))
    iod = np.linalg.norm(expected[36] - expected[45])
    assert np.linalg.norm(face.landmarks - expected, axis=1).mean() / iod < 0.05, angle
    assert abs((face.roll - landmark_roll(expected[None], IBUG68)[0] + 180) % 360 - 180) < 10
    if angle in (90, 180, 270):
        # upright only, the same photo is not understood
        upright = lm.detect(photo, orientations="upright")
        assert not upright or min(np.linalg.norm(f.landmarks - expected, axis=1).mean() / iod for f in upright) > 0.1


@needs_weights
def test_tracking_follows_a_head_that_turns_to_120_degrees():
    from litehrnet_plus.inference.landmarker import FaceLandmarker
    from litehrnet_plus.inference.tracking import FaceTracker

    lm = FaceLandmarker(SHIPPED, threads=1)
    image = cv2.imread(str(ASTRONAUT))
    reference = lm.detect(image)[0].landmarks
    tracker = FaceTracker(lm, max_faces=1, smooth=False)
    h, w = image.shape[:2]
    errors = []
    for i, angle in enumerate(range(0, 121, 4)):
        m = cv2.getRotationMatrix2D((float(reference[:, 0].mean()), float(reference[:, 1].mean())), angle, 1.0)
        faces = tracker.update(cv2.warpAffine(image, m, (w, h)), i / 30)
        expected = reference @ m[:, :2].T + m[:, 2]
        assert len(faces) == 1, angle
        errors.append(np.linalg.norm(faces[0].landmarks - expected, axis=1).mean()
                      / np.linalg.norm(expected[36] - expected[45]))
    assert max(errors) < 0.06 and tracker.detector_runs == 1, (max(errors), tracker.detector_runs)
