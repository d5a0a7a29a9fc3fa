"""The whole torch-free pipeline against stored numbers: the shipped models' landmarks on the
example image for a fixed box (tests/golden/astronaut.json, written by tools/make_golden.py)
must not move by more than 0.01 px, whatever is refactored or sped up."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import ASTRONAUT
from litehrnet_plus import hub
from litehrnet_plus.inference.landmarker import FaceLandmarker

GOLDEN = json.loads((Path(__file__).parent / "golden" / "astronaut.json").read_text())


@pytest.mark.parametrize("tag", sorted(GOLDEN["models"]))
def test_shipped_landmarks_match_the_golden_file(tag):
    if tag not in hub.available():
        pytest.skip(f"{tag} is not shipped")
    pts = FaceLandmarker(tag, threads=1).landmarks(ASTRONAUT, np.array([GOLDEN["box"]]))[0]
    expected = np.array(GOLDEN["models"][tag])
    assert pts.shape == expected.shape
    assert np.abs(pts - expected).max() < 0.01


def test_every_shipped_model_has_golden_numbers():
    assert set(hub.available()) <= set(GOLDEN["models"])
