"""Tables and pictures of model complexity: the FLOPs breakdown (paper Fig. 2 style). CED curves
are in evaluation/plots.py."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..evaluation.plots import pyplot, save_figure
from ..models.flops import BLOCKS, Complexity


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
