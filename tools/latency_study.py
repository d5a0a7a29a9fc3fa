"""Latency, not FLOPs: Lite-HRNet Plus variants with fewer (and wider) ops, their measured
latency and their NME after the same controlled training, against the 10M and the 30M themselves.

Each variant is a training config, configs/latency/latency_<variant>_300w.yaml: the 10M (or, for
latency_30m_*, the 30M) with overrides, trained with the comparison tables' recipe
(configs/bases/_base_compare_300w.yaml), so its NME compares with the model's own run of that
recipe (compare_litehrnet_plus_10m_300w, compare_litehrnet_plus_30m_300w). Two steps:

    # latency (random weights; nothing else running): plain and deployment graphs, ONNX Runtime,
    # batch 1, one thread, interleaved rounds, dlib in the same run; node counts of each graph
    python tools/latency_study.py --measure benchmarks/latency_variants.json \
        --crops ../shared/data/300w/lfpw/testset

    # the table and the two plots, from that JSON and the training logs (benchmarks/train_log_<config>.csv)
    python tools/latency_study.py --latency benchmarks/latency_variants.json \
        --markdown docs/latency_variants.md --plots docs/latency_variants
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from litehrnet_plus.engine.report import EPOCHS, read_log, write_figure  # noqa: E402
from litehrnet_plus.config_files import config_path, shipped_configs  # noqa: E402
from litehrnet_plus.fileio import atomic_write_text  # noqa: E402

REFERENCE = "compare_litehrnet_plus_10m_300w"          # the "deploy vs 10M" column's denominator
REFERENCES = {REFERENCE: "10M (4 branches, modules 2/4/2, 2 blocks, widths 24-192)",
              "compare_litehrnet_plus_30m_300w": "30M (4 branches, modules 3/8/3, 2 blocks, widths 48-384)"}


def study_configs() -> list[str]:
    """The references first, then every latency_* config (sorted)."""
    return list(REFERENCES) + sorted(n for n, p in shipped_configs().items() if p.parent.name == "latency")


def describe(config: str) -> dict:
    """Architecture facts of a config's network (K and input size as trained): overrides,
    params, FLOPs in the paper's convention and conv+fc MACs."""
    from litehrnet_plus.engine.config import load_config
    from litehrnet_plus.engine.train import model_of_config
    from litehrnet_plus.models import count_complexity

    path = config_path(config)
    cfg = load_config(path)
    model = model_of_config(cfg).eval()
    c = count_complexity(model, cfg.codec.input_size)
    m = model.cfg
    return {"config": f"configs/{path.parent.name}/{path.name}", "model": cfg.model.name, "overrides": cfg.model.overrides,
            "modules": list(m.num_modules), "blocks": m.num_blocks, "widths": list(m.widths),
            "params_m": round(c.params / 1e6, 4), "mflops": round(c.flops / 1e6, 3), "mmacs": round(c.macs / 1e6, 3)}


def measure(path: Path, crops: str | None, seconds: float, rounds: int) -> None:
    import onnx
    from litehrnet_plus.engine.bench import export_graphs
    from litehrnet_plus.benchmarks.latency import run_bench, write_report

    configs = study_configs()
    with tempfile.TemporaryDirectory(prefix="latency_study_") as keep:
        report = run_bench([str(config_path(c)) for c in configs], [1], [1], ["onnxruntime"],
                           ["plain", "deploy"], seconds=seconds, rounds=rounds, crops_folder=crops,
                           keep=keep, export=export_graphs,
                           note="latency study: random weights (timing does not depend on them)")
        nodes = {f.stem: len(onnx.load(str(f)).graph.node) for f in Path(keep).glob("*.onnx")}
    report["variants"] = {c: {**describe(c), "nodes_plain": nodes.get(f"{c}.plain"),
                              "nodes_deploy": nodes.get(f"{c}.deploy")} for c in configs}
    write_report(report, path)
    print(f"wrote {path}")


def rows_of(latency: dict) -> list[dict]:
    def ms(config: str, graph: str) -> float | None:
        return next((r["ms_per_face_median"] for r in latency["rows"] if r["model"] == config
                     and r["graph"] == graph and r["scope"] == "model"), None)
    dlib = next((r["ms_per_face_median"] for r in latency["rows"] if r["backend"] == "dlib"), None)
    ref = ms(REFERENCE, "deploy")
    rows = []
    for config, v in latency["variants"].items():
        row = {**v, "plain_ms": ms(config, "plain"), "deploy_ms": ms(config, "deploy"),
               **read_log(config, ROOT / "benchmarks")}
        row["deploy_vs_10m"] = None if ref is None or row["deploy_ms"] is None else round(row["deploy_ms"] / ref, 3)
        row["deploy_vs_dlib"] = None if dlib is None or row["deploy_ms"] is None else round(row["deploy_ms"] / dlib, 3)
        rows.append(row)
    done = [r for r in rows if r.get("nme") is not None and r["deploy_ms"] is not None]
    for r in rows:      # Pareto front: no other trained row is both faster and more accurate
        r["pareto"] = r in done and not any(q is not r and q["deploy_ms"] <= r["deploy_ms"] and q["nme"] <= r["nme"]
                                            and (q["deploy_ms"], q["nme"]) != (r["deploy_ms"], r["nme"]) for q in done)
    return rows


def label(r: dict) -> str:
    reference = REFERENCES.get(Path(r["config"]).stem)
    if reference:
        return reference
    return (f"{len(r['widths'])} branches, modules {'/'.join(map(str, r['modules']))}, "
            f"{r['blocks']} block{'s' * (r['blocks'] > 1)}, widths {r['widths'][0]}-{r['widths'][-1]}")


def table(rows: list[dict], latency: dict) -> str:
    dlib = next((r["ms_per_face_median"] for r in latency["rows"] if r["backend"] == "dlib"), None)
    lines = ["| variant | config | params (M) | MFLOPs (K=68) | nodes (deploy) | ms/face plain | ms/face deploy "
             "| deploy vs 10M | lfpw NME | FR@0.10 | epochs | Pareto |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        f = (lambda v, spec=".3f": "–" if v is None else format(v, spec))
        nme = f"{r['nme']:.2%}" if r.get("nme") is not None else r["status"]
        fr = f"{r['fr']:.1%}" if r.get("fr") is not None else "–"
        lines.append(f"| {label(r)} | `{Path(r['config']).name}` | {r['params_m']:.3f} | {r['mflops']:.2f} "
                     f"| {r['nodes_deploy']} | {f(r['plain_ms'])} | {f(r['deploy_ms'])} | {f(r['deploy_vs_10m'], '.2f')} "
                     f"| {nme} | {fr} | {r.get('epochs', 0)} | {'yes' if r['pareto'] else ''} |")
    if dlib is not None:
        lines += ["", f"dlib's predictor in the same run: {dlib:.3f} ms per face."]
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], prefix: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in rows if r.get("nme") is not None and r["deploy_ms"] is not None]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, key, xlabel in ((axes[0], "deploy_ms", "ms per face (deployment graph, ONNX Runtime, batch 1, 1 thread)"),
                            (axes[1], "mflops", "MFLOPs (paper convention, K=68, 96x96)")):
        placed: list[tuple[float, float]] = []
        for r in sorted(done, key=lambda r: r["nme"]):
            x, y = r[key], 100 * r["nme"]
            ax.scatter(x, y, s=40, c="tab:red" if r["pareto"] else "tab:blue")
            # a label that would overprint one just placed (points a few hundredths apart) goes below its point
            below = any(abs(y - py) < 0.03 and abs(x - px) < 0.5 * max(x, px) for px, py in placed)
            ax.annotate(label(r), (x, y), fontsize=6.5, xytext=(4, -9 if below else 3), textcoords="offset points")
            placed.append((x, y))
        if key == "deploy_ms":
            front = sorted((r for r in done if r["pareto"]), key=lambda r: r[key])
            ax.plot([r[key] for r in front], [100 * r["nme"] for r in front], c="tab:red", lw=1, alpha=0.6,
                    label="Pareto front (measured latency)")
            ax.legend(fontsize=7, loc="center right")
        ax.margins(x=0.45)               # room for the labels on the right
        ax.set_xlabel(xlabel, fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("NME on 300-W lfpw/testset (%)")
    fig.suptitle(f"Lite-HRNet Plus variants, controlled 300-W recipe ({EPOCHS} epochs), {len(done)} trained",
                 fontsize=10)
    write_figure(fig, Path(f"{prefix}.png"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--measure", type=Path, metavar="JSON", help="time every variant and write this JSON")
    ap.add_argument("--crops", help="folder of images with .pts files to crop faces from (default: random pixels)")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--latency", type=Path, metavar="JSON", help="a JSON written by --measure")
    ap.add_argument("--json", type=Path, help="write the joined rows")
    ap.add_argument("--markdown", type=Path)
    ap.add_argument("--plots", help="path prefix of the PNG (NME vs latency beside NME vs FLOPs)")
    args = ap.parse_args(argv)
    if args.measure:
        measure(args.measure, args.crops, args.seconds, args.rounds)
    src = args.latency or args.measure
    if src is None:
        ap.error("give --measure JSON or --latency JSON")
    latency = json.loads(Path(src).read_text())
    rows = rows_of(latency)
    text = table(rows, latency)
    print(text)
    if args.markdown:
        atomic_write_text(args.markdown, text)
    if args.json:
        atomic_write_text(args.json, json.dumps({"reference": REFERENCE, "latency": str(src), "rows": rows}, indent=1) + "\n")
    if args.plots:
        plot(rows, args.plots)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
