"""docs/quality_calibration.png from tools/calibrate_quality.py's JSON files: predicted vs
observed share of good fits (NME < 0.10) on wflw-partial, per quality bin, for each model.

    python tools/plot_quality.py benchmarks/quality_30m.json benchmarks/quality_10m.json
"""
from __future__ import annotations

import json
import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from litehrnet_plus.evaluation.plots import pyplot, save_figure  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="+", type=Path, help="tools/calibrate_quality.py --json files")
    args = ap.parse_args()
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    for path in args.results:
        res = json.loads(Path(path).read_text())
        for ax, key in zip(axes, ("ground_truth_box", "end_to_end")):
            part = res["check_wflw_partial"][key]
            xs = [r["predicted_good"] for r in part["reliability"]]
            ys = [r["observed_good"] for r in part["reliability"]]
            ns = [r["faces"] for r in part["reliability"]]
            ax.plot(xs, ys, "o-", label=f"{res['model']} (AUC {part['roc_auc_failure']:.3f})")
            for x, y, n in zip(xs, ys, ns):
                ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    for ax, title in zip(axes, ("wflw-partial, ground-truth box", "wflw-partial, end to end")):
        ax.plot([0, 1], [0, 1], ":", color="grey")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("quality (predicted share of fits with NME < 0.10)")
        ax.set_ylabel("observed share")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    out = ROOT / "docs" / "quality_calibration.png"
    save_figure(fig, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
