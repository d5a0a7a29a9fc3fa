"""The per-face quality: a calibrated probability that the fit's NME is below 0.10, in the
API, the JSON, the overlay and the --min-quality filter (shipped model and its fit in
inference/calibration.json)."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from conftest import ASTRONAUT
from litehrnet_plus import hub
from litehrnet_plus.cli import main
from litehrnet_plus.errors import ConfigError
from litehrnet_plus.inference.calibration import quality_function
from litehrnet_plus.inference.draw import DOUBTFUL, draw_faces

SHIPPED = "litehrnet_plus_10m.300w"
pytestmark = pytest.mark.skipif(SHIPPED not in hub.available(), reason="weights are not shipped")


@pytest.fixture(scope="module")
def lm():
    from litehrnet_plus.inference.landmarker import FaceLandmarker
    return FaceLandmarker(SHIPPED, threads=1)


def test_every_shipped_model_has_a_quality_fit_that_reads_score_and_shape(lm):
    rng = np.random.default_rng(0)
    face = lm.detect(cv2.imread(str(ASTRONAUT)))[0].landmarks        # a real fitted face shape
    k = len(face)
    levels = np.linspace(0, 1, 11)
    for tag in hub.available():
        q = quality_function(tag)
        assert q is not None, tag
        # the same shape with weaker and stronger peaks: the quality rises with them
        by_score = q(np.repeat(face[None], 11, 0), np.repeat(levels[:, None], k, 1))
        assert by_score[2] < 0.5 < by_score[8] and np.all(np.diff(by_score) > 0), tag
        # the same confident peaks on a shape no face has: a failed fit
        scrambled = np.array([face[rng.permutation(k)] for _ in range(5)])
        assert np.all(q(scrambled, np.full((5, k), 0.7)) < 0.5), tag


def test_quality_separates_a_face_from_a_crop_of_nothing(lm):
    image = cv2.imread(str(ASTRONAUT))
    face = lm.detect(image)[0]
    assert 0.5 < face.quality <= 1.0
    pts, scores = lm.predict(image, np.array([[380.0, 380.0, 470.0, 470.0]]))    # the suit, no face
    assert lm.quality(pts[0], scores[0]) < 0.5
    # the filter keeps exactly the faces at or above the bar
    assert lm.detect(image, min_quality=face.quality)[0].quality == face.quality
    assert all(f.quality >= min(1.0, face.quality + 1e-6) for f in lm.detect(image, min_quality=min(1.0, face.quality + 1e-6)))
    for bad in (-0.1, 1.5, True):
        with pytest.raises(ConfigError, match="min_quality"):
            lm.detect(image, min_quality=bad)


def test_quality_in_json_and_overlay(lm, tmp_path):
    js = tmp_path / "r.json"
    assert main(["predict", str(ASTRONAUT), "--model", SHIPPED, "--json", str(js), "--min-quality", "0.5"]) == 0
    doc = json.loads(js.read_text())
    faces = doc["images"][0]["faces"]
    assert faces and all(0.5 <= f["quality"] <= 1 for f in faces) and doc["options"]["min_quality"] == 0.5
    image = cv2.imread(str(ASTRONAUT))
    face = lm.detect(image)[0]
    face.quality = 0.1
    drawn = draw_faces(image, [face], lm.model.scheme)
    x, y = np.round(face.landmarks[30]).astype(int)
    assert tuple(drawn[y, x]) == DOUBTFUL                      # a doubtful face is drawn grey


def test_a_turned_copy_must_give_a_fit_of_quality(lm):
    """A face found only in a turned copy of the photo is kept when its quality says the fit is
    good (0.5 or more) and its eye line agrees with the roll its crop was turned by; confident
    peaks alone do not do."""
    from dataclasses import replace

    from litehrnet_plus.inference.fitting import Fit
    from litehrnet_plus.inference.orientation import trusted

    face = lm.detect(cv2.imread(str(ASTRONAUT)))[0]                       # upright, roll ~0
    sure = Fit(face.landmarks, np.full_like(face.landmark_scores, 0.9), 0.0, face.score, 0.9)
    assert trusted(lm.pipeline, sure)
    assert not trusted(lm.pipeline, replace(sure, quality=0.3))                # confident, yet doubtful
    assert not trusted(lm.pipeline, replace(sure, crop_roll=90.0))             # eye line disagrees
    # without a quality fit, the mean peak score against the lost-face threshold decides
    assert trusted(lm.pipeline, replace(sure, quality=None))
    weak = replace(sure, quality=None, scores=np.full_like(face.landmark_scores, 0.1))
    assert not trusted(lm.pipeline, weak)


def test_detect_drops_what_is_no_face_by_default_and_min_quality_0_shows_all(monkeypatch):
    import cv2
    import numpy as np

    from litehrnet_plus.inference.landmarker import FaceLandmarker

    # a frame with the astronaut and, beside her, a detection the detector is made to report on
    # a patch of cloth: the quality floor keeps her and drops the patch
    photo = cv2.imread(str(ASTRONAUT))
    h, w = photo.shape[:2]
    face = FaceLandmarker("litehrnet_plus_tiny.300w").detect(photo, min_quality=0)[0].box

    def detector(image):
        boxes = np.array([face, [0.05 * w, 0.7 * h, 0.25 * w, 0.9 * h]], np.float32)
        return boxes, np.array([0.9, 0.6], np.float32)
    lm = FaceLandmarker("litehrnet_plus_tiny.300w", detector=detector, orientations="upright")
    everything = lm.detect(photo, min_quality=0)
    assert len(everything) == 2
    floor = lm.default_min_quality
    assert 0 < floor < 0.5                                # measured, installed (tools/measure_quality_floor.py)
    kept = lm.detect(photo)
    assert [f.quality >= floor for f in everything].count(True) == len(kept) == 1
    # a model without a quality fit keeps every detection by default, and says so when asked for a floor
    monkeypatch.setattr(lm.pipeline, "quality", None)
    assert lm.default_min_quality == 0.0 and len(lm.detect(photo)) == 2
    with pytest.raises(Exception, match="no quality calibration"):
        lm.detect(photo, min_quality=0.2)
