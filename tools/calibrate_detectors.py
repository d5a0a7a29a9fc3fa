"""Measure each face detector's box calibration into the benchmark convention (tight box of
the 68 landmarks).

Fit on the 300-W TRAINING folders (afw, helen/trainset, lfpw/trainset): each ground-truth
face is matched to the raw detection with the nearest centre, and the calibration constants
are the medians of the centre offset and of the width/height, in units of the raw box size.
Then report, on lfpw/testset (never used for fitting), the calibrated IoU and centre error.

    .venv/bin/python tools/calibrate_detectors.py --detectors yuface dlib \
        --json benchmarks/detector_calibration.json
    .venv-mediapipe/bin/python tools/calibrate_detectors.py --detectors mediapipe haar \
        --json benchmarks/detector_calibration.json --update     # OpenCV 4 + numpy<2 venv

--install writes the fitted calibrations into src/litehrnet_plus/inference/calibration.json,
where the package reads them.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from litehrnet_plus.benchmarks.groundtruth import write_results, DATA, TEST_300W, TRAIN_300W, faces_300w, iou, nearest  # noqa: E402

from litehrnet_plus.data.images import read_image  # noqa: E402
from litehrnet_plus.inference.calibration import install  # noqa: E402
from litehrnet_plus.inference.detectors import BoxCalibration, get_raw_detector  # noqa: E402


def fit(raw, faces) -> tuple[BoxCalibration, dict]:
    rows = []
    for path, gts in tqdm(faces, desc="fit", leave=False):
        boxes = raw(read_image(path))[0]
        for gt in gts:
            i = nearest(gt, boxes)
            if i is None:
                continue
            b = boxes[i].astype(np.float64)
            s = ((b[2] - b[0]) + (b[3] - b[1])) / 2
            rows.append([((gt[0] + gt[2]) - (b[0] + b[2])) / 2 / s, ((gt[1] + gt[3]) - (b[1] + b[3])) / 2 / s,
                         (gt[2] - gt[0]) / s, (gt[3] - gt[1]) / s])
    r = np.array(rows)
    med = np.median(r, axis=0)
    cal = BoxCalibration(*(round(float(v), 4) for v in med))
    spread = (np.percentile(r, 75, axis=0) - np.percentile(r, 25, axis=0)).round(4).tolist()
    return cal, {"matched": len(r), "faces": sum(len(g) for _, g in faces), "iqr_dx_dy_sw_sh": spread}


def evaluate(raw, cal: BoxCalibration, faces) -> dict:
    found, ious, raw_ious, centre = 0, [], [], []
    for path, gts in tqdm(faces, desc="test", leave=False):
        boxes = raw(read_image(path))[0]
        calibrated = cal.apply(boxes)
        for gt in gts:
            if len(boxes) == 0:
                continue
            o = iou(gt, calibrated)[0]
            j = int(np.argmax(o))
            found += bool(o[j] > 0.5)
            ious.append(o[j])
            raw_ious.append(iou(gt, boxes)[0].max())
            size = ((gt[2] - gt[0]) + (gt[3] - gt[1])) / 2
            c = (calibrated[j, :2] + calibrated[j, 2:]) / 2
            centre.append(np.hypot(*(c - (gt[:2] + gt[2:]) / 2)) / size)
    n = sum(len(g) for _, g in faces)
    return {"faces": n, "detection_rate_iou50": round(found / n, 4),
            "median_iou": round(float(np.median(ious)), 4) if ious else None,
            "median_iou_uncalibrated": round(float(np.median(raw_ious)), 4) if raw_ious else None,
            "median_centre_error": round(float(np.median(centre)), 4) if centre else None,
            "p90_centre_error": round(float(np.percentile(centre, 90)), 4) if centre else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--detectors", nargs="+", default=["yuface", "dlib"])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N training images (quick check)")
    ap.add_argument("--json", type=Path, help="write the results as JSON")
    ap.add_argument("--update", action="store_true", help="add to / replace entries of an existing --json")
    ap.add_argument("--install", action="store_true",
                    help="write the calibrations into the package's inference/calibration.json")
    args = ap.parse_args()
    train = faces_300w(TRAIN_300W, args.data)
    test = faces_300w(TEST_300W, args.data)
    if args.limit:
        train = train[: args.limit]
    results = {}
    for name in args.detectors:
        raw = get_raw_detector(name)
        cal, fit_info = fit(raw, train)
        res = {"calibration": cal.__dict__, "fit_300w_train": fit_info, "lfpw_testset": evaluate(raw, cal, test)}
        results[name] = res
        print(f"{name}: {json.dumps(res)}")
        if args.install:
            install("detectors", name, {**cal.__dict__, "measured_by": "tools/calibrate_detectors.py --detectors "
                                        f"{name} --json {args.json} --install"})
    if args.json:
        write_results(args.json, results, args.update)
    return 0


if __name__ == "__main__":
    sys.exit(main())
