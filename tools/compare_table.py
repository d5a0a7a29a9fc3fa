"""The paper's Table 1 and Table 2(a) with our controlled 300-W runs beside its figures, and
the NME-vs-FLOPs (paper Fig. 5b) and NME-vs-latency plots.

Every row of ours comes from files: the training log of its config (benchmarks/train_log_<config>.csv,
the last epoch's lfpw/testset NME), its size from the registry (K=98, 96x96, the paper's
convention), its latency and training throughput from `litehrnet-plus bench` JSON files. A row
whose log is missing or short says so: nothing is filled in.

    python tools/compare_table.py --latency benchmarks/comparison_latency.json \
        --training benchmarks/comparison_training.json --json benchmarks/comparison.json \
        --markdown docs/comparison_table.md --plots docs/comparison
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from litehrnet_plus.config_files import config_path  # noqa: E402
from litehrnet_plus.engine.report import EPOCHS, LOG_NAMES, read_log, write_figure  # noqa: E402
from litehrnet_plus.fileio import atomic_write_text  # noqa: E402

# label, model, config, loss; paper: WFLW All, 300W Com. / Chall. / All val. / All test, params (M), MFLOPs
TABLE1 = [
    ("HRNetV2-W18", "hrnetv2_w18", "compare_hrnetv2_w18_300w", "bce", (4.99, 4.42, 6.61, 4.85, 5.37, 9.66, 668.54)),
    ("MobileNetV2", "mobilenetv2", "compare_mobilenetv2_300w", "bce", (6.85, 5.39, 8.64, 6.03, 7.07, 7.45, 256.80)),
    ("ShuffleNetV2", "shufflenetv2", "compare_shufflenetv2_300w", "bce", (6.43, 5.20, 8.24, 5.80, 6.74, 6.66, 249.41)),
    ("Lite-HRNet", "litehrnet_baseline", "litehrnet_baseline_300w", "bce", (5.96, 5.34, 7.48, 5.76, 6.40, 0.66, 33.61)),
    ("Dite-HRNet", "dite_hrnet", "compare_dite_hrnet_300w", "bce", (6.81, 5.22, 7.48, 5.66, 6.27, 0.70, 30.86)),
    ("Wing (MobileNetV2)", "wing_mobilenetv2", "compare_wing_mobilenetv2_300w", "wing",
     (7.17, 5.10, 9.31, 5.92, 7.64, 1.60, 41.56)),
    ("PIPNet (MobileNetV3)", "pipnet_mobilenetv3_large", "compare_pipnet_mobilenetv3_large_300w", "pip",
     (5.87, 4.07, 7.10, 4.66, 5.58, 4.47, 56.51)),
    ("PIPNet (MobileNetV3), small", "pipnet_mobilenetv3_small", "compare_pipnet_mobilenetv3_small_300w", "pip",
     (7.60, 4.65, 8.51, 5.41, 6.67, 0.79, 11.46)),
    ("Lite-HRNet Plus 30M (MSE)", "litehrnet_plus_30m", "compare_litehrnet_plus_30m_300w_mse", "mse",
     (5.76, 4.78, 7.07, 5.23, 5.89, 1.51, 30.27)),
    ("Lite-HRNet Plus 10M (MSE)", "litehrnet_plus_10m", "compare_litehrnet_plus_10m_300w_mse", "mse",
     (6.64, 5.17, 7.71, 5.67, 6.46, 0.37, 10.25)),
    ("Lite-HRNet Plus 30M (BCE)", "litehrnet_plus_30m", "compare_litehrnet_plus_30m_300w", "bce",
     (5.58, 3.97, 6.89, 4.54, 5.35, 1.51, 30.27)),
    ("Lite-HRNet Plus 10M (BCE)", "litehrnet_plus_10m", "compare_litehrnet_plus_10m_300w", "bce",
     (6.25, 5.11, 7.80, 5.63, 6.48, 0.37, 10.25)),
]
# label, model, config; paper: WFLW NME (MSE), MFLOPs
TABLE2A = [
    ("PW Conv", "litehrnet_plus_30m_pw", "compare_litehrnet_plus_30m_pw_300w_mse", (6.10, 29.67)),
    ("Bottleneck", "litehrnet_plus_30m_bottleneck", "compare_litehrnet_plus_30m_bottleneck_300w_mse", (6.33, 29.29)),
    ("Group Conv", "litehrnet_plus_30m_group", "compare_litehrnet_plus_30m_group_300w_mse", (5.99, 29.31)),
    ("SCAF (ours)", "litehrnet_plus_30m", "compare_litehrnet_plus_30m_300w_mse", (5.76, 30.27)),
]


def sizes(models: set[str]) -> dict[str, dict]:
    from litehrnet_plus.models import count_complexity, create_model
    out = {}
    for m in sorted(models):
        c = count_complexity(create_model(m, num_landmarks=98))
        out[m] = {"params_m": c.params / 1e6, "mflops": c.flops / 1e6, "mmacs": c.macs / 1e6}
    return out


def bench_rows(path: Path | None, key: str) -> dict[str, dict]:
    if path is None or not path.is_file():
        return {}
    data = json.loads(path.read_text())
    rows = data["training"]["rows"] if key == "training" else data["rows"]
    keep = {}
    for r in rows:
        if key == "training" and r.get("variant") != "eager":
            continue
        if key == "latency" and (r.get("batch") != 1 or r.get("graph") != "plain"):
            continue
        keep[r["model"]] = r
    return keep


def fmt(v, spec: str = ".2f", scale: float = 1.0) -> str:
    return "–" if v is None else format(v * scale, spec)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--benchmarks", type=Path, default=ROOT / "benchmarks")
    ap.add_argument("--latency", type=Path, help="bench JSON: batch 1, plain ONNX graphs")
    ap.add_argument("--training", type=Path, help="bench --mode training JSON")
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--markdown", type=Path)
    ap.add_argument("--plots", type=str, help="prefix of the two PNG plots")
    args = ap.parse_args(argv)

    models = {r[1] for r in TABLE1} | {r[1] for r in TABLE2A}
    size = sizes(models)
    lat, thr = bench_rows(args.latency, "latency"), bench_rows(args.training, "training")

    def ours(model: str, config: str) -> dict:
        path = config_path(config if config not in LOG_NAMES else "ship_litehrnet_baseline_300w")
        row = {"model": model, "config": f"configs/{path.parent.name}/{path.name}", **size[model],
               **read_log(config, args.benchmarks)}
        row["latency_ms"] = lat.get(model, {}).get("ms_per_face_median")
        row["train_images_per_s"] = thr.get(model, {}).get("images_per_s")
        return row

    t1 = [{"label": lab, "loss": loss, "paper": dict(zip(("wflw_all", "300w_com", "300w_chall", "300w_val", "300w_test",
                                                          "params_m", "mflops"), paper)), **ours(m, c)}
          for lab, m, c, loss, paper in TABLE1]
    t2 = [{"label": lab, "paper": {"wflw_nme": p[0], "mflops": p[1]}, **ours(m, c)} for lab, m, c, p in TABLE2A]
    result = {"recipe": "configs/bases/_base_compare_300w.yaml", "epochs": EPOCHS, "test": "300-W lfpw/testset (224 faces)",
              "size_convention": "K=98, 96x96, paper (mmcv) FLOPs", "latency": str(args.latency),
              "training": str(args.training), "table1": t1, "table2a": t2}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.json, json.dumps(result, indent=1) + "\n")

    lines = ["| method | loss | ours: lfpw NME | FR@0.10 | epochs | params (M) | MFLOPs | ms/face (ORT, 1 thread) "
             "| train img/s | paper: WFLW All | 300W Com. | Chall. | All val. | All test | params | MFLOPs |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in t1:
        p = r["paper"]
        lines.append(f"| {r['label']} | {r['loss']} | {fmt(r.get('nme'), '.2%') if r.get('nme') is not None else r['status']} "
                     f"| {fmt(r.get('fr'), '.1%') if r.get('fr') is not None else '–'} | {r.get('epochs', 0)} "
                     f"| {r['params_m']:.2f} | {r['mflops']:.2f} | {fmt(r['latency_ms'])} | {fmt(r['train_images_per_s'], '.0f')} "
                     f"| {p['wflw_all']} | {p['300w_com']} | {p['300w_chall']} | {p['300w_val']} | {p['300w_test']} "
                     f"| {p['params_m']}M | {p['mflops']} |")
    lines += ["", "| Table 2(a) fusion | ours: lfpw NME (MSE) | epochs | MFLOPs | ms/face | paper: WFLW NME | MFLOPs |",
              "|---|---|---|---|---|---|---|"]
    for r in t2:
        lines.append(f"| {r['label']} | {fmt(r.get('nme'), '.2%') if r.get('nme') is not None else r['status']} "
                     f"| {r.get('epochs', 0)} | {r['mflops']:.2f} | {fmt(r['latency_ms'])} | {r['paper']['wflw_nme']} "
                     f"| {r['paper']['mflops']} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.markdown:
        atomic_write_text(args.markdown, table)
    if args.plots:
        plot(t1, args.plots)
    print(f"wrote {args.json}")
    return 0


def plot(rows: list[dict], prefix: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker  # noqa: F401  (used as matplotlib.ticker)

    done = [r for r in rows if r.get("nme") is not None]
    for key, xlabel, name in (("mflops", "MFLOPs (paper convention, K=98, 96x96)", "nme_flops"),
                              ("latency_ms", "ms per face (ONNX Runtime, batch 1, 1 thread)", "nme_latency")):
        pts = [r for r in done if r.get(key) is not None]
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for r in pts:
            colour = "tab:red" if r["label"].startswith("Lite-HRNet Plus") else "tab:blue"
            short = r["epochs"] < EPOCHS                    # a shorter schedule: hollow, and said
            ax.scatter(r[key], 100 * r["nme"], s=40, edgecolors=colour, facecolors="none" if short else colour)
            label = f"{r['label']} ({r['epochs']} epochs)" if short else r["label"]
            ax.annotate(label, (r[key], 100 * r["nme"]), fontsize=7, xytext=(4, 3), textcoords="offset points")
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.xaxis.set_minor_formatter(matplotlib.ticker.ScalarFormatter())
        ax.tick_params(axis="x", which="minor", labelsize=7)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("NME on 300-W lfpw/testset (%)")
        ax.set_title(f"controlled 300-W recipe, {EPOCHS} epochs from scratch ({len(pts)} rows run)")
        ax.grid(alpha=0.3, which="both")
        write_figure(fig, Path(f"{prefix}_{name}.png"))


if __name__ == "__main__":
    raise SystemExit(main())
