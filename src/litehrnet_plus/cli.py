"""`litehrnet-plus` command line. Each subcommand imports what it needs when it runs, so the
inference commands work on the base install (no PyTorch)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
from .choices import BACKENDS, DATASET_KINDS, ORIENTATIONS
from .codec import DEFAULT_INPUT_SIZE, REFINEMENTS
from .errors import UserError
from .extras import EXTRA_OF, missing


def _numbers(kind: type, what: str):
    """An argparse type: comma-separated numbers of one kind."""
    def parse(text: str) -> list:
        try:
            return [kind(t) for t in text.split(",") if t.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated {what}, got {text!r}") from None
    return parse


_ints = _numbers(int, "integers")
_floats = _numbers(float, "numbers")


# ----------------------------------------------------------------------------- flops
def cmd_flops(args: argparse.Namespace) -> int:
    from .engine.report import complexity_table, plot_complexity
    from .models import count_complexity, create_model, list_models

    names = list_models() if args.model == "all" else [args.model]
    rows = []
    for name in names:
        model = create_model(name, num_landmarks=args.landmarks)
        c = count_complexity(model, args.input_size)
        rows.append((name, c))
    if args.json:
        from .fileio import atomic_write_json, check_writable
        atomic_write_json(check_writable(args.json, args.overwrite),
                          {name: {"num_landmarks": args.landmarks, **c.to_dict()} for name, c in rows})
    print(f"{args.landmarks} landmarks, {args.input_size}x{args.input_size} input (the paper's tables count 98, "
          "WFLW's; the shipped 300-W models have 68)")
    print(complexity_table(rows))
    if args.plot:
        from .fileio import check_writable
        plot_complexity(rows, check_writable(args.plot, args.overwrite))
        print(f"wrote {args.plot}")
    return 0


# ----------------------------------------------------------------------------- export
def cmd_export(args: argparse.Namespace) -> int:
    from .engine.checkpoint import load_model_for_export
    from .fileio import check_writable

    out = check_writable(args.output, args.overwrite)
    model, card = load_model_for_export(args.model, num_landmarks=args.landmarks)
    if out.suffix.lower() == ".tflite":
        from .engine.export_litert import export_litert
        from .inference.runtime_litert import card_file
        if args.input_size is not None:
            card = card.with_(input_size=args.input_size)
        worst = export_litert(model, out, card)
        print(f"wrote {out} and {card_file(out)} (LiteRT, {worst:.1e} from PyTorch)")
        return 0
    if args.graph == "deploy":
        from .engine.deploy import export_deploy
        export_deploy(model, out, card=card, input_size=args.input_size)
    else:
        from .engine.export import export_onnx
        export_onnx(model, out, card=card, input_size=args.input_size)
    print(f"wrote {out} ({args.graph} graph)")
    return 0


# ----------------------------------------------------------------------------- train
def cmd_configs(args: argparse.Namespace) -> int:
    from .config_files import PURPOSES, config_path, shipped_configs

    if args.name and args.resolved:
        from .engine.config import resolved_yaml     # PyTorch's extra: the config's checks need it
        print(resolved_yaml(config_path(args.name)), end="")
        return 0
    if args.name:
        print(config_path(args.name).read_text(), end="")
        return 0
    if args.resolved:
        raise UserError("configs --resolved: name a config")
    for purpose, about in PURPOSES.items():
        print(f"{purpose}/: {about}")
        for name, p in shipped_configs().items():
            if p.parent.name == purpose:
                first = next((ln.lstrip("# ").strip() for ln in p.read_text().splitlines() if ln.startswith("#")), "")
                print(f"  {name:<50} {first}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .config_files import config_path
    from .engine.config import load_config
    from .engine.train import train

    cfg = load_config(config_path(args.config), args.set or [])
    if args.out:
        cfg.out = args.out
    result = train(cfg, resume=args.resume, overwrite=args.overwrite, progress=not args.quiet)
    best = result["best_val_nme"]
    print(f"done: {result['out']}" + (f" (best val NME {100 * best:.3f}%)" if best != float("inf") else ""))
    return 0


# ----------------------------------------------------------------------------- profile
def cmd_profile(args: argparse.Namespace) -> int:
    from .data.formats import load_dataset
    from .profiling.dataset import ProfileSettings, profile_dataset
    from .profiling.surrey import load_surrey_model

    given = {"yaws": tuple(args.yaws) if args.yaws else None, "min_turn": args.min_turn, "jitter": args.jitter,
             "pitch": args.pitch, "max_fit_error": args.max_fit_error, "seed": args.seed}
    settings = ProfileSettings(**{k: v for k, v in given.items() if v is not None})
    model = load_surrey_model(args.sfm)
    samples = load_dataset(args.dataset, args.root, args.subset, num_landmarks=68)
    profile_dataset(samples, args.root, args.out, model, settings, progress=not args.quiet)
    if args.sheet:
        from .profiling.sheet import contact_sheet, write_sheet
        write_sheet(args.sheet, contact_sheet(args.root, args.out))
        print(f"contact sheet: {args.sheet}")
    return 0


# ----------------------------------------------------------------------------- evaluate
def _evaluation_model(spec: str, backend: str, flip_test: bool, threads: int | None, refine: str | None):
    """The model to evaluate: a checkpoint, or `--backend pytorch`, on PyTorch; else on a runtime."""
    from .resolve import resolve_spec

    resolved = resolve_spec(spec)
    if backend == "pytorch" and resolved.kind != "onnx" or resolved.kind == "checkpoint":
        from .engine.evaluate import load_torch_predictor
        return load_torch_predictor(resolved.file("pt"), flip_test, refine)
    from .inference.runtime import load_runtime_model
    return load_runtime_model(spec, "onnxruntime" if backend == "pytorch" else backend, threads, flip_test, refine)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .data.formats import load_dataset
    from .evaluation import evaluate_samples
    from .evaluation.protocol import usable_samples
    from .fileio import atomic_write_json, check_writable
    from .schemes import scheme_for

    for out in (args.json, args.ced):
        if out:
            check_writable(out, args.overwrite)
    if args.ced:     # a missing plotting library is reported before the run, not after it
        from .extras import require
        require("matplotlib", "evaluate --ced")
    # the model first: a missing one (or a missing extra) is reported before any data is read
    predictor = _evaluation_model(args.model, args.backend, args.flip_test, args.threads, args.refine)
    k = predictor.num_landmarks
    # every bad annotation or image is reported at the end, and the rest evaluated
    problems: list[str] = []
    counted = {} if args.dataset == "wflw" else {"num_landmarks": k}   # WFLW's lists are 98 points by definition
    samples = load_dataset(args.dataset, args.root, args.subset, strict=False,
                           warn=lambda msg: problems.append(msg.removeprefix("skipped: ")), **counted)
    samples, bad = usable_samples(samples)
    problems += bad
    if not samples:
        raise UserError(f"{args.root}: no usable faces ({len(problems)} problems; the first: {problems[0]})"
                        if problems else f"{args.root}: no faces")
    rep = evaluate_samples(predictor, samples, scheme_for(k), predictor.input_size, predictor.crop_scale, args.norm,
                           batch_size=args.batch_size, progress=True)
    doc = {"model": args.model, "dataset": args.dataset, "root": str(args.root), "subset": args.subset,
           "flip_test": bool(args.flip_test), "version": __version__, **rep.to_dict()}
    _print_report(doc)
    if args.json:
        atomic_write_json(args.json, doc)
        print(f"wrote {args.json}")
    if args.ced:
        from .evaluation.plots import plot_ced
        plot_ced({f"{args.model} (NME {100 * rep.all['nme']:.2f}%)": rep.nme}, args.ced)
        print(f"wrote {args.ced}")
    if problems:
        print(f"{len(problems)} faces left out of the figures above:", file=sys.stderr)
        for msg in problems:
            print(f"  {msg}", file=sys.stderr)
        return 1
    return 0


def _print_report(rep: dict) -> None:
    def line(name: str, s: dict) -> str:
        return (f"{name:<24} {s['faces']:>6} {100 * s['nme']:>8.3f} {100 * s['fr@0.10']:>8.2f} "
                f"{s['auc@0.10']:>8.4f}")

    print(f"{'subset':<24} {'faces':>6} {'NME %':>8} {'FR10 %':>8} {'AUC10':>8}   ({rep['normaliser']})")
    print(line("all", rep["all"]))
    for section in ("subsets", "attributes"):
        for name, s in rep.get(section, {}).items():
            print(line(name, s))


# ----------------------------------------------------------------------------- predict
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


class _DetectorsHelp(str):
    """The --detector help, with what is installed: worked out only when help is printed (it
    imports OpenCV and looks for each detector's library, too slow for every command)."""

    def __new__(cls) -> "_DetectorsHelp":
        return super().__new__(cls, "face detector")

    def __mod__(self, params) -> str:
        from .inference.detectors import detector_status
        names = "; ".join(f"{name} ({status})" for name, status in detector_status().items())
        return f"face detector: auto (the best installed), or one of: {names}"


def _check_outputs(args: argparse.Namespace) -> None:
    """--show needs a display; --json names a .json or .jsonl file."""
    if args.show:
        from .batch.predict import check_display
        check_display()
    if args.json and Path(args.json).suffix.lower() not in (".json", ".jsonl"):
        raise UserError(f"--json {args.json}: the results file must end in .json (one document) or "
                        ".jsonl (JSON Lines, a line per image or frame)")


def cmd_predict(args: argparse.Namespace) -> int:
    from .batch.predict import Options, input_kind, run_images, run_video
    from .batch.signals import stop_signals
    from .inference.detectors.registry import DEFAULT_DETECTOR, fallback_note
    from .inference.landmarker import FaceLandmarker

    kinds = [input_kind(text) for text in args.input]
    if len(args.input) > 1 and (args.ray is None or set(kinds) != {"video"}):
        raise UserError("several inputs are several videos on a Ray cluster: predict VIDEO... --ray --out FOLDER "
                        "(images: give their folder, or a list file)")
    kind = kinds[0]
    if args.ray is not None and args.show:
        raise UserError("--show: a Ray run has no window; write overlays with --out")
    _check_outputs(args)
    opts = Options(out=Path(args.out) if args.out else None, json=Path(args.json) if args.json else None,
                   show=args.show, boxes=args.boxes, overwrite=args.overwrite, max_faces=args.max_faces,
                   min_quality=args.min_quality, resume=args.resume)
    settings = dict(model=args.model, detector=args.detector, threads=args.threads, flip_test=args.flip_test,
                    orientations=args.orientations, min_face=args.min_face, backend=args.backend,
                    head_pose=args.head_pose, focal=args.focal)
    with stop_signals():
        if args.ray is not None:
            report = _predict_on_ray(args, kind, settings, opts)
        else:
            lm = FaceLandmarker(**settings)
            if args.detector == DEFAULT_DETECTOR and (note := fallback_note(lm.detector_name)):
                print(note, file=sys.stderr)
            if kind in ("video", "webcam"):
                report = run_video(lm, int(args.input[0]) if kind == "webcam" else args.input[0], opts)
            else:
                report = run_images(lm, Path(args.input[0]), opts)
    unit = "video" if args.ray is not None and kind == "video" else "frame" if kind in ("video", "webcam") else "image"
    print("\n".join(report.end_lines(unit)), file=sys.stderr)
    return report.exit_status()


def _predict_on_ray(args: argparse.Namespace, kind: str, settings: dict, opts):
    from .cluster.predict import run_images_on_ray, run_videos_on_ray

    address = None if args.ray == "local" else args.ray
    if kind == "video":
        return run_videos_on_ray(settings, [Path(v) for v in args.input], opts, address, args.workers)
    if kind not in ("folder", "list"):
        raise UserError(f"{args.input[0]}: --ray takes a folder of images, a list file or videos, not {kind} input")
    return run_images_on_ray(settings, Path(args.input[0]), opts, address, args.workers)


# ----------------------------------------------------------------------------- monitor
def _setting(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    try:
        if not sep:
            raise ValueError
        return name.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME=NUMBER (e.g. microsleep_s=1.5), got {text!r}") from None


def cmd_monitor(args: argparse.Namespace) -> int:
    from .inference.landmarker import FaceLandmarker
    from .batch.predict import Options, input_kind, run_video
    from .batch.signals import stop_signals
    from .monitor import DriverMonitor, MonitorConfig
    from .monitor.stage import MonitorStage

    kind = input_kind(args.input)
    if kind not in ("video", "webcam"):
        raise UserError(f"{args.input}: monitor takes a video file or a webcam index, not {kind} input")
    _check_outputs(args)
    config = MonitorConfig().with_(**dict(args.set or []))
    if args.forward is not None:
        config = config.with_(forward=tuple(args.forward))
    opts = Options(out=Path(args.out) if args.out else None, json=Path(args.json) if args.json else None,
                   show=args.show, overwrite=args.overwrite, max_faces=1)
    lm = FaceLandmarker(args.model, detector=args.detector, threads=args.threads, backend=args.backend,
                        head_pose=True, focal=args.focal, max_faces=1)
    monitor = DriverMonitor(lm, config, eye_model=None if args.no_eye_model else "shipped", focal=args.focal)
    with stop_signals():
        report = run_video(lm, int(args.input) if kind == "webcam" else args.input, opts, stage=MonitorStage(monitor))
    counts: dict[str, int] = {}
    for e in report.summary.get("events", []):
        counts[e["kind"]] = counts.get(e["kind"], 0) + 1
    events = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no events"
    frames = f"{report.processed} frame" + ("" if report.processed == 1 else "s")
    print("\n".join(report.end_lines("frame", headline=f"{frames}; {events}")), file=sys.stderr)
    return report.exit_status()


# ----------------------------------------------------------------------------- bench
def _shipped_onnx_without_torch(models: list[str], log) -> list[str]:
    """On the base install (no PyTorch) shipped tags and bare names are timed through their
    shipped ONNX graphs; the plain export and the other graphs need the train extra."""
    try:
        import torch  # noqa: F401
        return models
    except ModuleNotFoundError:
        pass
    from .resolve import resolve_spec

    out = []
    for m in models:
        spec = resolve_spec(m)
        if spec.kind in ("tag", "name"):
            out.append(str(spec.file("onnx")))
            log(f"{m}: PyTorch is not installed, timing its shipped ONNX graph (the plain export needs the "
                "'train' extra)")
        else:
            out.append(m)
    return out


def cmd_bench(args: argparse.Namespace) -> int:
    from .fileio import check_writable
    from .benchmarks.latency import format_table, new_report, run_bench, write_report

    if args.json:
        check_writable(args.json, args.overwrite)
    split = lambda text: [t.strip() for t in text.split(",") if t.strip()]  # noqa: E731
    log = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    models = args.model or ["litehrnet_plus_10m", "litehrnet_plus_30m"]
    if args.mode == "video":
        from .benchmarks.video import format_video, run_video_bench
        if not args.crops:
            raise UserError("--mode video needs --crops FOLDER: photos with 68-point .pts files (the clips' faces)")
        from . import hub
        models = args.model or sorted(hub.available())
        report = new_report(args.note, video=run_video_bench(
            models, args.crops, rounds=args.rounds, frames=args.video_frames, backends=tuple(split(args.backend)),
            mediapipe=args.mediapipe_python, use_dlib=not args.no_dlib, log=log))
        print(format_video(report["video"]))
        if args.json:
            write_report(report, args.json)
            print(f"wrote {args.json}")
        return 0
    if args.mode == "end-to-end":
        from .benchmarks.end_to_end import format_end_to_end, run_end_to_end
        if not args.crops:
            raise UserError("--mode end-to-end needs --crops FOLDER: photos with .pts files (faces to track)")
        models = args.model or ["litehrnet_plus_10m.300w", "litehrnet_plus_30m.300w"]
        report = new_report(args.note, end_to_end=run_end_to_end(models, args.crops, rounds=args.rounds * 8, use_dlib=not args.no_dlib,
                                               video_frames=args.video_frames,
                                               backends=tuple(split(args.backend)), log=log))
        print(format_end_to_end(report["end_to_end"]))
        if args.json:
            write_report(report, args.json)
            print(f"wrote {args.json}")
        return 0
    if args.mode == "training":
        report = new_report(args.note, rows=[])
    else:
        export = None
        if any(Path(m).suffix.lower() != ".onnx" for m in models):
            models = _shipped_onnx_without_torch(models, log)
        if any(Path(m).suffix.lower() != ".onnx" for m in models):
            from .engine.bench import export_graphs as export   # PyTorch: names, tags, checkpoints, configs
        report = run_bench(models, args.batch_size, args.threads, split(args.backend), split(args.graphs),
                           seconds=args.seconds, rounds=args.rounds, crops_folder=args.crops,
                           calibration=args.calibration, use_dlib=not args.no_dlib, note=args.note,
                           levels=split(args.ort_level), profile=args.profile, keep=args.keep_graphs, log=log,
                           export=export)
        print(format_table(report))
    if args.mode in ("training", "both"):
        from .engine.bench import format_training, train_throughput, training_models
        rows = train_throughput(training_models(models), args.threads, split(args.train_variants),
                                batch=args.train_batch, seconds=args.train_seconds, rounds=args.rounds, log=log)
        report["training"] = {"batch": args.train_batch, "rows": rows,
                              "timing": "one step of engine/train.py's loop (forward, BCE loss, backward, Adam) "
                                        "on synthetic tensors; data preparation excluded"}
        print(format_training(rows))
    if args.json:
        write_report(report, args.json)
        print(f"wrote {args.json}")
    return 0


def _landmarker_args(p: argparse.ArgumentParser, model_help: str) -> None:
    """The FaceLandmarker options that predict and monitor share."""
    p.add_argument("--model", default=None, help=model_help)
    p.add_argument("--backend", choices=BACKENDS, default="auto",
                   help="the model's runtime: auto (default: LiteRT where the 'litert' extra is installed and the "
                        "model has a .tflite file, else ONNX Runtime), onnxruntime or litert")
    p.add_argument("--detector", default="auto", help=_DetectorsHelp())
    p.add_argument("--threads", type=_positive_int, default=None,
                   help="runtime threads (default: 1, the fastest per face and robust on a busy CPU)")


def _flops_parser(sub) -> None:
    f = sub.add_parser("flops", help="parameters and FLOPs per block (paper convention and plain MACs)")
    f.add_argument("--model", required=True, help="registered model name, or 'all'")
    f.add_argument("--landmarks", type=int, default=98, help="number of landmarks K (paper: 98)")
    f.add_argument("--input-size", type=int, default=DEFAULT_INPUT_SIZE)
    f.add_argument("--json", help="write the figures as JSON")
    f.add_argument("--plot", help="write a per-block bar chart (PNG)")
    f.add_argument("--overwrite", action="store_true")
    f.set_defaults(func=cmd_flops)


def _export_parser(sub) -> None:
    e = sub.add_parser("export", help="export a model or checkpoint to ONNX, or to LiteRT (an OUT.tflite name)")
    e.add_argument("--model", required=True, help="registered name (random init), shipped tag, or checkpoint .pt")
    e.add_argument("output", help="output .onnx path, or .tflite for LiteRT (needs the 'litert-export' extra)")
    e.add_argument("--landmarks", type=int, default=None)
    e.add_argument("--input-size", type=int, default=None)
    e.add_argument("--graph", choices=("deploy", "plain"), default="deploy",
                   help="deploy: the fastest equivalent graph for ONNX Runtime on CPUs, checked against "
                        "PyTorch to 1e-4 (default); plain: the straight export, for other runtimes")
    e.add_argument("--overwrite", action="store_true")
    e.set_defaults(func=cmd_export)


def _predict_parser(sub) -> None:
    pr = sub.add_parser("predict", help="landmarks for an image, a folder, a video file or a webcam (ONNX Runtime)")
    pr.add_argument("input", nargs="+",
                    help="image file, folder (recursive), list file (.txt: a path per line), video file, or webcam "
                         "index (integer); with --ray, several video files")
    _landmarker_args(pr, "shipped tag or .onnx file (default: best shipped model)")
    pr.add_argument("--out", help="where overlays go: a folder (mirrors an input folder), or for one image "
                                  "a file such as overlay.jpg, for a video a file such as out.mp4")
    pr.add_argument("--json", help="write results to FILE.json, or FILE.jsonl for JSON Lines (a line per image "
                                   "or frame, written live); printed to stdout when no output is given")
    pr.add_argument("--show", action="store_true", help="show results in a window (needs a display)")
    pr.add_argument("--boxes", action="store_true", help="draw face boxes and scores too")
    pr.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    pr.add_argument("--resume", action="store_true",
                    help="a folder run that was interrupted (any signal, a crash, a full disk): keep the images its "
                         "--json results file finished and do the rest")
    pr.add_argument("--max-faces", type=_positive_int, default=None,
                    help="at most N faces per image or frame, the highest-scoring; on video, once N "
                         "faces are tracked the detector runs only when one is lost")
    pr.add_argument("--flip-test", action="store_true",
                    help="average with the prediction on the mirrored face (~2x the model time)")
    pr.add_argument("--min-quality", type=float, default=None, metavar="Q",
                    help="photos: drop faces whose quality (the probability that the fit's NME is below 0.10) "
                         "is below Q (default: the measured floor that drops what is almost surely no face; "
                         "0 keeps every detection)")
    pr.add_argument("--min-face", type=float, default=None, metavar="PX",
                    help="also find faces as small as PX pixels in large photos (the detector runs on tiles "
                         "too; docs/angles_and_quality.md: the cost)")
    pr.add_argument("--orientations", choices=ORIENTATIONS, default="auto",
                    help="photos: also look for faces in the image turned by 90/180/270 degrees where the upright "
                         "search leaves a reason to (auto, default: no face, or one the model is not sure of), "
                         "always (all), or never (upright)")
    pr.add_argument("--head-pose", action="store_true",
                    help="add each face's head pose to the results: yaw, pitch, roll (degrees) and position (mm)")
    pr.add_argument("--focal", type=float, default=None,
                    help="--head-pose: the camera's focal length in pixels (default: the image's longer side)")
    pr.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                    help="run on a Ray cluster (extra 'ray'): at ADDRESS (e.g. auto, or HEAD:6379), or on a local "
                         "one started for the run (docs/scale_out.md)")
    pr.add_argument("--workers", type=_positive_int, default=2,
                    help="--ray: landmarker actors (one CPU each; default 2)")
    pr.set_defaults(func=cmd_predict)


def _monitor_parser(sub) -> None:
    mo = sub.add_parser("monitor", help="driver monitoring on a video or webcam: head pose, eyes, blinks, "
                                        "PERCLOS, yawns, distraction (ONNX Runtime)")
    mo.add_argument("input", help="video file, or webcam index (integer)")
    _landmarker_args(mo, "shipped tag or .onnx file (68- or 98-point; default: best shipped)")
    mo.add_argument("--out", help="annotated video: a folder (gets STEM.mp4 and STEM.events.json) or a file "
                                  "such as out.mp4 (the events go beside it)")
    mo.add_argument("--json", help="per-frame results and the event list: FILE.json, or FILE.jsonl (written "
                                   "live); printed to stdout when no output is given")
    mo.add_argument("--show", action="store_true", help="show the overlay in a window (needs a display)")
    mo.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    mo.add_argument("--focal", type=float, default=None,
                    help="camera focal length in pixels (default: the frame's longer side)")
    mo.add_argument("--forward", type=float, nargs=2, metavar=("YAW", "PITCH"), default=None,
                    help="the head pose of looking straight ahead (default: learnt over the first seconds)")
    mo.add_argument("--set", type=_setting, action="append", metavar="NAME=VALUE",
                    help="change a threshold, e.g. --set microsleep_s=1.5 (docs/driver_monitoring.md: the settings)")
    mo.add_argument("--no-eye-model", action="store_true",
                    help="eye state from the eye aspect ratio alone, without the eye-state classifier")
    mo.set_defaults(func=cmd_monitor)


def _train_parser(sub) -> None:
    t = sub.add_parser("train", help="train a model from a YAML config (resumable)")
    t.add_argument("config", help="YAML config file, or the name of a shipped config (`litehrnet-plus configs`)")
    t.add_argument("--resume", action="store_true", help="continue the run in the config's out folder")
    t.add_argument("--overwrite", action="store_true", help="start again in a non-empty out folder")
    t.add_argument("--out", help="output folder (overrides the config's out)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a config value, e.g. --set train.epochs=10 (repeatable)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)


def _profile_parser(sub) -> None:
    pf = sub.add_parser("profile", help="turn a dataset's faces in 3D to larger yaw (300W-LP-style training data)")
    pf.add_argument("out", help="output folder (a dataset in the 300-W layout, with manifest.csv)")
    pf.add_argument("--dataset", default="300w", choices=[k for k in DATASET_KINDS if k != "wflw"])
    pf.add_argument("--root", required=True, help="dataset folder (csv: the CSV file)")
    pf.add_argument("--subset", default=None, help="300w: train (default) or a folder such as lfpw/testset")
    pf.add_argument("--sfm", required=True, help="the Surrey Face Model folder (sfm_shape_3448.bin and its companions)")
    pf.add_argument("--yaws", type=_floats,
                    help="target yaws in degrees, towards the side each face already faces (default 20,30,...,90)")
    pf.add_argument("--min-turn", type=float,
                    help="a view only where target >= |face yaw| + this; negative allows turning back (default 5)")
    pf.add_argument("--jitter", type=float, help="+- degrees drawn around each target (default 3)")
    pf.add_argument("--pitch", type=float, help="+- degrees of pitch change drawn per view (default 10)")
    pf.add_argument("--max-fit-error", type=float,
                    help="leave out faces whose 3D fit misses the inner points by more, / inter-ocular (default 0.08)")
    pf.add_argument("--seed", type=int)
    pf.add_argument("--sheet", help="also write a contact sheet of a sample (JPEG/PNG)")
    pf.add_argument("--quiet", action="store_true", help="no progress bar")
    pf.set_defaults(func=cmd_profile)


def _configs_parser(sub) -> None:
    c = sub.add_parser("configs", help="list the shipped training configs, or print one (to copy and edit)")
    c.add_argument("name", nargs="?", help="a config name: print its YAML")
    c.add_argument("--resolved", action="store_true",
                   help="print the config with its `base` chain merged in: every value training will use")
    c.set_defaults(func=cmd_configs)


def _evaluate_parser(sub) -> None:
    v = sub.add_parser("evaluate", help="NME / failure rate / AUC on a benchmark or custom dataset")
    v.add_argument("--model", required=True, help="shipped tag (e.g. litehrnet_plus_30m.300w), .onnx or checkpoint .pt")
    v.add_argument("--dataset", required=True, choices=DATASET_KINDS)
    v.add_argument("--root", required=True, help="dataset folder (csv: the CSV file)")
    v.add_argument("--subset", default=None, help="300w: train/common/challenging/full/test or a folder; "
                   "wflw: test or an attribute")
    v.add_argument("--norm", default="inter-ocular", choices=["inter-ocular", "inter-pupil", "box"])
    v.add_argument("--backend", default="onnxruntime", choices=["onnxruntime", "litert", "pytorch"],
                   help="the runtime: ONNX Runtime (default), LiteRT (the .tflite; extra 'litert') or PyTorch "
                        "(the checkpoint; extra 'train'); a checkpoint runs on PyTorch")
    v.add_argument("--flip-test", action="store_true", help="average with the prediction on the mirrored crop (~2x the model time)")
    v.add_argument("--refine", choices=REFINEMENTS, default=None,
                   help="override the heatmap sub-pixel refinement (default: the model's codec)")
    v.add_argument("--batch-size", type=int, default=64)
    v.add_argument("--threads", type=int, default=None)
    v.add_argument("--json", help="write the report as JSON")
    v.add_argument("--ced", help="write the CED curve (PNG)")
    v.add_argument("--overwrite", action="store_true")
    v.set_defaults(func=cmd_evaluate)


def _bench_parser(sub) -> None:
    bn = sub.add_parser("bench", help="per-face latency and throughput, against the plain export and dlib")
    bn.add_argument("--model", nargs="+", action="extend",
                    help="registered name (random weights), shipped tag, checkpoint .pt, .onnx file, or a "
                         "training config .yaml (its network, random weights) "
                         "(default: litehrnet_plus_10m litehrnet_plus_30m)")
    bn.add_argument("--batch-size", type=_ints, default=[1, 64], help="batch sizes, e.g. 1,64")
    bn.add_argument("--threads", type=_ints, default=[1, 2], help="ONNX Runtime / torch threads, e.g. 1,2")
    bn.add_argument("--backends", "--backend", dest="backend", default="onnxruntime",
                    help="the runtimes to time, comma-separated: onnxruntime, pytorch (end-to-end: onnxruntime, "
                         "litert)")
    bn.add_argument("--graphs", default="plain,deploy",
                    help="graphs exported for names/checkpoints: plain, deploy, int8, or a deploy variant "
                         "deploy:key=value+... (engine/deploy/options.py DeployOptions), comma-separated")
    bn.add_argument("--ort-level", default="all",
                    help="ONNX Runtime graph optimisation levels to time (all, extended, basic; comma-separated)")
    bn.add_argument("--seconds", type=float, default=2.0, help="measuring time per configuration")
    bn.add_argument("--rounds", type=int, default=5, help="interleaved rounds the time is split into")
    bn.add_argument("--crops", help="folder of images with .pts files to crop faces from (default: random pixels)")
    bn.add_argument("--calibration", help="300-W root whose training folders calibrate the int8 graph")
    bn.add_argument("--no-dlib", action="store_true", help="skip the dlib reference")
    bn.add_argument("--note", help="stored with the machine description (e.g. what else was running)")
    bn.add_argument("--profile", action="store_true",
                    help="also run ONNX Runtime's profiler on each graph (batch 1, 1 thread): time per op type")
    bn.add_argument("--keep-graphs", metavar="DIR", help="copy the exported graphs into DIR")
    bn.add_argument("--mode", choices=["inference", "training", "both", "end-to-end", "video"], default="inference",
                    help="end-to-end: landmarks(image, box) per face and tracked video against dlib (needs --crops); "
                         "video: tracked clips against MediaPipe Face Mesh and dlib, frames/s, NME, the split of a "
                         "frame (needs --crops; docs/speed.md); "
                         "training: images/s of a training step per model, --threads and --train-variants")
    bn.add_argument("--mediapipe-python", metavar="PYTHON",
                    help="video: the Python of an environment with the 'mediapipe' extra (or $LITEHRNET_MEDIAPIPE_PYTHON)")
    bn.add_argument("--video-frames", type=_positive_int, default=300, help="end-to-end, video: frames of each clip")
    bn.add_argument("--train-variants", default="eager,channels_last",
                    help="comma-separated: eager, channels_last, compile, compile+channels_last")
    bn.add_argument("--train-batch", type=int, default=64)
    bn.add_argument("--train-seconds", type=float, default=10.0, help="measuring time per training case")
    bn.add_argument("--json", help="write the report as JSON")
    bn.add_argument("--overwrite", action="store_true")
    bn.set_defaults(func=cmd_bench)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="litehrnet-plus", description=__doc__)
    p.add_argument("--version", action="version", version=f"litehrnet-plus {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    _flops_parser(sub)
    _export_parser(sub)
    _predict_parser(sub)
    _monitor_parser(sub)
    _train_parser(sub)
    _profile_parser(sub)
    _configs_parser(sub)
    _evaluate_parser(sub)
    _bench_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        try:
            return int(args.func(args) or 0)
        except ModuleNotFoundError as e:
            # an optional dependency of this subcommand: name the extra instead of a traceback
            if (e.name or "").split(".")[0] not in EXTRA_OF:
                raise
            raise missing(e, f"litehrnet-plus {args.command}") from None
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        # files and folders: missing, existing, unwritable, a full disk -- the user's to fix.
        # Anything else is a bug and keeps its traceback.
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
