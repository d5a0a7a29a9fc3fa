"""Small faces in large photos: real faces (300-W lfpw/testset) pasted at 40-120 px (landmark
box side) into a large synthetic photo, found with the plain detector pass and with
`min_face` (detector tiles); found rate and NME by size, time per photo. Also the smallest
face the detector itself finds (faces pasted at 12-96 px into a 960x960 photo).

    python tools/measure_small_faces.py --json benchmarks/small_faces.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from litehrnet_plus.data.formats import load_300w  # noqa: E402
from litehrnet_plus.data.images import read_image  # noqa: E402
from litehrnet_plus.fileio import atomic_write_json  # noqa: E402
from litehrnet_plus.inference.landmarker import FaceLandmarker  # noqa: E402
from litehrnet_plus.benchmarks.groundtruth import matched_face  # noqa: E402


def background(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth random colour blotches plus a little noise: no faces, some texture."""
    low = rng.uniform(40, 220, (max(2, h // 200), max(2, w // 200), 3)).astype(np.float32)
    img = cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)


def paste_faces(canvas: np.ndarray, faces, sizes: np.ndarray, rng: np.random.Generator):
    """Paste each (image, landmarks) scaled so its landmark box side is the size, on a grid
    with jitter; returns the ground truth (landmarks in the canvas) per face."""
    h, w = canvas.shape[:2]
    n = len(sizes)
    cols = int(np.ceil(np.sqrt(n * w / h)))
    rows = int(np.ceil(n / cols))
    cell = (w / cols, h / rows)
    truth = []
    for i, ((img, pts), size) in enumerate(zip(faces, sizes)):
        side = float(np.ptp(pts, axis=0).max())
        s = size / side
        small = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        p = (pts + 0.5) * s - 0.5                # pixel centres at integers, before and after
        r, c = divmod(i, cols)
        cx = (c + 0.5) * cell[0] + rng.uniform(-0.2, 0.2) * cell[0]
        cy = (r + 0.5) * cell[1] + rng.uniform(-0.2, 0.2) * cell[1]
        centre = p.mean(axis=0)
        x0, y0 = int(round(cx - centre[0])), int(round(cy - centre[1]))
        hh, ww = small.shape[:2]
        x0 = int(np.clip(x0, 0, w - ww))
        y0 = int(np.clip(y0, 0, h - hh))
        canvas[y0:y0 + hh, x0:x0 + ww] = small
        truth.append(p + (x0, y0))
    return truth


def match(faces, truth):
    """For each true face: the NME of the returned face nearest it, or None if none is near."""
    out = []
    for gt in truth:
        best = matched_face(faces, gt)
        if best is None:
            out.append(None)
        else:
            out.append(float(np.linalg.norm(best.landmarks - gt, axis=1).mean() / np.linalg.norm(gt[36] - gt[45])))
    return out


def summary(sizes, nmes, bins) -> list[dict]:
    rows = []
    for lo, hi in bins:
        sel = [(n) for s, n in zip(sizes, nmes) if lo <= s < hi]
        found = [n for n in sel if n is not None]
        rows.append({"size": f"{lo}-{hi}", "faces": len(sel), "found": len(found),
                     "nme": round(float(np.mean(found)), 4) if found else None})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/300w")
    ap.add_argument("--model", default="litehrnet_plus_30m.300w")
    ap.add_argument("--size", type=int, nargs=2, default=[6000, 4000], metavar=("W", "H"))
    ap.add_argument("--photos", type=int, default=3)
    ap.add_argument("--faces", type=int, default=40, help="faces per photo")
    ap.add_argument("--min-face", type=float, default=40.0)
    ap.add_argument("--detector", default="yuface")
    ap.add_argument("--install", action="store_true",
                    help="write the detector's smallest reliable face (found rate >= 0.9) into calibration.json")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    samples = load_300w(args.data, "lfpw/testset")
    pool = [(read_image(s.image_path, orient=False), s.landmarks.astype(np.float64)) for s in samples]
    res = {"model": args.model, "photo": args.size, "faces_per_photo": args.faces, "min_face": args.min_face}

    # the detector's own smallest face, at its working size
    lm = FaceLandmarker(args.model, detector=args.detector, orientations="upright")
    tiny = {}
    for size in (12, 16, 20, 24, 28, 32, 40, 48, 64, 80, 96):
        canvas = background(960, 960, rng)
        idx = rng.choice(len(pool), 16, replace=False)
        truth = paste_faces(canvas, [pool[i] for i in idx], np.full(16, size), rng)
        found = [n for n in match(lm.detect(canvas), truth) if n is not None]
        tiny[size] = round(len(found) / 16, 3)
    res["detector"] = args.detector
    res["detector_found_rate_by_face_size_at_960"] = tiny
    reliable = [size for size, rate in tiny.items() if rate >= 0.9 and all(tiny[b] >= 0.9 for b in tiny if b > size)]
    res["detector_min_face"] = float(min(reliable)) if reliable else None
    if args.install and res["detector_min_face"] is not None:
        from litehrnet_plus.inference.calibration import install
        install("detector_min_face", None, {args.detector: res["detector_min_face"]})

    runs = {"plain": FaceLandmarker(args.model, detector=args.detector),
            f"min_face={args.min_face:g}": FaceLandmarker(args.model, detector=args.detector, min_face=args.min_face),
            f"min_face={args.min_face:g}, upright": FaceLandmarker(args.model, detector=args.detector,
                                                                   min_face=args.min_face, orientations="upright")}
    sizes_all, nmes = [], {k: [] for k in runs}
    times = {k: [] for k in runs}
    tiles = []
    for _ in range(args.photos):
        canvas = background(args.size[1], args.size[0], rng)
        sizes = rng.uniform(40, 120, args.faces)
        idx = rng.choice(len(pool), args.faces, replace=False)
        truth = paste_faces(canvas, [pool[i] for i in idx], sizes, rng)
        sizes_all += list(sizes)
        for name, lmk in runs.items():
            t0 = time.perf_counter()
            faces = lmk.detect(canvas)
            times[name].append(time.perf_counter() - t0)
            nmes[name] += match(faces, truth)
            if name.endswith("upright"):
                tiles.append(lmk.detector.tiles_run)
    bins = ((40, 60), (60, 80), (80, 100), (100, 121))
    res["runs"] = {name: {"found": f"{sum(n is not None for n in nmes[name])} / {len(nmes[name])}",
                          "found_rate": round(float(np.mean([n is not None for n in nmes[name]])), 4),
                          "nme_found": round(float(np.mean([n for n in nmes[name] if n is not None] or [np.nan])), 4),
                          "by_size": summary(sizes_all, nmes[name], bins),
                          "seconds_per_photo_median": round(float(np.median(times[name])), 3)}
                   for name in runs}
    res["tiles_per_detector_pass"] = tiles
    print(json.dumps(res, indent=1))
    if args.json:
        atomic_write_json(args.json, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
