"""Package a trained checkpoint as shipped weights: `<tag>.pt` (state dict + config),
`<tag>.onnx` (its deployment graph, checked against PyTorch to 1e-4 at export) and
`<tag>.json` (manifest with figures measured on the held-out lfpw/testset through the shipped
ONNX file), plus a CED plot in docs/. Ship the final epoch (`last.pt`): `best.pt` is chosen by
the validation NME, which is the test set here.

Run: python tools/ship_weights.py runs/ship_litehrnet_plus_30m_300w/last.pt litehrnet_plus_30m.300w --track-threshold benchmarks/tracking_threshold_litehrnet_plus_30m.json
"""
from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import torch

from litehrnet_plus.data.formats import load_300w
from litehrnet_plus.engine.checkpoint import card_of, load_checkpoint, model_from_checkpoint
from litehrnet_plus.evaluation import evaluate_samples
from litehrnet_plus.engine.deploy import export_deploy
from litehrnet_plus.engine.losses import activation_for
from litehrnet_plus.evaluation.plots import plot_ced
from litehrnet_plus.fileio import atomic_write_bytes, atomic_write_json
from litehrnet_plus.hub import WEIGHTS_DIR
from litehrnet_plus.inference.runtime import OnnxHeatmapModel
from litehrnet_plus.models import count_complexity, create_model
from litehrnet_plus.schemes import scheme_for

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("checkpoint")
    p.add_argument("tag", help="e.g. litehrnet_plus_30m.300w")
    p.add_argument("--root", default="../shared/data/300w")
    p.add_argument("--test", default="lfpw/testset")
    p.add_argument("--out", default=str(WEIGHTS_DIR))
    p.add_argument("--track-threshold", type=Path, default=None,
                   help="the JSON that tools/calibrate_tracking.py --json wrote for this model (its threshold "
                        "goes into the model card)")
    a = p.parse_args()

    state = load_checkpoint(a.checkpoint)
    model = model_from_checkpoint(state, a.checkpoint).eval()
    k = model.cfg.num_landmarks
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    card = card_of(state, a.checkpoint)
    threshold = json.loads(a.track_threshold.read_text())["threshold"] if a.track_threshold else None
    card = card.with_(tag=a.tag, track_threshold=threshold,
                      training={k_: v for k_, v in card.training.items() if k_ != "metrics"})

    weights = {"format": state["format"], "model_name": state["model_name"], "model_config": state["model_config"],
               "model": {k_: v.clone() for k_, v in model.state_dict().items()}, "loss": state["loss"],
               "codec": state["codec"], "scheme": state["scheme"], "crop_scale": state["crop_scale"],
               "tag": a.tag, "epoch": state["epoch"], "training_data": state["training_data"],
               "config": state.get("config", {}), "card": card.to_dict()}
    buf = io.BytesIO()
    torch.save(weights, buf)
    atomic_write_bytes(out / f"{a.tag}.pt", buf.getvalue())
    onnx_path = export_deploy(model, out / f"{a.tag}.onnx", card=card)

    # measure through the file users get
    samples = load_300w(a.root, a.test)
    rep, flip = (evaluate_samples(OnnxHeatmapModel(onnx_path, flip_test=f), samples, scheme_for(k),
                                  model.cfg.input_size, state["crop_scale"]) for f in (False, True))
    stages = _training_stages(state, _previous(out, a.tag), a.tag)
    cx = count_complexity(create_model(state["model_name"], num_landmarks=98, **_overrides(state)))
    manifest = {
        "tag": a.tag, "model": state["model_name"], "num_landmarks": k, "scheme": state["scheme"],
        "input_size": model.cfg.input_size, "codec": state["codec"], "crop_scale": state["crop_scale"],
        "loss": state["loss"], "output_activation": activation_for(state["loss"]),
        "training_data": state["training_data"], "epochs": sum(st["epochs"] for st in stages),
        "training_stages": stages,
        "train_config": stages[-1]["train_config"],
        "params": sum(t.numel() for t in model.parameters()),
        "mflops_paper_convention_k98": round(cx.flops / 1e6, 2),
        "evaluation": {"dataset": f"300w/{a.test}", "faces": rep.all["faces"],
                       "box": "tight ground-truth landmark box", "normaliser": "inter-ocular",
                       "nme": rep.all["nme"], "fr@0.10": rep.all["fr@0.10"],
                       "auc@0.10": rep.all["auc@0.10"],
                       "command": f"litehrnet-plus evaluate --model {a.tag} --dataset 300w "
                                  f"--root {a.root} --subset {a.test}",
                       "flip_test": {"nme": flip.all["nme"], "fr@0.10": flip.all["fr@0.10"],
                                     "auc@0.10": flip.all["auc@0.10"]}},
        "track_threshold": threshold,
        "license": "trained on 300-W: non-commercial research use only",
        "files": {"onnx": f"{a.tag}.onnx", "pytorch": f"{a.tag}.pt"},
        "onnx_graph": "deploy",
    }
    atomic_write_json(out / f"{a.tag}.json", manifest)
    ced = REPO / "docs" / f"ced_{a.tag.replace('.', '_')}.png"
    plot_ced({f"{a.tag} (NME {100 * rep.all['nme']:.2f}%)": rep.nme}, ced)
    print(json.dumps(manifest["evaluation"], indent=2))
    print(f"wrote {out / a.tag}.{{pt,onnx,json}} and {ced}")


def _previous(out: Path, tag: str) -> dict:
    """The manifest being replaced, if any: shipped .pt files from before they carried the
    training config keep its record when re-shipped."""
    path = out / f"{tag}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _training_stages(state: dict, previous: dict, tag: str) -> list[dict]:
    """The runs behind the weights, first to last. A run that continued from the tag being
    replaced (model.init_from) adds a stage to that tag's record; any other run starts one."""
    cfg = state.get("config", {})
    stage = {"epochs": state["epoch"] + 1, "init_from": (cfg.get("model") or {}).get("init_from"),
             "train_config": cfg.get("train") or previous.get("train_config", {})}
    if stage["init_from"] != tag or not previous:
        return [stage]
    before = previous.get("training_stages") or [
        {"epochs": previous["epochs"], "init_from": None, "train_config": previous.get("train_config", {})}]
    if len(before) > 1 and before[-1] == stage:       # the same run shipped again: not a new stage
        before = before[:-1]
    return before + [stage]


def _overrides(state: dict) -> dict:
    """Config fields that differ from the registered builder's (for the K=98 FLOPs figure)."""
    ref = create_model(state["model_name"]).cfg.to_dict()
    return {k: v for k, v in state["model_config"].items() if k != "num_landmarks" and ref.get(k) != v}


if __name__ == "__main__":
    main()
