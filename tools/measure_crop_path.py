"""What a change of the crop path does to the shipped models' landmarks, from the ground-truth box.

    python tools/measure_crop_path.py --json runs/crop_new.json                  # this checkout
    PYTHONPATH=/path/to/other/checkout/src python tools/measure_crop_path.py --json runs/crop_old.json
    python tools/measure_crop_path.py --compare runs/crop_old.json runs/crop_new.json
    python tools/measure_crop_path.py --time          # and with PYTHONPATH=..., taking turns

Per model and set (lfpw/testset; wflw-partial's 68-point subset): NME (inter-ocular), FR@0.10,
and every face's landmarks, so two runs (two checkouts) can be compared face by face: how many
faces moved, by how many pixels, and the NME before and after. --time: milliseconds per
`crop_faces` call on the first frame of each `bench --mode video` clip (run it in both
checkouts in turn, a few times: nothing else running).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from litehrnet_plus.benchmarks.groundtruth import DATA
from litehrnet_plus.data.formats import load_300w, load_wflw
from litehrnet_plus.data.images import read_image
from litehrnet_plus.data.transforms import crop_faces, landmark_box
from litehrnet_plus.evaluation.metrics import FAILURE_THRESHOLD
from litehrnet_plus.fileio import atomic_write_json
from litehrnet_plus.hub import available
from litehrnet_plus.inference.landmarker import FaceLandmarker
from litehrnet_plus.schemes import WFLW98_TO_IBUG68


def faces(data: Path) -> dict[str, list[tuple[Path, np.ndarray]]]:
    wflw = [(s.image_path, s.landmarks[list(WFLW98_TO_IBUG68)]) for s in load_wflw(data / "wflw-partial", "test")]
    return {"lfpw/testset": [(s.image_path, s.landmarks) for s in load_300w(data / "300w", "lfpw/testset")],
            "wflw-partial": wflw}


def measure(models: list[str], data: Path) -> dict:
    sets, images, out = faces(data), {}, {}
    for tag in models:
        lm = FaceLandmarker(tag, threads=1, backend="onnxruntime")
        for name, samples in sets.items():
            errors, points = [], []
            for path, truth in samples:
                if path not in images:
                    images[path] = read_image(path, orient=False)
                pred = lm.landmarks(images[path], landmark_box(truth)[None].astype(np.float64))[0]
                points.append(np.round(pred, 4).tolist())
                errors.append(float(np.linalg.norm(pred - truth, axis=1).mean() / np.linalg.norm(truth[36] - truth[45])))
            e = np.array(errors)
            out[f"{tag} {name}"] = {"faces": len(e), "nme": float(e.mean()), "fr": float(np.mean(e > FAILURE_THRESHOLD)),
                                    "points": points}
            print(f"{tag:32s} {name:14s} {len(e)} faces  NME {100 * e.mean():.3f}%  FR {100 * np.mean(e > FAILURE_THRESHOLD):.1f}%",
                  flush=True)
    return out


def time_crops(data: Path, calls: int = 3000) -> None:
    from litehrnet_plus.benchmarks.video import clips_from

    for clip in clips_from(data / "300w" / "lfpw" / "testset", 1):
        box, rolls = landmark_box(clip.truth[0]).astype(np.float64)[None], np.zeros(1)
        for _ in range(calls // 10):                     # warm the caches and OpenCV's buffers
            crop_faces(clip.frames[0], box, 96, 1.25, rolls)
        start = time.perf_counter()
        for _ in range(calls):
            crop_faces(clip.frames[0], box, 96, 1.25, rolls)
        print(f"{clip.name:16s} {1e3 * (time.perf_counter() - start) / calls:.3f} ms per crop", flush=True)


def compare(before: dict, after: dict) -> None:
    print("| model, set | faces moved | mean / largest move of a moved face (px) | NME before -> after |")
    print("|---|---|---|---|")
    for key in before:
        a, b = np.array(before[key]["points"]), np.array(after[key]["points"])
        move = np.linalg.norm(a - b, axis=2).mean(axis=1)
        moved = move > 1e-3
        mean = f"{move[moved].mean():.2f} / {move.max():.2f}" if moved.any() else "-"
        print(f"| `{key}` | {int(moved.sum())} of {len(move)} | {mean} | "
              f"{100 * before[key]['nme']:.3f}% -> {100 * after[key]['nme']:.3f}% |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=None, help="shipped tags (default: all)")
    ap.add_argument("--data", type=Path, default=DATA, help="the folder holding 300w/ and wflw-partial/")
    ap.add_argument("--json", type=Path, help="write the run here")
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"), help="compare two runs")
    ap.add_argument("--time", action="store_true", help="time crop_faces on the video benchmark's clips")
    args = ap.parse_args()
    if args.time:
        time_crops(args.data)
        return 0
    if args.compare:
        compare(*(json.loads(p.read_text()) for p in args.compare))
        return 0
    result = measure(args.models or sorted(available()), args.data)
    if args.json:
        atomic_write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
