"""Small faces in large photos: the detector's tiles (`min_face`) find faces that its plain
pass, working on a shrunk copy, cannot."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import ASTRONAUT
from litehrnet_plus.errors import ConfigError
from litehrnet_plus.inference.detectors import Tiled, empty
from litehrnet_plus.inference.detectors.tiled import merge

SHIPPED = "litehrnet_plus_10m.300w"


def _large_photo(sizes=(40, 60, 90, 120), shape=(4000, 6000)):
    """The astronaut's face pasted at the given landmark-box sizes into a large grey photo;
    returns the photo and each face's true landmark centre and size."""
    from litehrnet_plus import FaceLandmarker
    lm = FaceLandmarker(SHIPPED, orientations="upright")
    src = cv2.imread(str(ASTRONAUT))
    face = lm.detect(src)[0]
    side = float(np.ptp(face.landmarks, axis=0).max())
    canvas = np.full(shape + (3,), 120, np.uint8)
    truth = []
    for i, size in enumerate(sizes):
        s = size / side
        small = cv2.resize(src, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        centre = (face.landmarks.mean(axis=0) + 0.5) * s - 0.5
        x0, y0 = 300 + i * 900, 400 + (i % 2) * 1200
        h, w = small.shape[:2]
        canvas[y0:y0 + h, x0:x0 + w] = small
        truth.append((centre + (x0, y0), size))
    return canvas, truth


def _found(faces, truth) -> list[bool]:
    return [any(np.linalg.norm(f.landmarks.mean(0) - c) < 0.3 * size for f in faces) for c, size in truth]


def test_tiles_find_the_small_faces_the_plain_pass_misses():
    from litehrnet_plus import FaceLandmarker
    photo, truth = _large_photo()
    plain = _found(FaceLandmarker(SHIPPED, orientations="upright").detect(photo), truth)
    lm = FaceLandmarker(SHIPPED, orientations="upright", min_face=40)
    faces = lm.detect(photo)
    assert all(_found(faces, truth)), [f.box for f in faces]
    # 40 and 60 px in 6000 px: 6-10 px on the detector's 960-px copy, too small unaided (in a
    # 4000-px photo the shipped 10M already keeps the 40-px face the detector still fires on)
    assert not plain[0] and sum(plain) < len(truth)
    assert lm.detector.tiles_run > 1
    # each face once: tiles overlap, and the merge keeps one detection per face
    assert len(faces) == len(truth)


def test_no_tiles_where_the_plain_pass_reaches_min_face():
    calls = []

    def det(image):
        calls.append(image.shape)
        return empty()

    t = Tiled(det, min_face=40, detector_min=28, tile=960)
    t(np.zeros((900, 1200, 3), np.uint8))          # 1200 px: the plain pass sees 35-px faces
    assert len(calls) == 1 and t.tiles_run == 0
    t(np.zeros((3000, 4000, 3), np.uint8))          # 4000 px: it does not
    assert t.tiles_run > 1 and all(max(s[:2]) <= 960 for s in calls[2:])


def test_tile_detections_come_back_in_photo_pixels():
    def det(image):
        # a "face" wherever the tile holds the white square
        ys, xs = np.nonzero(image[..., 0] > 200)
        if len(xs) == 0:
            return empty()
        return np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32), np.array([0.9], np.float32)

    photo = np.zeros((3000, 4000, 3), np.uint8)
    photo[2000:2040, 3100:3140] = 255
    boxes, scores = Tiled(det, min_face=40, detector_min=28)(photo)
    assert len(boxes) >= 1
    assert np.allclose(boxes[0], [3100, 2000, 3140, 2040], atol=3)


def test_merge_keeps_the_best_of_overlapping_boxes():
    a = (np.array([[0, 0, 10, 10]], np.float32), np.array([0.5], np.float32), None)
    b = (np.array([[1, 1, 11, 11], [50, 50, 60, 60]], np.float32), np.array([0.9, 0.3], np.float32), None)
    boxes, scores = merge([a, b])
    assert np.allclose(scores, [0.9, 0.3]) and np.allclose(boxes[0], [1, 1, 11, 11])


def test_min_face_must_be_positive():
    with pytest.raises(ConfigError, match="min_face"):
        Tiled(lambda im: empty(), min_face=0, detector_min=28)
