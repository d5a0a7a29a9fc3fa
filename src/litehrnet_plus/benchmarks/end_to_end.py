"""`litehrnet-plus bench --mode end-to-end`: what a user's call costs, beside dlib in the same
process. Per face: `FaceLandmarker(model).landmarks(image, box)` on real photos against dlib's
`shape_predictor(image, rect)` on the same photos and boxes. Video: one face at 640x480 panning
over a photo (frames decoded beforehand), tracked (`FaceTracker`, max_faces=1), against dlib's
HOG detector + predictor on every frame. One thread; bursts of calls, every configuration in
every round, the order reversed each round; ratios are medians of the per-round ratios. The
per-face time is also split by stage (crop, normalise, network, decode, map back).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import UserError
from .clips import SIZE as VIDEO_SIZE
from .clips import pan_matrix, render


def _photos(folder: str | Path, count: int):
    from ..data.formats import load_pts_folder
    from ..data.images import read_image
    from ..data.transforms import landmark_box
    samples = load_pts_folder(folder, warn=lambda *_: None)[:count]
    if not samples:
        raise UserError(f"{folder}: no images with .pts files for the end-to-end benchmark")
    return ([read_image(s.image_path, orient=False) for s in samples],
            [landmark_box(s.landmarks)[None] for s in samples])


def pan_frames(image: np.ndarray, n: int) -> list[np.ndarray]:
    """n frames of a slow pan and zoom over the photo, fitted into VIDEO_SIZE (zoom 0.9x to 1.1x,
    a tenth of the frame sideways)."""
    return [render(image, pan_matrix(image.shape, i, n, VIDEO_SIZE, zoom_gain=0.2, pan=0.1), VIDEO_SIZE)
            for i in range(n)]


def _turns(names: list[str], r: int) -> list[str]:
    """The order in which the configurations take their turn in round r: reversed every round."""
    return names if r % 2 == 0 else names[::-1]


def _interleaved(calls: dict[str, Callable[[int], object]], items: int, rounds: int, burst: int) -> dict[str, list[float]]:
    """Seconds per item of each call, per round."""
    names = list(calls)
    for name in names:                          # warm-up
        for i in range(min(items, burst)):
            calls[name](i)
    out = {n: [] for n in names}
    cursor = {n: 0 for n in names}
    for r in range(rounds):
        for name in _turns(names, r):
            t0 = time.perf_counter()
            for _ in range(burst):
                calls[name](cursor[name] % items)
                cursor[name] += 1
            out[name].append((time.perf_counter() - t0) / burst)
    return out


STAGES = ("crop", "normalise", "network", "decode", "map back")


def _stage_pass(lm, images, boxes, into: dict[str, list[float]]) -> None:
    """One pass of `FaceLandmarker.landmarks`'s stages over the photos, seconds per stage."""
    from ..data.transforms import crop_faces, to_input, uncrop_points
    m = lm.model
    for im, b in zip(images, boxes):
        t0 = time.perf_counter()
        crops, mats = crop_faces(im, b, m.input_size, m.crop_scale)
        t1 = time.perf_counter()
        x = to_input(crops)
        t2 = time.perf_counter()
        hm = m._run(x)
        t3 = time.perf_counter()
        pts, _ = m.codec.decode(hm)
        t4 = time.perf_counter()
        uncrop_points(pts, mats)
        t5 = time.perf_counter()
        for k, v in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            into[k].append(v)


def stage_times(lms: dict, images, boxes, rounds: int = 20) -> dict[str, dict[str, float]]:
    """Median ms per face of each stage of `FaceLandmarker.landmarks`, per model; the models
    take turns (order reversed every round) so a noisy moment hits them all alike."""
    names = list(lms)
    t = {n: {k: [] for k in STAGES} for n in names}
    for r in range(rounds):
        for n in _turns(names, r):
            _stage_pass(lms[n], images, boxes, t[n])
    return {n: {k: round(1e3 * float(np.median(v)), 4) for k, v in t[n].items()} for n in names}


def _restart(tracker) -> None:
    """A new pass over the clip: no tracks, and the detector's runs counted afresh."""
    tracker.reset()
    tracker.detector_runs = 0


def run_end_to_end(models: list[str], folder: str | Path, faces: int = 16, rounds: int = 40, burst: int = 10,
                   video_frames: int = 300, use_dlib: bool = True, backends: tuple[str, ...] = ("onnxruntime",),
                   log: Callable[[str], None] = print) -> dict:
    """The report (see the module doc); each model runs on each of `backends` ("onnxruntime",
    "litert"), rows named "<model>" and "<model> [litert]"."""
    from .latency import dlib_predictor
    from ..inference.landmarker import FaceLandmarker
    from ..inference.tracking import FaceTracker

    images, boxes = _photos(folder, faces)
    lms = {(m if b == "onnxruntime" else f"{m} [{b}]"): FaceLandmarker(m, threads=1, backend=b)
           for m in models for b in backends}
    models = list(lms)
    per_face: dict[str, Callable[[int], object]] = {
        m: (lambda i, lm=lm: lm.landmarks(images[i], boxes[i])) for m, lm in lms.items()}
    frames = pan_frames(images[0], video_frames)
    trackers = {m: FaceTracker(lm, max_faces=1) for m, lm in lms.items()}
    video: dict[str, Callable[[int], object]] = {
        m: (lambda i, tr=tr: (_restart(tr) if i == 0 else None, tr.update(frames[i], i / 30.0)))
        for m, tr in trackers.items()}
    dlib_note = "not requested"
    if use_dlib:
        predictor, dlib_note = dlib_predictor()
        if predictor is not None:
            import dlib
            rgb = [np.ascontiguousarray(im[:, :, ::-1]) for im in images]
            rects = [dlib.rectangle(*(int(round(v)) for v in b[0])) for b in boxes]
            per_face["dlib"] = lambda i: predictor(rgb[i], rects[i])
            detector = dlib.get_frontal_face_detector()
            frames_rgb = [np.ascontiguousarray(f[:, :, ::-1]) for f in frames]

            def dlib_frame(i):
                return [predictor(frames_rgb[i], r) for r in detector(frames_rgb[i], 0)]
            video["dlib"] = dlib_frame
        else:
            log(f"dlib reference skipped: {dlib_note}")
    log(f"per face: {len(per_face)} configurations, {rounds} rounds of {burst} calls")
    pf = _interleaved(per_face, len(images), rounds, burst)
    log(f"video: {len(video)} configurations, {max(4, rounds // 4)} rounds of the {video_frames}-frame clip")
    vd = _interleaved(video, len(frames), max(4, rounds // 4), len(frames))
    out = {"photos": len(images), "folder": str(folder), "rounds": rounds, "burst": burst,
           "video": {"size": list(VIDEO_SIZE), "frames": video_frames, "content": "pan and zoom over the first photo"},
           "dlib": dlib_note, "models": {}}
    if "dlib" in pf:
        out["dlib_ms_per_face_median"] = round(1e3 * float(np.median(pf["dlib"])), 4)
        out["dlib_video_frames_per_s"] = round(1.0 / float(np.median(vd["dlib"])), 1)
    stages = stage_times(lms, images, boxes)
    for m in models:
        t, v = np.array(pf[m]), np.array(vd[m])
        row = {"ms_per_face_median": round(1e3 * float(np.median(t)), 4),
               "video_frames_per_s": round(1.0 / float(np.median(v)), 1),
               "detector_runs_last_clip": trackers[m].detector_runs,
               "stages_ms": stages[m]}
        if "dlib" in pf:
            row["time_vs_dlib"] = round(float(np.median(t / np.array(pf["dlib"]))), 3)
            row["video_speed_vs_dlib"] = round(float(np.median(np.array(vd["dlib"]) / v)), 3)
        out["models"][m] = row
    return out


def format_end_to_end(report: dict) -> str:
    lines = [f"{'model':<28} {'ms/face':>8} {'vs dlib':>8} {'video fps':>10} {'vs dlib':>8}"]
    for m, r in report["models"].items():
        lines.append(f"{m:<28} {r['ms_per_face_median']:>8.3f} {r.get('time_vs_dlib', float('nan')):>8.2f} "
                     f"{r['video_frames_per_s']:>10.1f} {r.get('video_speed_vs_dlib', float('nan')):>8.2f}")
    if "dlib_ms_per_face_median" in report:
        lines.append(f"{'dlib':<28} {report['dlib_ms_per_face_median']:>8.3f} {'':>8} "
                     f"{report['dlib_video_frames_per_s']:>10.1f}")
    return "\n".join(lines)
