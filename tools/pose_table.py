"""Markdown tables of tools/measure_pose.py's results, put between markers of a docs page.

    python tools/pose_table.py benchmarks/pose_comparison.json --doc docs/turned_heads.md --marker "pose comparison"
    python tools/pose_table.py benchmarks/pose_before.json benchmarks/pose_after.json --doc docs/turned_heads.md \
        --marker "pose before after" --label benchmarks/pose_before.json=before --label benchmarks/pose_after.json=after
    python tools/pose_table.py benchmarks/pose_before.json benchmarks/pose_after.json --doc README.md \
        --marker "turned heads" --before-after       # one row per model in both files: before -> after
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ANGLES = ("0", "30", "45", "60", "75")


def _pct(v: float) -> str:
    return f"{100 * v:.1f}"


def tables(results: list[tuple[str, dict]]) -> str:
    syn = ["| model | " + " | ".join(f"NME {a}°" for a in ANGLES) + " | yaw read at 30 / 45 / 60 / 75° |",
           "|---|" + "---|" * (len(ANGLES) + 1)]
    wild = ["| model | all: NME / FR | large pose: NME / FR | end to end, all: NME / FR (found) | end to end, large pose: FR "
            "| yaw from predicted / true landmarks |", "|---|---|---|---|---|---|"]
    for name, r in results:
        s = r.get("synthetic")
        if s:
            nme = " | ".join(f"{_pct(s[a]['nme_box'])}%" if a in s else "–" for a in ANGLES)
            yaws = " / ".join(f"{s[a]['abs_yaw_from_model']:.0f}" for a in ANGLES[1:] if a in s)
            syn.append(f"| {name} | {nme} | {yaws} |")
        w = r.get("wflw_partial")
        if w:
            g, e = w["ground_truth_box"], w["end_to_end"]
            wild.append(f"| {name} | {_pct(g['all']['nme'])}% / {_pct(g['all']['fr@0.10'])}% | "
                        f"{_pct(g['large pose']['nme'])}% / {_pct(g['large pose']['fr@0.10'])}% | "
                        f"{_pct(e['all']['nme'])}% / {_pct(e['all']['fr@0.10'])}% ({e['all']['found']}) | "
                        f"{_pct(e['large pose']['fr@0.10'])}% | {w['yaw_model_on_true_landmarks']['all']:.2f}x |")
    out = ""
    if len(syn) > 2:
        out += ("Synthetic turns (profiled lfpw/testset faces, ground-truth box; NME / box size; the yaw the "
                "head-pose solver reads from the predicted landmarks, mean |yaw| in degrees):\n\n" + "\n".join(syn) + "\n\n")
    if len(wild) > 2:
        out += ("wflw-partial (its 68-point subset, 206 faces, 34 of them large-pose; inter-ocular NME, FR@0.10; the "
                "slope of the yaw solved from predicted landmarks on the yaw solved from the true ones):\n\n"
                + "\n".join(wild) + "\n")
    return out


def before_after(before: dict, after: dict) -> str:
    """One row per model measured in both: the headline figures, before -> after."""
    rows = ["| model | synthetic 60°: NME, yaw read | wflw-partial large pose: NME / FR | wflw-partial end to end: "
            "NME / FR | yaw read / true |", "|---|---|---|---|---|"]
    for model in (m for m in after if m in before):
        cells = []
        for r in (before[model], after[model]):
            s, w = r["synthetic"]["60"], r["wflw_partial"]
            g, e = w["ground_truth_box"]["large pose"], w["end_to_end"]["all"]
            cells.append((f"{_pct(s['nme_box'])}%, {s['abs_yaw_from_model']:.0f}°",
                          f"{_pct(g['nme'])}% / {_pct(g['fr@0.10'])}%", f"{_pct(e['nme'])}% / {_pct(e['fr@0.10'])}%",
                          f"{w['yaw_model_on_true_landmarks']['all']:.2f}x"))
        rows.append(f"| `{model}` | " + " | ".join(f"{b} → {a}" for b, a in zip(*cells)) + " |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="+", type=Path)
    ap.add_argument("--doc", type=Path, required=True)
    ap.add_argument("--marker", required=True)
    ap.add_argument("--label", action="append", default=[],
                    help="FILE=SUFFIX: add SUFFIX to the model names of that results file (e.g. before/after)")
    ap.add_argument("--before-after", action="store_true",
                    help="two results files (before, after): one row per model in both, before -> after")
    args = ap.parse_args(argv)
    if args.before_after and len(args.results) != 2:
        ap.error("--before-after takes two results files: before and after")
    text = args.doc.read_text()
    start, end = f"<!-- {args.marker} -->", f"<!-- /{args.marker} -->"
    if start not in text or end not in text:
        print(f"{args.doc}: no {start} ... {end} markers", file=sys.stderr)
        return 2
    results = [(path, json.loads(path.read_text())) for path in args.results]
    if args.before_after:
        table = before_after(*(r for _, r in results))
    else:
        suffix = dict(x.split("=", 1) for x in args.label)
        table = tables([(f"`{Path(model).name.removesuffix('.onnx')}`"
                         + (f" {suffix[str(path)]}" if str(path) in suffix else ""), r)
                        for path, res in results for model, r in res.items()])
    new = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: f"{start}\n{table}{end}", text, flags=re.S)
    args.doc.write_text(new)
    print(f"updated {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
