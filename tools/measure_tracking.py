"""Video figures: landmark jitter with and without One-Euro smoothing, the smoothing
parameters, and end-to-end frames/s.

1. Jitter and lag, on 300-W TRAINING faces with ground truth (lfpw/trainset, every 80th):
   a 'still' clip (the image standing still + pixel noise of std 2 grey levels, 90 frames)
   and a 'pan' clip (slow pan and zoom, 90 frames), both from tools/make_test_video.py, are
   tracked once without smoothing; each One-Euro setting of a grid is then applied to those
   raw tracks (smoothing does not change what is tracked: crops follow the raw landmarks).
     jitter = RMS frame-to-frame landmark motion on 'still', % of the inter-ocular distance
     pan NME = mean landmark error on 'pan' against the moved ground truth, % inter-ocular
   Chosen: the setting with the least jitter whose pan NME is within 2% (relative) of the
   unsmoothed pan NME.
2. Re-detection: a clip cutting from the astronaut to an lfpw/testset face at frame 45.
3. Frames/s: a 640x480 pan over examples/astronaut.jpg (300 frames): track + smooth on
   frames decoded beforehand (with the default periodic re-detection, and with max_faces=1,
   which skips it), decode + track + smooth + draw, and for comparison detect every frame;
   and the median time of one face's landmarks alone (crop + ONNX Runtime + decode).

    .venv/bin/python tools/measure_tracking.py --model MODEL.onnx --json benchmarks/video.json --overwrite
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from litehrnet_plus.benchmarks.groundtruth import DATA  # noqa: E402
from litehrnet_plus.data.formats import read_pts  # noqa: E402
from litehrnet_plus.benchmarks.clips import cut_frames, pan_frames, still_frames, write_video  # noqa: E402

from litehrnet_plus.data.images import read_image  # noqa: E402
from litehrnet_plus.data.transforms import landmark_box, transform_points  # noqa: E402
from litehrnet_plus.fileio import atomic_write_json, check_writable  # noqa: E402
from litehrnet_plus.inference.draw import draw_faces  # noqa: E402
from litehrnet_plus.inference.landmarker import FaceLandmarker  # noqa: E402
from litehrnet_plus.inference.smoothing import OneEuroFilter  # noqa: E402
from litehrnet_plus.inference.calibration import calibration  # noqa: E402
from litehrnet_plus.inference.tracking import FaceTracker  # noqa: E402
from litehrnet_plus.inference.video import open_video  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GRID_MIN_CUTOFF = (0.03, 0.1, 0.3, 0.5, 1.0, 2.0, 4.0)
GRID_BETA = (0.0, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0)


def raw_track(lm: FaceLandmarker, frames, threshold: float) -> np.ndarray | None:
    """(T,K,2) raw landmarks of the best-matching face per frame, or None if a frame has none."""
    tr = FaceTracker(lm, threshold=threshold, smooth=False)
    out = []
    for i, (frame, _) in enumerate(frames):
        faces = tr.update(frame, i / 30)
        if not faces:
            return None
        out.append(faces[0].landmarks)
    return np.stack(out)


def smooth(track: np.ndarray, min_cutoff: float, beta: float) -> np.ndarray:
    f = OneEuroFilter(min_cutoff, beta)
    out = []
    for i, p in enumerate(track):
        box = np.r_[p.min(0), p.max(0)]
        out.append(f(p, i / 30, scale=float(max(box[2] - box[0], box[3] - box[1]))))
    return np.stack(out)


def jitter(track: np.ndarray, iod: float) -> float:
    step = np.linalg.norm(np.diff(track, axis=0), axis=2)
    return float(np.sqrt(np.mean(step ** 2)) / iod * 100)


def pan_nme(track: np.ndarray, gt: np.ndarray) -> float:
    iod = np.linalg.norm(gt[:, 36] - gt[:, 45], axis=1)
    return float(np.mean(np.linalg.norm(track - gt, axis=2).mean(axis=1) / iod) * 100)


def accuracy_figures(lm: FaceLandmarker, threshold: float, data: Path) -> dict:
    faces = sorted((data / "300w" / "lfpw" / "trainset").glob("*.pts"))[::80]
    clips = []
    for pts_path in faces:
        image = read_image(pts_path.with_suffix(".jpg"))
        gt = read_pts(pts_path)
        still = still_frames(image, 90)
        pan = pan_frames(image, 90)
        rs, rp = raw_track(lm, still, threshold), raw_track(lm, pan, threshold)
        if rs is None or rp is None:
            continue
        iod = float(np.linalg.norm(transform_points(gt, still[0][1])[36] - transform_points(gt, still[0][1])[45]))
        gt_pan = np.stack([transform_points(gt, m) for _, m in pan])
        clips.append((rs, iod, rp, gt_pan))
    table = []
    for mc, beta in [(None, None)] + list(itertools.product(GRID_MIN_CUTOFF, GRID_BETA)):
        js, ps = [], []
        for rs, iod, rp, gt_pan in clips:
            s = rs if mc is None else smooth(rs, mc, beta)
            p = rp if mc is None else smooth(rp, mc, beta)
            js.append(jitter(s, iod))
            ps.append(pan_nme(p, gt_pan))
        table.append({"min_cutoff": mc, "beta": beta, "still_jitter_pct_iod": round(float(np.mean(js)), 4),
                      "pan_nme_pct_iod": round(float(np.mean(ps)), 4)})
    raw = table[0]
    ok = [r for r in table[1:] if r["pan_nme_pct_iod"] <= raw["pan_nme_pct_iod"] * 1.02]
    chosen = min(ok, key=lambda r: r["still_jitter_pct_iod"]) if ok else None
    return {"clips": len(clips), "faces": [p.name for p in faces], "unsmoothed": raw, "chosen": chosen,
            "grid": table[1:]}


def cut_figures(lm: FaceLandmarker, threshold: float, data: Path) -> dict:
    """A 90-frame clip cutting from the astronaut to lfpw/testset image_0001 at frame 45: where
    the detector ran, and the old crop's confidence on the first new frame."""
    first = read_image(ROOT / "examples" / "astronaut.jpg")
    frames = cut_frames(first, read_image(data / "300w" / "lfpw" / "testset" / "image_0001.jpg"), 45)
    tr = FaceTracker(lm, threshold=threshold)
    runs, old_conf, centres = [], None, {}
    for i, (frame, _) in enumerate(frames):
        before = tr.detector_runs
        if i == 45 and tr.tracks:
            _, s = lm.predict(frame, landmark_box(tr.tracks[0].fit.landmarks)[None])
            old_conf = round(float(s.mean()), 3)
        faces = tr.update(frame, i / 30)
        if tr.detector_runs != before:
            runs.append(i)
        if i in (44, 45):
            centres[i] = [round((f.box[0] + f.box[2]) / 2, 1) for f in faces]
    return {"cut_at_frame": 45, "detector_ran_at_frames": runs, "old_crop_confidence_after_cut": old_conf,
            "face_centre_x_before_after": centres}


def fps_figures(lm: FaceLandmarker, threshold: float, frames: int, repeat: int) -> dict:
    """Frames/s of each mode, run `repeat` times alternately (the machine is shared: the median
    and the range say more than one run). "in memory" modes time the landmark pipeline alone
    on frames decoded beforehand (the speed target excludes decoding); "from file" includes
    decoding the mp4 and drawing the overlay."""
    image = read_image(ROOT / "examples" / "astronaut.jpg")
    modes = ("track+smooth, in memory", "track+smooth, max_faces=1, in memory", "track+smooth+draw, from file",
             "detect every frame, in memory")
    runs: dict[str, list[float]] = {m: [] for m in modes}
    detector_runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pan.mp4"
        write_video([f for f, _ in pan_frames(image, frames)], path)
        video = open_video(path)
        decoded = [(t, f) for _, t, f in video.frames()]
        video.close()
        for _ in range(repeat):
            for mode in modes:
                tr = FaceTracker(lm, threshold=threshold, max_faces=1 if "max_faces=1" in mode else None)
                n = 0
                t0 = time.perf_counter()
                if mode.startswith("track+smooth,"):
                    for t, frame in decoded:
                        tr.update(frame, t)
                        n += 1
                elif mode.startswith("track"):
                    video = open_video(path)
                    for _, t, frame in video.frames():
                        draw_faces(frame, tr.update(frame, t), lm.model.scheme)
                        n += 1
                    video.close()
                else:
                    for _, frame in decoded:
                        lm.detect(frame, orientations="upright")   # the detector as the tracker runs it
                        n += 1
                runs[mode].append(n / (time.perf_counter() - t0))
                detector_runs[mode] = tr.detector_runs if mode.startswith("track") else n
    out = {m: {"frames": frames, "fps_median": round(float(np.median(v)), 1),
               "fps_range": [round(min(v), 1), round(max(v), 1)], "detector_runs": detector_runs[m]}
           for m, v in runs.items()}
    # one face's landmarks alone (crop + ONNX Runtime + decode + back to the image)
    box = np.array([[175.0, 75.0, 270.0, 170.0]])
    times = []
    for _ in range(300):
        t0 = time.perf_counter()
        lm.predict(image, box)
        times.append(time.perf_counter() - t0)
    out["landmarks_one_face_median_ms"] = round(1000 * float(np.median(times[20:])), 2)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--speed-models", nargs="*", default=[], help="more models for the frames/s figure only")
    ap.add_argument("--threshold", type=float, default=calibration()["tracking"]["threshold"])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each frames/s measurement")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--overwrite", action="store_true")
    ap.add_argument("--speed-only", action="store_true", help="only the frames/s figures")
    args = ap.parse_args()
    lm = FaceLandmarker(args.model, threads=args.threads)
    res = {"model": str(args.model), "model_meta": {"model": lm.model.card.model, **{k: lm.model.card.training.get(k) for k in ("epoch", "metrics")}},
           "threshold": args.threshold, "threads": args.threads,
           "environment": {"cpu_count": os.cpu_count(), "load_average_at_start": [round(v, 2) for v in os.getloadavg()]},
           "speed": {str(args.model): fps_figures(lm, args.threshold, args.frames, args.repeat)}}
    if not args.speed_only:
        res["accuracy"] = accuracy_figures(lm, args.threshold, args.data)
        res["cut"] = cut_figures(lm, args.threshold, args.data)
    for m in args.speed_models:
        res["speed"][m] = fps_figures(FaceLandmarker(m, threads=args.threads), args.threshold, args.frames,
                                      args.repeat)
    shown = {k: v for k, v in res.items() if k != "accuracy"}
    if "accuracy" in res:
        shown["accuracy"] = {k: v for k, v in res["accuracy"].items() if k != "grid"}
    print(json.dumps(shown, indent=1))
    if args.json:
        atomic_write_json(check_writable(args.json, args.overwrite), res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
