"""Writing the deployment graph: trace, ONNX-level clean-up, the model card, and the check
against PyTorch before anything is written."""
from __future__ import annotations

import os
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn
from ...card import ModelCard
from ...fileio import atomic_write_bytes
from ..export import HeatmapOutput, export_card, write_card
from .net import deploy_model
from .options import DEPLOY_FORMAT, DeployOptions

# ----------------------------------------------------------------------------- ONNX
@contextmanager
def _quiet_torch():
    """One PyTorch thread and flushed denormals while tracing / computing references: on a
    busy machine OpenMP threads spin waiting for each other (a batch-2 forward took 3-9 s
    with 2 threads beside two training jobs, 22 ms with one), and the registered init
    (weights N(0, 0.001)) makes activations denormal."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    denormal = torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        if denormal:
            torch.set_flush_denormal(False)


def _ort_optimize(src: Path, dst: Path, level: str) -> None:
    """ONNX Runtime's offline optimisation at a portable level (basic: standard ONNX ops only)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = {"basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
                                     "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED}[level]
    opts.optimized_model_filepath = str(dst)
    ort.InferenceSession(str(src), opts, providers=["CPUExecutionProvider"])


def export_deploy(model: nn.Module, path: str | os.PathLike, *, card: ModelCard,
                  input_size: int | None = None, opset: int = 17, options: DeployOptions | None = None,
                  check: bool = True, atol: float = 1e-4) -> Path:
    """Write the deployment graph of `model` to `path` (atomically), carrying `card` with
    graph "deploy" and extra {"deploy": {format, transforms, options}}.

    check=True compares the written graph (ONNX Runtime) with the PyTorch model on random
    and image-like inputs and raises if any heatmap differs by more than `atol`."""
    import onnx

    opts = options or DeployOptions()
    if opts.onnx_optimize not in ("none", "basic", "extended"):
        raise ValueError(f"onnx_optimize must be none, basic or extended, got {opts.onnx_optimize!r}")
    card = export_card(model, card, "deploy", input_size,
                       deploy={"format": DEPLOY_FORMAT, "transforms": opts.transforms(), "options": asdict(opts)})
    size, activation = card.input_size, card.activation
    net = deploy_model(model, size, opts)
    wrapped = HeatmapOutput(net, activation).eval()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "model.onnx"
        with _quiet_torch(), warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(wrapped, (torch.rand(2, 3, size, size),), str(raw), input_names=["image"],
                              output_names=["heatmaps"],
                              dynamic_axes={"image": {0: "batch"}, "heatmaps": {0: "batch"}},
                              opset_version=opset, dynamo=False, do_constant_folding=True)
        proto = onnx.shape_inference.infer_shapes(onnx.load(str(raw)))
        if opts.onnx_optimize != "none":
            inferred = Path(tmp) / "inferred.onnx"
            onnx.save(proto, str(inferred))
            optimized = Path(tmp) / "optimized.onnx"
            _ort_optimize(inferred, optimized, opts.onnx_optimize)
            proto = onnx.load(str(optimized))
        if opts.symbolic_shapes:
            from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference
            proto = SymbolicShapeInference.infer_shapes(proto, auto_merge=True)
    write_card(proto, card)
    data = proto.SerializeToString()
    if check:
        err = max_abs_difference(model, data, activation, size)
        if err > atol:
            raise RuntimeError(f"deployment graph differs from the PyTorch model by {err:.3g} > {atol:g}")
    atomic_write_bytes(path, data)
    return path


def check_inputs(size: int, batch: int = 3, seed: int = 0) -> torch.Tensor:
    """Seeded uniform random images. (Smooth synthetic patterns were tried too: on a
    half-trained 30M checkpoint they are ill-conditioned -- the original network's own float32
    result is 2e-3 away from its float64 one -- so they cannot separate a wrong rewrite from
    rounding; tests add real face crops.)"""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, size, size, generator=g)


def max_abs_difference(model: nn.Module, onnx_model: bytes | str | os.PathLike, activation: str = "sigmoid",
                       size: int | None = None, inputs: torch.Tensor | None = None) -> float:
    """Largest |ONNX Runtime output - PyTorch output| over the check inputs."""
    import onnxruntime as ort

    size = int(size or model.cfg.input_size)
    x = check_inputs(size) if inputs is None else inputs
    with _quiet_torch(), torch.no_grad():
        ref = HeatmapOutput(model, activation).eval()(x).numpy()
    src = onnx_model if isinstance(onnx_model, bytes) else str(onnx_model)
    sess = ort.InferenceSession(src, providers=["CPUExecutionProvider"])
    out = sess.run(None, {"image": x.numpy()})[0]
    return float(abs(out - ref).max())
