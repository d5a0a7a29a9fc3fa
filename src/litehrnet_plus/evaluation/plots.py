"""Pictures of evaluation results (matplotlib, from the 'train' extra, imported when drawing)."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..extras import require
from ..fileio import atomic_write_bytes
from .metrics import FAILURE_THRESHOLD


def pyplot(feature: str = "plotting"):
    """matplotlib.pyplot on the Agg backend (no display), or MissingExtraError."""
    matplotlib = require("matplotlib", feature)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path: str | Path) -> None:
    """Write a figure as PNG atomically and release it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    atomic_write_bytes(path, buf.getvalue())
    pyplot().close(fig)


def plot_ced(curves: dict[str, np.ndarray], path: str | Path, threshold: float = FAILURE_THRESHOLD) -> None:
    """Cumulative error distribution: fraction of faces with NME below x, per named curve
    (values are per-face NMEs as fractions, e.g. 0.04 for 4%)."""
    plt = pyplot("the CED plot (--ced)")
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
    save_figure(fig, path)
