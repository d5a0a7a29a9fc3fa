"""Per-face time end to end, against dlib's 68-point predictor in the same process:
`FaceLandmarker(tag).landmarks(image, box)` vs `shape_predictor(image, rect)` on the same 16
lfpw/testset photos and ground-truth boxes, one thread. Bursts of 10 calls, every configuration
in every round, the order reversed each round; the figure is the median over rounds of the
per-round ratio. Also the split of our per-face time by stage.

    python tools/measure_per_face.py --json benchmarks/per_face.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from litehrnet_plus.data.formats import load_300w  # noqa: E402
from litehrnet_plus.data.images import read_image  # noqa: E402
from litehrnet_plus.data.transforms import crop_faces, landmark_box, to_input, uncrop_points  # noqa: E402
from litehrnet_plus.fileio import atomic_write_json  # noqa: E402
from litehrnet_plus.inference.bench import dlib_predictor, machine_info  # noqa: E402
from litehrnet_plus.inference.landmarker import FaceLandmarker  # noqa: E402


def stages(lm: FaceLandmarker, images, boxes, rounds: int = 30) -> dict:
    m = lm.model
    t = {k: [] for k in ("crop", "normalise", "network", "decode", "map back")}
    for _ in range(rounds):
        for im, b in zip(images, boxes):
            t0 = time.perf_counter()
            crops, mats = crop_faces(im, b, m.input_size, m.crop_scale)
            t1 = time.perf_counter()
            x = to_input(crops)
            t2 = time.perf_counter()
            hm = m.session.run(None, {m._input: x})[0]
            t3 = time.perf_counter()
            pts, _ = m.codec.decode(hm)
            t4 = time.perf_counter()
            uncrop_points(pts, mats)
            t5 = time.perf_counter()
            for k, v in zip(t, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                t[k].append(v)
    return {k: round(1e3 * float(np.median(v)), 4) for k, v in t.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/300w")
    ap.add_argument("--models", nargs="+", default=["litehrnet_plus_10m.300w", "litehrnet_plus_30m.300w"])
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--burst", type=int, default=10)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    predictor, note = dlib_predictor()
    if predictor is None:
        raise SystemExit(f"dlib reference needed: {note}")
    import dlib
    samples = load_300w(args.data, "lfpw/testset")[:16]
    images = [read_image(s.image_path, orient=False) for s in samples]
    boxes = [landmark_box(s.landmarks)[None] for s in samples]
    rgb = [np.ascontiguousarray(im[:, :, ::-1]) for im in images]
    rects = [dlib.rectangle(*(int(round(v)) for v in b[0])) for b in boxes]
    lms = {tag: FaceLandmarker(tag, threads=1) for tag in args.models}
    calls = {tag: (lambda i, lm=lm: lm.landmarks(images[i], boxes[i])) for tag, lm in lms.items()}
    calls["dlib"] = lambda i: predictor(rgb[i], rects[i])
    names = list(calls)
    for name in names:                     # warm-up
        for i in range(len(images)):
            calls[name](i)
    per_round = {n: [] for n in names}
    for r in range(args.rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            t0 = time.perf_counter()
            for k in range(args.burst):
                calls[name](k % len(images))
            per_round[name].append((time.perf_counter() - t0) / args.burst)
    dl = np.array(per_round["dlib"])
    res = {"machine": machine_info(), "faces": len(images), "rounds": args.rounds, "burst": args.burst,
           "dlib_ms_per_face_median": round(1e3 * float(np.median(dl)), 4), "models": {}}
    for tag in args.models:
        t = np.array(per_round[tag])
        res["models"][tag] = {"ms_per_face_median": round(1e3 * float(np.median(t)), 4),
                              "time_vs_dlib": round(float(np.median(t / dl)), 3),
                              "stages_ms": stages(lms[tag], images, boxes)}
    print(json.dumps(res, indent=1))
    if args.json:
        atomic_write_json(args.json, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
