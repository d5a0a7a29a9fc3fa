"""Which training faces an epoch sees: all once in a fresh order, or drawn so that every band of
head yaw is seen about equally often (pose-based data balancing, Feng et al., Wing loss, CVPR
2018: 300-W's training faces are mostly within +-30 degrees, and a model trained on them pulls
turned faces towards the frontal mean shape).

Each face's yaw is solved from its own landmarks (the head-pose solver's points: the inner face),
so balancing works on any dataset with 68 or 98 points, profiled or not.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..inference.headpose import camera_matrix, solve_head_pose, to_ibug68
from ..schemes import scheme_for

BALANCE_MODES = ("none", "yaw")
YAW_BIN_DEG = 15.0
# a band holding very few faces is not repeated without end: at most this many times the
# weight of a face in the fullest band
MAX_WEIGHT_RATIO = 10.0


def landmark_yaw(landmarks: np.ndarray) -> float:
    """The yaw (degrees, the head-pose convention) of a face from its 68 or 98 landmarks, by
    the generic head and a weak-perspective camera (the image size plays no part)."""
    pts = np.asarray(landmarks, dtype=np.float64)
    pts68 = to_ibug68(pts, scheme_for(len(pts)))
    centre = pts68.mean(axis=0)
    size = float(np.ptp(pts68, axis=0).max()) or 1.0
    cam = camera_matrix(1, 1, focal=50.0 * size)
    cam[:2, 2] = centre
    return float(solve_head_pose(pts68, cam).yaw)


def yaw_bands(yaws: Sequence[float], bin_deg: float = YAW_BIN_DEG) -> np.ndarray:
    """Each face's |yaw| band (0: below `bin_deg`, ...; 90 degrees and beyond share the last)."""
    return np.minimum(np.abs(np.asarray(yaws, dtype=np.float64)) // bin_deg, 90 // bin_deg).astype(int)


def check_shares(shares: Sequence[float | None]) -> None:
    """ValueError unless the given shares are in (0, 1] and add up to at most 1 (exactly 1 when
    every source has one)."""
    given = [x for x in shares if x is not None]
    if any(not 0 < x <= 1 for x in given) or sum(given) > 1 + 1e-9 or \
            (len(given) == len(shares) and abs(sum(given) - 1) > 1e-9):
        raise ValueError(f"data shares must be in (0, 1] and add up to at most 1 (exactly 1 when every source "
                         f"has one), got {list(shares)}")


def yaw_weights(yaws: Sequence[float], bin_deg: float = YAW_BIN_DEG,
                max_ratio: float = MAX_WEIGHT_RATIO) -> np.ndarray:
    """Per-face sampling weights (summing to 1) that give each |yaw| band of `bin_deg` the same
    share, capped at `max_ratio` times the weight of a face in the fullest band."""
    bins = yaw_bands(yaws, bin_deg)
    counts = np.bincount(bins)
    w = 1.0 / counts[bins]
    w = np.minimum(w, max_ratio / counts.max())
    return w / w.sum()


def epoch_order(n: int, seed: int, epoch: int, size: int = 0, weights: np.ndarray | None = None) -> np.ndarray:
    """The face indices of one epoch: `size` of them (0: n), a permutation when unweighted
    (repeated whole where size > n), else drawn with replacement by `weights`."""
    rng = np.random.default_rng([seed, epoch, 7])
    size = size or n
    if weights is not None:
        return rng.choice(n, size=size, replace=True, p=weights)
    reps = -(-size // n)
    return np.concatenate([rng.permutation(n) for _ in range(reps)])[:size]


def sample_weights(sizes: Sequence[int], shares: Sequence[float | None], yaws: np.ndarray | None = None
                   ) -> np.ndarray | None:
    """Per-face sampling weights over sources of `sizes` faces (concatenated in that order):
    a source with a share gets that fraction of each epoch, the others split the rest in
    proportion to their size; within a source the faces weigh alike or, given their `yaws`, by
    yaw band (`yaw_weights`). None when every face weighs alike (the plain permutation)."""
    if yaws is None and all(s is None for s in shares):
        return None
    check_shares(shares)
    sizes = [int(n) for n in sizes]
    given = sum(s for s in shares if s is not None)
    rest = sum(n for n, s in zip(sizes, shares) if s is None)
    out, start = [], 0
    for n, share in zip(sizes, shares):
        mass = share if share is not None else (1.0 - given) * n / rest
        if yaws is None:
            w = np.full(n, 1.0 / max(n, 1))
        else:
            w = yaw_weights(yaws[start:start + n]) if n else np.zeros(0)
        out.append(w * mass)
        start += n
    w = np.concatenate(out)
    return w / w.sum()
