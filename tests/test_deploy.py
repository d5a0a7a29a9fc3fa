"""The deployment graph (engine/deploy/) computes what the training network and the plain
export compute, for every shipped architecture, at any batch size; `bench` runs and writes a
valid report; INT8 calibration refuses test data. Speed itself is not tested."""
from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from litehrnet_plus.card import ModelCard

from conftest import ASTRONAUT

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from litehrnet_plus.cli import main  # noqa: E402
from litehrnet_plus.data.transforms import to_input  # noqa: E402
from litehrnet_plus.engine.deploy import (DeployOptions, Placement, deploy_model, export_deploy,  # noqa: E402
                                          place_conv, place_depthwise)
from litehrnet_plus.errors import UserError  # noqa: E402
from litehrnet_plus.inference.runtime import OnnxHeatmapModel  # noqa: E402
from litehrnet_plus.models import create_model  # noqa: E402

MODELS = ["litehrnet_plus_10m", "litehrnet_plus_30m", "litehrnet_baseline"]
ATOL = 1e-4


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """PyTorch with 2 threads on a busy 2-core machine spins for seconds per forward."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def trained_like(name: str, seed: int = 0) -> nn.Module:
    """Random weights with the statistics of a trained network: kaiming convs, BN running
    statistics measured on random images (so the BN folding meets non-trivial means and
    variances), BN scales in [0.5, 1], attention FCs x0.3, heatmap convs x0.5. Its float32
    result is within ~2e-5 of its float64 one (a trained 30M checkpoint: 1e-6); plain kaiming
    weights give a 30M network whose own float32 rounding reaches 2e-4 -- even the plain export
    then differs from PyTorch by more than 1e-4 -- useless for a 1e-4 equality test."""
    torch.manual_seed(seed)
    model = create_model(name, num_landmarks=68)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            with torch.no_grad():
                if m.out_channels == 68:
                    m.weight.mul_(0.5)
                elif m.bias is not None:          # SE / SCAF attention FCs (no BN after them)
                    m.weight.mul_(0.3)
            if m.bias is not None:
                nn.init.normal_(m.bias, std=0.1)
        elif isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.0)
                m.bias.normal_(0, 0.1)
            m.momentum = None          # cumulative average over the calibration batch
            m.reset_running_stats()
    model.train()
    with torch.no_grad():
        model(torch.rand(8, 3, 96, 96))
    return model.eval()


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    """Three network inputs: two random images and a crop of a real photo."""
    rng = np.random.default_rng(0)
    photo = cv2.resize(cv2.imread(str(ASTRONAUT))[40:296, 130:386], (96, 96), interpolation=cv2.INTER_AREA)
    crops = np.stack([rng.integers(0, 256, (96, 96, 3), dtype=np.uint8) for _ in range(2)] + [photo])
    return to_input(crops)


def _reference(model: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.sigmoid(model(torch.from_numpy(x))).numpy()


@pytest.mark.parametrize("name", MODELS)
def test_deploy_graph_equals_pytorch_at_batch_1_and_3(name, images, tmp_path):
    model = trained_like(name)
    path = export_deploy(model, tmp_path / f"{name}.onnx", card=ModelCard(model=name, num_landmarks=68),
                         check=False)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert sess.get_inputs()[0].shape == ["batch", 3, 96, 96]
    for x in (images[2:], images):
        out = sess.run(None, {"image": x})[0]
        ref = _reference(model, x)
        assert out.shape == ref.shape == (len(x), 68, 24, 24)
        assert float(np.abs(out - ref).max()) <= ATOL
        assert ref.std() > 0.01   # the maps vary: equality is not vacuous
    card = OnnxHeatmapModel(path, threads=1).card
    assert card.graph == "deploy" and card.model == name and card.input_size == 96
    assert "bn_folding" in card.extra["deploy"]["transforms"]


@pytest.mark.parametrize("name", MODELS)
def test_rewrite_is_exact_in_float64(name):
    """In float64 the rewritten network equals the original to rounding (1e-10 relative):
    the rewrites are identities, not approximations."""
    model = trained_like(name).double()
    x = torch.rand(2, 3, 96, 96, dtype=torch.float64)
    with torch.no_grad():
        ref = model(x)
        for opts in (DeployOptions(), DeployOptions(layout="split")):
            out = deploy_model(model, 96, opts)(x)
            assert float((out - ref).abs().max() / ref.abs().max()) < 1e-10


def test_deploy_graph_equals_plain_export(random_model, random_onnx, images, tmp_path):
    """Same model, both exports, both run by ONNX Runtime with the runtime's own settings."""
    path = export_deploy(random_model, tmp_path / "deploy.onnx", card=ModelCard(model="litehrnet_plus_10m", num_landmarks=68))
    plain, deploy = OnnxHeatmapModel(random_onnx, threads=1), OnnxHeatmapModel(path, threads=1)
    for x in (images[:1], images):
        a = plain.session.run(None, {"image": x})[0]
        b = deploy.session.run(None, {"image": x})[0]
        assert float(np.abs(a - b).max()) <= ATOL
    crops = (np.transpose(images, (0, 2, 3, 1))[..., ::-1] * 255).round().astype(np.uint8)
    pa, _ = plain.predict_crops(crops)
    pb, _ = deploy.predict_crops(crops)
    assert float(np.abs(pa - pb).max()) < 0.05     # pixels, after sub-pixel decoding


def test_export_refuses_a_graph_that_differs(random_model, tmp_path, monkeypatch):
    from litehrnet_plus.engine.deploy import masked as deploy

    real = deploy.MaskedSCAF.forward
    monkeypatch.setattr(deploy.MaskedSCAF, "forward", lambda self, xs: [2 * y for y in real(self, xs)])
    with pytest.raises(RuntimeError, match="differs"):
        export_deploy(random_model, tmp_path / "bad.onnx", card=ModelCard(model="litehrnet_plus_10m", num_landmarks=68))
    assert not (tmp_path / "bad.onnx").exists()


def test_placed_convolutions_read_and_write_any_channel_order():
    torch.manual_seed(1)
    conv = nn.Conv2d(6, 4, 3, padding=1, groups=2)
    x = torch.randn(2, 6, 5, 5)
    in_pos, out_pos = [7, 2, 0, 5, 3, 1], [4, 0, 6, 1]
    phys = torch.zeros(2, 8, 5, 5)
    phys[:, in_pos] = x
    placed = place_conv(conv, in_pos, 8, out_pos, 8, fill_bias=40.0)
    with torch.no_grad():
        y, z = conv(x), placed(phys)
    assert torch.allclose(z[:, out_pos], y, atol=1e-6)
    assert torch.all(torch.sigmoid(z[:, [2, 3, 5, 7]]) == 1.0)   # the pass-through gate is exact
    dw = nn.Conv2d(3, 3, 3, padding=1, groups=3)
    pos = [4, 1, 2]
    pd = place_depthwise(dw, pos, 6, identity=[0, 5])
    phys = torch.randn(2, 6, 5, 5)
    with torch.no_grad():
        out = pd(phys)
        assert torch.allclose(out[:, pos], dw(phys[:, pos]), atol=1e-6)
        assert torch.equal(out[:, [0, 5]], phys[:, [0, 5]])          # identity kernel is exact
        assert torch.equal(out[:, 3], torch.zeros_like(out[:, 3]))
    assert Placement.identity(24, 16).cp == 32


def test_bench_writes_a_report_with_ratios(random_model, random_onnx, tmp_path, capsys):
    deploy = export_deploy(random_model, tmp_path / "deploy.onnx",
                           card=ModelCard(model="litehrnet_plus_10m", num_landmarks=68))
    out = tmp_path / "speed.json"
    rc = main(["bench", "--model", str(random_onnx), str(deploy), "--batch-size", "1,2", "--threads", "1",
               "--seconds", "0.05", "--rounds", "2", "--no-dlib", "--note", "test", "--json", str(out)])
    assert rc == 0
    report = json.loads(out.read_text())
    assert report["format"] == "litehrnet_plus.bench/1"
    assert report["machine"]["cpu"] and report["machine"]["onnxruntime"] == ort.__version__
    assert report["machine"]["note"] == "test"
    rows = report["rows"]
    graphs = {(r["graph"], r["scope"], r["batch"]) for r in rows}
    assert {("plain", "model", 1), ("deploy", "model", 2), ("deploy", "pipeline", 1)} <= graphs
    for r in rows:
        assert r["ms_per_face_median"] > 0 and r["ms_per_face_p90"] >= r["ms_per_face_median"]
        assert r["calls"] >= 6 and r["speedup_vs_plain"] > 0
    assert "x plain" in capsys.readouterr().out
    assert main(["bench", "--model", str(random_onnx), "--json", str(out), "--no-dlib"]) == 2  # exists


def test_bench_exports_registered_names_and_times_pytorch(tmp_path):
    out = tmp_path / "speed.json"
    rc = main(["bench", "--model", "litehrnet_baseline", "--graphs", "deploy", "--backend", "onnxruntime,pytorch",
               "--batch-size", "1", "--threads", "1", "--seconds", "0.05", "--rounds", "1", "--no-dlib",
               "--json", str(out)])
    assert rc == 0
    rows = json.loads(out.read_text())["rows"]
    assert {(r["graph"], r["backend"]) for r in rows} == {("deploy", "onnxruntime"), ("eager", "pytorch")}


def test_bench_times_a_training_config_before_it_is_trained(tmp_path):
    """A training config's network (its overrides applied) is timed under the config's name,
    so variants of one registered model get separate rows."""
    import onnx
    cfg = tmp_path / "small_variant.yaml"
    cfg.write_text("model: {name: litehrnet_plus_10m, overrides: {num_modules: [1, 1, 1], num_blocks: 1}}\n"
                   "data: {num_landmarks: 68}\n")
    out, keep = tmp_path / "speed.json", tmp_path / "graphs"
    rc = main(["bench", "--model", str(cfg), "litehrnet_plus_10m", "--graphs", "plain", "--batch-size", "1",
               "--threads", "1", "--seconds", "0.05", "--rounds", "1", "--no-dlib", "--keep-graphs", str(keep),
               "--json", str(out)])
    assert rc == 0
    assert {r["model"] for r in json.loads(out.read_text())["rows"]} == {"small_variant", "litehrnet_plus_10m"}
    nodes = {f.name: len(onnx.load(str(f)).graph.node) for f in keep.glob("*.onnx")}
    # one module per stage and one block per module: far fewer nodes than the 10M's 2/4/2 x 2
    assert nodes["small_variant.plain.onnx"] < 0.5 * nodes["litehrnet_plus_10m.plain.onnx"]


def test_profile_counts_every_node_and_the_dispatch_floor_scales_with_nodes(random_onnx):
    from litehrnet_plus.benchmarks.latency import dispatch_floor, profile_ops
    prof = profile_ops(random_onnx, runs=5)
    assert prof["nodes_per_run"] > 100 and "Conv" in prof["ops"]
    assert sum(o["share"] for o in prof["ops"].values()) == pytest.approx(1.0, abs=1e-3)
    assert sum(o["nodes"] for o in prof["ops"].values()) == pytest.approx(prof["nodes_per_run"], abs=1)
    kinds = prof["conv_kinds"]
    assert sum(k["nodes"] for k in kinds.values()) == prof["ops"]["Conv"]["nodes"]
    assert "48x48 map, 3x3 dense" in kinds and "1x1 map, 1x1 dense" in kinds   # the stem; attention FCs
    small, large = dispatch_floor(20, runs=50), dispatch_floor(400, runs=50)
    assert small["nodes"] == 20 and large["nodes"] == 400
    # nothing of the chain is optimised away: 20x the nodes take well over 2x the time
    assert large["ms_per_run_median"] > 2 * small["ms_per_run_median"] > 0


def test_bench_module_does_not_import_torch():
    code = "import sys, litehrnet_plus.benchmarks.latency; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_int8_calibration_refuses_test_folders(tmp_path):
    from litehrnet_plus.engine.quantize import calibration_crops

    with pytest.raises(UserError, match="test"):
        calibration_crops(tmp_path, subsets=("afw", "lfpw/testset"))
