"""Training: the paper's recipe (Adam, heatmap MSE/BCE, step decay), resumable, deterministic,
and data-parallel under torchrun (DistributedDataParallel; gloo on CPU, nccl on GPUs).

Determinism: the model init, the epoch's sample order and every augmentation are functions of
the seed (and epoch, index), and the learning rate is a function of (epoch, step). A run
killed at any moment resumes from `last.pt` (written atomically after each epoch) and ends
with the same weights as an uninterrupted run.
"""
from __future__ import annotations

import csv
import io
import math
import os
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from ..card import ModelCard
from ..codec import HeatmapCodec
from ..codecs import Codec
from ..data.formats import load_dataset
from ..errors import CheckpointError, ConfigError
from ..evaluation import evaluate_samples
from ..fileio import atomic_write_bytes, atomic_write_text
from ..data.transforms import crop_matrix, transform_points
from ..models import create_model
from ..schemes import scheme_for
from .checkpoint import codec_for, init_from, load_checkpoint, load_state, save_checkpoint
from .config import TrainConfig
from .dataset import LandmarkDataset
from .evaluate import TorchPredictor
from .losses import LossFn, activation_for, check_loss_fits, make_loss
from .sampling import YAW_BIN_DEG, epoch_order, landmark_yaw, sample_weights, yaw_bands

LOG_FIELDS = ["epoch", "lr", "train_loss", "images_per_s", "epoch_time_s", "val_nme", "val_fr", "val_auc"]


def learning_rate(cfg: TrainConfig, epoch: int, step: int, steps_per_epoch: int) -> float:
    t = cfg.train
    progress = epoch + step / max(1, steps_per_epoch)
    if t.warmup_epochs and progress < t.warmup_epochs:
        return t.lr * (progress + 1e-3) / t.warmup_epochs
    if t.schedule == "cosine":
        return t.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress / t.epochs)))
    return t.lr * t.gamma ** sum(epoch >= m for m in t.milestones)


def set_output_prior(model: nn.Module, codec: HeatmapCodec) -> None:
    """Start a BCE model's output at sigmoid^-1(mean target) rather than sigmoid(0) = 0.5."""
    prior = codec.mean_target()
    model.head.set_output_bias(math.log(prior / (1 - prior)))


class _Dist:
    """Process-group facts; a single process when not launched by torchrun."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.active = self.world > 1
        if self.active and not dist.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            dist.init_process_group(backend)
        self.device = torch.device(f"cuda:{self.local_rank}" if torch.cuda.is_available() else "cpu")
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def close(self) -> None:
        if self.active and dist.is_initialized():
            dist.destroy_process_group()


def build_datasets(cfg: TrainConfig, warn=print, sizes: list[int] | None = None):
    """(training samples, validation samples); `sizes`, when given, receives the number of
    training faces each source gave (the main one, then data.extra in order)."""
    d = cfg.data
    train = load_dataset(d.kind, d.root, d.train, warn=warn)
    counts = [len(train)]
    for src in d.extra:
        more = load_dataset(src.kind, src.root, src.subset, warn=warn)
        counts.append(len(more))
        train = train + more
    if sizes is not None:
        sizes[:] = counts
    val = load_dataset(d.kind, d.root, d.val, warn=warn) if d.val else []
    for name, samples in (("training", train), ("validation", val)):
        bad = [s for s in samples if s.landmarks.shape[0] != d.num_landmarks]
        if bad:
            raise ConfigError(f"{bad[0].image_path}: {bad[0].landmarks.shape[0]} landmarks in the {name} data, "
                              f"data.num_landmarks is {d.num_landmarks}")
    return train, val


def _rng_state() -> dict:
    """Random states as tensors and numbers (checkpoints load with weights_only=True)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"torch": torch.get_rng_state(),
            "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)]}


def _set_rng_state(rng: dict) -> None:
    torch.set_rng_state(rng["torch"])
    kind, keys, pos, has_gauss, cached = rng["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


def train_step(model: nn.Module, opt: torch.optim.Optimizer, loss_fn: LossFn, x: torch.Tensor,
               target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """One optimisation step on a batch: forward, loss (losses.make_loss), backward, update
    (what training does and what `bench --mode training` times)."""
    loss = loss_fn(model(x), target, weight)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss


def mean_face(samples, input_size: int, crop_scale: float) -> np.ndarray:
    """(K,2) mean landmark position in the un-augmented crops (PIPNet's mean face)."""
    pts = [transform_points(s.landmarks, crop_matrix(s.box, input_size, crop_scale)) for s in samples]
    return np.nanmean(np.stack(pts), axis=0)


def training_codec(model: nn.Module, cfg: TrainConfig, samples) -> Codec:
    """The codec of the model's output: the config's heatmap codec, or the coordinate / PIP
    codec at the same input size (PIP's neighbour table from the training set's mean face)."""
    pip = model.output == "pip"
    return codec_for(model, cfg.codec, mean_face(samples, cfg.codec.input_size, cfg.data.crop_scale) if pip else None)


def default_threads(asked: int, world: int = 1) -> int:
    """Torch threads per process: `asked`, or (0) this process's share of the cores minus one.
    OpenMP threads wait for each other at every kernel, so a team as large as the machine
    stalls whenever another program takes a core: on 2 cores beside a busy loop, 2 threads
    trained at 22.6 images/s and 1 thread at 36.7 (72.6 vs 59.0 idle;
    `tools/measure_threads.py`, benchmarks/threads.json)."""
    if asked:
        return asked
    return max(1, (os.cpu_count() or 1) // world - 1)


def model_of_config(cfg: TrainConfig) -> nn.Module:
    """The network a training config describes (its model, overrides, landmark count and
    input size), freshly initialised."""
    return create_model(cfg.model.name, num_landmarks=cfg.data.num_landmarks,
                        input_size=cfg.codec.input_size, **cfg.model.overrides)


def train(cfg: TrainConfig, resume: bool = False, overwrite: bool = False, progress: bool = True,
          log=print) -> dict:
    """Run (or resume) training; returns the final summary. Writes into cfg.out:
    config.yaml, log.csv, last.pt, best.pt."""
    missing = [f"data.extra[{i}].root" for i, e in enumerate(cfg.data.extra) if not e.root]
    if not cfg.data.root or missing:
        raise ConfigError(f"{(['data.root'] if not cfg.data.root else missing)[0]} is not set: say where the "
                          "dataset is (in the config, or --set data.root=DIR)")
    dd = _Dist()
    out = Path(cfg.out)
    t = cfg.train
    torch.set_num_threads(default_threads(t.threads, dd.world))
    try:
        last = out / "last.pt"
        if dd.main:
            _check_out(out, resume, overwrite)      # refuse a used folder before reading any data
        # the data before anything is written: a failed start leaves nothing that blocks the rerun
        source_sizes: list[int] = []
        train_samples, val_samples = build_datasets(cfg, warn=log if dd.main else (lambda *_: None), sizes=source_sizes)
        if dd.main:
            _prepare_out(out, last, resume, overwrite)
            save_config(cfg, out / "config.yaml")
        dd.barrier()

        aug = cfg.augment
        scheme = scheme_for(cfg.data.num_landmarks)

        torch.manual_seed(t.seed)
        model = model_of_config(cfg)
        check_loss_fits(t.loss, model.output, cfg.model.name)
        codec = training_codec(model, cfg, train_samples)
        loss_fn = make_loss(t.loss, codec.input_size)
        ds = LandmarkDataset(train_samples, codec, scheme, aug, cfg.data.crop_scale, t.seed)
        if t.loss == "bce" and t.output_prior:
            set_output_prior(model, codec)
        if cfg.model.init_from and not (resume and last.exists()):
            init_from(model, cfg.model.init_from, log=log if dd.main else (lambda *_: None))
        model.to(dd.device)
        if t.channels_last:
            model = model.to(memory_format=torch.channels_last)
        opt = torch.optim.Adam(model.parameters(), lr=t.lr, weight_decay=t.weight_decay)
        start_epoch, best, history = 0, float("inf"), []
        if resume and last.exists():
            state = load_checkpoint(last)
            if state["model_config"] != model.cfg.to_dict():
                raise CheckpointError(f"{last}: checkpoint of another model config; cannot resume this run")
            load_state(model, state["model"], str(last))
            opt.load_state_dict(state["optimizer"])
            start_epoch, best, history = state["epoch"] + 1, state["best_nme"], state["history"]
            _set_rng_state(state["rng"])
            if dd.main:
                log(f"resumed from {last} at epoch {start_epoch}")
        ddp_model = nn.parallel.DistributedDataParallel(model) if dd.active else model

        per_rank = t.batch_size // dd.world
        if per_rank < 2:
            raise ConfigError(f"batch_size {t.batch_size} is too small for {dd.world} processes")
        yaws = None
        if t.balance == "yaw":
            yaws = np.array([landmark_yaw(s.landmarks) for s in train_samples])
            if dd.main:
                log(f"pose balance: |yaw| bands of {YAW_BIN_DEG:g} deg hold "
                    f"{np.bincount(yaw_bands(yaws)).tolist()} faces")
        shares = [cfg.data.share] + [e.share for e in cfg.data.extra]
        weights = sample_weights(source_sizes, shares, yaws)
        epoch_size = t.epoch_size or len(ds)
        steps = epoch_size // t.batch_size
        if steps == 0:
            raise ConfigError(f"{epoch_size} training faces per epoch are fewer than one batch of {t.batch_size}")
        predictor = TorchPredictor(model, codec, activation_for(t.loss),
                                   scheme.flip_permutation() if scheme.can_flip else None, t.flip_test)

        for epoch in range(start_epoch, t.epochs):
            ds.set_epoch(epoch)
            order = epoch_order(len(ds), t.seed, epoch, epoch_size, weights)
            model.train()
            tic, seen, loss_sum = time.perf_counter(), 0, 0.0
            bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{t.epochs}", unit="batch",
                       disable=not (progress and dd.main), dynamic_ncols=True)
            for step in bar:
                lr = learning_rate(cfg, epoch, step, steps)
                for g in opt.param_groups:
                    g["lr"] = lr
                idx = order[step * t.batch_size:(step + 1) * t.batch_size][dd.rank::dd.world]
                items = [ds[int(i)] for i in idx]
                x = torch.stack([it["image"] for it in items]).to(dd.device)
                if t.channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                target = torch.stack([it["target"] for it in items]).to(dd.device)
                weight = torch.stack([it["weight"] for it in items]).to(dd.device)
                loss = train_step(ddp_model, opt, loss_fn, x, target, weight)
                loss_sum += loss.item() * len(idx)
                seen += len(idx)
                rate = seen * dd.world / max(1e-9, time.perf_counter() - tic)
                bar.set_postfix(loss=f"{loss_sum / seen:.5f}", img_s=f"{rate:.0f}", lr=f"{lr:.2e}")
            bar.close()
            elapsed = time.perf_counter() - tic
            row = {"epoch": epoch + 1, "lr": lr, "train_loss": loss_sum / max(1, seen),
                   "images_per_s": seen * dd.world / elapsed, "epoch_time_s": elapsed,
                   "val_nme": "", "val_fr": "", "val_auc": ""}
            if dd.main and val_samples and ((epoch + 1) % t.val_every == 0 or epoch + 1 == t.epochs):
                rep = evaluate_samples(predictor, val_samples, scheme, codec.input_size, cfg.data.crop_scale)
                row.update(val_nme=rep.all["nme"], val_fr=rep.all["fr@0.10"], val_auc=rep.all["auc@0.10"])
                if progress:
                    log(f"epoch {epoch + 1}: val NME {100 * rep.all['nme']:.2f}%  "
                        f"FR {100 * rep.all['fr@0.10']:.2f}%  AUC {rep.all['auc@0.10']:.4f}")
            history.append(row)
            if dd.main:
                state = _state(cfg, model, codec, scheme.name, epoch, best, history)
                improved = row["val_nme"] != "" and row["val_nme"] < best
                if improved:
                    best = row["val_nme"]
                    state["best_nme"] = best
                    state["metrics"] = {"val_nme": best, "epoch": epoch + 1}
                    save_checkpoint(out / "best.pt", state)
                save_checkpoint(last, {**state, "optimizer": opt.state_dict(), "rng": _rng_state()})
                _write_log(out / "log.csv", history)
            dd.barrier()
        if dd.main and not (out / "best.pt").exists():
            # no validation data: the final weights are the best we know
            save_checkpoint(out / "best.pt", _state(cfg, model, codec, scheme.name, t.epochs - 1, best, history))
        return {"epochs": t.epochs, "best_val_nme": best, "history": history, "out": str(out)}
    finally:
        dd.close()


def _state(cfg: TrainConfig, model: nn.Module, codec: Codec, scheme: str, epoch: int,
           best: float, history: list) -> dict:
    training = {"kind": cfg.data.kind, "train": cfg.data.train, "extra": [asdict(e) for e in cfg.data.extra]}
    card = ModelCard(model=cfg.model.name, num_landmarks=model.cfg.num_landmarks, scheme=scheme,
                     input_size=codec.input_size, crop_scale=cfg.data.crop_scale, codec=codec, loss=cfg.train.loss,
                     activation=activation_for(cfg.train.loss), model_config=model.cfg.to_dict(),
                     training={"training_data": training, "epoch": epoch})
    return {"card": card.to_dict(), "model_name": cfg.model.name, "model_config": model.cfg.to_dict(),
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "loss": cfg.train.loss, "codec": codec.to_dict(), "scheme": scheme,
            "crop_scale": cfg.data.crop_scale, "epoch": epoch, "best_nme": best,
            "history": list(history), "config": cfg.to_dict(),
            "training_data": {"kind": cfg.data.kind, "train": cfg.data.train,
                              "extra": [asdict(e) for e in cfg.data.extra]}}


def _check_out(out: Path, resume: bool, overwrite: bool) -> None:
    if out.exists() and any(out.iterdir()) and not resume and not overwrite:
        raise FileExistsError(f"{out}: output folder is not empty; pass --resume to continue that run "
                              "or --overwrite to start again")


def _prepare_out(out: Path, last: Path, resume: bool, overwrite: bool) -> None:
    _check_out(out, resume, overwrite)
    if not resume and overwrite:
        for name in ("last.pt", "best.pt", "log.csv"):
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)


def _write_log(path: Path, history: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=LOG_FIELDS)
    w.writeheader()
    for row in history:
        w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    atomic_write_text(path, buf.getvalue())


def save_config(cfg: TrainConfig, path: Path) -> None:
    import yaml
    atomic_write_bytes(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False).encode())
