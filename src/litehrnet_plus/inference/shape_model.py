"""A point distribution model of a landmark scheme (as in active shape models): the mean face
shape and its main modes of variation, fitted on ground-truth training shapes. It tells how
face-like a set of landmarks is, whatever the heatmaps said: a failed fit has confident peaks
often enough, but its shape is one no face has (a jaw through the nose, eyes apart by half the
face). The quality score (`calibration.quality_function`) reads two numbers from it:

- residual: how far the shape lies outside the span of the modes,
- mahalanobis: how unusual the shape is along them (in standard deviations),

both after removing position, scale and in-plane rotation (Procrustes), so a tilted or small
face is no less plausible than an upright large one. Each is read on a log scale above a floor,
the median of the training shapes' own values (annotation noise): a shape closer to the mean
than annotated faces are is no more plausible than they are, so the score cannot run away on
a near-perfect mean face."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

#: share of the training shapes' variance the modes keep (a usual choice for shape models,
#: fixed before the quality check on wflw-partial, not tuned on it)
EXPLAINED_VARIANCE = 0.95


def _normalise(shapes: np.ndarray) -> np.ndarray:
    """(N, K, 2) -> centred, unit Frobenius norm."""
    c = shapes - shapes.mean(axis=1, keepdims=True)
    return c / np.maximum(np.linalg.norm(c, axis=(1, 2), keepdims=True), 1e-12)


def align(shapes: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Each shape (N, K, 2) similarity-aligned onto a unit-norm centred `reference` (K, 2) --
    the best rotation (reflections excluded) -- and scaled onto the reference's tangent plane
    (dot product 1 with it), so the reference itself maps to itself and the training shapes'
    mean equals the reference. In 2-D, with points as complex numbers, the best rotation of x
    onto r is the phase of c = sum(r * conj(x)) and the dot product after it is |c|: the
    orthogonal Procrustes solution without an SVD (this runs on every face)."""
    x = _normalise(np.asarray(shapes, np.float64))
    z = x[..., 0] + 1j * x[..., 1]
    r = reference[:, 0] + 1j * reference[:, 1]
    c = (r * z.conj()).sum(axis=1)
    # |c| is near zero only for a shape at right angles to the reference: the bound keeps it
    # finite (and far from every face)
    z = z * (c / np.maximum(np.abs(c), 1e-6) ** 2)[:, None]
    return np.stack([z.real, z.imag], axis=-1)


@dataclass(frozen=True)
class ShapeModel:
    mean: np.ndarray        # (K, 2), centred, unit norm
    modes: np.ndarray       # (M, 2K), orthonormal rows
    variances: np.ndarray   # (M,), variance of the training shapes along each mode
    floors: np.ndarray      # (2,), median residual and Mahalanobis distance of the training shapes

    @classmethod
    def fit(cls, shapes: np.ndarray, explained: float = EXPLAINED_VARIANCE, iters: int = 5) -> "ShapeModel":
        """Generalised Procrustes analysis of ground-truth shapes (N, K, 2), then PCA keeping the
        fewest modes that explain `explained` of the variance."""
        shapes = np.asarray(shapes, np.float64)
        if shapes.ndim != 3 or shapes.shape[2] != 2 or len(shapes) < 2:
            raise ValueError(f"shape model: need (N >= 2, K, 2) shapes, got {shapes.shape}")
        ref = _normalise(shapes[:1])[0]
        for _ in range(iters):
            ref = _normalise(align(shapes, ref).mean(axis=0, keepdims=True))[0]
        a = align(shapes, ref)
        d = (a - a.mean(axis=0)).reshape(len(a), -1)
        _, sv, vt = np.linalg.svd(d, full_matrices=False)
        var = sv ** 2 / len(a)
        m = int(np.searchsorted(np.cumsum(var) / var.sum(), explained) + 1)
        unfloored = cls(a.mean(axis=0), vt[:m], var[:m], np.zeros(2))
        return cls(unfloored.mean, unfloored.modes, unfloored.variances,
                   np.median(np.stack(unfloored.distances(shapes), 1), axis=0))

    @property
    def num_landmarks(self) -> int:
        return len(self.mean)

    @cached_property
    def reference(self) -> np.ndarray:
        """The mean shape at unit norm, what every shape is aligned onto."""
        return _normalise(self.mean[None])[0]

    def distances(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(residual, mahalanobis) of each shape (N, K, 2): see the module's text."""
        points = np.asarray(points, np.float64)
        if points.ndim == 2:
            points = points[None]
        if points.shape[1] != self.num_landmarks:
            raise ValueError(f"shape model of {self.num_landmarks} landmarks given {points.shape[1]}")
        x = (align(points, self.reference) - self.mean).reshape(len(points), -1)
        b = x @ self.modes.T
        residual = np.linalg.norm(x - b @ self.modes, axis=1)
        mahalanobis = np.sqrt((b ** 2 / self.variances).sum(axis=1))
        return residual, mahalanobis

    def features(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(log(residual + floor), log(mahalanobis + floor)) of each shape (N, K, 2)."""
        residual, mahalanobis = self.distances(points)
        return np.log(residual + self.floors[0]), np.log(mahalanobis + self.floors[1])

    def to_dict(self) -> dict:
        return {"num_landmarks": self.num_landmarks, "explained_variance": EXPLAINED_VARIANCE,
                "mean": np.round(self.mean, 6).tolist(), "modes": np.round(self.modes, 6).tolist(),
                "variances": [float(f"{v:.6g}") for v in self.variances],
                "floors": [float(f"{v:.6g}") for v in self.floors]}

    @classmethod
    def from_dict(cls, d: dict) -> "ShapeModel":
        return cls(np.asarray(d["mean"], np.float64), np.asarray(d["modes"], np.float64),
                   np.asarray(d["variances"], np.float64), np.asarray(d["floors"], np.float64))
