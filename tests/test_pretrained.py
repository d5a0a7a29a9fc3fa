"""The weights shipped in the package: they load offline with and without PyTorch, the ONNX
file computes what the PyTorch weights compute, and the figures published in each manifest
(and the README) are what the shipped file measures on the held-out lfpw/testset."""
from __future__ import annotations

import functools
import json

import numpy as np
import pytest

from conftest import ASTRONAUT, DATA
from litehrnet_plus import hub
from litehrnet_plus.data.transforms import crop_faces
from litehrnet_plus.inference.landmarker import load_image
from litehrnet_plus.inference.runtime import OnnxHeatmapModel

SHIPPED = sorted(hub.available())
# Accuracy targets of the pretrained-models issue (inter-ocular NME on lfpw/testset).
TARGETS = {"litehrnet_plus_10m.300w": 0.048, "litehrnet_plus_30m.300w": 0.038,
           # the speed issue: a faster model ships only if it keeps the shipped 10M's 4.18%
           "litehrnet_plus_10m_fast.300w": 0.0418, "litehrnet_plus_tiny.300w": 0.0418,
           # the 30M-class latency variant ships as a default candidate only if it matches the 30M
           "litehrnet_plus_30m_fast.300w": 0.0383}
# Shipped models known to miss their target, and why. Strict: the test fails the day one of
# them meets it, so this list cannot go stale.
MISSES_TARGET: dict[str, str] = {}

pytestmark = pytest.mark.skipif(not SHIPPED, reason="no weights shipped in the package")


@pytest.mark.parametrize("tag", SHIPPED)
def test_manifest_matches_the_onnx_metadata(tag):
    man = hub.manifest(tag)
    assert man["tag"] == tag and man["num_landmarks"] == 68 and man["input_size"] == 96
    assert "non-commercial" in man["license"]
    model = OnnxHeatmapModel(tag)          # by tag, offline, no PyTorch involved
    assert model.num_landmarks == man["num_landmarks"]
    assert model.scheme.name == man["scheme"]
    assert model.crop_scale == pytest.approx(man["crop_scale"])
    assert model.codec.to_dict() == man["codec"]
    assert model.card.graph == man.get("onnx_graph", "plain")
    assert model.card.track_threshold == man.get("track_threshold")


def _face_crops(model: OnnxHeatmapModel) -> np.ndarray:
    """Real face crops: the astronaut's face, its box shifted by up to 8 px each way."""
    image = load_image(ASTRONAUT)
    box = np.array([179.0, 91.0, 267.0, 178.0])            # her 68-point landmark box (shipped 10M)
    boxes = [box + np.array([dx, dy, dx, dy]) * 8 for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
    crops, _ = crop_faces(image, np.stack(boxes), model.input_size, model.crop_scale)
    return crops


@pytest.mark.parametrize("tag", SHIPPED)
def test_onnx_file_equals_the_pytorch_weights(tag):
    pytest.importorskip("torch")
    from litehrnet_plus.engine.evaluate import TorchPredictor
    from litehrnet_plus.models import create_model

    onnx_model = OnnxHeatmapModel(tag)
    crops = _face_crops(onnx_model)
    net = create_model(tag, pretrained=True).eval()
    ref_pts, ref_scores = TorchPredictor(net, onnx_model.codec).predict_crops(crops)
    pts, scores = onnx_model.predict_crops(crops)
    assert np.abs(pts - ref_pts).max() < 1e-2          # crop pixels (96x96)
    assert np.abs(scores - ref_scores).max() < 1e-4
    assert scores.mean() > 0.4                          # a trained model finds the face


@functools.lru_cache(maxsize=None)
def measured_on_lfpw_testset(tag: str) -> dict:
    """The shipped file's figures on lfpw/testset, measured now (once per tag and run)."""
    from litehrnet_plus.data.formats import load_300w
    from litehrnet_plus.evaluation import evaluate_samples

    model = OnnxHeatmapModel(tag, threads=1)
    samples = load_300w(DATA / "300w", "lfpw/testset")
    assert len(samples) == 224
    return evaluate_samples(model, samples, model.scheme, model.input_size, model.crop_scale).all


@pytest.mark.realdata
@pytest.mark.parametrize("tag", SHIPPED)
def test_published_accuracy_holds_on_lfpw_testset(tag):
    from litehrnet_plus.evaluation import evaluate_samples

    man = hub.manifest(tag)
    assert man["evaluation"]["faces"] == 224
    rep = measured_on_lfpw_testset(tag)
    ev = man["evaluation"]
    # the manifest (and the README table, made from it) reports what the shipped file measures
    assert rep["nme"] == pytest.approx(ev["nme"], abs=2e-5)
    assert rep["fr@0.10"] == pytest.approx(ev["fr@0.10"], abs=1e-9)
    assert rep["auc@0.10"] == pytest.approx(ev["auc@0.10"], abs=2e-4)
    if "flip_test" in ev:
        from litehrnet_plus.data.formats import load_300w
        flip = OnnxHeatmapModel(tag, threads=1, flip_test=True)
        samples = load_300w(DATA / "300w", "lfpw/testset")
        rep = evaluate_samples(flip, samples, flip.scheme, flip.input_size, flip.crop_scale).all
        assert rep["nme"] == pytest.approx(ev["flip_test"]["nme"], abs=2e-5)
        assert rep["nme"] < ev["nme"]                    # the mirrored pass helps


@pytest.mark.parametrize("tag", [
    pytest.param(t, marks=pytest.mark.xfail(strict=True, reason=MISSES_TARGET[t])) if t in MISSES_TARGET else t
    for t in SHIPPED if t in TARGETS])
@pytest.mark.realdata
def test_meets_the_accuracy_target(tag):
    """The shipped file, measured on lfpw/testset now, is within its target."""
    nme = measured_on_lfpw_testset(tag)["nme"]
    assert nme <= TARGETS[tag], f"{tag}: NME {nme:.4f} above its target {TARGETS[tag]}"


def test_default_model_is_the_best_shipped_one():
    """FaceLandmarker() picks the most accurate shipped model."""
    nme = {tag: hub.manifest(tag)["evaluation"]["nme"] for tag in SHIPPED}
    assert hub.default_tag() == min(nme, key=nme.get), json.dumps(nme)


def test_exporting_a_shipped_tag_keeps_its_measured_track_threshold():
    from litehrnet_plus.engine.checkpoint import load_model_for_export
    from litehrnet_plus.inference.runtime import OnnxHeatmapModel
    for tag in ("litehrnet_plus_10m.300w", "litehrnet_plus_30m.300w"):
        _, card = load_model_for_export(tag)
        assert card.track_threshold is not None
        assert card.track_threshold == OnnxHeatmapModel(tag).card.track_threshold
