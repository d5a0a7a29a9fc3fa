"""The LiteRT backend: the shipped .tflite files match the ONNX graphs (heatmaps to 1e-4,
landmarks to 0.01 px), refuse clearly when broken, and export round-trips where the converter
is installed."""
from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from conftest import ASTRONAUT
from litehrnet_plus import hub
from litehrnet_plus.errors import CheckpointError, ConfigError

pytest.importorskip("ai_edge_litert")

TAGS = tuple(sorted(hub.available()))          # every shipped model has its .tflite beside the .onnx


@pytest.mark.parametrize("tag", TAGS)
def test_shipped_litert_file_matches_the_onnx_graph(tag):
    from litehrnet_plus import FaceLandmarker
    onnx, lite = FaceLandmarker(tag, backend="onnxruntime"), FaceLandmarker(tag, backend="litert")
    assert lite.model.card.track_threshold == onnx.model.card.track_threshold
    image = cv2.imread(str(ASTRONAUT))
    faces = onnx.detect(image, orientations="upright")
    rng = np.random.default_rng(0)
    crops = np.concatenate([rng.integers(0, 255, (2, 96, 96, 3), dtype=np.uint8),
                            cv2.resize(image, (96, 96))[None]])
    assert np.abs(onnx.model.heatmaps(crops) - lite.model.heatmaps(crops)).max() < 1e-4
    boxes = np.array([f.box for f in faces])
    assert np.abs(onnx.landmarks(image, boxes) - lite.landmarks(image, boxes)).max() < 0.01
    assert lite.detect(image, orientations="upright")[0].quality == pytest.approx(faces[0].quality, abs=1e-3)


def test_litert_needs_its_card(tmp_path):
    from litehrnet_plus.inference.runtime_litert import LiteRTHeatmapModel
    from litehrnet_plus.hub import resolve
    f = tmp_path / "m.tflite"
    shutil.copyfile(resolve(TAGS[0], "tflite"), f)
    with pytest.raises(CheckpointError, match="model card"):
        LiteRTHeatmapModel(f)
    shutil.copyfile(resolve(TAGS[0], "tflite.json"), tmp_path / "m.tflite.json")
    assert LiteRTHeatmapModel(f).num_landmarks == 68
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model")
    shutil.copyfile(resolve(TAGS[0], "tflite.json"), tmp_path / "bad.tflite.json")
    with pytest.raises(CheckpointError, match="not a loadable LiteRT model"):
        LiteRTHeatmapModel(bad)


def test_auto_backend_takes_litert_where_it_can(monkeypatch, tmp_path):
    import importlib.util

    from litehrnet_plus import FaceLandmarker
    from litehrnet_plus.hub import resolve
    from litehrnet_plus.inference.runtime import OnnxHeatmapModel, choose_backend
    from litehrnet_plus.inference.runtime_litert import LiteRTHeatmapModel
    assert choose_backend(TAGS[0]) == "litert"
    assert isinstance(FaceLandmarker(TAGS[0]).model, LiteRTHeatmapModel)
    assert FaceLandmarker(TAGS[0]).backend == "litert"
    # an .onnx file has no .tflite beside it; ONNX Runtime's providers ask for ONNX Runtime
    onnx = tmp_path / "m.onnx"
    shutil.copyfile(resolve(TAGS[0], "onnx"), onnx)
    assert choose_backend(onnx) == "onnxruntime"
    assert isinstance(FaceLandmarker(onnx).model, OnnxHeatmapModel)
    assert isinstance(FaceLandmarker(TAGS[0], providers=["CPUExecutionProvider"]).model, OnnxHeatmapModel)
    assert choose_backend(TAGS[0], "onnxruntime") == "onnxruntime"
    # without the extra: ONNX Runtime
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ai_edge_litert" else real(name, *a))
    assert choose_backend(TAGS[0]) == "onnxruntime"
    assert FaceLandmarker(TAGS[0]).backend == "onnxruntime"


def test_unknown_backend_is_refused():
    from litehrnet_plus import FaceLandmarker
    with pytest.raises(ConfigError, match="backend"):
        FaceLandmarker(TAGS[0], backend="tensorrt")


def test_shipped_litert_files_are_not_taken_for_tags():
    from litehrnet_plus import hub
    assert set(hub.available()) == set(TAGS)


def test_litert_export_round_trip(tmp_path):
    pytest.importorskip("litert_torch")
    from litehrnet_plus.card import ModelCard
    from litehrnet_plus.engine.export_litert import export_litert
    from litehrnet_plus.inference.runtime_litert import LiteRTHeatmapModel
    from litehrnet_plus.models import create_model
    model = create_model("litehrnet_plus_10m")
    worst = export_litert(model, tmp_path / "m.tflite", ModelCard(model="litehrnet_plus_10m", num_landmarks=68))
    assert worst < 1e-4 and LiteRTHeatmapModel(tmp_path / "m.tflite").card.graph == "litert"
