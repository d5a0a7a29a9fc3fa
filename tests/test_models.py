"""Model family: registry, shapes, a training step, state-dict round trips, FLOPs figures of
the paper, and ONNX export parity with a dynamic batch."""
from __future__ import annotations

import numpy as np
import pytest

from litehrnet_plus.codecs import CODEC_KINDS

from litehrnet_plus.card import ModelCard
import torch

from litehrnet_plus.models import LiteHRNetConfig, count_complexity, create_model, list_models
from litehrnet_plus.models.fusion import ConvFusion, SCAFFusion

# every registered model: a new one is covered by the tests below without being listed here
NAMES = list_models()
# the rows of the paper's tables, which must stay registered
PAPER_ROWS = {"litehrnet_18", "litehrnet_30", "litehrnet_baseline", "litehrnet_plus_10m", "litehrnet_plus_30m",
              "litehrnet_plus_30m_pw", "litehrnet_plus_30m_bottleneck", "litehrnet_plus_30m_group"}
# Every ablation the paper runs, as overrides of the 10M model (small, fast).
ABLATIONS = [dict(fusion=f) for f in ("pw", "bottleneck", "group", "scaf")] + \
            [dict(head=h, iterative_head=it) for h in ("mr", "lite", "hrnetv2") for it in (True, False)] + \
            [dict(scaf_shared=True), dict(scaf_ratio=16), dict(widths=(16, 32, 64, 128), num_modules=(1, 1, 1))]


def _randomise(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Non-trivial BN statistics and weights, so parity checks are not trivially zero."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) * 0.2 - 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.num_features, generator=g) * 0.2 - 0.1)
            elif isinstance(m, torch.nn.Conv2d):
                fan_in = m.weight[0].numel()
                # 0.5/sqrt(fan_in): activations stay O(1) even through the doubled branch-0 paths
                m.weight.copy_(0.5 * torch.randn(m.weight.shape, generator=g) / fan_in ** 0.5)
    return model.eval()


def output_shape(model: torch.nn.Module, batch: int, k: int) -> tuple[int, ...]:
    """What a registered model returns for 96x96 crops, by its kind of output."""
    kind = model.output
    assert kind in CODEC_KINDS           # one vocabulary for a model's output and its codec
    if kind == "regression":
        return (batch, k, 2)
    if kind == "pip":
        return (batch, k * (3 + 2 * model.cfg.num_neighbours), 3, 3)
    assert kind == "heatmap"
    return (batch, k, 24, 24)


def test_registry_lists_every_model():
    assert PAPER_ROWS <= set(NAMES)
    with pytest.raises(KeyError, match="unknown model 'nope'"):
        create_model("nope")


@pytest.mark.parametrize("name, study_config, reference, flops_range", [
    ("litehrnet_plus_10m_fast", "latency_m121_w32_300w.yaml", "litehrnet_plus_10m", (0.95, 1.1)),
    ("litehrnet_plus_tiny", "latency_3br_m12_w32_300w.yaml", "litehrnet_plus_10m", (0.85, 0.95)),
    ("litehrnet_plus_30m_fast", "latency_30m_m121_w48_300w.yaml", "litehrnet_plus_30m", (0.5, 0.6)),
])
def test_fast_variants_are_the_latency_study_networks_they_were_chosen_from(name, study_config, reference,
                                                                           flops_range):
    """Each registered latency variant is its study config's network, with well under its
    reference model's ops (10M or 30M) at the FLOPs it was chosen for."""
    from litehrnet_plus.config_files import config_path
    from litehrnet_plus.engine.config import load_config
    from litehrnet_plus.engine.train import model_of_config

    study = load_config(config_path(study_config))
    fast, ref = create_model(name), create_model(reference)
    assert model_of_config(study).cfg == fast.cfg
    assert sum(fast.cfg.num_modules) < sum(ref.cfg.num_modules)
    ratio = count_complexity(fast).flops / count_complexity(ref).flops
    assert flops_range[0] < ratio < flops_range[1]
    convs = [sum(isinstance(m, torch.nn.Conv2d) for m in net.modules()) for net in (fast, ref)]
    assert convs[0] < 0.6 * convs[1]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("k", [68, 98])
def test_shapes(name, k):
    model = create_model(name, num_landmarks=k).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 96, 96))
    assert out.shape == output_shape(model, 2, k)
    assert model.cfg.num_landmarks == k and model.cfg.input_size == 96
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("overrides", ABLATIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
@pytest.mark.parametrize("k", [68, 98])
def test_ablations_build_and_train_a_step(overrides, k):
    torch.manual_seed(0)
    model = create_model("litehrnet_plus_10m", num_landmarks=k, **overrides)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, target = torch.rand(4, 3, 96, 96), torch.rand(4, k, 24, 24)
    before = [p.detach().clone() for p in model.parameters()]
    loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), target)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters()), "a parameter gets no gradient"
    opt.step()
    changed = sum(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    # a few attention FCs may sit behind a ReLU that is inactive for this tiny batch
    assert changed >= 0.9 * len(before)


def test_overrides_are_validated():
    with pytest.raises(ValueError, match="fusion must be one of"):
        create_model("litehrnet_plus_10m", fusion="magic")
    with pytest.raises(ValueError, match="head must be one of"):
        create_model("litehrnet_plus_10m", head="big")
    with pytest.raises(ValueError, match="one more entry"):
        create_model("litehrnet_plus_10m", widths=(24, 48))
    with pytest.raises(ValueError, match="quirk"):
        create_model("litehrnet_plus_10m", double_branch0=True)
    with pytest.raises(ValueError, match=r"no field\(s\) \['no_such_field'\]"):
        create_model("litehrnet_plus_10m", no_such_field=1)
    with pytest.raises(ValueError, match="no field"):
        create_model("dite_hrnet", fusion="pw")


def test_fusion_and_head_choices_reach_the_network():
    m = create_model("litehrnet_plus_30m")
    assert isinstance(m.stages[0][0].fusion, SCAFFusion) and m.iterative is None
    base = create_model("litehrnet_baseline")
    assert isinstance(base.stages[0][0].fusion, ConvFusion) and base.stages[0][0].fusion.double_branch0
    assert base.iterative is not None
    # a convolutional fusion gets the official quirk unless told otherwise (LiteHRNetConfig)
    pw = create_model("litehrnet_plus_10m", fusion="pw").stages[0][0].fusion
    assert isinstance(pw, ConvFusion) and pw.double_branch0 is True
    off = create_model("litehrnet_plus_10m", fusion="pw", double_branch0=False).stages[0][0].fusion
    assert isinstance(off, ConvFusion) and off.double_branch0 is False


@pytest.mark.parametrize("head", ["lite", "mr", "hrnetv2"])
def test_set_output_bias_sets_the_initial_output_of_every_head(head):
    torch.manual_seed(0)
    m = create_model("litehrnet_plus_10m", head=head, widths=(8, 16, 32, 64), num_modules=(1, 1, 1)).eval()
    m.head.set_output_bias(-4.5)
    with torch.no_grad():
        out = m(torch.rand(2, 3, 96, 96))
    # freshly initialised weights (std 0.001) add next to nothing to the bias
    assert out.shape == (2, 68, 24, 24) and (out + 4.5).abs().max().item() < 0.05


def test_double_branch0_matches_the_official_in_place_semantics():
    """The official forward: y = out[0]; y += out[0]; ... accumulates in place into out[0],
    so output i > 0 receives path_i0(pre-activation y0) twice."""
    torch.manual_seed(0)
    fusion = _randomise(ConvFusion([8, 16, 32], "pw", double_branch0=True))
    xs = [torch.rand(1, 8, 16, 16), torch.rand(1, 16, 8, 8), torch.rand(1, 32, 4, 4)]
    with torch.no_grad():
        ours = fusion([x.clone() for x in xs])
        out = [x.clone() for x in xs]
        official = []
        for i in range(3):
            y = out[0] if i == 0 else fusion.paths[i][0](out[0])
            for j in range(3):
                if i == j:
                    y += out[j]
                else:
                    y += fusion.paths[i][j](out[j])
            official.append(torch.relu(y))
    for a, b in zip(ours, official):
        torch.testing.assert_close(a, b)
    plain = ConvFusion([8, 16, 32], "pw", double_branch0=False)
    plain.load_state_dict(fusion.state_dict())
    with torch.no_grad():
        assert not torch.allclose(plain.eval()(xs)[0], ours[0])


def test_scaf_has_no_pointwise_convolution_on_feature_maps():
    """SCAF's only convolutions act on (B,C,1,1) pooled descriptors (the FC layers)."""
    fusion = SCAFFusion([24, 48, 96], ratio=4)
    shapes = []
    hooks = [m.register_forward_hook(lambda m, a, o: shapes.append(a[0].shape[-2:]))
             for m in fusion.modules() if isinstance(m, torch.nn.Conv2d)]
    fusion([torch.rand(1, 24, 16, 16), torch.rand(1, 48, 8, 8), torch.rand(1, 96, 4, 4)])
    for h in hooks:
        h.remove()
    assert shapes and all(tuple(s) == (1, 1) for s in shapes)
    # per-pair attention: n*(n-1) FC stacks with 2*C^2/r weights each
    fc = sum(p.numel() for n, p in fusion.named_parameters() if "weight" in n)
    assert fc == 2 * (2 * 24 * 24 // 4 + 2 * 48 * 48 // 4 + 2 * 96 * 96 // 4)


# Paper figures at 96x96, K=98 (Table 1, Table 2(a)) in its FLOPs convention.
PAPER = {"litehrnet_baseline": (0.66e6, 33.61e6, 0.01),
         "litehrnet_plus_30m": (1.51e6, 30.27e6, 0.05),
         "litehrnet_plus_10m": (0.37e6, 10.25e6, 0.05)}
ABLATION_FLOPS = {"litehrnet_plus_30m_pw": 29.67e6, "litehrnet_plus_30m_bottleneck": 29.29e6,
                  "litehrnet_plus_30m_group": 29.31e6, "litehrnet_plus_30m": 30.27e6}


@pytest.mark.parametrize("name", list(PAPER))
def test_flops_and_params_match_the_paper(name):
    params, flops, tol = PAPER[name]
    c = count_complexity(create_model(name, num_landmarks=98))
    assert abs(c.params - params) / params <= max(tol, 0.01)
    assert abs(c.flops - flops) / flops <= tol
    assert c.macs < c.flops  # plain MACs leave out norms, activations, pooling, upsampling
    assert sum(c.flops_by_block.values()) == c.flops and sum(c.params_by_block.values()) == c.params


def test_baseline_is_exact_in_the_paper_convention():
    c = count_complexity(create_model("litehrnet_baseline", num_landmarks=98))
    assert (c.params, c.flops) == (656_888, 33_614_408)
    assert count_complexity(create_model("litehrnet_baseline", num_landmarks=68)).flops < c.flops


@pytest.mark.parametrize("name", list(ABLATION_FLOPS))
def test_fusion_ablations_match_table_2a(name):
    c = count_complexity(create_model(name, num_landmarks=98))
    assert abs(c.flops - ABLATION_FLOPS[name]) / ABLATION_FLOPS[name] <= 0.05


def test_fusion_dominates_lite_hrnet_but_not_lite_hrnet_plus():
    """Paper Fig. 2: fusion is Lite-HRNet's most expensive block; SCAF removes most of it."""
    base = count_complexity(create_model("litehrnet_baseline", num_landmarks=98)).flops_by_block
    assert max(base, key=base.get) == "fusion"
    plus = count_complexity(create_model("litehrnet_plus_30m", num_landmarks=98)).flops_by_block
    pw = count_complexity(create_model("litehrnet_plus_30m", num_landmarks=98, fusion="pw")).flops_by_block
    assert plus["fusion"] < 0.2 * pw["fusion"]


def test_conv_flop_formula_on_a_single_layer():
    from litehrnet_plus.models.flops import layer_counts
    conv = torch.nn.Conv2d(8, 16, 3, padding=1, groups=2, bias=True)
    out = conv(torch.rand(1, 8, 10, 10))
    flops, macs = layer_counts(conv, None, out)
    assert macs == 100 * 16 * 9 * 4 and flops == macs + 100 * 16


@pytest.mark.parametrize("name", ["litehrnet_plus_10m", "litehrnet_baseline"])
def test_state_dict_round_trip(name, tmp_path):
    a = _randomise(create_model(name, num_landmarks=68), seed=1)
    torch.save(a.state_dict(), tmp_path / "w.pt")
    b = create_model(name, num_landmarks=68).eval()
    b.load_state_dict(torch.load(tmp_path / "w.pt"))
    x = torch.rand(2, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(a(x), b(x))


def test_config_round_trip():
    cfg = create_model("litehrnet_plus_30m", num_landmarks=98).cfg
    assert LiteHRNetConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown model config keys"):
        LiteHRNetConfig.from_dict({**cfg.to_dict(), "bogus": 1})


@pytest.mark.parametrize("name", NAMES)
def test_onnx_export_matches_pytorch_with_dynamic_batch(name, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from litehrnet_plus.engine.export import export_onnx

    model = _randomise(create_model(name, num_landmarks=68))
    path = export_onnx(model, tmp_path / "m.onnx", card=ModelCard(model=name, num_landmarks=68, activation="none"))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        x = np.random.default_rng(batch).random((batch, 3, 96, 96), dtype=np.float32)
        got = sess.run(None, {"image": x})[0]
        with torch.no_grad():
            ref = model(torch.from_numpy(x)).numpy()
        assert got.shape == output_shape(model, batch, 68)
        scale = max(1.0, float(np.abs(ref).max()))
        assert np.abs(got - ref).max() <= 1e-4 * scale


def test_flops_command_writes_table_json_and_chart(tmp_path, capsys):
    import json

    from litehrnet_plus.cli import main

    js, png = tmp_path / "f.json", tmp_path / "f.png"
    assert main(["flops", "--model", "litehrnet_baseline", "--landmarks", "98", "--json", str(js), "--plot", str(png)]) == 0
    table = capsys.readouterr().out
    assert "| litehrnet_baseline | 0.657 | 33.61 | 30.09 |" in table
    data = json.loads(js.read_text())["litehrnet_baseline"]
    assert data["flops"] == 33_614_408
    assert set(data["blocks"]) == {"stem", "transition", "ccw", "fusion", "head", "backbone"}
    assert data["blocks"]["backbone"]["flops"] == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert main(["flops", "--model", "litehrnet_baseline", "--json", str(js)]) == 2    # exists: needs --overwrite
