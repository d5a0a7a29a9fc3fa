"""`predict --ray` against the single-process `predict` on the same photos: images/s with 1 and 2
workers on a local Ray cluster started for each run, the time to the first result, and Ray's
cost per image. Interleaved rounds (the order turned each round), the default model and
detector, one thread per process.

Each run is the command as a user runs it, in its own process. `single_omp1` is the single
process with OMP_NUM_THREADS=1, which Ray gives each one-CPU worker (the detector's OpenMP
otherwise uses both cores). The photos: lfpw/testset's and wflw-partial's, repeated (as links
under --work) up to --photos.
On a 2-core machine this shows Ray's overhead, not its scaling: the driver, the Ray services and
the workers share the two cores.

    python tools/measure_ray.py --photos 500 --rounds 2 --json benchmarks/ray.json
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from litehrnet_plus.batch.results import read_results
from litehrnet_plus.benchmarks.groundtruth import DATA
from litehrnet_plus.benchmarks.latency import machine_info
from litehrnet_plus.data.images import find_images
from litehrnet_plus.fileio import atomic_write_json


def photo_folder(work: Path, n: int) -> Path:
    """n photos as links in one folder (unique names, the sources repeated as needed)."""
    sources, _ = find_images(DATA / "300w" / "lfpw" / "testset")
    more, _ = find_images(DATA / "wflw-partial")
    sources += more
    folder = work / "photos"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for i in range(n):
        src = sources[i % len(sources)]
        (folder / f"{i:04d}{src.suffix.lower()}").symlink_to(src.resolve())
    return folder


def one_run(kind: str, folder: Path, work: Path, model: str | None) -> dict:
    """One `predict` of the folder, as a user runs it (its own process): wall time, the time to
    the first result in the results file, images/s."""
    results = work / f"{kind}.jsonl"
    results.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "litehrnet_plus.cli", "predict", str(folder), "--json", str(results)]
    cmd += ["--model", model] if model else []
    cmd += ["--ray", "--workers", kind.split("_")[1]] if kind.startswith("ray") else []
    env = dict(os.environ)
    if kind == "single_omp1":
        env["OMP_NUM_THREADS"] = "1"     # what Ray gives each one-CPU worker
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    first = None
    while proc.poll() is None:
        if first is None and results.is_file() and '"file"' in results.read_text():
            first = time.perf_counter() - start
        time.sleep(0.01)
    total = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{kind}: exit {proc.returncode}: {proc.stderr.read()[-2000:]}")
    processed = len(read_results(results)["images"])
    first = total if first is None else first
    return {"seconds": round(total, 2), "first_result_s": round(first, 2), "images": processed,
            "images_per_s": round(processed / total, 2),
            "images_per_s_after_first": round((processed - 1) / max(total - first, 1e-9), 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--model", default=None, help="default: the package's default model")
    ap.add_argument("--work", type=Path, default=Path("runs/measure_ray"))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    folder = photo_folder(args.work, args.photos)
    kinds = ["single", "single_omp1", "ray_1", "ray_2"]
    runs: dict[str, list[dict]] = {k: [] for k in kinds}
    for r in range(args.rounds):
        for kind in (kinds if r % 2 == 0 else kinds[::-1]):
            runs[kind].append(one_run(kind, folder, args.work, args.model))
            print(kind, runs[kind][-1], flush=True)
    rows = summarise(runs)
    return report(rows, runs, args)


def summarise(runs: dict[str, list[dict]]) -> dict[str, dict]:
    """Each configuration's median over the rounds."""
    return {k: {key: round(statistics.median(run[key] for run in v), 2) for key in v[0]} for k, v in runs.items()}


def report(rows: dict[str, dict], runs: dict[str, list[dict]], args) -> int:
    for k in ("single_omp1", "ray_1", "ray_2"):
        rows[k]["vs_single"] = round(rows[k]["images_per_s"] / rows["single"]["images_per_s"], 3)
        rows[k]["vs_single_after_first"] = round(rows[k]["images_per_s_after_first"]
                                                 / rows["single"]["images_per_s_after_first"], 3)
    # Ray's cost per image: one worker's steady-state time per image beyond that of one process
    # given what Ray gives the worker (one OpenMP thread for the detector)
    single_per_image = 1.0 / rows["single_omp1"]["images_per_s_after_first"]
    overhead_ms = 1e3 * (1.0 / rows["ray_1"]["images_per_s_after_first"] - single_per_image)
    doc = {"machine": machine_info(), "photos": args.photos, "rounds": args.rounds,
           "model": args.model or "default", "rows": rows, "runs": runs,
           "ray_overhead_ms_per_image": round(overhead_ms, 2),
           "single_omp1_ms_per_image": round(1e3 * single_per_image, 2),
           "command": f"python tools/measure_ray.py --photos {args.photos} --rounds {args.rounds}"
                      + (f" --json {args.json}" if args.json else "")}
    print(json.dumps({k: doc[k] for k in ("rows", "ray_overhead_ms_per_image", "single_omp1_ms_per_image")},
                     indent=1))
    if args.json:
        atomic_write_json(args.json, doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
