"""Benchmark evaluation: crop each face from its tight ground-truth landmark box (the 300-W /
WFLW protocol), predict, map back to the image, and report NME / failure rate / AUC per subset
and per WFLW attribute, with a CED plot.

A predictor is anything with `predict_crops(crops uint8 (N,S,S,3)) -> (points (N,K,2) in crop
pixels, scores (N,K))`: the PyTorch model below, or ONNX Runtime's OnnxHeatmapModel.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Protocol

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..codec import HeatmapCodec, average_with_mirror
from ..data.formats import FaceSample
from ..data.images import read_image
from ..data.transforms import crop_faces, uncrop_points
from ..schemes import LandmarkScheme
from .metrics import normalising_distance, per_face_nme, summarise


class Predictor(Protocol):
    def predict_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


class TorchPredictor:
    """PyTorch model -> landmarks in crop pixels via the shared codec. flip_test averages the
    prediction with that of the mirrored crop (in coordinates, so no half-pixel shift)."""

    def __init__(self, model: nn.Module, codec: HeatmapCodec, activation: str = "sigmoid",
                 flip_perm: list[int] | None = None, flip_test: bool = False) -> None:
        if flip_test and flip_perm is None:
            raise ValueError("flip_test needs the scheme's flip permutation")
        self.model, self.codec, self.activation = model, codec, activation
        self.flip_perm, self.flip_test = flip_perm, flip_test

    @torch.no_grad()
    def _heatmaps(self, crops: np.ndarray) -> np.ndarray:
        from ..data.transforms import to_input
        x = torch.from_numpy(to_input(crops))
        out = self.model(x)
        return (torch.sigmoid(out) if self.activation == "sigmoid" else out).numpy()

    def predict_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        was_training = self.model.training
        self.model.eval()
        try:
            pts, scores = self.codec.decode(self._heatmaps(crops))
            if self.flip_test:
                fpts, fscores = self.codec.decode(self._heatmaps(crops[:, :, ::-1]))
                pts, scores = average_with_mirror(pts, scores, fpts, fscores, self.flip_perm, crops.shape[2])
        finally:
            self.model.train(was_training)
        return pts, scores


def predict_samples(predictor: Predictor, samples: list[FaceSample], input_size: int,
                    crop_scale: float = 1.25, batch_size: int = 64, progress: bool = False,
                    images: dict | None = None) -> np.ndarray:
    """Predicted landmarks (N,K,2) in image pixels for each sample's ground-truth box."""
    out = []
    it = range(0, len(samples), batch_size)
    for start in tqdm(it, desc="evaluate", unit="batch", disable=not progress):
        batch = samples[start:start + batch_size]
        crops, mats = [], []
        for s in batch:
            img = images[s.image_path] if images is not None and s.image_path in images else read_image(s.image_path)
            c, m = crop_faces(img, s.box[None], input_size, crop_scale)
            crops.append(c[0])
            mats.append(m[0])
        pts, _ = predictor.predict_crops(np.stack(crops))
        out.append(uncrop_points(pts, np.stack(mats)))
    return np.concatenate(out) if out else np.zeros((0, 0, 2), np.float32)


def evaluate_samples(predictor: Predictor, samples: list[FaceSample], scheme: LandmarkScheme,
                     input_size: int, crop_scale: float = 1.25, norm: str = "inter-ocular",
                     threshold: float = 0.10, batch_size: int = 64, progress: bool = False) -> dict:
    """Full report: overall, per subset, per attribute, and per-face NMEs."""
    pred = predict_samples(predictor, samples, input_size, crop_scale, batch_size, progress)
    gt = np.stack([s.landmarks for s in samples])
    nme = per_face_nme(pred, gt, normalising_distance(gt, scheme, norm))
    report = {"normaliser": norm, "threshold": threshold, "all": summarise(nme, threshold)}
    groups: dict[str, list[int]] = defaultdict(list)
    attrs: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(samples):
        groups[s.subset or "all"].append(i)
        for name, flag in (s.attributes or {}).items():
            if flag:
                attrs[name].append(i)
    if len(groups) > 1:
        report["subsets"] = {g: summarise(nme[idx], threshold) for g, idx in sorted(groups.items())}
    if attrs:
        report["attributes"] = {a: summarise(nme[idx], threshold) for a, idx in sorted(attrs.items())}
    report["per_face"] = [{"image": str(s.image_path), "nme": float(e)} for s, e in zip(samples, nme)]
    report["_nme"] = nme
    report["_pred"] = pred
    return report


class MeanShapePredictor:
    """The trivial baseline: the training set's mean shape, in crop coordinates, for every face.
    A trained model must beat it by a wide margin."""

    def __init__(self, samples: list[FaceSample], input_size: int, crop_scale: float = 1.25) -> None:
        from ..data.transforms import crop_matrix, transform_points
        shapes = [transform_points(s.landmarks, crop_matrix(s.box, input_size, crop_scale)) for s in samples]
        self.mean = np.mean(shapes, axis=0).astype(np.float32)

    def predict_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(crops)
        return np.repeat(self.mean[None], n, axis=0), np.ones((n, len(self.mean)), np.float32)
