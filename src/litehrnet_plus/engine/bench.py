"""The PyTorch side of `litehrnet-plus bench`: graphs exported from a registered name (random
weights), a shipped tag or a checkpoint, the pytorch backend, and training throughput. The
timing itself (interleaved rounds, dlib reference, profiles) is benchmarks/latency.py, torch-free.
"""
from __future__ import annotations

import time
from dataclasses import fields
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..data.transforms import to_input
from ..errors import UserError
from ..benchmarks.latency import GRAPH_KINDS, Config, Graph
from ..models import create_model, list_models
from ..models.registry import split_tag
from ..resolve import CONFIG_SUFFIXES
from .checkpoint import load_checkpoint, load_model_for_export, untrained_card
from .config import load_config
from .deploy import DeployOptions, export_deploy
from .export import export_onnx
from .quantize import calibration_crops, quantize_int8
from .losses import DEFAULT_LOSS, make_loss
from .train import model_of_config, train_step


def random_init(model) -> None:
    """Weights for timing a model nobody trained. The registered init (N(0, 0.001)) makes
    activations shrink into denormal floats, which would time the CPU's denormal handling,
    not the network; plain kaiming weights make the Lite-HRNet fusion blow up (its branch 0 is
    doubled per module) until the deployment check cannot compare anything. So: kaiming
    convs, BN statistics measured on random images, attention/heatmap convs scaled down."""
    g = torch.Generator().manual_seed(0)
    k = model.cfg.num_landmarks
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu", generator=g)
            with torch.no_grad():
                m.weight.mul_(0.5 if m.out_channels == k else 0.3 if m.bias is not None else 1.0)
        elif isinstance(m, nn.BatchNorm2d):
            m.momentum = None
            m.reset_running_stats()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)      # several threads spin for seconds on a busy machine
    try:
        model.train()
        with torch.no_grad():
            size = model.cfg.input_size
            model(torch.rand(8, 3, size, size, generator=g))
    finally:
        model.eval()
        torch.set_num_threads(threads)


def deploy_options(kind: str):
    """DeployOptions from a graph kind "deploy:key=value+key=value" (the ablations in
    docs/speed.md: each rewrite switched off in turn)."""

    known = {f.name: f.type for f in fields(DeployOptions)}
    values: dict = {}
    for item in kind.split(":", 1)[1].split("+"):
        key, sep, raw = item.partition("=")
        if not sep or key not in known:
            raise UserError(f"graph {kind!r}: expected deploy:key=value+..., keys: {', '.join(known)}")
        low = raw.lower()
        values[key] = (low == "true") if low in ("true", "false") else int(raw) if raw.isdigit() else raw
    return DeployOptions(**values)


def export_graphs(spec: str, kinds: list[str], workdir: Path, backends: list[str],
                   calibration: str | None = None, log: Callable[[str], None] = print) -> list[Graph]:
    """The graphs to time for one --model value that is not an .onnx file: a registered name
    (random weights), shipped tag, checkpoint, or training config (its network with random
    weights, named after the file: an architecture timed before it is trained), exported to
    each of `kinds`."""
    if Path(spec).suffix.lower() in CONFIG_SUFFIXES:
        cfg = load_config(spec)
        model = model_of_config(cfg).eval()
        card, name = untrained_card(model, cfg.model.name), Path(spec).stem
    else:
        model, card = load_model_for_export(spec)
        name = card.model
    if card.untrained:
        random_init(model)
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in spec)
    graphs: list[Graph] = []
    exported: dict[str, Path] = {}
    for kind in kinds:
        t = time.perf_counter()
        out = workdir / f"{safe}.{len(graphs)}.onnx"
        if kind == "plain":
            export_onnx(model, out, card=card)
        elif kind == "deploy":
            export_deploy(model, out, card=card)
        elif kind.startswith("deploy:"):
            export_deploy(model, out, card=card, options=deploy_options(kind))
        elif kind == "int8":
            if calibration is None:
                log(f"{spec}: int8 skipped (needs --calibration, a 300-W root with training folders)")
                continue
            src = exported.get("deploy") or workdir / f"{safe}.deploy.onnx"
            if not src.exists():
                export_deploy(model, src, card=card)
            quantize_int8(src, out, calibration_crops(calibration, size=card.input_size))
        else:
            raise UserError(f"unknown graph kind {kind!r}; choose from {', '.join(GRAPH_KINDS)} "
                            "or deploy:key=value+...")
        exported[kind] = out
        log(f"exported {name} {kind} graph in {time.perf_counter() - t:.1f} s")
        graphs.append(Graph(name, kind, out, card=card))
    if "pytorch" in backends:
        graphs.append(Graph(name, "eager", None, card=card,
                            configs=lambda b, t, c, model=model, name=name: torch_configs(model, name, b, t, c)))
    return graphs


def torch_configs(model: nn.Module, name: str, batches: list[int], threads: list[int],
                  crops: np.ndarray) -> list[Config]:
    """The pytorch backend: the eager model on the same crops."""
    out = []
    for th in threads:
        for b in batches:
            x = torch.from_numpy(to_input(crops[:b]))

            def call(model=model, x=x):
                with torch.no_grad():
                    return model(x)
            out.append(Config(name, "eager", "pytorch", "model", b, th, call, b,
                              setup=lambda th=th: torch.set_num_threads(th)))
    return out


# ----------------------------------------------------------------------------- training
TRAIN_VARIANTS = ("eager", "channels_last", "compile", "compile+channels_last")


def training_models(specs: list[str]) -> list[str]:
    """Registered model names for the --model values (a checkpoint gives its model name;
    .onnx files have no training graph and are skipped)."""
    names = []
    for spec in specs:
        base = split_tag(spec)[0]
        if base in list_models():
            names.append(base)
        elif Path(spec).suffix in (".pt", ".pth"):
            names.append(load_checkpoint(spec).get("model_name", "custom"))
    names = list(dict.fromkeys(n for n in names if n in list_models()))
    if not names:
        raise UserError("training throughput needs registered model names or checkpoints in --model")
    return names


def train_throughput(models: list[str], threads: list[int], variants: list[str], batch: int = 64,
                     seconds: float = 10.0, rounds: int = 3, log: Callable[[str], None] = print) -> list[dict]:
    """Images/s of one training step of engine/train.py (forward, BCE heatmap loss, backward,
    Adam step) on synthetic tensors, per model, torch thread count and variant; variants and
    thread counts are interleaved in rounds like the inference figures. Data preparation
    (image warp, target encoding) is not included."""
    for v in variants:
        if v not in TRAIN_VARIANTS:
            raise UserError(f"unknown training variant {v!r}; choose from {', '.join(TRAIN_VARIANTS)}")
    cases = []
    for name in models:
        for th in threads:
            for v in variants:
                torch.manual_seed(0)
                model = create_model(name).train()
                k, size = model.cfg.num_landmarks, model.cfg.input_size
                cl = "channels_last" in v
                if cl:
                    model = model.to(memory_format=torch.channels_last)
                opt = torch.optim.Adam(model.parameters(), lr=2e-3)
                x = torch.rand(batch, 3, size, size)
                if cl:
                    x = x.contiguous(memory_format=torch.channels_last)
                with torch.no_grad():          # a target of the model's output shape (its values do not matter)
                    target = torch.rand_like(model(x))
                weight = torch.ones(batch, k)
                loss_fn = make_loss(DEFAULT_LOSS[model.output], size)
                fwd = torch.compile(model) if "compile" in v else model

                def step(fwd=fwd, opt=opt, x=x, target=target, weight=weight, loss_fn=loss_fn):
                    train_step(fwd, opt, loss_fn, x, target, weight)
                cases.append({"model": name, "threads": th, "variant": v, "step": step, "times": []})
    for c in cases:                                   # warm-up (and compilation) outside the timing
        torch.set_num_threads(c["threads"])
        t = time.perf_counter()
        for _ in range(2):
            c["step"]()
        c["warmup_s"] = time.perf_counter() - t
        log(f"warm-up {c['model']} {c['variant']} {c['threads']} thread(s): {c['warmup_s']:.1f} s")
    for r in range(rounds):
        for c in cases:
            torch.set_num_threads(c["threads"])
            end = time.perf_counter() + seconds / rounds
            n = 0
            while n < 2 or time.perf_counter() < end:
                t = time.perf_counter()
                c["step"]()
                c["times"].append(time.perf_counter() - t)
                n += 1
        log(f"training round {r + 1}/{rounds} done")
    rows = []
    for c in cases:
        med = float(np.median(c["times"]))
        rows.append({"model": c["model"], "threads": c["threads"], "variant": c["variant"], "batch": batch,
                     "steps": len(c["times"]), "s_per_step_median": round(med, 4),
                     "images_per_s": round(batch / med, 1), "warmup_s": round(c["warmup_s"], 1)})
    for r in rows:
        ref = next(q for q in rows if q["model"] == r["model"] and q["threads"] == r["threads"]
                   and q["variant"] == variants[0])
        r[f"speedup_vs_{variants[0]}"] = round(r["images_per_s"] / ref["images_per_s"], 3)
    return rows


def format_training(rows: list[dict]) -> str:
    head = f"{'model':<26} {'variant':<22} {'t':>2} {'img/s':>8} {'s/step':>8} {'speedup':>8}"
    lines = [head, "-" * len(head)]
    for r in rows:
        sp = next(v for k, v in r.items() if k.startswith("speedup_vs_"))
        lines.append(f"{r['model'][:26]:<26} {r['variant']:<22} {r['threads']:>2} {r['images_per_s']:>8.1f} "
                     f"{r['s_per_step_median']:>8.3f} {sp:>8.2f}")
    return "\n".join(lines)
