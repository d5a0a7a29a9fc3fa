"""The codecs of models that do not predict heatmaps, beside codec.HeatmapCodec: each turns
crop landmarks into the training target of its output and that output back into landmarks,
so training and decoding share one definition (mmpose's codec idea). NumPy only.

- RegressionCodec: direct coordinates (the Wing row): (K,2) positions as fractions of the side.
- PIPCodec: PIPNet's pixel-in-pixel maps on a coarse grid: per landmark a score map, an offset
  inside the best cell and the offsets of its nearest neighbours (in the mean face) from it.

A codec's dict carries its "kind"; a dict without one is a heatmap codec (every card written
before these existed).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .codec import DEFAULT_INPUT_SIZE, HeatmapCodec
from .errors import ConfigError

CODEC_KINDS = ("heatmap", "regression", "pip")


@dataclass(frozen=True)
class RegressionCodec:
    input_size: int = DEFAULT_INPUT_SIZE
    kind: str = "regression"

    def to_dict(self) -> dict:
        return asdict(self)

    def encode(self, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(K,2) input pixels -> (K,2) fractions of the input side, and (K,) weights (0 where
        the annotation is missing)."""
        pts = np.asarray(landmarks, dtype=np.float32)
        ok = np.all(np.isfinite(pts), axis=1)
        return np.where(ok[:, None], pts / self.input_size, 0.0).astype(np.float32), ok.astype(np.float32)

    def decode(self, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N,K,2) fractions -> (N,K,2) input pixels; scores NaN (regression has no confidence)."""
        out = np.asarray(outputs, dtype=np.float32)
        return out * self.input_size, np.full(out.shape[:-1], np.nan, dtype=np.float32)


def nearest_neighbours(mean_shape: np.ndarray, count: int) -> tuple[tuple[int, ...], ...]:
    """Each landmark's `count` nearest other landmarks in a mean shape (K,2)."""
    pts = np.asarray(mean_shape, dtype=np.float64)
    d = np.linalg.norm(pts[:, None] - pts[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    return tuple(tuple(int(j) for j in np.argsort(row, kind="stable")[:count]) for row in d)


def pip_parts(outputs, num_landmarks: int):
    """PIPNet's maps (N, K*(3+2nb), G, G) -> scores (N,K,G,G), x, y (N,K,G,G), neighbour x, y
    (N,K,nb,G,G): the one layout the model, codec and loss share; NumPy arrays or torch tensors."""
    k = num_landmarks
    n, ch, h, w = outputs.shape
    nb = (ch // k - 3) // 2
    scores, x, y = outputs[:, :k], outputs[:, k:2 * k], outputs[:, 2 * k:3 * k]
    nbx = outputs[:, 3 * k:3 * k + k * nb].reshape(n, k, nb, h, w)
    nby = outputs[:, 3 * k + k * nb:].reshape(n, k, nb, h, w)
    return scores, x, y, nbx, nby


@dataclass(frozen=True)
class PIPCodec:
    """neighbours: per landmark the indices of its nearest landmarks in the training set's mean
    face (nearest_neighbours); the model predicts them from the landmark's own cell."""

    neighbours: tuple[tuple[int, ...], ...]
    input_size: int = DEFAULT_INPUT_SIZE
    stride: int = 32
    kind: str = "pip"

    def __post_init__(self) -> None:
        k = len(self.neighbours)
        counts = {len(n) for n in self.neighbours}
        if k < 2 or len(counts) != 1:
            raise ConfigError("codec: neighbours must list the same number of indices for each of >= 2 landmarks")
        if any(not 0 <= j < k or j == i for i, row in enumerate(self.neighbours) for j in row):
            raise ConfigError("codec: a neighbour index is out of range or names the landmark itself")
        if self.input_size % self.stride:
            raise ConfigError(f"codec: input_size {self.input_size} is not a multiple of stride {self.stride}")

    @property
    def num_landmarks(self) -> int:
        return len(self.neighbours)

    @property
    def num_neighbours(self) -> int:
        return len(self.neighbours[0])

    @property
    def grid(self) -> int:
        return self.input_size // self.stride

    def to_dict(self) -> dict:
        return {"kind": self.kind, "input_size": self.input_size, "stride": self.stride,
                "neighbours": [list(n) for n in self.neighbours]}

    def encode(self, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(K,2) input pixels -> (K*(3+2nb), G, G) targets [scores, x, y, neighbour x, neighbour
        y] and (K,) weights. The landmark's cell is floor(p / stride), clamped to the grid; x, y
        are its offset in cells from that cell's corner (outside [0,1) when clamped), and each
        neighbour's offsets are measured from the same cell, as PIPNet does."""
        k, nb, g = self.num_landmarks, self.num_neighbours, self.grid
        pts = np.asarray(landmarks, dtype=np.float64) / self.stride
        ok = np.all(np.isfinite(pts), axis=1)
        pts = np.where(ok[:, None], pts, 0.0)
        cell = np.clip(np.floor(pts), 0, g - 1).astype(np.int64)
        target = np.zeros((k * (3 + 2 * nb), g, g), np.float32)
        idx = np.arange(k)
        cx, cy = cell[:, 0], cell[:, 1]
        target[idx, cy, cx] = 1.0
        target[k + idx, cy, cx] = pts[:, 0] - cx
        target[2 * k + idx, cy, cx] = pts[:, 1] - cy
        nbr = np.asarray(self.neighbours)                               # (K, nb)
        rows = (idx[:, None] * nb + np.arange(nb)[None]).ravel()
        target[3 * k + rows, np.repeat(cy, nb), np.repeat(cx, nb)] = (pts[nbr, 0] - cx[:, None]).ravel()
        target[3 * k + k * nb + rows, np.repeat(cy, nb), np.repeat(cx, nb)] = (pts[nbr, 1] - cy[:, None]).ravel()
        # a landmark whose neighbour lacks an annotation still trains its own cell
        return target, ok.astype(np.float32)

    def decode(self, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, K*(3+2nb), G, G) raw outputs -> landmarks (N,K,2) in input pixels and scores
        (N,K) (the best cell's score). Each landmark's position is the mean of its own estimate
        and the estimates of it made by the landmarks that count it as a neighbour."""
        out = np.asarray(outputs, dtype=np.float32)
        k, nb, g = self.num_landmarks, self.num_neighbours, self.grid
        n = out.shape[0]
        scores, x, y, nbx, nby = pip_parts(out, k)
        flat = scores.reshape(n, k, -1)
        best = flat.argmax(axis=2)                                       # (N,K)
        score = np.take_along_axis(flat, best[..., None], axis=2)[..., 0]
        cx, cy = (best % g).astype(np.float32), (best // g).astype(np.float32)

        def at(maps: np.ndarray) -> np.ndarray:                          # value at each landmark's cell
            m = maps.reshape(*maps.shape[:-2], -1)
            b = best.reshape(n, k, *([1] * (m.ndim - 3)), 1)
            return np.take_along_axis(m, np.broadcast_to(b, (*m.shape[:-1], 1)), axis=-1)[..., 0]

        own = np.stack([cx + at(x), cy + at(y)], axis=-1)                # (N,K,2) in cells
        others = np.stack([cx[..., None] + at(nbx), cy[..., None] + at(nby)], axis=-1)   # (N,K,nb,2)
        nbr = np.asarray(self.neighbours).ravel()                      # landmark i's estimate of j
        total = own.copy()
        np.add.at(total, (slice(None), nbr), others.reshape(n, k * nb, 2))
        count = 1 + np.bincount(nbr, minlength=k).astype(np.float32)
        pts = total / count[None, :, None] * self.stride
        return pts.astype(np.float32), score.astype(np.float32)


Codec = HeatmapCodec | RegressionCodec | PIPCodec


def codec_from_dict(d: dict | None, input_size: int) -> Codec:
    """The codec a card or config describes ({"kind": ...}; no kind: heatmaps)."""
    d = dict(d or {})
    kind = d.pop("kind", "heatmap")
    d["input_size"] = int(d.get("input_size", input_size))
    if kind == "heatmap":
        return HeatmapCodec.from_dict(d)
    if kind == "regression":
        return RegressionCodec(input_size=d["input_size"])
    if kind == "pip":
        if "neighbours" not in d:
            raise ConfigError("codec: a pip codec needs its neighbour table")
        return PIPCodec(neighbours=tuple(tuple(int(j) for j in row) for row in d["neighbours"]),
                        input_size=d["input_size"], stride=int(d.get("stride", 32)))
    raise ConfigError(f"codec: kind must be one of {CODEC_KINDS}, got {kind!r}")
