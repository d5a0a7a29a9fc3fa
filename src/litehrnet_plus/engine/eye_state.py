"""Train the eye-state classifier (open / closed) on mrl-eyes and export it to ONNX.

mrl-eyes holds 100x100 near-infrared crops framed around the eye; at run time the classifier
reads crops cut from face landmarks (monitor/eyes.py), so training crops are re-cut to that
framing with random scale, shift and rotation and camera degradations (data/mrl_eyes.recut).
Splits are contiguous index blocks (the numbering keeps a person's images together): never a
random split. Optionally, eyes of visible-light training photos (300-W's training faces) join the
training set, cut by their ground-truth landmarks in the mrl-eyes framing and labelled by their
aspect ratio (open >= 0.22, shut <= 0.10, the rest left out): cabin cameras are not all
near-infrared, and the mrl-eyes crops alone call 6% of open visible-light eyes closed.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..data.mrl_eyes import block, load_mrl, recut
from ..fileio import atomic_write_bytes
from ..monitor.eyes import EYE_CROP_SCALE, EYE_INPUT, EYE_METADATA_KEY, normalise_crops

@dataclass
class EyeTrainConfig:
    """The recipe; the augmentation ranges are those of data/mrl_eyes.recut."""

    train_blocks: tuple[int, int] = (1, 3500)        # index ranges, inclusive
    val_blocks: tuple[int, int] = (3501, 4000)
    test_blocks: tuple[int, int] = (4001, 5000)
    epochs: int = 30
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0
    scale_jitter: float = 0.25      # crop scale x exp(U(-j, j))
    shift: float = 0.12             # of the crop side
    rotation: float = 20.0          # degrees

    def augment(self) -> dict:
        return {"scale_jitter": self.scale_jitter, "shift": self.shift, "rotation": self.rotation}


class EyeStateNet(nn.Module):
    """Four 3x3 conv-BN-ReLU stages (16-32-64-64 channels, max-pooled), global average, one
    logit: P(closed) = sigmoid(logit). About 70 thousand parameters, 3.5 MFLOPs at 32x32."""

    def __init__(self) -> None:
        super().__init__()
        layers, cin = [], 1
        for i, cout in enumerate((16, 32, 64, 64)):
            layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            if i < 3:
                layers.append(nn.MaxPool2d(2))
            cin = cout
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(cin, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


def _batches(images, labels, cfg, rng, train: bool):
    order = rng.permutation(len(images)) if train else np.arange(len(images))
    for i in range(0, len(order), cfg.batch_size):
        idx = order[i:i + cfg.batch_size]
        crops = np.stack([recut(images[j], rng, cfg.augment() if train else None, EYE_INPUT, EYE_CROP_SCALE)
                           for j in idx])
        yield torch.from_numpy(normalise_crops(crops)), torch.from_numpy(labels[idx].astype(np.float32))


def predict_logits(model: nn.Module, crops: np.ndarray) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(normalise_crops(crops))).reshape(-1).numpy()


OPEN_EAR, SHUT_EAR = 0.22, 0.10


def landmark_eyes(samples, size: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Eyes of annotated photos (68-point samples) in the mrl-eyes framing (size x size, the eye
    MRL_EYE_FRACTION of the width) with closed labels by aspect ratio; ambiguous eyes left out."""
    from ..data.images import read_image
    from ..data.mrl_eyes import MRL_EYE_FRACTION
    from ..monitor.eyes import eye_aspect_ratio, eye_crops, to_gray
    crops, labels = [], []
    for s in samples:
        pts = s.landmarks.astype(np.float64)
        ear = eye_aspect_ratio(pts)
        cut = eye_crops(to_gray(read_image(s.image_path, orient=False)), pts, size, 1.0 / MRL_EYE_FRACTION)
        for crop, side in zip(cut, ("left", "right")):
            if ear[side] >= OPEN_EAR or ear[side] <= SHUT_EAR:
                crops.append(crop)
                labels.append(int(ear[side] <= SHUT_EAR))
    return np.stack(crops), np.array(labels, dtype=np.int64)


def train_eye_state(data: str | Path, out: str | Path, cfg: EyeTrainConfig | None = None,
                    progress: bool = True, extra: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Train, pick the epoch with the best validation accuracy, export to ONNX at `out`;
    returns the figures (validation and test accuracy and ROC AUC). extra: more training
    crops and labels in the mrl-eyes framing (landmark_eyes)."""
    from tqdm import tqdm

    from ..evaluation.metrics import roc_auc
    cfg = cfg or EyeTrainConfig()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    images, closed, index = load_mrl(data)
    tr, va, te = (block(index, b) for b in (cfg.train_blocks, cfg.val_blocks, cfg.test_blocks))
    train_images, train_labels = images[tr], closed[tr]
    if extra is not None:
        train_images = np.concatenate([train_images, extra[0]])
        train_labels = np.concatenate([train_labels, extra[1]])
    model = EyeStateNet()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * math.ceil(len(train_images) / cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps)
    loss_fn = nn.BCEWithLogitsLoss()
    exact = lambda sel: np.stack([recut(im, rng, None, EYE_INPUT, EYE_CROP_SCALE) for im in images[sel]])   # noqa: E731
    val_crops, test_crops = exact(va), exact(te)
    best, best_state, history = -1.0, None, []
    bar = tqdm(range(cfg.epochs), desc="eye-state", unit="epoch", disable=not progress)
    for epoch in bar:
        model.train()
        total, n = 0.0, 0
        for x, y in _batches(train_images, train_labels, cfg, rng, train=True):
            opt.zero_grad()
            loss = loss_fn(model(x).reshape(-1), y)
            loss.backward()
            opt.step()
            sched.step()
            total, n = total + float(loss.detach()) * len(y), n + len(y)
        val = predict_logits(model, val_crops)
        acc = float(np.mean((val > 0) == closed[va]))
        history.append({"epoch": epoch + 1, "loss": round(total / n, 5), "val_accuracy": round(acc, 4)})
        bar.set_postfix(loss=f"{total / n:.4f}", val=f"{acc:.4f}")
        if acc > best:
            best, best_state = acc, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    figures = {}
    for name, crops, sel in (("validation", val_crops, va), ("test", test_crops, te)):
        logits = predict_logits(model, crops)
        figures[name] = {"faces": int(sel.sum()), "accuracy": round(float(np.mean((logits > 0) == closed[sel])), 4),
                         "roc_auc": round(roc_auc(logits, closed[sel] == 1), 4)}
    info = {"input_size": EYE_INPUT, "output": "logit of P(closed)", "input": "grey eye crop, per-crop standardised",
            "data": "mrl-eyes" + ("" if extra is None else f" + {len(extra[1])} landmark-cut eyes "
                                  f"({int(extra[1].sum())} shut)"), "config": asdict(cfg), "figures": figures, "history": history}
    export_eye_state(model, out, info)
    return info


def export_eye_state(model: nn.Module, out: str | Path, info: dict) -> None:
    """ONNX (dynamic batch) with `info` in its metadata, checked against PyTorch, and the
    state dict beside it (.pt)."""
    import io

    import onnx
    model.eval()
    x = torch.randn(4, 1, EYE_INPUT, EYE_INPUT)
    buf = io.BytesIO()
    torch.onnx.export(model, x, buf, input_names=["eyes"], output_names=["closed_logit"],
                      dynamic_axes={"eyes": {0: "n"}, "closed_logit": {0: "n"}}, opset_version=17, dynamo=False)
    proto = onnx.load_from_string(buf.getvalue())
    onnx.helper.set_model_props(proto, {EYE_METADATA_KEY: json.dumps(info)})
    data = proto.SerializeToString()
    import onnxruntime as ort
    got = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"eyes": x.numpy()})[0]
    with torch.no_grad():
        want = model(x).numpy()
    if not np.allclose(got, want, atol=1e-4):
        raise RuntimeError(f"eye-state ONNX export differs from PyTorch by {np.abs(got - want).max():.2e}")
    atomic_write_bytes(out, data)
    # the weights beside it, for the parity test and for fine-tuning
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    atomic_write_bytes(Path(out).with_suffix(".pt"), buf.getvalue())
