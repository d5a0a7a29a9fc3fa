"""FaceLandmarker, the ONNX Runtime model and the detectors (random-weight model: the landmarks
mean nothing, so these tests check geometry, batching and agreement between paths)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from litehrnet_plus.card import ModelCard

from conftest import ASTRONAUT, DATA
from litehrnet_plus.codec import HeatmapCodec
from litehrnet_plus.data.transforms import (landmark_box, DEFAULT_CROP_SCALE, crop_matrix, invert_affine, to_input,
                                            transform_points, warp)
from litehrnet_plus.errors import BoxError, CheckpointError, ConfigError, ImageReadError, NoFaceError
from litehrnet_plus.inference.detectors import BoxCalibration, get_detector
from litehrnet_plus.inference.landmarker import FaceLandmarker
from litehrnet_plus.inference.runtime import OnnxHeatmapModel

LFPW_TEST = DATA / "300w" / "lfpw" / "testset"


@pytest.fixture(scope="module")
def landmarker(random_onnx) -> FaceLandmarker:
    # random weights: the crops as the detector gives them (the aligned pipeline needs a model
    # whose landmarks mean something: tests/test_orientation.py)
    return FaceLandmarker(random_onnx, threads=1, orientations="upright", align=False)


def _pts(path: Path) -> np.ndarray:
    lines = path.read_text().splitlines()
    i = lines.index("{")
    return np.array([[float(v) for v in ln.split()] for ln in lines[i + 1:i + 69]], dtype=np.float32) - 1


def _crop_region(box, size: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """Image-space bounds of the crop around a box, widened by one heatmap stride (DARK's
    sub-pixel step may leave the crop by up to one heatmap pixel)."""
    inv = invert_affine(crop_matrix(np.asarray(box), size, DEFAULT_CROP_SCALE))
    corners = transform_points(np.array([[-4.0, -4.0], [size + 3.0, size + 3.0]]), inv)
    return corners.min(axis=0) - 1e-3, corners.max(axis=0) + 1e-3


def test_detect_astronaut(landmarker):
    faces = landmarker.detect(ASTRONAUT)
    assert len(faces) >= 1
    for f in faces:
        assert len(f.box) == 4 and all(isinstance(v, float) for v in f.box)
        assert isinstance(f.score, float) and 0 < f.score <= 1
        assert f.landmarks.shape == (68, 2) and f.landmarks.dtype == np.float32
        assert f.landmark_scores.shape == (68,)
        lo, hi = _crop_region(f.box)
        assert np.all(f.landmarks >= lo) and np.all(f.landmarks <= hi)
    # the astronaut's face is in the upper middle of the 512x512 portrait
    cx, cy = (faces[0].box[0] + faces[0].box[2]) / 2, (faces[0].box[1] + faces[0].box[3]) / 2
    assert 150 < cx < 300 and 60 < cy < 200


def test_array_and_path_agree(landmarker):
    a = landmarker.detect(ASTRONAUT)
    b = landmarker.detect(cv2.imread(str(ASTRONAUT)))
    assert np.array_equal(a[0].landmarks, b[0].landmarks)


def test_landmarks_equal_manual_pipeline(landmarker, random_onnx):
    import onnxruntime as ort

    image = cv2.imread(str(ASTRONAUT))
    boxes = np.array([[175, 75, 270, 170], [100, 300, 220, 420]], dtype=np.float32)
    got = landmarker.landmarks(image, boxes)
    sess = ort.InferenceSession(str(random_onnx), providers=["CPUExecutionProvider"])
    codec = HeatmapCodec()
    for box, pts in zip(boxes, got):
        m = crop_matrix(box, 96, DEFAULT_CROP_SCALE)
        hm = sess.run(None, {"image": to_input(warp(image, m, 96))})[0]
        crop_pts, _ = codec.decode(hm)
        expect = transform_points(crop_pts[0], invert_affine(m))
        np.testing.assert_allclose(pts, expect, atol=1e-3)


def test_batch_equals_one_by_one(landmarker):
    image = cv2.imread(str(ASTRONAUT))
    boxes = np.array([[175, 75, 270, 170], [100, 300, 220, 420], [10, 10, 60, 70], [300, 200, 500, 500]], float)
    together = landmarker.landmarks(image, boxes)
    assert together.shape == (4, 68, 2) and together.dtype == np.float32
    alone = np.stack([landmarker.landmarks(image, b[None])[0] for b in boxes])
    np.testing.assert_allclose(together, alone, atol=1e-3)


def test_onnx_matches_pytorch(random_model, random_onnx):
    import torch

    image = cv2.imread(str(ASTRONAUT))
    crops = np.stack([warp(image, crop_matrix(b, 96), 96) for b in ([175, 75, 270, 170], [50, 60, 400, 420])])
    model = OnnxHeatmapModel(random_onnx, threads=1)
    ort_pts, ort_scores = model.predict_crops(crops)
    with torch.no_grad():
        hm = torch.sigmoid(random_model(torch.from_numpy(to_input(crops)))).numpy()
    pt_pts, pt_scores = model.codec.decode(hm)
    np.testing.assert_allclose(ort_pts, pt_pts, atol=1e-3)
    np.testing.assert_allclose(ort_scores, pt_scores, atol=1e-4)


def test_flip_test_matches_pytorch_and_is_mirror_symmetric(random_model, random_onnx):
    from litehrnet_plus.engine.evaluate import TorchPredictor

    image = cv2.imread(str(ASTRONAUT))
    crops = np.stack([warp(image, crop_matrix(b, 96), 96) for b in ([175, 75, 270, 170], [60, 40, 380, 400])])
    model = OnnxHeatmapModel(random_onnx, threads=1, flip_test=True)
    perm = model.scheme.flip_permutation()
    pts, scores = model.predict_crops(crops)
    ref_pts, ref_scores = TorchPredictor(random_model, model.codec, "sigmoid", perm, flip_test=True).predict_crops(crops)
    np.testing.assert_allclose(pts, ref_pts, atol=1e-3)
    np.testing.assert_allclose(scores, ref_scores, atol=1e-4)
    plain_pts, _ = OnnxHeatmapModel(random_onnx, threads=1).predict_crops(crops)
    assert np.abs(pts - plain_pts).max() > 0.01           # the mirrored pass changes the result
    # the flip-tested prediction on the mirrored crops is the mirror image of this one
    m_pts, m_scores = model.predict_crops(np.ascontiguousarray(crops[:, :, ::-1]))
    back = m_pts[:, perm].copy()
    back[..., 0] = 95 - back[..., 0]
    np.testing.assert_allclose(back, pts, atol=1e-3)
    np.testing.assert_allclose(m_scores[:, perm], scores, atol=1e-5)


def test_flip_test_needs_a_scheme_with_mirror_pairs(tmp_path):
    from litehrnet_plus.engine.export import export_onnx
    from litehrnet_plus.models import create_model
    from synthetic import TINY_MODEL

    path = tmp_path / "five.onnx"
    export_onnx(create_model("litehrnet_plus_10m", num_landmarks=5, **TINY_MODEL).eval(), path,
                card=ModelCard(model="litehrnet_plus_10m", num_landmarks=5))
    assert OnnxHeatmapModel(path).predict_crops(np.zeros((1, 96, 96, 3), np.uint8))[0].shape == (1, 5, 2)
    with pytest.raises(ConfigError, match="five.onnx: flip test needs a flip permutation"):
        OnnxHeatmapModel(path, flip_test=True)


def test_runtime_metadata(random_onnx):
    model = OnnxHeatmapModel(random_onnx)
    assert (model.num_landmarks, model.input_size) == (68, 96)
    assert model.scheme.name == "ibug68" and model.codec == HeatmapCodec()
    pts, scores = model.predict_crops(np.zeros((0, 96, 96, 3), np.uint8))
    assert pts.shape == (0, 68, 2) and scores.shape == (0, 68)
    with pytest.raises(ValueError, match="crops must be"):
        model.predict_crops(np.zeros((1, 64, 64, 3), np.uint8))


def test_not_onnx_and_missing_metadata(tmp_path, random_onnx):
    import onnx

    text = tmp_path / "model.onnx"
    text.write_text("not a model")
    with pytest.raises(CheckpointError, match="model.onnx"):
        OnnxHeatmapModel(text)
    proto = onnx.load(str(random_onnx))
    del proto.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(proto, str(bare))
    with pytest.raises(CheckpointError, match="lacks the 'litehrnet_plus' metadata"):
        OnnxHeatmapModel(bare)
    with pytest.raises(CheckpointError, match="no such model file"):
        OnnxHeatmapModel(tmp_path / "absent.onnx")
    with pytest.raises(CheckpointError, match="not a model file"):
        OnnxHeatmapModel("no_such_model.300w")


def test_no_face(landmarker):
    black = np.zeros((240, 320, 3), np.uint8)
    assert landmarker.detect(black) == []
    with pytest.raises(NoFaceError):
        landmarker.detect_one(black)
    assert landmarker.landmarks(black, np.zeros((0, 4))).shape == (0, 68, 2)


def test_bad_images(landmarker, tmp_path):
    fake = tmp_path / "notes.jpg"
    fake.write_text("hello")
    with pytest.raises(ImageReadError, match="notes.jpg"):
        landmarker.detect(fake)
    with pytest.raises(ImageReadError, match="no such file"):
        landmarker.detect(tmp_path / "missing.png")
    # a box far larger than the image still gives (meaningless but finite) landmarks, no crash
    pts = landmarker.landmarks(np.zeros((50, 50, 3), np.uint8), [[0, 0, 10000, 10000]])
    assert pts.shape == (1, 68, 2) and np.isfinite(pts).all()
    with pytest.raises(BoxError, match="zero or negative size"):
        landmarker.landmarks(np.zeros((50, 50, 3), np.uint8), [[10, 10, 10, 20]])
    with pytest.raises(BoxError, match=r"\(N,4\)"):
        landmarker.landmarks(np.zeros((50, 50, 3), np.uint8), [[1, 2, 3]])


def test_custom_detector_and_registry(random_onnx):
    image = cv2.imread(str(ASTRONAUT))
    lm = FaceLandmarker(random_onnx, detector=lambda img: ([[175, 75, 270, 170]], [0.7]))
    faces = lm.detect(image, orientations="upright")
    # the detector's score; the box is the tight box of the landmarks fitted in its region
    assert len(faces) == 1 and faces[0].score == pytest.approx(0.7)
    assert faces[0].box == tuple(float(v) for v in landmark_box(faces[0].landmarks))
    bad = FaceLandmarker(random_onnx, detector=lambda img: None)
    with pytest.raises(ValueError, match="must return"):
        bad.detect(image)
    with pytest.raises(ConfigError, match="unknown face detector"):
        get_detector("nope")
    if not hasattr(cv2, "CascadeClassifier"):
        with pytest.raises(ConfigError, match="no Haar cascades"):
            get_detector("haar")


def test_a_registered_detector_is_used_by_name_and_calibrated(random_onnx, monkeypatch):
    from litehrnet_plus.inference.detectors import detector_names, detector_status, register_detector, registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_REGISTERED_CALIBRATIONS", {})
    raw = lambda img: (np.array([[100.0, 50.0, 200.0, 150.0]]), np.array([0.8]))  # noqa: E731
    register_detector("square", lambda: raw, BoxCalibration(dx=0.1, sw=0.5, sh=0.5))
    assert "square" in detector_names() and detector_status()["square"] == "installed"
    det = get_detector("square")
    np.testing.assert_allclose(det(np.zeros((10, 10, 3), np.uint8))[0], [[135, 75, 185, 125]])
    lm = FaceLandmarker(random_onnx, detector="square", orientations="upright")
    assert lm.detector_name == "square" and len(lm.detect(cv2.imread(str(ASTRONAUT)), min_quality=0)) == 1
    with pytest.raises(ConfigError, match="registered already"):
        register_detector("square", lambda: raw)
    with pytest.raises(ConfigError, match="other than 'auto'"):
        register_detector("auto", lambda: raw)


def test_box_calibration_maths():
    cal = BoxCalibration(dx=0.1, dy=-0.2, sw=0.5, sh=2.0)
    out = cal.apply(np.array([[0, 0, 100, 100]]))
    np.testing.assert_allclose(out, [[35, -70, 85, 130]])


def test_inference_imports_no_torch():
    code = ("import sys, litehrnet_plus.inference.landmarker, litehrnet_plus.batch.predict, "
            "litehrnet_plus.inference.video, litehrnet_plus.cli; "
            "bad = [m for m in sys.modules if m == 'torch' or m.startswith(('litehrnet_plus.models', "
            "'litehrnet_plus.engine'))]; print(bad); sys.exit(bool(bad))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.realdata
def test_300w_faces_and_calibration(landmarker):
    """Calibrated yuface boxes sit on the ground-truth landmark box of lfpw/testset faces."""
    for name in ("image_0001", "image_0044", "image_0098", "image_0162", "image_0215"):
        image = cv2.imread(str(LFPW_TEST / f"{name}.jpg"))
        gt = _pts(LFPW_TEST / f"{name}.pts")
        gbox = np.r_[gt.min(0), gt.max(0)]
        faces = landmarker.detect(image)
        assert faces, name
        centres = np.array([[(f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2] for f in faces])
        err = np.hypot(*(centres - (gbox[:2] + gbox[2:]) / 2).T).min()
        size = ((gbox[2] - gbox[0]) + (gbox[3] - gbox[1])) / 2
        assert err < 0.15 * size, (name, err / size)
        best = faces[int(np.argmin(np.hypot(*(centres - (gbox[:2] + gbox[2:]) / 2).T)))]
        w, h = best.box[2] - best.box[0], best.box[3] - best.box[1]
        assert 0.7 < w / (gbox[2] - gbox[0]) < 1.4 and 0.7 < h / (gbox[3] - gbox[1]) < 1.4, name


def test_default_model_without_shipped_weights():
    from litehrnet_plus import hub

    if hub.available():
        pytest.skip("weights are shipped")
    with pytest.raises(CheckpointError, match="no pretrained weights"):
        FaceLandmarker()


def test_draw_marks_landmarks_and_leaves_input_alone():
    from litehrnet_plus.inference.draw import draw_faces
    from litehrnet_plus.inference.face import Face
    from litehrnet_plus.schemes import IBUG68

    image = np.zeros((200, 200, 3), np.uint8)
    pts = np.stack([np.linspace(50, 150, 68), np.full(68, 100.0)], 1).astype(np.float32)
    face = Face((50.0, 90.0, 150.0, 110.0), 0.9, pts, np.ones(68, np.float32))
    out = draw_faces(image, [face], IBUG68, boxes=True)
    assert image.max() == 0 and out.shape == image.shape
    assert out[100, 100, 2] > 100            # a red landmark dot
    assert out[90, 50:150].any()             # the box's top edge


def test_results_schema(landmarker):
    import json

    from litehrnet_plus.batch.results import SCHEMA_VERSION, document, image_entry, validate

    faces = landmarker.detect(ASTRONAUT)
    doc = json.loads(json.dumps(document("m", "yuface", 68, "ibug68",
                                         images=[image_entry("a.jpg", (512, 512, 3), faces)], failures=[])))
    validate(doc)
    assert doc["schema_version"] == SCHEMA_VERSION
    face = doc["images"][0]["faces"][0]
    assert len(face["landmarks"]) == 68 and len(face["box"]) == 4 and len(face["landmark_scores"]) == 68
    face["landmarks"] = face["landmarks"][:10]
    with pytest.raises(ValueError, match="landmarks must be 68x2"):
        validate(doc)
    with pytest.raises(ValueError, match="schema_version"):
        validate({"schema_version": 0})


@pytest.mark.slow
def test_very_large_image_is_processed(landmarker, tmp_path):
    """A 12,000 x 9,000 photo (108 Mpx) decodes, the detector runs on a downscaled copy, and the
    face comes back in full-resolution pixels (the astronaut pasted 4x enlarged at (5000, 3000))."""
    big = np.full((9000, 12000, 3), 120, np.uint8)
    big[3000:3000 + 2048, 5000:5000 + 2048] = cv2.resize(cv2.imread(str(ASTRONAUT)), (2048, 2048))
    path = tmp_path / "big.jpg"
    assert cv2.imwrite(str(path), big, [cv2.IMWRITE_JPEG_QUALITY, 80])
    del big
    small = landmarker.detect(ASTRONAUT)[0].box
    faces = landmarker.detect(path)
    assert len(faces) == 1
    expected = np.array(small) * 4 + [5000, 3000, 5000, 3000]
    assert np.abs(np.array(faces[0].box) - expected).max() < 0.1 * (expected[2] - expected[0])
