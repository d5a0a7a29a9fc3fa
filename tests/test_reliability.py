"""Faults a batch run must survive: degenerate images, unreadable folders, bad arguments of the
wrong type. Each test reproduces the fault first (the files are made here)."""
from __future__ import annotations

import json
import os
import shutil

import cv2
import numpy as np
import pytest

from conftest import ASTRONAUT
from litehrnet_plus.cli import main
from litehrnet_plus.inference.landmarker import FaceLandmarker


@pytest.mark.parametrize("shape", [(1, 3000), (3000, 1), (1, 1), (2, 5000)])
def test_degenerate_images_give_no_faces_not_an_error(tmp_path, shape):
    path = tmp_path / "strip.png"
    cv2.imwrite(str(path), np.full((*shape, 3), 128, np.uint8))
    assert FaceLandmarker().detect(path) == []
    assert FaceLandmarker(min_face=20).detect(path) == []


def test_a_degenerate_image_does_not_stop_a_folder(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(ASTRONAUT, src / "a.jpg")
    cv2.imwrite(str(src / "b_strip.png"), np.full((1, 3000, 3), 128, np.uint8))
    shutil.copy(ASTRONAUT, src / "c.jpg")
    rc = main(["predict", str(src), "--json", str(tmp_path / "r.json")])
    doc = json.loads((tmp_path / "r.json").read_text())
    assert rc == 0 and [i["file"] for i in doc["images"]] == ["a.jpg", "b_strip.png", "c.jpg"]
    assert [len(i["faces"]) for i in doc["images"]] == [1, 0, 1]
