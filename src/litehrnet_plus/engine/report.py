"""Tables and pictures of model complexity (the FLOPs breakdown, paper Fig. 2 style) and of the
controlled training runs behind the paper's tables (their logs). CED curves are in
evaluation/plots.py."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..evaluation.plots import pyplot, save_figure
from ..models.flops import BLOCKS, Complexity

EPOCHS = 40          # the controlled recipe (configs/bases/_base_compare_300w.yaml)
# the baseline row ran as configs/ship/ship_litehrnet_baseline_300w.yaml (the same recipe), log name below
LOG_NAMES = {"litehrnet_baseline_300w": "train_log_litehrnet_baseline_300w.csv"}


def complexity_table(rows: list[tuple[str, Complexity]]) -> str:
    """Markdown table: params, paper-convention MFLOPs, plain MMACs, and MFLOPs per block."""
    head = ["model", "params (M)", "MFLOPs (paper)", "MMACs (conv+fc)"] + [f"{b} MFLOPs" for b in BLOCKS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, c in rows:
        cells = [name, f"{c.params / 1e6:.3f}", f"{c.flops / 1e6:.2f}", f"{c.macs / 1e6:.2f}"]
        cells += [f"{c.flops_by_block[b] / 1e6:.2f}" for b in BLOCKS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_complexity(rows: list[tuple[str, Complexity]], path: str | Path) -> None:
    """Grouped bar chart of paper-convention MFLOPs per block, one group per block."""
    plt = pyplot("the FLOPs plot (--plot)")
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(BLOCKS) + 0.6 * len(rows)), 4))
    width = 0.8 / max(1, len(rows))
    x = np.arange(len(BLOCKS))
    for k, (name, c) in enumerate(rows):
        vals = [c.flops_by_block[b] / 1e6 for b in BLOCKS]
        ax.bar(x + (k - (len(rows) - 1) / 2) * width, vals, width,
               label=f"{name} ({c.flops / 1e6:.2f} MFLOPs)")
    ax.set_xticks(x, BLOCKS)
    ax.set_ylabel("MFLOPs (paper convention)")
    ax.set_title(f"FLOPs per block at {rows[0][1].input_size}x{rows[0][1].input_size}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def read_log(config: str, bench_dir: Path) -> dict:
    """The outcome of a config's controlled run from its training log in `bench_dir`
    (train_log_<config>.csv): epochs done, throughput, and the last epoch's NME / FR / AUC once
    the run is complete; a missing or short log says so."""
    path = bench_dir / LOG_NAMES.get(config, f"train_log_{config}.csv")
    if not path.is_file():
        return {"status": "not run"}
    rows = list(csv.DictReader(path.open()))
    done = int(rows[-1]["epoch"]) if rows else 0
    final = rows[-1] if rows else {}
    out = {"log": str(path.relative_to(bench_dir.parent)), "epochs": done,
           "images_per_s_median": sorted(float(r["images_per_s"]) for r in rows)[len(rows) // 2] if rows else None}
    # a shorter schedule that ran to its end (the cosine reached ~0) is a result, stated by its
    # epochs; an interrupted run is not
    schedule_ended = float(final.get("lr") or 1.0) < 1e-6
    if not final.get("val_nme") or (done < EPOCHS and not schedule_ended):
        return {**out, "status": f"{done}/{EPOCHS} epochs"}
    return {**out, "status": "done" if done >= EPOCHS else f"short schedule ({done} epochs)",
            "nme": float(final["val_nme"]), "fr": float(final["val_fr"]), "auc": float(final["val_auc"])}


def write_figure(fig, out: Path) -> None:
    """Lay out, then write (atomically, creating the folder) and close a matplotlib figure."""
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, out)
    print(f"wrote {out}")
