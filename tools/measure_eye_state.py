"""The eye-state classifier and the eye aspect ratio, measured (ONNX Runtime, no PyTorch).

    python tools/measure_eye_state.py --json benchmarks/eye_state.json

1. mrl-eyes, held-out index blocks 4001-5000 (both classes), re-cut to the landmark framing:
   accuracy at P(closed) = 0.5 and ROC AUC.
2. Crops cut by our landmarks (the model's, from the ground-truth box) from visible-light photos
   (grey): 300-W lfpw/testset and wflw-partial (its 68-point subset). On eyes open by their
   ground truth (EAR >= 0.2) the share called closed (false "closed"); on shut ones
   (EAR <= 0.1) the share called closed.
3. The eye aspect ratio of open eyes on the 300-W training faces (ground truth): the reference
   that `openness` divides by (its median), written to inference/calibration.json with --install.
4. Time per eye (two eyes a call, one thread).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from litehrnet_plus.data.formats import load_300w, load_wflw  # noqa: E402
from litehrnet_plus.data.images import read_image  # noqa: E402
from litehrnet_plus.data.mrl_eyes import block, load_mrl, recut  # noqa: E402
from litehrnet_plus.data.transforms import landmark_box  # noqa: E402
from litehrnet_plus.evaluation.metrics import roc_auc  # noqa: E402
from litehrnet_plus.fileio import atomic_write_json  # noqa: E402
from litehrnet_plus.monitor.eyes import (EYE_CROP_SCALE, EYE_INPUT, EYE_MODEL_FILE, EyeStateModel,  # noqa: E402
                                         eye_aspect_ratio, eye_crops, to_gray)
from litehrnet_plus.schemes import WFLW98_TO_IBUG68  # noqa: E402

OPEN_EAR, SHUT_EAR = 0.2, 0.1


def mrl_heldout(model: EyeStateModel, root: Path, blocks=(4001, 5000)) -> dict:
    images, closed, index = load_mrl(root)
    sel = block(index, blocks)
    rng = np.random.default_rng(0)
    crops = np.stack([recut(im, rng, None, EYE_INPUT, EYE_CROP_SCALE) for im in images[sel]])
    p = model.closed_probability(crops)
    y = closed[sel] == 1
    return {"blocks": list(blocks), "eyes": int(sel.sum()), "accuracy": round(float(np.mean((p >= 0.5) == y)), 4),
            "roc_auc": round(roc_auc(p, y), 4),
            "false_closed_rate": round(float(np.mean(p[~y] >= 0.5)), 4),
            "missed_closed_rate": round(float(np.mean(p[y] < 0.5)), 4)}


def landmark_crops(model: EyeStateModel, samples, tag: str, points: list[int] | None = None) -> dict:
    from litehrnet_plus.inference.landmarker import FaceLandmarker
    lm = FaceLandmarker(tag)
    probs, ears = [], []
    for s in samples:
        image = read_image(s.image_path, orient=False)
        gt = s.landmarks.astype(np.float64)
        gt = gt if points is None else gt[points]
        pred = lm.landmarks(image, landmark_box(gt)[None])[0]
        probs.extend(model.closed_probability(eye_crops(to_gray(image), pred)))
        ears.extend(eye_aspect_ratio(gt).values())
    probs, ears = np.array(probs), np.array(ears)
    opened, shut = ears >= OPEN_EAR, ears <= SHUT_EAR
    return {"model": tag, "eyes": len(probs), "open_eyes": int(opened.sum()),
            "false_closed_rate": round(float(np.mean(probs[opened] >= 0.5)), 4),
            "shut_eyes": int(shut.sum()),
            "shut_called_closed": round(float(np.mean(probs[shut] >= 0.5)), 4) if shut.any() else None,
            "roc_auc_shut_vs_open": round(roc_auc(probs[opened | shut], shut[opened | shut]), 4)}


def open_ear_reference(root: Path) -> dict:
    ears = np.array([v for s in load_300w(root, "train") for v in eye_aspect_ratio(s.landmarks).values()])
    opened = ears[ears >= OPEN_EAR]
    return {"faces_eyes": len(ears), "open_eyes": len(opened), "median_open_ear": round(float(np.median(opened)), 4),
            "ear_percentiles_5_50_95": [round(float(v), 4) for v in np.percentile(ears, [5, 50, 95])]}


def speed(model: EyeStateModel, rounds: int = 300) -> dict:
    crops = np.random.default_rng(0).integers(0, 255, (2, EYE_INPUT, EYE_INPUT), dtype=np.uint8)
    for _ in range(20):
        model.closed_probability(crops)
    t = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        model.closed_probability(crops)
        t.append(time.perf_counter() - t0)
    return {"ms_per_call_two_eyes_median": round(1e3 * float(np.median(t)), 4),
            "ms_per_eye": round(1e3 * float(np.median(t)) / 2, 4)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-file", type=Path, default=EYE_MODEL_FILE)
    ap.add_argument("--mrl", type=Path, default=ROOT.parent / "shared/data/mrl-eyes")
    ap.add_argument("--300w", dest="w300", type=Path, default=ROOT.parent / "shared/data/300w")
    ap.add_argument("--wflw", type=Path, default=ROOT.parent / "shared/data/wflw-partial")
    ap.add_argument("--model", default="litehrnet_plus_10m.300w", help="landmark model that cuts the 300-W crops")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--install", action="store_true", help="write the open-eye reference into calibration.json")
    args = ap.parse_args(argv)
    model = EyeStateModel(args.model_file)
    res = {"classifier": args.model_file.name, "mrl_eyes_heldout": mrl_heldout(model, args.mrl),
           "lfpw_testset_landmark_crops": landmark_crops(model, load_300w(args.w300, "lfpw/testset"), args.model),
           "wflw_partial_landmark_crops": landmark_crops(model, load_wflw(args.wflw, "test"), args.model,
                                                         list(WFLW98_TO_IBUG68)),
           "open_ear_300w_train": open_ear_reference(args.w300), "speed": speed(model)}
    print(json.dumps(res, indent=1))
    if args.json:
        atomic_write_json(args.json, res)
    if args.install:
        from litehrnet_plus.inference.calibration import install
        install("eyes", None, {"open_ear": res["open_ear_300w_train"]["median_open_ear"],
                               "measured_by": "tools/measure_eye_state.py: median EAR of the open eyes "
                                              "(EAR >= 0.2) of the 300-W training faces"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
