"""`predict --ray`: the `predict` command's images and videos on a Ray cluster.

Images (a folder, or a list file): planned as `predict` plans them (the same names, overlays,
refusals and --resume), run in batches through `landmarks_dataset` (one FaceLandmarker per
actor), and written by the driver in input order as they come back, so the results file is the
single-process run's, entry for entry; a run stopped any way and started again with --resume
does only what is missing. Videos: each video tracked in one task (tracking is sequential
within a video), its results and annotated video written beside the others under --out; a
video whose results are complete is not done again.

ADDRESS: a running cluster (`ray start --head` on one machine, `ray start --address=HEAD:6379`
on the others; "auto" finds the one this machine belongs to), or none: a local cluster is
started for the run and stopped after it.
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ..batch.predict import Options, Report, plan_images, results_header, results_writer, video_path
from ..batch.signals import recording_end, shielded, stop_requested
from ..batch.results import read_results
from ..errors import UserError
from ..extras import require
from ..inference.landmarker import FaceLandmarker
from ..inference.runtime import positive_int
from ..inference.video import VIDEO_EXTENSIONS
from .data import landmarks_dataset

#: images sent to an actor at a time: large enough to hide Ray's per-call cost (measured in
#: docs/scale_out.md), small enough that a killed worker loses little
BATCH_SIZE = 8


#: Ray Data hands a block on only when all of it is done: blocks of one batch keep the first
#: results early and a killed worker's loss small; past this many, blocks grow instead
MAX_BLOCKS = 10_000


def block_count(items: int, batch_size: int) -> int:
    """How many blocks `items` images are cut into (see MAX_BLOCKS)."""
    per_block = max(batch_size, -(-items // MAX_BLOCKS))
    return max(1, -(-items // per_block))


def connect(address: str | None, workers: int):
    """Ray, connected to the cluster at `address`, or to a local one of `workers` CPUs started
    now (None). Returns the module and whether this call started the cluster."""
    ray = require("ray", "predict --ray")
    if ray.is_initialized():
        return ray, False
    # the run's own bar and summary say what happened; Ray's start-up chatter would bury them
    # (the backend's level is read when the driver's worker starts)
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    logging.getLogger("ray").setLevel(logging.ERROR)
    common = {"log_to_driver": False, "include_dashboard": False, "logging_level": logging.ERROR}
    if address:
        ray.init(address=address, **common)
    else:
        ray.init(num_cpus=workers, **common)
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True      # results in input order, as one process writes them
    ctx.enable_progress_bars = False                  # the run's own bar says it all
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    return ray, True


def run_images_on_ray(settings: dict[str, Any], source: Path, opts: Options, address: str | None = None,
                      workers: int = 2, batch_size: int = BATCH_SIZE) -> Report:
    """A folder or list of images on Ray (see the module doc); `settings`: FaceLandmarker's
    keyword arguments."""
    workers = positive_int(workers, "workers")
    lm = FaceLandmarker(**settings)                     # refuses bad settings before anything starts
    plan = plan_images(source, opts)
    todo = [i for i, name in enumerate(plan.names) if name not in plan.done]
    report = Report()
    writer = results_writer(opts, results_header(lm, opts), "images")
    for path, why in plan.unreadable:
        report.fail(plan.unreadable_name(path), why, writer)
    ray, started, rows = None, False, iter(())
    bar = tqdm(total=len(plan.files), desc="predict (ray)", unit="img", file=sys.stderr)
    try:
        with recording_end(report):
            ray, started = connect(address, workers)
            if todo:
                items = [{"path": str(plan.files[i]), "name": plan.names[i],
                          "out": str(plan.outs[i]) if plan.outs else ""} for i in todo]
                ds = ray.data.from_items(items, override_num_blocks=block_count(len(items), batch_size))
                landmarker = {k: v for k, v in settings.items() if k != "threads"}     # one thread an actor
                rows = iter(landmarks_dataset(ds, concurrency=workers, batch_size=batch_size, max_faces=opts.max_faces,
                                              min_quality=opts.min_quality, boxes=opts.boxes,
                                              overwrite=opts.overwrite or opts.resume, **landmarker).iter_rows())
            for name in plan.names:
                if stop_requested(report):    # Ctrl-C / SIGTERM: the entries so far stay, the rest is resumable
                    break
                if name in plan.done:      # finished by the run being resumed: its result as it was
                    report.add(plan.done[name], writer)
                else:
                    row = next(rows)
                    if row["name"] != name:
                        raise RuntimeError(f"ray returned {row['name']!r} where {name!r} was due")
                    if row["error"]:
                        report.fail(name, row["error"], writer)
                    else:
                        report.add({"file": name, "width": int(row["width"]), "height": int(row["height"]),
                                    "faces": list(row["faces"])}, writer)
                bar.update(1)
    finally:
        with shielded():
            bar.close()
            if writer:
                writer.close(interrupted=report.ended())
            close = getattr(rows, "close", None)
            if close is not None:
                close()                # Ray Data's iterator ends while Ray is still there
            if started:
                ray.shutdown()
    return report


# ----------------------------------------------------------------------------- videos
def video_outputs(videos: list[Path], out: Path) -> dict[Path, tuple[Path, Path]]:
    """Each video's results file and annotated video under `out` (named by its stem, which must
    be unique)."""
    stems: dict[str, Path] = {}
    for v in videos:
        if v.suffix.lower() not in VIDEO_EXTENSIONS:
            raise UserError(f"{v}: not a video file ({', '.join(VIDEO_EXTENSIONS)}); give images as a folder or "
                            "a list")
        if v.stem in stems:
            raise UserError(f"{v} and {stems[v.stem]}: two videos named {v.stem!r}; their outputs would clash")
        stems[v.stem] = v
    return {v: (out / f"{v.stem}.json", video_path(out, v.stem)) for v in videos}


def _finished(results: Path) -> bool:
    """Whether a video's results file is there and ran to its end."""
    try:
        return results.is_file() and read_results(results).get("interrupted") is False
    except (UserError, ValueError, OSError):
        return False


def _track_video(settings: dict[str, Any], video: str, options: Options) -> dict:
    """One video in one process (a Ray task): `predict VIDEO`'s work, outputs under options.out."""
    from ..batch.predict import run_video
    report = run_video(FaceLandmarker(**settings), video, options)
    return {"processed": report.processed, "faces": report.faces, "failed": report.failed,
            "failures": report.failures[:20], "ended": report.ended()}


def run_videos_on_ray(settings: dict[str, Any], videos: list[Path], opts: Options, address: str | None = None,
                      workers: int = 2) -> Report:
    """Many videos in parallel, each tracked in one task; `opts.out` is the folder that gets each
    video's `<stem>.json` and annotated `<stem>.mp4`. With --resume (or outputs already
    complete), finished videos are skipped."""
    workers = positive_int(workers, "workers")
    if opts.out is None or opts.out.suffix:
        raise UserError("several videos on Ray need --out FOLDER: each video's results and annotated video go there")
    FaceLandmarker(**settings)
    outputs = video_outputs(videos, opts.out)
    missing = [v for v in videos if not v.is_file()]
    todo = [v for v in videos if v.is_file() and not (opts.resume and _finished(outputs[v][0]))]
    if not opts.overwrite and not opts.resume:
        existing = [p for v in todo for p in outputs[v] if p.exists()]
        if existing:
            raise UserError(f"{existing[0]}: output exists; pass --overwrite to replace, or --resume to skip "
                            "the videos already done")
    opts.out.mkdir(parents=True, exist_ok=True)
    report = Report()
    for v in missing:
        report.fail(str(v), "no such video file", None)
    report.processed += len(videos) - len(todo) - len(missing)
    ray, started = connect(address, workers)
    pending: dict = {}
    bar = tqdm(total=len(videos), initial=len(videos) - len(todo), desc="predict (ray videos)", unit="video",
               file=sys.stderr)
    try:
        with recording_end(report):
            task = ray.remote(num_cpus=1, max_retries=3)(_track_video)
            pending = {task.remote({**settings, "threads": 1}, str(v),
                                   Options(out=outputs[v][1], json=outputs[v][0], max_faces=opts.max_faces,
                                           overwrite=True)): v for v in todo}
            while pending and not stop_requested(report):
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
                for ref in ready:
                    v = pending.pop(ref)
                    try:
                        out = ray.get(ref)
                    except Exception as e:     # the task failed for good (after its retries)
                        report.fail(str(v), str(e).strip().splitlines()[-1], None)
                    else:
                        report.processed += 1
                        report.faces += out["faces"]
                        for f in out["failures"]:
                            report.fail(f["file"], f["error"], None)
                    bar.update(1)
    finally:
        with shielded():
            bar.close()
            for ref in pending:        # stopped: the videos in hand are cancelled (a resumed run redoes them)
                ray.cancel(ref, force=True)
            if started:
                ray.shutdown()
    return report
