"""docs/quality_calibration.png from tools/calibrate_quality.py's JSON files: predicted vs
observed share of good fits (NME < 0.10) on wflw-partial, per quality bin, for each model; and
the table of docs/angles_and_quality.md (printed as markdown).

    python tools/plot_quality.py benchmarks/quality_30m.json benchmarks/quality_10m.json
"""
from __future__ import annotations

import json
import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from litehrnet_plus.evaluation.plots import pyplot, save_figure  # noqa: E402


def table(results: list[dict]) -> str:
    """One row per model: ROC AUC for failures (box, end to end, peak score alone), all faces'
    NME / FR@0.10 and what quality >= 0.5 keeps, with the ground-truth box."""
    lines = ["| model | ROC AUC for failures, ground-truth box | end to end | peak score alone (box / end to end) "
             "| all faces: NME / FR@0.10 | quality ≥ 0.5 kept: NME / FR@0.10 |", "|---|---|---|---|---|---|"]
    for res in results:
        box, e2e = (res["check_wflw_partial"][k] for k in ("ground_truth_box", "end_to_end"))
        kept = box["kept_at_quality_0.5"]
        lines.append(f"| `{res['model']}` | {box['roc_auc_failure']:.3f} | {e2e['roc_auc_failure']:.3f} "
                     f"| {box['roc_auc_failure_peak_score_only']:.3f} / {e2e['roc_auc_failure_peak_score_only']:.3f} "
                     f"| {box['nme']:.1%} / {box['fr@0.10']:.1%} "
                     f"| {kept['faces']} faces: {kept['nme']:.1%} / {kept['fr@0.10']:.1%} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="+", type=Path, help="tools/calibrate_quality.py --json files")
    args = ap.parse_args()
    results = [json.loads(Path(p).read_text()) for p in args.results]
    print(table(results))
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    for res in results:
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
