"""The `predict` command's work: an image, a folder (recursive), a video file or a webcam in;
overlays, an annotated video and a results JSON out. A bad item is recorded and the run goes
on; the caller turns recorded failures into a non-zero exit status."""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ..data.images import IMAGE_EXTENSIONS, list_images, read_image
from ..errors import ImageReadError, UserError, VideoReadError
from ..fileio import OutputExistsError, atomic_write_bytes, atomic_write_json, check_writable
from .draw import draw_faces
from .landmarker import FaceLandmarker
from .results import document, frame_entry, image_entry
from .video import VIDEO_EXTENSIONS, FaceTracker, open_video


@dataclass
class Options:
    out: Path | None = None          # overlays / annotated video go here
    json: Path | None = None         # results document; stdout when nothing else is asked for
    show: bool = False
    boxes: bool = False
    overwrite: bool = False
    max_faces: int | None = None     # keep the N best faces; video: stop periodic re-detection at N


@dataclass
class Report:
    processed: int = 0
    faces: int = 0
    failures: list[dict] = field(default_factory=list)


def input_kind(text: str) -> str:
    """'webcam', 'folder', 'video' or 'image' for a predict INPUT."""
    if text.isdigit():
        return "webcam"
    p = Path(text)
    if p.is_dir():
        return "folder"
    if p.suffix.lower() in VIDEO_EXTENSIONS:
        return "video"
    return "image"


def check_display() -> None:
    """--show needs a display and an OpenCV build with a GUI; say which is missing."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise UserError("--show: no display available (DISPLAY is not set); write overlays with --out instead")
    try:
        cv2.namedWindow("litehrnet-plus")
    except cv2.error:
        raise UserError("--show: this OpenCV build has no GUI (opencv-python-headless); "
                        "install opencv-python or write overlays with --out") from None


def _encode(path: Path, image: np.ndarray) -> bytes:
    ext = path.suffix.lower() if path.suffix.lower() in IMAGE_EXTENSIONS else ".png"
    ok, buf = cv2.imencode(ext, image)
    if not ok:
        raise OSError(f"{path}: cannot encode the overlay as {ext}")
    return buf.tobytes()


def _refuse_existing(paths: list[Path], overwrite: bool) -> None:
    """Check every planned output before any work, so a run never stops half-way on one."""
    if overwrite:
        return
    existing = [p for p in paths if p.exists()]
    if existing:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise OutputExistsError(f"{existing[0]}: output exists{more}; pass --overwrite to replace")


def _refuse_inputs(outputs: list[Path], inputs: list[Path]) -> None:
    """Never write over an input, even with --overwrite (e.g. --out pointing at the input folder)."""
    clash = {o.resolve() for o in outputs} & {i.resolve() for i in inputs}
    if clash:
        raise UserError(f"{sorted(clash)[0]}: an output would replace this input; choose another --out folder")


def _doc(lm: FaceLandmarker, **body) -> dict:
    return document(lm.model.tag, lm.detector_name, lm.num_landmarks, lm.model.scheme.name, **body)


def _finish(doc: dict, opts: Options) -> None:
    if opts.json is not None:
        atomic_write_json(check_writable(opts.json, opts.overwrite), doc)
    elif opts.out is None and not opts.show:
        print(json.dumps(doc))


def run_images(lm: FaceLandmarker, source: Path, opts: Options) -> Report:
    """One image, or every image under a folder (overlays mirror the folder structure)."""
    folder = source.is_dir()
    files = list_images(source) if folder else [source]
    if folder and opts.out is not None and opts.out.resolve() != source.resolve():
        # overlays written inside the input folder by an earlier run are not inputs
        files = [f for f in files if not f.resolve().is_relative_to(opts.out.resolve())]
    if folder and not files:
        raise ImageReadError(f"{source}: no images found (extensions: {', '.join(IMAGE_EXTENSIONS)})")
    rel = [f.relative_to(source) if folder else Path(f.name) for f in files]
    outs = [opts.out / r for r in rel] if opts.out is not None else []
    _refuse_inputs(outs + ([opts.json] if opts.json else []), files)
    _refuse_existing(outs + ([opts.json] if opts.json else []), opts.overwrite)
    report, entries = Report(), []
    for i, f in enumerate(tqdm(files, desc="predict", unit="img", disable=not folder, file=sys.stderr)):
        name = rel[i].as_posix() if folder else str(f)
        try:
            image = read_image(f)
            faces = lm.detect(image, max_faces=opts.max_faces)
            if opts.out is not None:
                atomic_write_bytes(check_writable(outs[i], opts.overwrite),
                                   _encode(outs[i], draw_faces(image, faces, lm.model.scheme, opts.boxes)))
            if opts.show:
                cv2.imshow("litehrnet-plus", draw_faces(image, faces, lm.model.scheme, opts.boxes))
                cv2.waitKey(0 if not folder else 500)
        except (UserError, ValueError, OSError) as e:
            if not folder:
                raise   # one image: its error is the run's error
            report.failures.append({"file": name, "error": str(e)})
            continue
        entries.append(image_entry(name, image.shape, faces))
        report.processed += 1
        report.faces += len(faces)
    _finish(_doc(lm, images=entries, failures=report.failures), opts)
    return report


class _AtomicVideoWriter:
    """Writes to a hidden temporary file beside the target, renamed over it on success."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
        fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix.lower() == ".avi" else "mp4v"))
        self.writer = cv2.VideoWriter(str(self.tmp), fourcc, fps, size)
        if not self.writer.isOpened():
            raise OSError(f"{path}: cannot open a video writer for this format")

    def write(self, frame: np.ndarray) -> None:
        self.writer.write(frame)

    def close(self, keep: bool) -> None:
        self.writer.release()
        if keep:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def run_video(lm: FaceLandmarker, source: str | int, opts: Options, tracker: FaceTracker | None = None) -> Report:
    """A video file or webcam: tracked, smoothed landmarks per frame; annotated video to --out."""
    video = open_video(source)
    stem = f"webcam{source}" if isinstance(source, int) else Path(source).stem
    out_video = opts.out / f"{stem}.mp4" if opts.out is not None else None
    planned = [p for p in (out_video, opts.json) if p is not None]
    if not isinstance(source, int):
        _refuse_inputs(planned, [Path(source)])
    _refuse_existing(planned, opts.overwrite)
    tracker = tracker or FaceTracker(lm, max_faces=opts.max_faces)
    report, entries, writer = Report(), [], None
    ok = False
    try:
        bar = tqdm(total=video.frame_count or None, desc="predict", unit="frame", file=sys.stderr)
        for index, t, frame in video.frames():
            try:
                faces = tracker.update(frame, t)
            except (UserError, ValueError) as e:
                report.failures.append({"file": f"{video.name} frame {index}", "error": str(e)})
                tracker.reset()
                continue
            finally:
                bar.update(1)
            entries.append(frame_entry(index, frame.shape, faces))
            report.processed += 1
            report.faces += len(faces)
            overlay = draw_faces(frame, faces, lm.model.scheme, opts.boxes) if (out_video or opts.show) else None
            if out_video is not None:
                if writer is None:
                    check_writable(out_video, opts.overwrite)
                    writer = _AtomicVideoWriter(out_video, video.fps, (frame.shape[1], frame.shape[0]))
                writer.write(overlay)
            if opts.show:
                cv2.imshow("litehrnet-plus", overlay)
                if cv2.waitKey(1) & 0xFF in (27, ord("q")):
                    break
        bar.close()
        if video.frame_count and report.processed + len(report.failures) < video.frame_count - 1:
            report.failures.append({"file": video.name, "error": f"stream ended after {report.processed} of "
                                    f"{video.frame_count} frames (corrupt or truncated video)"})
        if report.processed == 0:
            raise VideoReadError(f"{video.name}: no frame could be decoded")
        ok = True
    finally:
        video.close()
        if writer is not None:
            writer.close(keep=ok)
    _finish(_doc(lm, video=video.name, fps=round(video.fps, 3), frames=entries, failures=report.failures), opts)
    return report
