"""Training and evaluation engine: codec, losses, metrics, config checks, training, resume,
DDP, and the evaluate command."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from litehrnet_plus.codec import HeatmapCodec
from litehrnet_plus.engine.checkpoint import load_checkpoint
from litehrnet_plus.engine.config import config_from_dict
from litehrnet_plus.engine.losses import heatmap_loss
from litehrnet_plus.evaluation.metrics import auc, failure_rate, normalising_distance, per_face_nme
from litehrnet_plus.engine.train import learning_rate, train
from litehrnet_plus.errors import CheckpointError, ConfigError
from litehrnet_plus.schemes import IBUG68, WFLW98

from synthetic import make_300w, tiny_config

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- codec
@pytest.mark.parametrize("refine,tol", [("dark", 0.05), ("quarter", 0.36), ("none", 0.71)])
def test_codec_round_trip(refine, tol):
    codec = HeatmapCodec(refine=refine)
    rng = np.random.default_rng(0)
    # faces fill the crop's centre; keep 3 heatmap pixels from the border, where the blur of
    # the Taylor refinement sees a truncated Gaussian
    pts = rng.uniform(12, 84, size=(200, 2)).astype(np.float32)
    heatmaps, weights = codec.encode(pts)
    assert heatmaps.shape == (200, 24, 24) and weights.all()
    # off-grid centres: the peak sample is exp(-(dx^2+dy^2)/2) with |dx|,|dy| <= 0.5
    assert (heatmaps.max(axis=(1, 2)) >= np.exp(-0.25) - 1e-6).all()
    decoded, scores = codec.decode(heatmaps[None])
    err = np.abs(decoded[0] - pts).max() / codec.stride          # in heatmap pixels
    assert err < tol
    assert scores.shape == (1, 200)


def test_dark_is_the_default_and_beats_quarter_offset():
    rng = np.random.default_rng(1)
    pts = rng.uniform(8, 88, size=(300, 2)).astype(np.float32)
    errs = {}
    for refine in ("dark", "quarter", "none"):
        c = HeatmapCodec(refine=refine)
        errs[refine] = np.abs(c.decode(c.encode(pts)[0])[0] - pts).mean()
    assert HeatmapCodec().refine == "dark"
    assert errs["dark"] < errs["quarter"] < errs["none"]


def _dark_reference(hm: np.ndarray, sigma: float) -> np.ndarray:
    """DARK written out plainly for one (H, W) map: blur the whole map (zero padding), replicate
    the blurred map's edge, log, one Newton step from the argmax; offsets in heatmap pixels."""
    r = max(1, int(np.ceil(3 * sigma)))
    t = np.arange(-r, r + 1)
    kern = np.exp(-t ** 2 / (2 * sigma ** 2))
    kern /= kern.sum()
    h, w = hm.shape
    padded = np.pad(hm.astype(np.float64), r)
    rows = sum(kern[i] * padded[i:i + h, :] for i in range(2 * r + 1))
    blur = sum(kern[i] * rows[:, i:i + w] for i in range(2 * r + 1))
    y, x = np.unravel_index(hm.argmax(), hm.shape)
    L = np.log(np.maximum(np.pad(blur, 1, mode="edge"), 1e-10))[y:y + 3, x:x + 3]
    gx, gy = (L[1, 2] - L[1, 0]) / 2, (L[2, 1] - L[0, 1]) / 2
    hxx, hyy = L[1, 2] - 2 * L[1, 1] + L[1, 0], L[2, 1] - 2 * L[1, 1] + L[0, 1]
    hxy = (L[2, 2] - L[0, 2] - L[2, 0] + L[0, 0]) / 4
    det = hxx * hyy - hxy ** 2
    if not (det > 1e-12 and hxx < 0):
        return np.array([x, y], np.float64)
    off = np.clip([-(hyy * gx - hxy * gy) / det, -(hxx * gy - hxy * gx) / det], -1, 1)
    return np.array([x, y]) + off


def test_dark_equals_the_plain_definition_everywhere_including_the_border():
    """The codec smooths only 3x3 windows and clamps rows and columns at the border; that must
    be exactly DARK on the whole blurred, edge-replicated map, wherever the peak lies."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:24, 0:24]
    maps = []
    for _ in range(120):
        x, y = rng.choice([rng.uniform(-0.6, 1.5), rng.uniform(21.5, 23.6), rng.uniform(2, 21)], 2)
        sharp = rng.uniform(0.6, 2.0)
        maps.append(0.9 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sharp ** 2))
                    + 0.02 * rng.random((24, 24)))
    maps = np.asarray(maps, np.float32)
    codec = HeatmapCodec()
    got = codec.decode(maps[None])[0][0] / codec.stride
    want = np.array([_dark_reference(m, codec.sigma) for m in maps])
    assert np.abs(got - want).max() < 1e-4
    # the refinement moved most of them (at the border the replicated edge often stops the step)
    assert (np.abs(got - np.round(got)) > 1e-3).mean() > 0.5


def test_codec_masks_points_outside_the_heatmap():
    hm, w = HeatmapCodec().encode(np.array([[48, 48], [500, 48], [np.nan, 3]], np.float32))
    assert w.tolist() == [1.0, 0.0, 0.0] and hm[1].max() == 0 and hm[2].max() == 0


# ----------------------------------------------------------------------------- losses & metrics
def test_mean_target_is_the_gaussian_mass_over_the_map():
    # a unit Gaussian's discrete sum is 2*pi*sigma^2 to ~1e-8 (Poisson summation)
    for sigma, size in ((1.0, 96), (2.0, 256)):
        codec = HeatmapCodec(input_size=size, sigma=sigma)
        assert codec.mean_target() == pytest.approx(2 * np.pi * sigma ** 2 / codec.heatmap_size ** 2, rel=1e-5)


def test_losses_weight_out_masked_landmarks():
    logits, target = torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4)
    target[0, 1] = 1.0
    assert heatmap_loss("mse", logits, target, torch.tensor([[1.0, 0.0]])).item() == 0.0
    assert heatmap_loss("mse", logits, target, torch.tensor([[0.0, 1.0]])).item() == pytest.approx(1.0)
    assert heatmap_loss("bce", logits, target, torch.tensor([[1.0, 1.0]])).item() == pytest.approx(np.log(2))
    with pytest.raises(ValueError, match="unknown loss"):
        heatmap_loss("l1", logits, target, torch.ones(1, 2))


def test_nme_failure_rate_auc_by_hand():
    gt = np.zeros((2, 68, 2))
    gt[:, 36] = [0, 0]
    gt[:, 45] = [10, 0]                                           # inter-ocular distance 10
    pred = gt.copy()
    pred[0] += [0.3, 0.4]                                         # every point off by 0.5 -> NME 0.05
    pred[1] += [1.2, 1.6]                                         # off by 2.0 -> NME 0.20
    nme = per_face_nme(pred, gt, normalising_distance(gt, IBUG68))
    np.testing.assert_allclose(nme, [0.05, 0.20])
    assert failure_rate(nme, 0.10) == 0.5
    # CED: 0 below 0.05, 0.5 from 0.05 to 0.10 -> area 0.5 * 0.05 / 0.10 = 0.25
    assert auc(nme, 0.10) == pytest.approx(0.25, abs=1e-3)
    assert auc(np.zeros(5)) == pytest.approx(1.0, abs=1e-3)


def test_normalisers():
    gt = np.random.default_rng(0).uniform(0, 100, (3, 98, 2))
    np.testing.assert_allclose(normalising_distance(gt, WFLW98, "inter-ocular"),
                               np.linalg.norm(gt[:, 60] - gt[:, 72], axis=1))
    np.testing.assert_allclose(normalising_distance(gt, WFLW98, "inter-pupil"),
                               np.linalg.norm(gt[:, 96] - gt[:, 97], axis=1))
    wh = gt.max(1) - gt.min(1)
    np.testing.assert_allclose(normalising_distance(gt, WFLW98, "box"), np.sqrt(wh[:, 0] * wh[:, 1]))


# ----------------------------------------------------------------------------- config
def test_config_rejects_unknown_keys_and_wrong_types():
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['lr_max'\]"):
        config_from_dict({"train": {"lr_max": 1}}, "c.yaml")
    with pytest.raises(ConfigError, match="c.yaml.train.epochs: expected int, got str"):
        config_from_dict({"train": {"epochs": "ten"}}, "c.yaml")
    with pytest.raises(ConfigError, match="train.loss must be"):
        config_from_dict({"train": {"loss": "l2"}}, "c.yaml")
    cfg = config_from_dict({"train": {"lr": 1}})                  # int accepted where float is expected
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)


def test_every_shipped_config_parses():
    from litehrnet_plus.engine.config import load_config
    from litehrnet_plus.models import list_models

    from litehrnet_plus.config_files import shipped_configs

    paths = sorted(shipped_configs().values())
    assert len(paths) >= 70
    for p in paths:
        cfg = load_config(p)
        assert cfg.model.name in list_models()


def test_learning_rate_schedules():
    cfg = config_from_dict({"train": {"epochs": 210, "milestones": [170, 200], "gamma": 0.1}})
    assert learning_rate(cfg, 0, 0, 10) == pytest.approx(0.002)
    assert learning_rate(cfg, 170, 0, 10) == pytest.approx(0.0002)
    assert learning_rate(cfg, 205, 3, 10) == pytest.approx(0.00002)
    cos = config_from_dict({"train": {"epochs": 10, "schedule": "cosine"}})
    assert learning_rate(cos, 5, 0, 10) == pytest.approx(0.001)


# ----------------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    return make_300w(tmp_path_factory.mktemp("data"), {"afw": 12, "lfpw/testset": 4})


def _weights(path: Path) -> dict:
    return load_checkpoint(path)["model"]


def test_training_writes_checkpoints_log_and_refuses_overwrite(tiny_data, tmp_path):
    cfg = config_from_dict(tiny_config(tiny_data, tmp_path / "run", epochs=2))
    result = train(cfg, progress=False, log=lambda *a: None)
    out = tmp_path / "run"
    assert {"last.pt", "best.pt", "log.csv", "config.yaml"} <= {p.name for p in out.iterdir()}
    rows = (out / "log.csv").read_text().strip().splitlines()
    assert rows[0].startswith("epoch,lr,train_loss") and len(rows) == 3
    assert np.isfinite(result["best_val_nme"])
    state = load_checkpoint(out / "last.pt")
    assert state["epoch"] == 1 and state["loss"] == "bce" and state["codec"]["input_size"] == 96
    with pytest.raises(FileExistsError, match="--resume"):
        train(cfg, progress=False, log=lambda *a: None)


def test_resume_equals_uninterrupted(tiny_data, tmp_path):
    full = config_from_dict(tiny_config(tiny_data, tmp_path / "full", epochs=3))
    train(full, progress=False, log=lambda *a: None)
    part = config_from_dict(tiny_config(tiny_data, tmp_path / "part", epochs=3))
    part.train.epochs = 2                                         # "interrupted" after epoch 2 ...
    train(part, progress=False, log=lambda *a: None)
    part.train.epochs = 3                                         # ... resumed to the end
    train(part, resume=True, progress=False, log=lambda *a: None)
    a, b = _weights(tmp_path / "full" / "last.pt"), _weights(tmp_path / "part" / "last.pt")
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_resume_refuses_a_checkpoint_of_another_model(tiny_data, tmp_path):
    cfg = config_from_dict(tiny_config(tiny_data, tmp_path / "run", epochs=1))
    train(cfg, progress=False, log=lambda *a: None)
    cfg.model.overrides["widths"] = [12, 24, 48, 96]
    with pytest.raises(CheckpointError, match="another model config"):
        train(cfg, resume=True, progress=False, log=lambda *a: None)


def _cli(*args: str, env_extra: dict | None = None, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "litehrnet_plus.cli", *args], capture_output=True,
                          text=True, env=env, **kw)


def test_two_process_gloo_ddp_training(tiny_data, tmp_path):
    cfg_path = tmp_path / "ddp.yaml"
    cfg_path.write_text(yaml.safe_dump(tiny_config(tiny_data, tmp_path / "ddp", epochs=1)))
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
         "-m", "litehrnet_plus.cli", "train", str(cfg_path), "--quiet"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = load_checkpoint(tmp_path / "ddp" / "last.pt")
    assert state["epoch"] == 0 and all(torch.isfinite(v.float()).all() for v in state["model"].values())


def test_train_cli_reports_config_errors_without_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  epochs: [1, 2]\n")
    proc = _cli("train", str(bad))
    assert proc.returncode == 2
    assert "bad.yaml" in proc.stderr and "train.epochs" in proc.stderr and "Traceback" not in proc.stderr


# ----------------------------------------------------------------------------- evaluate
def test_evaluate_cli_on_a_checkpoint(tiny_data, tmp_path):
    cfg = config_from_dict(tiny_config(tiny_data, tmp_path / "run", epochs=1))
    train(cfg, progress=False, log=lambda *a: None)
    report, ced = tmp_path / "rep.json", tmp_path / "ced.png"
    proc = _cli("evaluate", "--model", str(tmp_path / "run" / "best.pt"), "--dataset", "300w",
                "--root", str(tiny_data), "--subset", "afw,lfpw/testset", "--json", str(report),
                "--ced", str(ced))
    assert proc.returncode == 0, proc.stderr[-2000:]
    rep = json.loads(report.read_text())
    assert rep["all"]["faces"] == 16 and set(rep["subsets"]) == {"afw", "lfpw/testset"}
    assert 0 <= rep["all"]["fr@0.10"] <= 1 and 0 <= rep["all"]["auc@0.10"] <= 1
    assert ced.read_bytes()[:4] == b"\x89PNG"
    again = _cli("evaluate", "--model", str(tmp_path / "run" / "best.pt"), "--dataset", "300w",
                 "--root", str(tiny_data), "--subset", "afw", "--json", str(report))
    assert again.returncode == 2 and "--overwrite" in again.stderr


@pytest.mark.realdata
def test_evaluate_cli_on_wflw_partial_reports_every_attribute(tmp_path):
    """`evaluate` on the real WFLW layout (98 points; an untrained model: the report's
    structure and counts are what is checked, not the accuracy)."""
    from conftest import DATA
    from litehrnet_plus.data.formats import WFLW_ATTRIBUTES, load_wflw

    root = DATA / "wflw-partial"
    onnx = tmp_path / "r98.onnx"
    assert _cli("export", "--model", "litehrnet_plus_10m", str(onnx), "--landmarks", "98", "--graph", "plain").returncode == 0
    report = tmp_path / "wflw.json"
    proc = _cli("evaluate", "--model", str(onnx), "--dataset", "wflw", "--root", str(root), "--json", str(report),
                "--threads", "1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(report.read_text())
    samples = load_wflw(root, "test")
    assert doc["all"]["faces"] == len(samples) == 206
    for attr in WFLW_ATTRIBUTES:
        assert doc["attributes"][attr]["faces"] == sum(s.attributes[attr] == 1 for s in samples), attr
        assert attr in proc.stdout


def test_evaluate_rejects_a_checkpoint_with_another_landmark_count(tmp_path):
    from litehrnet_plus.engine.checkpoint import model_from_checkpoint, save_checkpoint
    from litehrnet_plus.models import create_model

    m = create_model("litehrnet_plus_10m", num_landmarks=98)
    save_checkpoint(tmp_path / "m.pt", {"model_config": m.cfg.to_dict(), "model": m.state_dict()})
    with pytest.raises(CheckpointError, match="98 landmarks, 68 were asked"):
        model_from_checkpoint(load_checkpoint(tmp_path / "m.pt"), "m.pt", num_landmarks=68)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt: not a readable"):
        load_checkpoint(tmp_path / "junk.pt")


def test_mean_shape_baseline(tiny_data):
    from litehrnet_plus.data.formats import load_300w
    from litehrnet_plus.evaluation import MeanShapePredictor, evaluate_samples
    from litehrnet_plus.schemes import IBUG68

    samples = load_300w(tiny_data, "afw")
    one = samples[:1]
    assert evaluate_samples(MeanShapePredictor(one, 96), one, IBUG68, 96).all["nme"] < 1e-4
    rep = evaluate_samples(MeanShapePredictor(samples, 96), samples, IBUG68, 96)
    assert 0 < rep.all["nme"] < 0.5


@pytest.mark.parametrize("loss,prior", [("bce", True), ("bce", False), ("mse", True)])
def test_bce_training_starts_its_output_bias_at_the_target_prior(tiny_data, tmp_path, loss, prior):
    # a vanishing lr keeps the initial bias: the MR head's per-branch biases sum to the output's
    cfg = config_from_dict(tiny_config(tiny_data, tmp_path / "run", epochs=1, lr=1e-12, loss=loss,
                                       output_prior=prior))
    train(cfg, progress=False, log=lambda *a: None)
    w = _weights(tmp_path / "run" / "last.pt")
    total = sum(v for k, v in w.items() if k.startswith("head.convs.") and k.endswith(".bias"))
    p = HeatmapCodec().mean_target()
    expected = np.log(p / (1 - p)) if (loss == "bce" and prior) else 0.0
    assert total.shape == (68,) and torch.allclose(total, torch.full((68,), expected), atol=1e-6)


def test_init_from_a_checkpoint_and_from_shipped_weights(tiny_data, tmp_path):
    from litehrnet_plus import hub
    from litehrnet_plus.engine.checkpoint import init_from
    from litehrnet_plus.models import create_model
    from synthetic import TINY_MODEL

    cfg = config_from_dict(tiny_config(tiny_data, tmp_path / "a", epochs=1))
    train(cfg, progress=False, log=lambda *a: None)
    src = _weights(tmp_path / "a" / "last.pt")

    same = create_model("litehrnet_plus_10m", num_landmarks=68, **TINY_MODEL)
    assert init_from(same, str(tmp_path / "a" / "last.pt"), log=lambda *a: None) == []
    assert all(torch.equal(v, src[k]) for k, v in same.state_dict().items())

    # another landmark count: everything but the layers that output landmarks is copied
    five = create_model("litehrnet_plus_10m", num_landmarks=5, **TINY_MODEL)
    fresh = init_from(five, str(tmp_path / "a" / "last.pt"), log=lambda *a: None)
    assert fresh and all(five.state_dict()[k].shape[0] == 5 for k in fresh if k.endswith("weight"))
    kept = [k for k in five.state_dict() if k not in fresh]
    assert all(torch.equal(five.state_dict()[k], src[k]) for k in kept)

    wider = create_model("litehrnet_plus_10m", num_landmarks=68, **{**TINY_MODEL, "widths": [12, 24, 48, 96]})
    with pytest.raises(CheckpointError, match="tensors fit this model"):
        init_from(wider, str(tmp_path / "a" / "last.pt"), log=lambda *a: None)

    # fine-tuning a shipped 68-point model for 98 WFLW points
    if "litehrnet_plus_10m.300w" in hub.available():
        wflw = create_model("litehrnet_plus_10m", num_landmarks=98)
        fresh = init_from(wflw, "litehrnet_plus_10m.300w", log=lambda *a: None)
        assert 0 < len(fresh) <= 8 and all(wflw.state_dict()[k].shape[0] == 98 for k in fresh if k.endswith("weight"))

    # the training loop starts from those weights (a vanishing lr keeps them)
    ft = tiny_config(tiny_data, tmp_path / "ft", epochs=1, lr=1e-12)
    ft["model"]["init_from"] = str(tmp_path / "a" / "last.pt")
    train(config_from_dict(ft), progress=False, log=lambda *a: None)
    tuned = _weights(tmp_path / "ft" / "last.pt")
    convs = [k for k in src if k.endswith("weight") and src[k].ndim == 4]
    assert max((tuned[k] - src[k]).abs().max().item() for k in convs) < 1e-8


def test_shipped_configs_by_name(capsys, monkeypatch):
    from litehrnet_plus.cli import main
    from litehrnet_plus.config_files import config_path
    from litehrnet_plus.engine.train import default_threads
    from litehrnet_plus.errors import ConfigError

    assert main(["configs"]) == 0
    listing = capsys.readouterr().out
    assert "ship_litehrnet_plus_30m_300w" in listing and "300w_litehrnet_plus_10m_bce" in listing
    p = config_path("ship_litehrnet_plus_10m_300w")
    assert p.is_file() and p.parent.name == "ship" and p.parent.parent.name == "configs"
    assert config_path("ship_litehrnet_plus_10m_300w.yaml") == p
    with pytest.raises(ConfigError, match="litehrnet-plus configs"):
        config_path("no_such_config")
    assert main(["configs", "ship_litehrnet_plus_10m_300w"]) == 0
    assert capsys.readouterr().out == p.read_text()
    # torch threads: what was asked, else the cores minus one (at least one)
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert default_threads(3) == 3 and default_threads(0) == 7 and default_threads(0, world=4) == 1
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert default_threads(0) == 1


def test_the_shipped_configs_are_laid_out_by_purpose_and_inherit_bases_only(capsys):
    """A folder per purpose, names unique across folders, a config inherits bases only (never
    another run's config), bases live in bases/, and `configs NAME --resolved` prints the merged
    config with its chain."""
    import yaml

    from litehrnet_plus.cli import main
    from litehrnet_plus.config_files import CONFIGS_DIR, PURPOSES, shipped_configs
    from litehrnet_plus.engine.config import base_file, load_config_data

    configs = shipped_configs()
    assert sorted(p.name for p in CONFIGS_DIR.iterdir() if p.is_dir()) == sorted(PURPOSES)
    assert len(configs) == len(list(CONFIGS_DIR.rglob("*.yaml")))
    longest = 0
    for name, path in configs.items():
        assert (path.parent.name == "bases") == name.startswith("_base_"), name
        chain, p = [name], path
        while base := (yaml.safe_load(p.read_text()) or {}).get("base"):
            p = base_file(p, base)
            assert p.parent.name == "bases", f"{name} inherits {p.stem}, which is not a base"
            chain.append(p.stem)
        longest = max(longest, len(chain))
    assert longest <= 7
    assert main(["configs", "pose_litehrnet_plus_30m_300w_mix", "--resolved"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# pose_litehrnet_plus_30m_300w_mix <- _base_pose_mix_300w <- _base_pose_300w")
    resolved = yaml.safe_load(out)
    raw = load_config_data(configs["pose_litehrnet_plus_30m_300w_mix"])
    assert resolved["data"]["share"] == raw["data"]["share"] == 0.5
    assert resolved["model"]["init_from"] == "litehrnet_plus_30m.300w" and resolved["augment"]["hue"] == 10.0


def test_configs_inherit_from_a_base(tmp_path):
    from litehrnet_plus import hub
    from litehrnet_plus.config_files import config_path
    from litehrnet_plus.engine.config import load_config

    (tmp_path / "parent.yaml").write_text("base: _base_300w\ntrain: {epochs: 7, lr: 0.001}\n")
    (tmp_path / "child.yaml").write_text("base: parent.yaml\ntrain: {epochs: 3}\nmodel: {name: litehrnet_plus_30m}\n")
    cfg = load_config(tmp_path / "child.yaml", ["train.batch_size=8"])
    # own keys win, the parent's stay, the shipped base (by name) fills in the rest
    assert (cfg.train.epochs, cfg.train.lr, cfg.train.batch_size) == (3, 0.001, 8)
    assert cfg.train.milestones == [170, 200] and cfg.augment.rotation_deg == 90.0 and cfg.data.kind == "300w"
    assert cfg.model.name == "litehrnet_plus_30m" and cfg.augment.scale_range == (0.75, 1.25)
    (tmp_path / "a.yaml").write_text("base: b.yaml\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\n")
    with pytest.raises(ConfigError, match="loops back"):
        load_config(tmp_path / "a.yaml")
    (tmp_path / "c.yaml").write_text("base: nothing_here.yaml\n")
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "c.yaml")
    with pytest.raises(ConfigError, match="codec.*multiple of stride"):
        load_config(tmp_path / "child.yaml", ["codec.input_size=98"])
    # every shipped model's configs still say what its runs used (the manifest's record of
    # each training stage), and every shipped model is listed here
    stage_configs = {
        "litehrnet_plus_10m.300w": ["ship_litehrnet_plus_10m_300w", "finetune_litehrnet_plus_10m_300w_robust_mild",
                                    "pose_litehrnet_plus_10m_300w_mix_long"],
        "litehrnet_plus_10m_fast.300w": ["ship_litehrnet_plus_10m_fast_300w", "pose_litehrnet_plus_10m_fast_300w_mix_long"],
        "litehrnet_plus_30m_fast.300w": ["ship_litehrnet_plus_30m_fast_300w", "pose_litehrnet_plus_30m_fast_300w_mix_long"],
        "litehrnet_plus_tiny.300w": ["ship_litehrnet_plus_tiny_300w", "finetune_litehrnet_plus_tiny_300w_robust_mild",
                                     "pose_litehrnet_plus_tiny_300w_mix_long"],
        "litehrnet_plus_30m.300w": ["ship_litehrnet_plus_30m_300w", "continue_litehrnet_plus_30m_300w",
                                    "finetune_litehrnet_plus_30m_300w_robust_mild", "pose_litehrnet_plus_30m_300w_mix_long"]}
    assert set(hub.available()) <= set(stage_configs)
    for tag in hub.available():
        stages = hub.manifest(tag)["training_stages"]
        assert len(stages) == len(stage_configs[tag]), tag
        for stage, name in zip(stages, stage_configs[tag]):
            recorded = stage["train_config"]
            shipped = load_config(config_path(name)).to_dict()["train"]
            assert {k: v for k, v in shipped.items() if k in recorded and k != "threads"} == \
                   {k: v for k, v in recorded.items() if k != "threads"}, (tag, name)


def test_training_needs_a_data_root(tmp_path):
    cfg = config_from_dict({"out": str(tmp_path / "run")})
    with pytest.raises(ConfigError, match="data.root is not set"):
        train(cfg, progress=False, log=lambda *a: None)
