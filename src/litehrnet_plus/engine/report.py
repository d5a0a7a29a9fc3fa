"""Tables and pictures of results: FLOPs breakdown (paper Fig. 2 style) and CED curves."""
from __future__ import annotations

from pathlib import Path

import numpy as np

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


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_complexity(rows: list[tuple[str, Complexity]], path: str | Path) -> None:
    """Grouped bar chart of paper-convention MFLOPs per block, one group per block."""
    plt = _pyplot()
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
    _save(fig, path)


def plot_ced(curves: dict[str, np.ndarray], path: str | Path, threshold: float = 0.10) -> None:
    """Cumulative error distribution: fraction of faces with NME below x, per named curve
    (values are per-face NMEs as fractions, e.g. 0.04 for 4%)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    xs = np.linspace(0, threshold, 201)
    for name, errs in curves.items():
        e = np.sort(np.asarray(errs))
        ax.plot(xs * 100, np.searchsorted(e, xs, side="right") / max(1, len(e)), label=name)
    ax.set_xlabel("NME (%)")
    ax.set_ylabel("fraction of faces")
    ax.set_xlim(0, threshold * 100)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    _save(fig, path)


def _save(fig, path: str | Path) -> None:
    import io

    from ..fileio import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    atomic_write_bytes(path, buf.getvalue())
    import matplotlib.pyplot as plt
    plt.close(fig)
