"""Landmarks under colour casts and channel mix-ups: lfpw/testset (ground-truth box) as it is,
with a strong yellow and a strong blue cast (per-channel gains), in grey, and given as RGB
instead of BGR; and wflw-partial (68-point subset, ground-truth box and end to end) as a
check in the wild.

    python tools/measure_colour.py --models litehrnet_plus_10m.300w out/ft_robust.onnx --json benchmarks/colour.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from litehrnet_plus.data.formats import load_300w, load_wflw  # noqa: E402
from litehrnet_plus.data.images import read_image  # noqa: E402
from litehrnet_plus.data.transforms import landmark_box  # noqa: E402
from litehrnet_plus.fileio import atomic_write_json  # noqa: E402
from litehrnet_plus.inference.landmarker import FaceLandmarker  # noqa: E402
from litehrnet_plus.schemes import WFLW98_TO_IBUG68  # noqa: E402
from litehrnet_plus.benchmarks.groundtruth import matched_face  # noqa: E402

# per-channel gains (B, G, R): a sodium-lamp yellow and a cold blue, like the casts seen in WFLW
CASTS = {"original": None, "yellow cast": (0.45, 0.95, 1.15), "blue cast": (1.2, 0.85, 0.5),
         "grey": "grey", "RGB for BGR": "swap"}


def variant(image: np.ndarray, kind) -> np.ndarray:
    if kind is None:
        return image
    if kind == "grey":
        return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    if kind == "swap":
        return np.ascontiguousarray(image[..., ::-1])
    return np.clip(image.astype(np.float32) * np.array(kind, np.float32), 0, 255).astype(np.uint8)


def nme(pred: np.ndarray, gt: np.ndarray) -> float:
    return float(np.linalg.norm(pred - gt, axis=1).mean() / np.linalg.norm(gt[36] - gt[45]))


def measure(tag: str, w300: Path, wflw: Path) -> dict:
    lm = FaceLandmarker(tag)
    samples = load_300w(w300, "lfpw/testset")
    images = [read_image(s.image_path, orient=False) for s in samples]
    out = {"model": tag, "lfpw_testset_nme": {}}
    for name, kind in CASTS.items():
        e = [nme(lm.landmarks(variant(im, kind), landmark_box(s.landmarks)[None])[0], s.landmarks)
             for im, s in zip(images, samples)]
        out["lfpw_testset_nme"][name] = round(float(np.mean(e)), 5)
    base = out["lfpw_testset_nme"]["original"]
    out["ratio_to_original"] = {k: round(v / base, 3) for k, v in out["lfpw_testset_nme"].items()}
    wf = load_wflw(wflw, "test")
    e_box, e_end, found = [], [], 0
    by_image: dict = {}
    for s in wf:
        by_image.setdefault(s.image_path, []).append(s)
    for path, faces_here in by_image.items():
        image = read_image(path, orient=False)
        detected = lm.detect(image)
        for s in faces_here:
            gt = s.landmarks[list(WFLW98_TO_IBUG68)].astype(np.float64)
            e_box.append(nme(lm.landmarks(image, landmark_box(gt)[None])[0], gt))
            best = matched_face(detected, gt)
            if best is not None:
                found += 1
                e_end.append(nme(best.landmarks, gt))
    e_box, e_end = np.array(e_box), np.array(e_end)
    out["wflw_partial"] = {"faces": len(wf), "gt_box_nme": round(float(e_box.mean()), 4),
                           "gt_box_fr10": round(float(np.mean(e_box > 0.1)), 4),
                           "end_to_end_found": round(found / len(wf), 4),
                           "end_to_end_nme": round(float(e_end.mean()), 4),
                           "end_to_end_fr10": round(float(np.mean(e_end > 0.1)), 4)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["litehrnet_plus_10m.300w", "litehrnet_plus_30m.300w"])
    ap.add_argument("--300w", dest="w300", type=Path, default=ROOT.parent / "shared/data/300w")
    ap.add_argument("--wflw", type=Path, default=ROOT.parent / "shared/data/wflw-partial")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    res = [measure(tag, args.w300, args.wflw) for tag in args.models]
    print(json.dumps(res, indent=1))
    if args.json:
        atomic_write_json(args.json, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
