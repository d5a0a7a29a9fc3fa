"""The whole torch-free pipeline against stored numbers: the shipped models' landmarks on the
example image for a fixed box (tests/golden/astronaut.json, written by tools/make_golden.py on
ONNX Runtime) must not move by more than 0.01 px, whatever is refactored or sped up, on either
runtime (LiteRT where its extra is installed)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import ASTRONAUT
from litehrnet_plus import hub
from litehrnet_plus.inference.landmarker import FaceLandmarker

GOLDEN = json.loads((Path(__file__).parent / "golden" / "astronaut.json").read_text())


@pytest.mark.parametrize("backend", ["onnxruntime", "litert"])
@pytest.mark.parametrize("tag", sorted(GOLDEN["models"]))
def test_shipped_landmarks_match_the_golden_file(tag, backend):
    if tag not in hub.available():
        pytest.skip(f"{tag} is not shipped")
    if backend == "litert" and importlib.util.find_spec("ai_edge_litert") is None:
        pytest.skip("the litert extra is not installed")
    pts = FaceLandmarker(tag, threads=1, backend=backend).landmarks(ASTRONAUT, np.array([GOLDEN["box"]]))[0]
    expected = np.array(GOLDEN["models"][tag])
    assert pts.shape == expected.shape
    assert np.abs(pts - expected).max() < 0.01


def test_every_shipped_model_has_golden_numbers():
    assert set(hub.available()) <= set(GOLDEN["models"])
