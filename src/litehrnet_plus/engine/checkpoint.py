"""Checkpoints: written atomically, self-describing (the model card, model config, loss, codec,
scheme), and checked on load (another model or landmark count is a clear error, not a shape
traceback). They are read with `weights_only=True`: tensors, numbers, strings, lists and dicts
only, so a checkpoint from elsewhere cannot run code when it is loaded."""
from __future__ import annotations

import io
import pickle
import re
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..card import ModelCard
from ..codec import HeatmapCodec
from ..codecs import Codec, PIPCodec, RegressionCodec, nearest_neighbours
from ..errors import CheckpointError
from ..fileio import atomic_write_bytes
from ..models import create_model
from ..models.registry import model_from_config
from ..resolve import resolve_spec
from .losses import DEFAULT_LOSS, activation_for

FORMAT = "litehrnet_plus.checkpoint/1"


def save_checkpoint(path: str | Path, state: dict) -> None:
    buf = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: str | Path) -> dict:
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: no such checkpoint")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a corrupt/foreign file
        # PyTorch's own message goes on to suggest weights_only=False: never for a file from elsewhere
        found = re.search(r"(GLOBAL|Unsupported global:?) ([\w.]+)", str(e))
        if isinstance(e, pickle.UnpicklingError) and found:
            raise CheckpointError(f"{p}: holds Python objects other than tensors, numbers and text (it asks for "
                                  f"{found.group(2)}); they are not loaded, since unpickling them could run code") from None
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        first = first.split(" In PyTorch 2.6")[0]
        raise CheckpointError(f"{p}: not a readable PyTorch checkpoint ({type(e).__name__}: {first[:200]})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{p}: not a litehrnet-plus checkpoint (missing format {FORMAT!r})")
    for key in ("model_config", "model"):
        if key not in state:
            raise CheckpointError(f"{p}: checkpoint lacks {key!r}")
    return state


def model_from_checkpoint(state: dict, source: str = "checkpoint", num_landmarks: int | None = None) -> nn.Module:
    name = state.get("model_name") or (state.get("card") or {}).get("model", "")
    try:
        model = model_from_config(name, dict(state["model_config"]))
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{source}: bad model config ({e})") from e
    cfg = model.cfg
    if num_landmarks is not None and num_landmarks != cfg.num_landmarks:
        raise CheckpointError(f"{source}: has {cfg.num_landmarks} landmarks, {num_landmarks} were asked for")
    load_state(model, state["model"], source)
    return model


def load_state(model: nn.Module, state_dict: dict, source: str) -> None:
    """load_state_dict with an error that says which model the weights belong to."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shapes = [k for k in own if k in state_dict and tuple(own[k].shape) != tuple(state_dict[k].shape)]
    if missing or unexpected or shapes:
        detail = []
        if shapes:
            k = shapes[0]
            detail.append(f"{len(shapes)} shape mismatches, e.g. {k}: {tuple(state_dict[k].shape)} vs "
                          f"{tuple(own[k].shape)}")
        if missing:
            detail.append(f"{len(missing)} missing tensors, e.g. {missing[0]}")
        if unexpected:
            detail.append(f"{len(unexpected)} unexpected tensors, e.g. {unexpected[0]}")
        raise CheckpointError(f"{source}: weights do not fit this model ({'; '.join(detail)}) -- "
                              "a checkpoint of another model or landmark count?")
    model.load_state_dict(state_dict)


def init_from(model: nn.Module, spec: str, log=print) -> list[str]:
    """Start training from other weights (fine-tuning): `spec` is a shipped tag
    ("litehrnet_plus_10m.300w") or a checkpoint path; what fits is copied
    (models/pretrained.load_fitting). Returns the names left at init."""
    from ..models.pretrained import load_fitting

    path = resolve_spec(spec).file("pt")
    return load_fitting(model, load_checkpoint(path)["model"], str(path), log)


def card_of(state: dict, source: str = "checkpoint") -> ModelCard:
    """The model card of a checkpoint state: its "card" entry, or, for files written before
    cards existed (the shipped .pt files among them), one assembled from its entries."""
    if isinstance(state.get("card"), dict):
        return ModelCard.from_dict(state["card"], source)
    cfg = state["model_config"]
    loss = state.get("loss", "bce")
    training = {k: state[k] for k in ("epoch", "training_data", "metrics") if k in state}
    return ModelCard.from_dict({"model": state.get("model_name", "custom"), "num_landmarks": cfg["num_landmarks"],
                                "scheme": state.get("scheme"), "input_size": cfg.get("input_size"),
                                "crop_scale": state.get("crop_scale"),
                                "codec": state.get("codec"), "loss": loss, "activation": activation_for(loss),
                                "tag": state.get("tag"), "model_config": cfg, "training": training,
                                "track_threshold": state.get("track_threshold")}, source)


def load_model_for_export(spec: str, num_landmarks: int | None = None) -> tuple[nn.Module, ModelCard]:
    """Resolve a registered name (random init), a shipped tag, or a checkpoint path into
    (model in eval mode, its model card)."""
    resolved = resolve_spec(spec)
    if resolved.kind in ("checkpoint", "tag"):
        p = resolved.file("pt")
        state = load_checkpoint(p)
        model = model_from_checkpoint(state, str(p), num_landmarks)
        card = card_of(state, str(p))
        if resolved.kind == "tag" and card.track_threshold is None:
            # a shipped tag's measured lost-track threshold lives in its ONNX card: keep it
            card = card.with_(track_threshold=_shipped_track_threshold(resolved))
        return model.eval(), card
    if resolved.kind in ("onnx", "tflite"):
        raise CheckpointError(f"{resolved.path}: already an exported file; export takes a name, tag or checkpoint")
    model = create_model(resolved.name, num_landmarks=num_landmarks)
    return model.eval(), untrained_card(model, resolved.name)


def untrained_card(model: nn.Module, name: str) -> ModelCard:
    """The card of a model nobody trained (timing, export checks): its default loss and codec."""
    loss = DEFAULT_LOSS[model.output]
    return ModelCard(model=name, num_landmarks=model.cfg.num_landmarks, input_size=model.cfg.input_size,
                     codec=codec_for(model), loss=loss, activation=activation_for(loss),
                     model_config=model.cfg.to_dict(), untrained=True)


def codec_for(model: nn.Module, heatmap: HeatmapCodec | None = None, mean_shape: np.ndarray | None = None) -> Codec:
    """The codec of a model's kind of output: `heatmap` (default: the standard one at the
    model's input size) for heatmap models, the coordinate codec, or PIPNet's with the
    neighbour table of `mean_shape` (the training set's mean face). Without a mean shape (a
    model that has seen no data) each landmark's neighbours are the landmarks nearest in index,
    a placeholder untrained weights cannot tell from any other."""
    output, size = model.output, model.cfg.input_size
    if output == "regression":
        return RegressionCodec(input_size=size)
    if output == "pip":
        k, nb = model.cfg.num_landmarks, model.cfg.num_neighbours
        shape = mean_shape if mean_shape is not None else np.stack([np.arange(k), np.zeros(k)], axis=1)
        return PIPCodec(nearest_neighbours(shape, nb), input_size=size, stride=model.cfg.stride)
    if output != "heatmap":
        raise CheckpointError(f"{type(model).__name__}: unknown model output {output!r}")
    return heatmap or HeatmapCodec(input_size=size)


def _shipped_track_threshold(spec) -> float | None:
    import onnxruntime as ort
    from ..hub import METADATA_KEY
    session = ort.InferenceSession(str(spec.file("onnx")), providers=["CPUExecutionProvider"])
    raw = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    return None if raw is None else ModelCard.from_json(raw).track_threshold
