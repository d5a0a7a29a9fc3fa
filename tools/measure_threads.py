"""Thread settings under a competing load: the figures behind the thread defaults.

For each workload (one face's landmarks, the video tracker, a folder of photos, a training
step) and each thread setting, a worker process is started once and kept; the parent then asks
the workers in turn, interleaved and in rounds, to run for a few seconds -- on an idle machine
and beside a busy loop that keeps one core loaded (another program, as on a user's laptop or a
shared CI machine). Medians over the rounds, as rates (higher is better).

Run (nothing else running):
    python tools/measure_threads.py --data ../shared/data --rounds 3 --seconds 3 --json benchmarks/threads.json
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

# workload -> settings: name -> (ORT threads or torch threads, spinning / OMP active waiting)
ORT_SETTINGS = {"ort-default (cores, spinning)": (0, True), "2 threads, spinning": (2, True),
                "2 threads, no spinning": (2, False), "1 thread (new default)": (1, False)}
TRAIN_SETTINGS = {"2 threads (old default), OMP active": (2, True), "2 threads, OMP passive": (2, False),
                  "1 thread": (1, True)}
WORKLOADS = ("face", "video", "folder", "train")


# ----------------------------------------------------------------------------- worker side
def _patch_ort(threads: int, spinning: bool) -> None:
    """Make every OnnxHeatmapModel session use these options (0 threads: ORT's own default)."""
    import onnxruntime as ort

    from litehrnet_plus.inference import runtime

    def options(_threads: int) -> ort.SessionOptions:
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        return opts
    runtime.session_options = options


def _workload(kind: str, data: Path, model: str):
    """A function doing one unit of work (a face, a frame, an image, a training image batch)
    and the number of units it does."""
    from litehrnet_plus.data.formats import load_300w
    from litehrnet_plus.data.images import read_image
    from litehrnet_plus.inference.landmarker import FaceLandmarker

    if kind == "train":
        import torch

        from litehrnet_plus.engine.losses import heatmap_loss
        from litehrnet_plus.models import create_model
        torch.manual_seed(0)
        net = create_model(model.split(".")[0]).train()
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        x, target = torch.rand(32, 3, 96, 96), torch.rand(32, 68, 24, 24)
        weight = torch.ones(32, 68)

        def step():
            loss = heatmap_loss("bce", net(x), target, weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return step, 32
    lm = FaceLandmarker(model)
    samples = load_300w(data / "300w", "lfpw/testset")[:32]
    if kind == "face":
        images = [(read_image(s.image_path), s.box[None]) for s in samples]
        it = iter(range(10**12))
        return (lambda: lm.landmarks(*images[next(it) % len(images)])), 1
    if kind == "folder":
        paths = [s.image_path for s in samples]
        it = iter(range(10**12))
        return (lambda: lm.detect(paths[next(it) % len(paths)])), 1
    from litehrnet_plus.inference.tracking import FaceTracker
    import cv2
    face = cv2.resize(read_image(ROOT / "examples" / "astronaut.jpg"), (360, 360))
    frames = []
    for i in range(120):
        canvas = np.zeros((480, 640, 3), np.uint8)
        x = 40 + abs(i % 120 - 60) * 3
        canvas[60:420, x:x + 360] = face
        frames.append(canvas)
    tracker = FaceTracker(lm)
    it = iter(range(10**12))

    def frame():
        i = next(it)
        tracker.update(frames[i % len(frames)], i / 30)
    return frame, 1


def worker(args: argparse.Namespace) -> None:
    threads, spinning = args.threads, bool(args.spin)
    if args.kind == "train":
        os.environ["OMP_WAIT_POLICY"] = "ACTIVE" if spinning else "PASSIVE"
        import torch
        torch.set_num_threads(threads)
    else:
        _patch_ort(threads, spinning)
    fn, units = _workload(args.kind, Path(args.data), args.model)
    for _ in range(3):
        fn()                                                      # warm-up
    print("ready", flush=True)
    for line in sys.stdin:
        seconds = float(line)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            fn()
            n += units
        print(json.dumps({"rate": n / (time.perf_counter() - t0)}), flush=True)


# ----------------------------------------------------------------------------- parent side
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--model", default="litehrnet_plus_10m.300w")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--json")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--kind", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--spin", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return
    workers = {}
    for kind in args.workloads.split(","):
        settings = TRAIN_SETTINGS if kind == "train" else ORT_SETTINGS
        for name, (threads, spin) in settings.items():
            p = subprocess.Popen([sys.executable, __file__, "--worker", "--kind", kind, "--threads", str(threads),
                                  "--spin", str(int(spin)), "--data", args.data, "--model", args.model],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            assert p.stdout.readline().strip() == "ready", f"worker {kind} {name} failed"
            workers[(kind, name)] = p
    rates: dict[tuple, list[float]] = {}
    busy = None
    try:
        for r in range(args.rounds):
            for load in ("idle", "one core busy"):
                if load != "idle":
                    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
                    time.sleep(0.5)
                order = list(workers.items()) if r % 2 == 0 else list(reversed(workers.items()))
                for (kind, name), p in order:
                    p.stdin.write(f"{args.seconds}\n")
                    p.stdin.flush()
                    rate = json.loads(p.stdout.readline())["rate"]
                    rates.setdefault((kind, name, load), []).append(rate)
                if busy is not None:
                    busy.kill()
                    busy.wait()
                    busy = None
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    finally:
        if busy is not None:
            busy.kill()
        for p in workers.values():
            p.stdin.close()
            p.wait()
    units = {"face": "faces/s", "video": "frames/s", "folder": "images/s", "train": "training images/s"}
    rows = []
    print("| workload | setting | idle | one core busy |")
    print("|---|---|---|---|")
    for kind, name in workers:
        idle = float(np.median(rates[(kind, name, "idle")]))
        loaded = float(np.median(rates[(kind, name, "one core busy")]))
        rows.append({"workload": kind, "unit": units[kind], "setting": name, "idle": round(idle, 1),
                     "one_core_busy": round(loaded, 1),
                     "rounds": {load: [round(v, 1) for v in rates[(kind, name, load)]]
                                for load in ("idle", "one core busy")}})
        print(f"| {kind} ({units[kind]}) | {name} | {idle:.1f} | {loaded:.1f} |")
    if args.json:
        from litehrnet_plus.fileio import atomic_write_json
        atomic_write_json(args.json, {"model": args.model, "seconds": args.seconds, "rounds": args.rounds,
                                      "cpu_count": os.cpu_count(), "rows": rows,
                                      "command": "python " + " ".join(sys.argv)})


if __name__ == "__main__":
    main()
