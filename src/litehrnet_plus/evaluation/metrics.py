"""Landmark accuracy metrics as the field computes them (NumPy only).

NME: mean point-to-point error over the landmarks divided by a per-face normaliser --
inter-ocular (outer eye corners; the 300-W/WFLW default), inter-pupil, or box size
(sqrt(w*h) of the ground-truth landmark box). Failure rate: fraction of faces with NME above
a threshold (0.10). AUC: area under the CED curve up to the threshold, divided by the
threshold, integrated with a step of 1e-4.
"""
from __future__ import annotations

import numpy as np

from ..schemes import LandmarkScheme
from ..errors import ConfigError

NORMALISERS = ("inter-ocular", "inter-pupil", "box")


# A face fails when its NME passes this (the field's FR@0.10 and AUC@0.10).
FAILURE_THRESHOLD = 0.10


def normalising_distance(gt: np.ndarray, scheme: LandmarkScheme, kind: str = "inter-ocular") -> np.ndarray:
    """(N,K,2) ground truth -> (N,) normalising distances."""
    gt = np.asarray(gt, dtype=np.float64)
    if kind == "inter-ocular":
        if scheme.eye_corners is None:
            raise ConfigError(f"scheme {scheme.name!r} defines no eye corners; use --norm box")
        a, b = scheme.eye_corners
        return np.linalg.norm(gt[:, a] - gt[:, b], axis=1)
    if kind == "inter-pupil":
        if scheme.pupils is not None:
            a, b = scheme.pupils
            return np.linalg.norm(gt[:, a] - gt[:, b], axis=1)
        if scheme.name == "ibug68":
            # 300-W has no pupil points: the convention is the distance of the eye centres
            left, right = gt[:, 36:42].mean(axis=1), gt[:, 42:48].mean(axis=1)
            return np.linalg.norm(left - right, axis=1)
        raise ConfigError(f"scheme {scheme.name!r} defines no pupils; use --norm inter-ocular or box")
    if kind == "box":
        wh = gt.max(axis=1) - gt.min(axis=1)
        return np.sqrt(wh[:, 0] * wh[:, 1])
    raise ConfigError(f"unknown normaliser {kind!r}; choose one of {NORMALISERS}")


def per_face_nme(pred: np.ndarray, gt: np.ndarray, norm: np.ndarray) -> np.ndarray:
    err = np.linalg.norm(np.asarray(pred, np.float64) - np.asarray(gt, np.float64), axis=2).mean(axis=1)
    return err / np.asarray(norm, np.float64)


def failure_rate(nme: np.ndarray, threshold: float = FAILURE_THRESHOLD) -> float:
    return float(np.mean(np.asarray(nme) > threshold)) if len(nme) else float("nan")


def auc(nme: np.ndarray, threshold: float = FAILURE_THRESHOLD, step: float = 1e-4) -> float:
    """Area under the CED curve on [0, threshold], normalised to [0, 1]."""
    e = np.sort(np.asarray(nme, dtype=np.float64))
    if len(e) == 0:
        return float("nan")
    xs = np.arange(0.0, threshold + step / 2, step)
    ced = np.searchsorted(e, xs, side="right") / len(e)
    return float(np.trapezoid(ced, xs) / threshold)


def summarise(nme: np.ndarray, threshold: float = FAILURE_THRESHOLD) -> dict:
    nme = np.asarray(nme, dtype=np.float64)
    return {"faces": int(len(nme)), "nme": float(nme.mean()) if len(nme) else float("nan"),
            f"fr@{threshold:.2f}": failure_rate(nme, threshold), f"auc@{threshold:.2f}": auc(nme, threshold)}


def roc_auc(score: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve: the probability that a random positive scores above a random
    negative (ties count half); NaN when either class is empty."""
    score = np.asarray(score, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    values, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
    # the average rank of each distinct value (ties share it)
    mid = np.cumsum(counts) - (counts - 1) / 2
    ranks = mid[inverse]
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
