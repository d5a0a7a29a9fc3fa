"""The model card (one record of what a model is), the model resolver, and safe loading."""
from __future__ import annotations

import pytest

from litehrnet_plus import hub
from litehrnet_plus.card import DEFAULT_CROP_SCALE, DEFAULT_INPUT_SIZE, ModelCard
from litehrnet_plus.codec import HeatmapCodec
from litehrnet_plus.errors import CheckpointError
from litehrnet_plus.resolve import resolve_spec

SHIPPED = "litehrnet_plus_10m.300w"


def test_card_round_trip_and_defaults():
    card = ModelCard(model="litehrnet_plus_30m", num_landmarks=98, scheme="wflw98", track_threshold=0.5,
                     training={"epoch": 3}, extra={"deploy": {"transforms": ["x"]}}, graph="deploy")
    assert ModelCard.from_json(card.to_json()) == card
    bare = ModelCard(model="m", num_landmarks=5)
    assert (bare.input_size, bare.crop_scale, bare.codec) == (DEFAULT_INPUT_SIZE, DEFAULT_CROP_SCALE, HeatmapCodec())
    assert set(bare.to_dict()) == {"model", "num_landmarks", "input_size", "crop_scale", "codec", "loss", "activation"}
    with pytest.raises(Exception):
        bare.num_landmarks = 6                       # frozen


@pytest.mark.parametrize("bad,match", [({"num_landmarks": 0}, "num_landmarks"), ({"num_landmarks": "68"}, "num_landmarks"),
                                       ({"num_landmarks": 68, "activation": "softmax"}, "activation"),
                                       ({"num_landmarks": 68, "crop_scale": 40}, "crop_scale"),
                                       ({"num_landmarks": 68, "codec": {"input_size": 64}}, "codec input size"),
                                       ({"num_landmarks": 68, "graph": "fancy"}, "graph")])
def test_bad_cards_name_the_source_and_field(bad, match):
    with pytest.raises(CheckpointError, match=f"model.onnx.*{match}"):
        ModelCard.from_dict({"model": "m", **bad}, "model.onnx")


def test_cards_of_files_written_before_cards_are_read():
    """The flat metadata of older exports and manifests: loose training keys move into the
    training record, unknown ones into extra, output_activation is the activation."""
    old = {"activation": "sigmoid", "codec": {"input_size": 96, "refine": "dark", "sigma": 1.0, "stride": 4},
           "crop_scale": 1.25, "deploy": {"format": "litehrnet_plus.deploy/1"}, "epoch": 119, "graph": "deploy",
           "input_size": 96, "loss": "bce", "model": "litehrnet_plus_10m", "num_landmarks": 68, "scheme": "ibug68",
           "tag": SHIPPED, "track_threshold": 0.49, "training_data": {"kind": "300w"}}
    card = ModelCard.from_dict(old)
    assert card.training == {"epoch": 119, "training_data": {"kind": "300w"}}
    assert card.extra == {"deploy": {"format": "litehrnet_plus.deploy/1"}} and card.track_threshold == 0.49
    if SHIPPED in hub.available():
        manifest = ModelCard.from_dict(hub.manifest(SHIPPED))
        assert manifest.activation == "sigmoid" and manifest.training["evaluation"]["faces"] == 224


def test_resolver_tells_names_tags_and_files_apart(tmp_path):
    assert resolve_spec("litehrnet_plus_10m").kind == "name"
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"x")
    ckpt = tmp_path / "m.pt"
    ckpt.write_bytes(b"x")
    assert resolve_spec(onnx).kind == "onnx" and resolve_spec(str(ckpt)).kind == "checkpoint"
    with pytest.raises(CheckpointError, match="no such model file"):
        resolve_spec(tmp_path / "absent.onnx")
    with pytest.raises(CheckpointError, match="no shipped weights of that name"):
        resolve_spec("litehrnet_plus_10m.nodata")
    config = tmp_path / "run.yaml"
    config.write_text("model: {name: litehrnet_plus_10m}\n")
    with pytest.raises(CheckpointError, match="run.yaml: a training config, not a model; train it"):
        resolve_spec(config)
    with pytest.raises(CheckpointError, match="export it to ONNX first"):
        resolve_spec(ckpt).file("onnx")
    with pytest.raises(CheckpointError, match="holds no PyTorch weights"):
        resolve_spec(onnx).file("pt")
    lite = tmp_path / "m.tflite"
    lite.write_bytes(b"x")
    assert resolve_spec(lite).kind == "tflite" and resolve_spec(lite).file("tflite") == lite
    with pytest.raises(CheckpointError, match="needs a .tflite one"):
        resolve_spec(onnx).file("tflite")
    with pytest.raises(CheckpointError, match="export it to LiteRT first"):
        resolve_spec(ckpt).file("tflite")
    if SHIPPED in hub.available():
        spec = resolve_spec(SHIPPED)
        assert spec.kind == "tag" and spec.name == "litehrnet_plus_10m"
        assert spec.file("onnx").name == f"{SHIPPED}.onnx" and spec.file("pt").name == f"{SHIPPED}.pt"
        assert resolve_spec("litehrnet_plus_10m").file("onnx") == spec.file("onnx")   # a bare name: its default weights


@pytest.mark.skipif(SHIPPED not in hub.available(), reason="weights are not shipped")
def test_create_model_follows_timm_semantics():
    torch = pytest.importorskip("torch")
    from litehrnet_plus.models import create_model

    shipped = create_model(SHIPPED, pretrained=True).state_dict()
    torch.manual_seed(0)
    fresh = create_model(SHIPPED).state_dict()             # a tag without pretrained=True loads nothing
    assert not all(torch.equal(shipped[k], fresh[k]) for k in shipped)
    wflw = create_model(SHIPPED, pretrained=True, num_landmarks=98)
    adapted = wflw.state_dict()
    changed = [k for k in adapted if k not in shipped or adapted[k].shape != shipped[k].shape]
    assert changed and all(adapted[k].shape[0] == 98 for k in changed if k.endswith("weight"))
    same = [k for k in adapted if k not in changed]
    assert len(same) > 0.9 * len(adapted) and all(torch.equal(adapted[k], shipped[k]) for k in same)


class _Exploit:
    def __reduce__(self):
        import os
        return (os.system, ("touch EXPLOITED",))


def test_a_checkpoint_holding_code_is_refused_not_run(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    from litehrnet_plus.engine.checkpoint import FORMAT, load_checkpoint

    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "evil.pt"
    torch.save({"format": FORMAT, "model_config": {}, "model": {}, "payload": _Exploit()}, evil)
    with pytest.raises(CheckpointError, match="could run code") as e:
        load_checkpoint(evil)
    assert not (tmp_path / "EXPLOITED").exists()
    # one whole sentence of ours, never PyTorch's advice to load it unsafely
    assert "weights_only" not in str(e.value) and str(e.value).endswith("could run code")
    assert "system" in str(e.value)
