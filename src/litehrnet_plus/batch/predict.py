"""The `predict` command's work: an image, a folder (recursive), a video file or a webcam in;
overlays, an annotated video and a results JSON out. A bad item is recorded and the run goes
on; the caller turns recorded failures into a non-zero exit status.

Nothing finished is lost: overlays are written one by one, results stream to disk as they are
made (batch/results.py), and however a run ends -- Ctrl-C, SIGTERM, a crash on one frame --
the annotated video is closed (playable up to the last processed frame) and the JSON is a valid
document holding exactly the processed items, marked with how the run ended.
"""
from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
from tqdm import tqdm

from .. import __version__
from ..data.images import IMAGE_EXTENSIONS, find_images, read_image
from ..errors import ImageReadError, UserError, VideoReadError
from ..fileio import OutputExistsError, atomic_write_bytes, atomic_write_json, check_writable
from ..inference.draw import draw_faces
from ..inference.face import Face
from ..inference.landmarker import FaceLandmarker, check_max_faces, check_min_quality
from ..inference.tracking import FaceTracker
from ..inference.video import VIDEO_EXTENSIONS, open_video
from .results import MAX_LISTED_FAILURES, ResultsWriter, document, finished_entries, frame_entry, image_entry
from .signals import recording_end, shielded, stop_requested
from .video_writer import VideoWriter


@dataclass
class Options:
    out: Path | None = None          # overlays / annotated video go here (a folder, or a file name)
    json: Path | None = None         # results document (.json, or .jsonl); stdout when nothing else is asked for
    show: bool = False
    boxes: bool = False
    overwrite: bool = False
    max_faces: int | None = None     # keep the N best faces; video: stop periodic re-detection at N
    min_quality: float | None = None  # photos: drop faces below this quality
    resume: bool = False             # folders: keep the results of the images a previous run finished

    def __post_init__(self) -> None:
        # every argument is checked before any output is started
        self.max_faces = check_max_faces(self.max_faces)
        self.min_quality = check_min_quality(self.min_quality)


@dataclass
class Report:
    processed: int = 0
    faces: int = 0
    failed: int = 0                  # items that failed; the first MAX_LISTED_FAILURES are listed
    failures: list[dict] = field(default_factory=list)
    interrupted: str | None = None   # "SIGINT" / "SIGTERM" when the run was stopped
    error: str | None = None         # an unexpected error that ended the run (it is re-raised)
    summary: dict = field(default_factory=dict)   # a stage's end-of-run summary (the monitor's events)

    def add(self, entry: dict, writer: "ResultsWriter | None") -> None:
        """An item done: its entry written, counted."""
        if writer:
            writer.add(entry)
        self.processed += 1
        self.faces += len(entry.get("faces", []))

    def fail(self, file: str, error: str, writer: "ResultsWriter | None") -> None:
        self.failed += 1
        if len(self.failures) < MAX_LISTED_FAILURES:     # bounded: a camera may fail for hours
            self.failures.append({"file": file, "error": error})
        if writer:
            writer.fail(file, error)

    def ended(self) -> str | bool:
        """How the run ended, for the results file: False when it ran to its end."""
        return self.interrupted or self.error or False

    def end_lines(self, unit: str, headline: str | None = None, listed: int = 20) -> list[str]:
        """What a command prints when the run is over: the counts (or `headline`), the first
        failures, and how it ended."""
        lines = [headline or f"{_count(self.processed, unit)}, {_count(self.faces, 'face')}"]
        lines += [f"failed: {f['file']}: {f['error']}" for f in self.failures[:listed]]
        if self.failed > listed:
            lines.append(f"... and {self.failed - listed} more failures (in the JSON)")
        if self.interrupted:
            lines.append(f"interrupted ({self.interrupted}): the outputs hold the {_count(self.processed, unit)} done")
        elif self.failed:
            lines.append(f"{self.failed} failed")
        return lines

    def exit_status(self) -> int:
        """130 / 143 when stopped by SIGINT / SIGTERM, 1 when an item failed, else 0."""
        if self.interrupted:
            return 143 if self.interrupted == "SIGTERM" else 130
        return 1 if self.failed else 0


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


LIST_EXTENSIONS = (".txt", ".lst")


def read_list(path: Path) -> list[Path]:
    """The paths a list file names, one per line (blank lines and # comments skipped); relative
    paths are relative to the list's folder."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ImageReadError(f"{path}: cannot be read as a list of paths ({e})") from None
    paths = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if not paths:
        raise ImageReadError(f"{path}: the list names no files")
    return [p if p.is_absolute() else path.parent / p for p in map(Path, paths)]


def input_kind(text: str) -> str:
    """'webcam', 'folder', 'list', 'video' or 'image' for a predict INPUT."""
    if text.isdigit():
        return "webcam"
    p = Path(text)
    if p.is_dir():
        return "folder"
    if p.exists() and not p.is_file():
        # a FIFO or a device would block the run (and a blocked read ignores SIGTERM)
        raise UserError(f"{p}: not a regular file (a pipe, device or socket); give an image, a folder, a video "
                        "file or a webcam index")
    if p.suffix.lower() in VIDEO_EXTENSIONS:
        return "video"
    if p.suffix.lower() in LIST_EXTENSIONS:
        return "list"
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
    dangling = [p for p in paths if p.is_symlink() and not p.exists()]
    if dangling:
        raise OutputExistsError(f"{dangling[0]}: is a link to {os.readlink(dangling[0])}, which does not exist; "
                                "remove the link or choose another output")
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


def results_header(lm: FaceLandmarker, opts: Options, **body) -> dict:
    return document(lm.model.tag, lm.detector_name, lm.num_landmarks, lm.model.scheme.name, version=__version__,
                    options={"flip_test": lm.model.flip_test, "max_faces": opts.max_faces,
                             "threads": lm.model.threads, "orientations": lm.orientations,
                             "min_quality": lm.default_min_quality if opts.min_quality is None else opts.min_quality,
                             "min_face": lm.min_face, "backend": lm.backend, "head_pose": lm.head_pose},
                    **body)


def _resumable(opts: Options, folder: bool, names: list[str], outs: list[Path]) -> dict[str, dict]:
    """--resume: the entries of the results file that a previous run of this folder finished
    (their overlays too, where overlays are written), by file name."""
    if not opts.resume:
        return {}
    if not folder or opts.json is None:
        raise UserError("--resume continues a folder run from its results file: give the folder and its --json")
    index = {name: i for i, name in enumerate(names)}
    done = {}
    for entry in finished_entries(opts.json):
        i = index.get(entry.get("file"))
        if i is not None and (not outs or outs[i].is_file()):
            done[entry["file"]] = entry
    # what the earlier run left behind is replaced by the finished document
    for leftover in (opts.json.with_name(f".{opts.json.name}.partial"),
                     opts.json.with_name(f"{opts.json.stem}.incomplete{opts.json.suffix}")):
        leftover.unlink(missing_ok=True)
    return done


def results_writer(opts: Options, header: dict, key: str) -> ResultsWriter | None:
    """Where the results stream: --json, else standard output when nothing else is written."""
    if opts.json is not None:
        return ResultsWriter(check_writable(opts.json, opts.overwrite or opts.resume), header, key)
    if opts.out is None and not opts.show:
        return ResultsWriter(sys.stdout, header, key)
    return None


def overlay_path(out: Path, single_image: Path) -> Path:
    """--out for one image: a file name with an image extension is the overlay itself,
    anything else a folder that receives it under the input's name."""
    return out if out.suffix.lower() in IMAGE_EXTENSIONS else out / single_image.name


def video_path(out: Path, stem: str) -> Path:
    """--out for a video: a name ending in .mp4/.avi is the annotated video itself, anything
    else a folder that receives <stem>.mp4."""
    return out if out.suffix.lower() in (".mp4", ".avi") else out / f"{stem}.mp4"


@dataclass
class ImagePlan:
    """What an image run will do, worked out before any output is started: the images (in
    order) and their names in the results, their overlay paths, the files found unreadable, and
    the entries a run being resumed finished already (by name)."""

    source: Path
    folder: bool
    files: list[Path]
    names: list[str]
    outs: list[Path]
    unreadable: list[tuple[Path, str]]
    done: dict[str, dict]

    def unreadable_name(self, path: Path) -> str:
        return path.relative_to(self.source).as_posix() if path.is_relative_to(self.source) else str(path)


def plan_images(source: Path, opts: Options) -> ImagePlan:
    """One image, every image under a folder (overlays mirror the folder structure), or the
    images a list file names (named as the list has them): the inputs found, the outputs
    checked (never over an input, never over an existing file without --overwrite), and with
    --resume what is done."""
    listed = source.suffix.lower() in LIST_EXTENSIONS and source.is_file()
    if listed:
        return _plan_list(source, opts)
    folder = source.is_dir()
    files, unreadable = find_images(source) if folder else ([source], [])
    if folder and opts.out is not None and opts.out.resolve() != source.resolve():
        # overlays written inside the input folder by an earlier run are not inputs
        files = [f for f in files if not f.resolve().is_relative_to(opts.out.resolve())]
    if folder and not files:
        videos = sorted(p.name for p in source.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS)
        if videos:
            more = f" and {len(videos) - 3} more" if len(videos) > 3 else ""
            raise ImageReadError(f"{source}: holds no images but videos ({', '.join(videos[:3])}{more}); "
                                 "predict takes a video file at a time: litehrnet-plus predict VIDEO")
        raise ImageReadError(f"{source}: no images found (extensions: {', '.join(IMAGE_EXTENSIONS)})")
    rel = [f.relative_to(source) if folder else Path(f.name) for f in files]
    if opts.out is None:
        outs = []
    elif folder:
        if opts.out.suffix.lower() in IMAGE_EXTENSIONS:
            raise UserError(f"--out {opts.out}: a folder of images needs an output folder, not an image file name")
        outs = [opts.out / r for r in rel]
    else:
        outs = [overlay_path(opts.out, source)]
    names = [r.as_posix() if folder else str(f) for r, f in zip(rel, files)]
    return _checked(ImagePlan(source, folder, files, names, outs, unreadable, {}), opts)


def _checked(plan: ImagePlan, opts: Options) -> ImagePlan:
    """The plan's outputs checked before any work (never over an input, never over an existing
    file without --overwrite), and with --resume what a previous run finished."""
    results = [opts.json] if opts.json else []
    _refuse_inputs(plan.outs + results, plan.files)
    plan.done = _resumable(opts, plan.folder, plan.names, plan.outs)
    if plan.done:
        print(f"resuming: {len(plan.done)} of {len(plan.files)} images done in {opts.json}", file=sys.stderr)
    _refuse_existing(plan.outs + results, opts.overwrite or opts.resume)
    return plan


def _plan_list(source: Path, opts: Options) -> ImagePlan:
    """A list file's images: named by their path relative to the list's folder (or as given,
    when outside it); overlays under --out by that name. A missing file is recorded, not fatal."""
    files, unreadable = [], []
    for p in read_list(source):
        (files if p.is_file() else unreadable).append(p)
    unreadable = [(p, "no such file") for p in unreadable]
    names = [p.relative_to(source.parent).as_posix() if p.is_relative_to(source.parent) else str(p) for p in files]
    twice = sorted(n for n, k in Counter(names).items() if k > 1)      # a list may hold millions of lines
    if twice:
        raise UserError(f"{source}: names {twice[0]} more than once (each image is done once)")
    if opts.out is not None and opts.out.suffix.lower() in IMAGE_EXTENSIONS:
        raise UserError(f"--out {opts.out}: a list of images needs an output folder, not an image file name")
    outs = [opts.out / Path(n).relative_to(Path(n).anchor) for n in names] if opts.out is not None else []
    return _checked(ImagePlan(source, True, files, names, outs, unreadable, {}), opts)


def landmark_image(lm: FaceLandmarker, path: Path, name: str, out: Path | None, opts: Options,
                   ) -> tuple[dict, np.ndarray | None]:
    """One image's work: read, detect, the overlay written atomically to `out` (when given); its
    results entry, and the overlay (when one is wanted). Errors go up."""
    image = read_image(path)
    faces = lm.detect(image, max_faces=opts.max_faces, min_quality=opts.min_quality)
    overlay = draw_faces(image, faces, lm.model.scheme, opts.boxes) if (out is not None or opts.show) else None
    if out is not None:
        atomic_write_bytes(check_writable(out, opts.overwrite or opts.resume), _encode(out, overlay))
    return image_entry(name, image.shape, faces), overlay


#: the errors of one image that are recorded and the run goes on (any other is a bug)
ITEM_ERRORS = (UserError, ValueError, OSError, cv2.error)


def error_text(e: BaseException) -> str:
    """An item's error as one line: OpenCV's errors are tracebacks in a message, keep their last line."""
    return str(e).strip().splitlines()[-1] if isinstance(e, cv2.error) else str(e)


def run_images(lm: FaceLandmarker, source: Path, opts: Options) -> Report:
    """One image, or every image under a folder (see `plan_images`), in one process."""
    plan = plan_images(source, opts)
    report = Report()
    writer = results_writer(opts, results_header(lm, opts), "images")
    for path, why in plan.unreadable:          # reported, never skipped silently
        report.fail(plan.unreadable_name(path), why, writer)
    try:
        with recording_end(report):
            for i, f in enumerate(tqdm(plan.files, desc="predict", unit="img", disable=not plan.folder,
                                       file=sys.stderr)):
                if stop_requested(report):
                    break
                name = plan.names[i]
                if name in plan.done:        # finished by the run being resumed: its result as it was
                    report.add(plan.done[name], writer)
                    continue
                try:
                    entry, overlay = landmark_image(lm, f, name, plan.outs[i] if plan.outs else None, opts)
                    if opts.show:
                        cv2.imshow("litehrnet-plus", overlay)
                        cv2.waitKey(0 if not plan.folder else 500)
                except ITEM_ERRORS as e:
                    if not plan.folder:
                        raise   # one image: its error is the run's error
                    report.fail(name, error_text(e), writer)
                    continue
                report.add(entry, writer)
    finally:
        if writer:
            with shielded():
                writer.close(interrupted=report.ended())
    return report


class FrameStage(Protocol):
    """Something that reads each tracked frame after the landmarker (the driver monitor's
    `MonitorStage`): the video runner calls it, and knows nothing else of it."""

    label: str                       # the progress bar's label
    summary_name: str                # the end-of-run summary goes beside the annotated video as <stem>.<name>.json

    def settings(self) -> dict:
        """Added to the results file's header."""

    def read(self, frame: np.ndarray, t: float, faces: list[Face]) -> tuple[list[Face], dict]:
        """The faces to report for this frame, and what to add to the frame's entry."""

    def draw(self, frame: np.ndarray, faces: list[Face]) -> np.ndarray:
        """The overlay of the frame last read."""

    def finish(self) -> dict:
        """The run's summary (added to the results' end)."""


def run_video(lm: FaceLandmarker, source: str | int, opts: Options, tracker: FaceTracker | None = None,
              stage: FrameStage | None = None) -> Report:
    """A video file or webcam: tracked, smoothed landmarks per frame; annotated video to --out.
    stage: read after the tracker on each frame (the `monitor` command's driver monitor): its
    readings go into the frame's entry and the overlay, its summary into the results and, with
    --out, into <stem>.<summary_name>.json."""
    video = open_video(source)
    stem = f"webcam{source}" if isinstance(source, int) else Path(source).stem
    out_video = video_path(opts.out, stem) if opts.out is not None else None
    out_summary = out_video.with_name(f"{out_video.stem}.{stage.summary_name}.json") \
        if stage is not None and out_video else None
    planned = [p for p in (out_video, opts.json, out_summary) if p is not None]
    if not isinstance(source, int):
        _refuse_inputs(planned, [Path(source)])
    _refuse_existing(planned, opts.overwrite)
    tracker = tracker or FaceTracker(lm, max_faces=opts.max_faces, **lm.video_options)
    report, vwriter = Report(), None
    try:
        writer = results_writer(opts, results_header(lm, opts, video=video.name, fps=round(video.fps, 3),
                                       track_threshold=round(float(tracker.threshold), 4),
                                       **(stage.settings() if stage is not None else {})), "frames")
    except BaseException:
        video.close()
        raise
    bar = tqdm(total=video.frame_count or None, desc=stage.label if stage is not None else "predict", unit="frame",
               file=sys.stderr)
    try:
        with recording_end(report):
            for index, t, frame in video.frames():
                if stop_requested(report):
                    break
                try:
                    faces, reading = tracker.update(frame, t), {}
                    if stage is not None:
                        faces, reading = stage.read(frame, t, faces)
                except (UserError, ValueError) as e:
                    report.fail(f"{video.name} frame {index}", str(e), writer)
                    tracker.reset()
                    bar.update(1)
                    continue
                if writer:
                    writer.add({**frame_entry(index, frame.shape, faces, t), **reading})
                report.processed += 1
                report.faces += len(faces)
                bar.update(1)
                bar.set_postfix(faces=len(faces), refresh=False)
                overlay = None
                if out_video or opts.show:
                    overlay = (draw_faces(frame, faces, lm.model.scheme, opts.boxes) if stage is None else
                               stage.draw(frame, faces))
                if out_video is not None:
                    if vwriter is None:
                        check_writable(out_video, opts.overwrite)
                        vwriter = VideoWriter(out_video, video.fps, (frame.shape[1], frame.shape[0]))
                    vwriter.write(overlay)
                if opts.show:
                    cv2.imshow("litehrnet-plus", overlay)
                    if cv2.waitKey(1) & 0xFF in (27, ord("q")):
                        break
            if not report.interrupted and video.frame_count and \
                    report.processed + report.failed < video.frame_count - 1:
                report.fail(video.name, f"stream ended after {report.processed} of {video.frame_count} frames "
                            "(corrupt or truncated video)", writer)
            if report.processed == 0:
                raise VideoReadError(f"{video.name}: no frame could be decoded")
    finally:
        with shielded():
            bar.close()
            video.close()
            video_error = None
            if vwriter is not None:
                try:
                    vwriter.close()
                except OSError as e:         # the results still get written, then the error goes up
                    video_error = e
                    report.error = report.error or f"error: {e}"
            extra = {"detector_runs": tracker.detector_runs}
            if stage is not None:
                report.summary = stage.finish()
                extra.update(report.summary)
                if out_summary is not None and report.processed:
                    atomic_write_json(out_summary, {"video": video.name, "interrupted": report.ended(),
                                                    "processed": report.processed, **report.summary})
            if writer:
                writer.close(interrupted=report.ended(), **extra)
            if video_error is not None:
                raise video_error
    return report
