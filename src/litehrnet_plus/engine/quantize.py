"""Optional INT8 graphs: ONNX Runtime static quantisation calibrated on training face crops.

No PyTorch here (only onnxruntime.quantization and NumPy), so `litehrnet-plus bench` can
quantise an exported graph on the base install. Calibration uses 300-W *training* folders
only (afw, helen/trainset, lfpw/trainset); a test folder is refused, so a reported NME on
lfpw/testset never saw its own images during calibration.

docs/speed.md has the measured speed and NME cost: on this CPU the INT8 graph is 2-2.5x
slower than the float deployment graph (its many per-channel multiplies, resizes and tiny
attention convolutions stay float or gain quantise/dequantise pairs, and int8 has no NCHWc
path), costs the 10M model +0.09 NME points on lfpw/testset, and wrecks the 30M model (NME
35-59% with MinMax or percentile calibration, per-channel or per-tensor, from the plain, split
or masked graph). So INT8 stays an option, not a recommendation.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from ..card import DEFAULT_CROP_SCALE, DEFAULT_INPUT_SIZE, ModelCard
from ..data.formats import load_dataset
from ..data.images import read_image
from ..data.transforms import crop_faces, to_input
from ..errors import UserError
from ..fileio import atomic_write_bytes
from ..hub import METADATA_KEY

TRAIN_FOLDERS_300W = ("afw", "helen/trainset", "lfpw/trainset")


def calibration_crops(root: str | os.PathLike, subsets: tuple[str, ...] = TRAIN_FOLDERS_300W, count: int = 256,
                      size: int = DEFAULT_INPUT_SIZE, crop_scale: float = DEFAULT_CROP_SCALE,
                      seed: int = 0) -> np.ndarray:
    """`count` face crops (N,S,S,3) uint8 BGR, drawn evenly at random from 300-W training
    folders under `root`, cropped from their ground-truth landmark boxes."""
    bad = [s for s in subsets if "test" in s.lower()]
    if bad:
        raise UserError(f"calibration must not use test data ({', '.join(bad)}); use training folders")
    samples = []
    for sub in subsets:
        samples += load_dataset("300w", root, sub, warn=lambda *_: None)
    if not samples:
        raise UserError(f"{root}: no training faces for calibration")
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(samples), size=min(count, len(samples)), replace=False)
    crops = []
    for i in sorted(pick):
        s = samples[int(i)]
        c, _ = crop_faces(read_image(s.image_path, orient=False), s.box[None], size, crop_scale)
        crops.append(c[0])
    return np.stack(crops)


class _CropReader:
    """onnxruntime.quantization CalibrationDataReader over preprocessed crops."""

    def __init__(self, crops: np.ndarray, input_name: str, batch: int = 16) -> None:
        self.batches = [to_input(crops[i:i + batch]) for i in range(0, len(crops), batch)]
        self.input_name = input_name
        self.pos = 0

    def get_next(self) -> dict | None:
        if self.pos >= len(self.batches):
            return None
        self.pos += 1
        return {self.input_name: self.batches[self.pos - 1]}

    def rewind(self) -> None:
        self.pos = 0


def quantize_int8(src: str | os.PathLike, dst: str | os.PathLike, crops: np.ndarray, *,
                  per_channel: bool = True, method: str = "minmax",
                  op_types: tuple[str, ...] = ("Conv", "MatMul")) -> Path:
    """Statically quantise the ONNX graph `src` (QDQ format, int8 weights per channel, uint8
    activations) calibrated on `crops`; its model card is copied with graph "int8" and the
    quantisation settings in extra["quantization"]."""
    import onnx
    from onnxruntime.quantization import (CalibrationMethod, QuantFormat, QuantType, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    methods = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
               "entropy": CalibrationMethod.Entropy}
    if method not in methods:
        raise ValueError(f"method must be one of {sorted(methods)}, got {method!r}")
    src, dst = Path(src), Path(dst)
    proto = onnx.load(str(src))
    meta = {p.key: p.value for p in proto.metadata_props}
    if METADATA_KEY not in meta:
        raise UserError(f"{src}: lacks the {METADATA_KEY!r} model card; export it with litehrnet-plus export")
    card = ModelCard.from_json(meta[METADATA_KEY], str(src))
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        # the ONNX-level clean-up quantisation expects (shape inference, basic optimisation)
        try:
            quant_pre_process(str(src), str(pre), skip_symbolic_shape=False)
        except Exception:  # symbolic inference gives up on the plain export's shape arithmetic
            quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        out = Path(tmp) / "int8.onnx"
        quantize_static(str(pre), str(out), _CropReader(crops, proto.graph.input[0].name),
                        quant_format=QuantFormat.QDQ, per_channel=per_channel,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=methods[method], op_types_to_quantize=list(op_types))
        q = onnx.load(str(out))
    quantization = {"format": "QDQ", "weights": "int8 per-channel" if per_channel else "int8",
                    "activations": "uint8", "calibration": method, "calibration_crops": int(len(crops)),
                    "op_types": list(op_types), "source_graph": card.graph or "plain"}
    card = card.with_(graph="int8", extra={**card.extra, "quantization": quantization})
    del q.metadata_props[:]
    entry = q.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, card.to_json()
    dst.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(dst, q.SerializeToString())
    return dst
