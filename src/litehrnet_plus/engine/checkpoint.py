"""Checkpoints: written atomically, self-describing (model config, loss, codec, scheme), and
checked on load (another model or landmark count is a clear error, not a shape traceback)."""
from __future__ import annotations

import io
from pathlib import Path

import torch
from torch import nn

from ..errors import CheckpointError
from ..fileio import atomic_write_bytes
from ..models import LiteHRNet, LiteHRNetConfig, create_model
from ..models.registry import split_tag

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
        state = torch.load(p, map_location="cpu", weights_only=False)
    except Exception as e:  # torch raises many types for a corrupt/foreign file
        raise CheckpointError(f"{p}: not a readable PyTorch checkpoint ({type(e).__name__}: {e})") from e
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{p}: not a litehrnet-plus checkpoint (missing format {FORMAT!r})")
    for key in ("model_config", "model"):
        if key not in state:
            raise CheckpointError(f"{p}: checkpoint lacks {key!r}")
    return state


def model_from_checkpoint(state: dict, source: str = "checkpoint", num_landmarks: int | None = None) -> LiteHRNet:
    try:
        cfg = LiteHRNetConfig.from_dict(state["model_config"])
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{source}: bad model config ({e})") from e
    if num_landmarks is not None and num_landmarks != cfg.num_landmarks:
        raise CheckpointError(f"{source}: has {cfg.num_landmarks} landmarks, {num_landmarks} were asked for")
    model = LiteHRNet(cfg)
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


def _is_checkpoint_path(spec: str) -> bool:
    """A model spec naming a checkpoint file (rather than a registered name or shipped tag)."""
    p = Path(spec)
    return p.suffix in (".pt", ".pth") or p.is_file()


def init_from(model: nn.Module, spec: str, log=print) -> list[str]:
    """Start training from other weights (fine-tuning): `spec` is a shipped tag
    ("litehrnet_plus_10m.300w") or a checkpoint path. Every tensor whose name and shape fit is
    copied; the rest keep their fresh init -- typically the output convolutions when the
    landmark count differs. Returns the names left at init. Weights of another architecture
    (less than half of the tensors fit) are refused."""
    from ..hub import resolve

    path = Path(spec) if _is_checkpoint_path(spec) else resolve(spec, "pt")
    src = load_checkpoint(path)["model"]
    own = model.state_dict()
    fit = {k: v for k, v in src.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    if len(fit) < len(own) / 2:
        raise CheckpointError(f"{path}: only {len(fit)} of {len(own)} tensors fit this model; "
                              "init_from needs weights of the same architecture")
    model.load_state_dict(fit, strict=False)
    fresh = [k for k in own if k not in fit]
    log(f"initialised {len(fit)}/{len(own)} tensors from {path}"
        + (f"; {len(fresh)} keep their init, e.g. {fresh[0]}" if fresh else ""))
    return fresh


def load_model_for_export(spec: str, num_landmarks: int | None = None) -> tuple[nn.Module, dict, str]:
    """Resolve a registered name (random init), a shipped tag, or a checkpoint path into
    (model in eval mode, ONNX metadata, output activation)."""
    if _is_checkpoint_path(spec):
        p = Path(spec)
        state = load_checkpoint(p)
        model = model_from_checkpoint(state, str(p), num_landmarks)
        return model.eval(), checkpoint_metadata(state), _activation(state)
    base, tag = split_tag(spec)
    if tag:
        from ..hub import resolve
        return load_model_for_export(str(resolve(spec, "pt")), num_landmarks)
    model = create_model(base, num_landmarks=num_landmarks)
    meta = {"model": base, "num_landmarks": model.cfg.num_landmarks, "untrained": True}
    return model.eval(), meta, "sigmoid"


def checkpoint_metadata(state: dict) -> dict:
    cfg = state["model_config"]
    meta = {"model": state.get("model_name", "custom"), "num_landmarks": cfg["num_landmarks"],
            "model_config": cfg, "loss": state.get("loss", "bce")}
    for key in ("codec", "scheme", "tag", "crop_scale", "epoch", "training_data", "metrics"):
        if key in state:
            meta[key] = state[key]
    return meta


def _activation(state: dict) -> str:
    from .losses import activation_for
    return activation_for(state.get("loss", "bce"))
