"""`bench --mode video`: tracked video against MediaPipe Face Mesh (and dlib), as a user of a
live camera compares them.

Clips: a photo with its 68-point ground truth (from --crops FOLDER), scaled so the face is about
100, 250 or 400 px at 640x480 and 250 px at 1280x720, panning slowly across the frame; frames
held in memory, the truth moved with them. Each tracker runs over a whole clip per round, one
thread, in interleaved rounds whose order is turned round each time: the package's
`FaceLandmarker(tag, threads=1, max_faces=1).detect_for_video`, MediaPipe Face Mesh in tracking
mode in its own process (facemesh.py), dlib's HOG detector + 68-point predictor on every frame
in-process. Reported per clip: frames/s, CPU ms per frame, the median over rounds of each
tracker's frames/s over MediaPipe's (over dlib's without MediaPipe), NME (inter-ocular) on the
clip and the share of frames with a face, and for the package's trackers the split of a frame
into detector, crop, network, decode, quality, smoothing and the rest (one instrumented pass).
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import cv2
import numpy as np

from ..data.transforms import crop_faces, uncrop_points
from ..errors import UserError

#: (face size in px, frame width, frame height) of each clip
CLIPS = ((100, 640, 480), (250, 640, 480), (400, 640, 480), (250, 1280, 720))
STAGES = ("detector", "crop", "network", "decode", "quality", "smoothing", "rest")


@dataclass
class Clip:
    name: str
    frames: list[np.ndarray]
    truth: np.ndarray               # (frames, 68, 2)


def make_clip(photo: np.ndarray, truth: np.ndarray, face: int, width: int, height: int, n: int) -> Clip:
    """The photo scaled so its face's landmark box is `face` px, panned sideways by a tenth of the
    frame and back over the clip (a slow pan: under 1 px a frame at 300 frames)."""
    (x1, y1), (x2, y2) = truth.min(0), truth.max(0)
    scale = face / max(x2 - x1, y2 - y1)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    frames, truths = [], []
    for i in range(n):
        dx = 0.1 * width * np.sin(2 * np.pi * i / max(n, 1))
        m = np.array([[scale, 0, width / 2 + dx - scale * cx], [0, scale, height / 2 - scale * cy]])
        frames.append(cv2.warpAffine(photo, m, (width, height), flags=cv2.INTER_LINEAR))
        truths.append(truth @ m[:, :2].T + m[:, 2])
    return Clip(f"{face}px {width}x{height}", frames, np.stack(truths))


def clips_from(folder: str | Path, n: int) -> list[Clip]:
    """The clips, from the first photo of `folder` with a 68-point .pts whose face is large enough
    for the biggest clip without upscaling more than 2x."""
    from ..data.formats import load_pts_folder
    from ..data.images import read_image

    samples = load_pts_folder(Path(folder), num_landmarks=68)
    if not samples:
        raise UserError(f"{folder}: no photos with 68-point .pts files (the clips need a face's ground truth)")
    best = max(samples[:20], key=lambda s: float(np.ptp(s.landmarks, axis=0).max()))
    photo = read_image(best.image_path, orient=False)
    return [make_clip(photo, best.landmarks, face, w, h, n) for face, w, h in CLIPS]


def nme(points: list[np.ndarray | None], truth: np.ndarray) -> dict:
    """Inter-ocular NME over the frames with a face, and the share of frames with one."""
    errors = [float(np.linalg.norm(p - t, axis=1).mean() / np.linalg.norm(t[36] - t[45]))
              for p, t in zip(points, truth) if p is not None and np.all(np.isfinite(p))]
    return {"nme": round(float(np.mean(errors)), 5) if errors else None,
            "frames_with_face": round(len(errors) / len(truth), 4)}


# ----------------------------------------------------------------------------- the trackers
class OurTracker:
    """The package's video mode on one model."""

    def __init__(self, tag: str, backend: str = "onnxruntime") -> None:
        from ..inference.landmarker import FaceLandmarker
        self.name = tag if backend == "onnxruntime" else f"{tag} [{backend}]"
        self.landmarker = FaceLandmarker(tag, threads=1, max_faces=1, backend=backend)

    def run(self, clip: Clip, keep: bool = False) -> dict:
        lm = self.landmarker
        lm.reset_video()
        points = []
        start, cpu = time.perf_counter(), time.process_time()
        for i, frame in enumerate(clip.frames):
            faces = lm.detect_for_video(frame, i / 30.0)
            if keep:
                points.append(faces[0].landmarks if faces else None)
        return {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
                "points": points if keep else None}

    def stages(self, clip: Clip) -> dict[str, float]:
        """Milliseconds per frame in each stage of a tracked frame (one instrumented pass)."""
        from ..inference.fitting import FacePipeline
        from ..inference.tracking import FaceTracker

        clock = dict.fromkeys(STAGES, 0.0)
        model, base = self.landmarker.model, self.landmarker.pipeline

        def timed(stage: str, fn: Callable) -> Callable:
            def call(*args, **kwargs):
                start = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    clock[stage] += time.perf_counter() - start
            return call

        def predict(image, boxes, rolls=None):
            t0 = time.perf_counter()
            crops, mats = crop_faces(image, boxes, model.input_size, model.crop_scale, rolls)
            t1 = time.perf_counter()
            maps = model.heatmaps(crops)
            t2 = time.perf_counter()
            pts, scores = model.codec.decode(maps)
            t3 = time.perf_counter()
            out = uncrop_points(pts, mats)
            clock["crop"] += (t1 - t0) + (time.perf_counter() - t3)
            clock["network"] += t2 - t1
            clock["decode"] += t3 - t2
            return out, scores.astype(np.float32)

        probe = SimpleNamespace(   # the landmarker as the tracker sees it, every stage on the clock
            detector=timed("detector", self.landmarker.detector),
            pipeline=FacePipeline(predict, base.scheme, None if base.quality is None else timed("quality", base.quality),
                                  base.confidence_threshold, base.align))
        tracker = FaceTracker(probe, max_faces=1)
        tracker._smoothed = timed("smoothing", tracker._smoothed)
        start = time.perf_counter()
        for i, frame in enumerate(clip.frames):
            tracker.update(frame, i / 30.0)
        total = time.perf_counter() - start
        clock["rest"] = total - sum(v for k, v in clock.items() if k != "rest")
        per_frame = {k: round(1e3 * v / len(clip.frames), 3) for k, v in clock.items()}
        per_frame["glue_share"] = round(1.0 - clock["network"] / total, 3)
        return per_frame


class MediaPipeTracker:
    name = "mediapipe"

    def __init__(self, python: str) -> None:
        from .facemesh import MediaPipeWorker
        self.worker = MediaPipeWorker(python)
        self.loaded: str | None = None

    def run(self, clip: Clip, keep: bool = False) -> dict:
        from .facemesh import to_68
        if self.loaded != clip.name:
            self.worker.load(clip.frames)
            self.loaded = clip.name
        out = self.worker.track(keep)
        if keep:
            out["points"] = [None if not np.all(np.isfinite(p)) else p for p in to_68(out["points"])]
        return out

    def close(self) -> None:
        self.worker.close()


class DlibTracker:
    """dlib's HOG detector and 68-point predictor on every frame (what dlib users do)."""

    name = "dlib"

    def __init__(self, predictor) -> None:
        import dlib
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = predictor

    def run(self, clip: Clip, keep: bool = False) -> dict:
        points = []
        start, cpu = time.perf_counter(), time.process_time()
        for frame in clip.frames:
            rgb = np.ascontiguousarray(frame[:, :, ::-1])
            rects = self.detector(rgb, 0)
            shape = self.predictor(rgb, rects[0]) if len(rects) else None
            if keep:
                points.append(None if shape is None else
                              np.array([[p.x, p.y] for p in shape.parts()], np.float64))
        return {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
                "points": points if keep else None}


# ----------------------------------------------------------------------------- the benchmark
def run_video_bench(models: list[str], folder: str | Path, rounds: int = 5, frames: int = 300,
                    backends: tuple[str, ...] = ("onnxruntime",), mediapipe: str | None = None,
                    use_dlib: bool = True, log: Callable[[str], None] = print) -> dict:
    """The report (see the module doc)."""
    from .facemesh import mediapipe_python
    from .latency import dlib_predictor

    clips = clips_from(folder, frames)
    trackers: list = [OurTracker(m, b) for m in models for b in backends]
    python, mp_note = mediapipe_python(mediapipe)
    log(mp_note)
    if python is not None:
        trackers.append(MediaPipeTracker(python))
    dlib_note = "not requested"
    if use_dlib:
        predictor, dlib_note = dlib_predictor()
        if predictor is not None:
            trackers.append(DlibTracker(predictor))
        else:
            log(f"dlib reference skipped: {dlib_note}")
    reference = "mediapipe" if python is not None else "dlib" if any(t.name == "dlib" for t in trackers) else None
    report = {"frames": frames, "rounds": rounds, "mediapipe": mp_note, "dlib": dlib_note, "reference": reference,
              "timing": "one pass over a clip held in memory, per tracker and round; one thread; rounds "
                        "interleaved, their order turned each round; ratios: median over rounds",
              "clips": {}}
    try:
        for clip in clips:
            log(f"clip {clip.name}: {len(trackers)} trackers, {rounds} rounds of {len(clip.frames)} frames")
            runs: dict[str, list[dict]] = {t.name: [] for t in trackers}
            accuracy = {}
            for t in trackers:                      # first pass: landmarks kept (and warm-up)
                accuracy[t.name] = nme(t.run(clip, keep=True)["points"], clip.truth)
            for r in range(rounds):
                for t in (trackers if r % 2 == 0 else trackers[::-1]):
                    runs[t.name].append(t.run(clip))
            rows = {}
            for t in trackers:
                fps = [len(clip.frames) / run["seconds"] for run in runs[t.name]]
                row = {"frames_per_s": round(statistics.median(fps), 1),
                       "cpu_ms_per_frame": round(1e3 * statistics.median(run["cpu_seconds"] for run in runs[t.name])
                                                 / len(clip.frames), 3), **accuracy[t.name]}
                if reference is not None and t.name != reference:
                    ref = [len(clip.frames) / run["seconds"] for run in runs[reference]]
                    row[f"vs_{reference}"] = round(statistics.median(a / b for a, b in zip(fps, ref)), 3)
                if isinstance(t, OurTracker):
                    row["stages_ms_per_frame"] = t.stages(clip)
                rows[t.name] = row
            report["clips"][clip.name] = rows
    finally:
        for t in trackers:
            if isinstance(t, MediaPipeTracker):
                t.close()
    return report


def format_video(report: dict) -> str:
    ref = report.get("reference")
    lines = [f"{'clip':<18} {'tracker':<30} {'frames/s':>9} {'CPU ms':>8} {'vs ' + (ref or '-'):>13} "
             f"{'NME %':>7} {'found':>6} {'glue':>6}"]
    for clip, rows in report["clips"].items():
        for name, r in rows.items():
            vs = r.get(f"vs_{ref}")
            glue = r.get("stages_ms_per_frame", {}).get("glue_share")
            vs_text = "" if vs is None else f"{vs:.2f}x"
            nme_text = "" if r["nme"] is None else f"{100 * r['nme']:.2f}"
            glue_text = "" if glue is None else f"{100 * glue:.0f}%"
            lines.append(f"{clip:<18} {name:<30} {r['frames_per_s']:>9.1f} {r['cpu_ms_per_frame']:>8.2f} "
                         f"{vs_text:>13} {nme_text:>7} {r['frames_with_face']:>6.2f} {glue_text:>6}")
    return "\n".join(lines)
