"""Shared test fixtures (keep small; add yours below)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from litehrnet_plus.card import ModelCard

ROOT = Path(__file__).resolve().parents[1]
# the real datasets (300w/, wflw-partial/, ...): ../shared/data beside the checkout, or wherever
# LITEHRNET_DATA points
DATA_VARIABLE = "LITEHRNET_DATA"
DATA = Path(os.environ.get(DATA_VARIABLE) or ROOT.parent / "shared" / "data").resolve()
ASTRONAUT = ROOT / "examples" / "astronaut.jpg"


def _randomised_model(name: str, num_landmarks: int):
    """A model with larger random conv weights than its training init, so its heatmaps vary
    with the input (the real init gives flat 0.5 maps, which would make equality tests vacuous).
    The heatmap output convs get 16x more, for peaked maps: on flat maps DARK's Newton step
    turns float32 rounding (1e-7) into ~3e-3 px, on these into < 4e-4 px."""
    import torch
    from torch import nn

    from litehrnet_plus.models import create_model

    torch.manual_seed(0)
    model = create_model(name, num_landmarks=num_landmarks).eval()
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.out_channels == num_landmarks:
                with torch.no_grad():
                    m.weight.mul_(16.0)
    return model


@pytest.fixture(scope="session")
def random_model():
    """litehrnet_plus_10m, 68 landmarks, random weights (PyTorch, eval mode)."""
    pytest.importorskip("torch")
    return _randomised_model("litehrnet_plus_10m", 68)


@pytest.fixture(scope="session")
def random_onnx(tmp_path_factory, random_model) -> Path:
    """The random model exported to ONNX (made once per test session). Its track_threshold of 0
    keeps video tests independent of what random heatmap scores happen to be."""
    from litehrnet_plus.engine.export import export_onnx

    path = tmp_path_factory.mktemp("models") / "random_10m.onnx"
    export_onnx(random_model, path, card=ModelCard(model="litehrnet_plus_10m", num_landmarks=68, track_threshold=0.0))
    return path


_SKIPPED_FOR_DATA: list[str] = []


def pytest_collection_modifyitems(config, items) -> None:
    """Real-data tests skip when the data folder is absent (and the summary says so)."""
    if DATA.is_dir():
        return
    skip = pytest.mark.skip(reason=f"{DATA} not present")
    for item in items:
        if "realdata" in item.keywords:
            item.add_marker(skip)
            _SKIPPED_FOR_DATA.append(item.nodeid)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if _SKIPPED_FOR_DATA:
        terminalreporter.write_line(
            f"{len(_SKIPPED_FOR_DATA)} real-data tests skipped: no data at {DATA}; point {DATA_VARIABLE} at the "
            "folder holding 300w/, wflw-partial/, ... to run them", yellow=True)
