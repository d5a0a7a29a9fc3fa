"""The benchmark protocol: crop each face from its tight ground-truth landmark box (300-W /
WFLW), predict, map back to the image, and report NME / failure rate / AUC per subset and per
WFLW attribute.

A predictor is anything with `predict_crops(crops uint8 (N,S,S,3)) -> (points (N,K,2) in crop
pixels, scores (N,K))`.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from tqdm import tqdm

from ..data.formats import FaceSample, check_sample
from ..data.images import read_image
from ..errors import AnnotationError, ImageReadError
from ..data.transforms import DEFAULT_CROP_SCALE, crop_faces, crop_matrix, transform_points, uncrop_points
from ..schemes import LandmarkScheme
from .metrics import FAILURE_THRESHOLD, normalising_distance, per_face_nme, summarise


class Predictor(Protocol):
    def predict_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass
class EvaluationReport:
    """What `evaluate_samples` measured. `to_dict()` is the JSON report; `nme` (per face) and
    `pred` (landmarks in image pixels) are the arrays behind it, for CED curves and analysis."""

    normaliser: str
    threshold: float
    all: dict                                    # {"faces", "nme", "fr@0.10", "auc@0.10"}
    subsets: dict[str, dict] = field(default_factory=dict)
    attributes: dict[str, dict] = field(default_factory=dict)
    images: list[str] = field(default_factory=list)
    nme: np.ndarray = field(default_factory=lambda: np.zeros(0))
    pred: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 2), np.float32))

    def to_dict(self) -> dict:
        out: dict = {"normaliser": self.normaliser, "threshold": self.threshold, "all": self.all}
        if self.subsets:
            out["subsets"] = self.subsets
        if self.attributes:
            out["attributes"] = self.attributes
        out["per_face"] = [{"image": i, "nme": float(e)} for i, e in zip(self.images, self.nme)]
        return out


def usable_samples(samples: list[FaceSample]) -> tuple[list[FaceSample], list[str]]:
    """The samples whose image reads and whose points lie with it, and a message per other one
    (each names the file, and the line where there is one)."""
    good, problems = [], []
    for s in samples:
        try:
            image = read_image(s.image_path, orient=False)
            check_sample(s, image.shape)
        except (ImageReadError, AnnotationError) as e:
            problems.append(str(e))
            continue
        good.append(s)
    return good, problems


def predict_samples(predictor: Predictor, samples: list[FaceSample], input_size: int,
                    crop_scale: float = DEFAULT_CROP_SCALE, batch_size: int = 64, progress: bool = False,
                    images: dict | None = None) -> np.ndarray:
    """Predicted landmarks (N,K,2) in image pixels for each sample's ground-truth box. Images
    are read as stored (no EXIF turn), as their annotations are."""
    out = []
    it = range(0, len(samples), batch_size)
    for start in tqdm(it, desc="evaluate", unit="batch", disable=not progress):
        batch = samples[start:start + batch_size]
        crops, mats = [], []
        for s in batch:
            img = (images[s.image_path] if images is not None and s.image_path in images
                   else read_image(s.image_path, orient=False))
            c, m = crop_faces(img, s.box[None], input_size, crop_scale)
            crops.append(c[0])
            mats.append(m[0])
        pts, _ = predictor.predict_crops(np.stack(crops))
        out.append(uncrop_points(pts, np.stack(mats)))
    return np.concatenate(out) if out else np.zeros((0, 0, 2), np.float32)


def evaluate_samples(predictor: Predictor, samples: list[FaceSample], scheme: LandmarkScheme,
                     input_size: int, crop_scale: float = DEFAULT_CROP_SCALE, norm: str = "inter-ocular",
                     threshold: float = FAILURE_THRESHOLD, batch_size: int = 64, progress: bool = False) -> EvaluationReport:
    """Overall, per subset, per attribute, and per-face NMEs."""
    pred = predict_samples(predictor, samples, input_size, crop_scale, batch_size, progress)
    gt = np.stack([s.landmarks for s in samples])
    nme = per_face_nme(pred, gt, normalising_distance(gt, scheme, norm))
    groups: dict[str, list[int]] = defaultdict(list)
    attrs: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(samples):
        groups[s.subset or "all"].append(i)
        for name, flag in (s.attributes or {}).items():
            if flag:
                attrs[name].append(i)
    return EvaluationReport(
        normaliser=norm, threshold=threshold, all=summarise(nme, threshold),
        subsets={g: summarise(nme[idx], threshold) for g, idx in sorted(groups.items())} if len(groups) > 1 else {},
        attributes={a: summarise(nme[idx], threshold) for a, idx in sorted(attrs.items())},
        images=[str(s.image_path) for s in samples], nme=nme, pred=pred)


class MeanShapePredictor:
    """The trivial baseline: the training set's mean shape, in crop coordinates, for every face.
    A trained model must beat it by a wide margin."""

    def __init__(self, samples: list[FaceSample], input_size: int, crop_scale: float = DEFAULT_CROP_SCALE) -> None:
        shapes = [transform_points(s.landmarks, crop_matrix(s.box, input_size, crop_scale)) for s in samples]
        self.mean = np.mean(shapes, axis=0).astype(np.float32)

    def predict_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(crops)
        return np.repeat(self.mean[None], n, axis=0), np.ones((n, len(self.mean)), np.float32)
