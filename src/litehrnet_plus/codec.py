"""Heatmap codec: the single definition of how landmarks become training targets and how
heatmaps become landmarks again (mmpose's "codec" idea), so the two can never drift apart.

NumPy only: the training targets (data pipeline) and the ONNX Runtime inference both use it.

Coordinate convention, everywhere in the package: 0-based pixels, pixel centres at integers.
A heatmap of stride s samples the input at x_in = s * x_hm, which is where a chain of
3x3/stride-2/padding-1 convolutions centres its output pixels.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

from .errors import ConfigError

REFINEMENTS = ("dark", "quarter", "none")
#: the network input side, pixels, unless a model card says otherwise (the paper's 96x96)
DEFAULT_INPUT_SIZE = 96


@dataclass(frozen=True)
class HeatmapCodec:
    input_size: int = DEFAULT_INPUT_SIZE     # square network input, pixels
    stride: int = 4               # input pixels per heatmap pixel
    sigma: float = 1.0            # Gaussian std in heatmap pixels
    refine: str = "dark"          # sub-pixel refinement at decoding: dark | quarter | none

    def __post_init__(self) -> None:
        if self.input_size % self.stride:
            raise ConfigError(f"codec: input_size {self.input_size} is not a multiple of stride {self.stride}")
        if self.refine not in REFINEMENTS:
            raise ConfigError(f"codec: refine must be one of {REFINEMENTS}, got {self.refine!r}")
        if not self.sigma > 0:
            raise ConfigError(f"codec: sigma must be positive, got {self.sigma}")

    @property
    def heatmap_size(self) -> int:
        return self.input_size // self.stride

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "HeatmapCodec":
        return cls(**{k: d[k] for k in ("input_size", "stride", "sigma", "refine") if k in d})

    # ------------------------------------------------------------------ encode
    def encode(self, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(K,2) input-pixel landmarks -> (K,H,W) float32 Gaussian targets (peak 1) and (K,)
        weights; a landmark whose Gaussian lies wholly outside the heatmap gets weight 0."""
        pts = np.asarray(landmarks, dtype=np.float32) / self.stride
        size = self.heatmap_size
        grid = np.arange(size, dtype=np.float32)
        gx = np.exp(-((grid[None, :] - pts[:, :1]) ** 2) / (2 * self.sigma ** 2))  # (K,W)
        gy = np.exp(-((grid[None, :] - pts[:, 1:]) ** 2) / (2 * self.sigma ** 2))  # (K,H)
        heatmaps = gy[:, :, None] * gx[:, None, :]
        margin = 3 * self.sigma
        inside = np.all((pts > -margin) & (pts < size - 1 + margin), axis=1) & np.all(np.isfinite(pts), axis=1)
        heatmaps[~inside] = 0.0
        return heatmaps.astype(np.float32), inside.astype(np.float32)

    def mean_target(self) -> float:
        """Mean value of one landmark's target map (landmark at the centre): the fraction of
        "on" heatmap mass a pixel carries, the prior a BCE output bias should start from."""
        centre = (self.heatmap_size - 1) / 2 * self.stride
        return float(self.encode(np.array([[centre, centre]]))[0].mean())

    # ------------------------------------------------------------------ decode
    def decode(self, heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N,K,H,W) or (K,H,W) heatmaps (probabilities, not logits) -> landmarks in input
        pixels (N,K,2) float32 and per-landmark peak scores (N,K)."""
        hm = np.asarray(heatmaps, dtype=np.float32)
        single = hm.ndim == 3
        if single:
            hm = hm[None]
        n, k, h, w = hm.shape
        flat = hm.reshape(n, k, -1)
        idx = flat.argmax(axis=2)
        scores = flat.max(axis=2)
        py, px = np.divmod(idx, w)
        xy = np.stack([px, py], axis=-1).astype(np.float32)
        if self.refine == "quarter":
            xy += 0.25 * self._neighbour_sign(hm, idx)
        elif self.refine == "dark":
            xy += self._taylor_offset(hm, px, py)
        pts = xy * self.stride
        return (pts[0], scores[0]) if single else (pts, scores)

    @staticmethod
    def _neighbour_sign(hm: np.ndarray, idx: np.ndarray) -> np.ndarray:
        n, k, h, w = hm.shape
        px, py = idx % w, idx // w
        p = np.pad(hm, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge")
        ni, ki = np.meshgrid(np.arange(n), np.arange(k), indexing="ij")
        dx = p[ni, ki, py + 1, px + 2] - p[ni, ki, py + 1, px]
        dy = p[ni, ki, py + 2, px + 1] - p[ni, ki, py, px + 1]
        return np.stack([np.sign(dx), np.sign(dy)], axis=-1).astype(np.float32)

    def _taylor_offset(self, hm: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
        """Distribution-aware refinement (DARK): smooth the map with the target Gaussian, take
        its log, and make one Newton step from the argmax using the local gradient and Hessian.
        Only the 3x3 pixels around each peak are needed, so only they are smoothed
        (`_smoothed_neighbourhood`). DARK also rescales the smoothed map to its original peak;
        after the log that is a constant, which the derivatives ignore."""
        n, k, h, w = hm.shape
        log = np.log(np.maximum(_smoothed_neighbourhood(hm, px, py, self.sigma), 1e-10))
        # gradient and Hessian of the 3x3 log window (exact for a quadratic) in one product
        gx, gy, hxx, hyy, hxy = np.moveaxis(log.reshape(n, k, 9) @ _NEWTON_STENCILS, -1, 0)
        det = hxx * hyy - hxy ** 2
        ok = (det > 1e-12) & (hxx < 0)            # a proper maximum: negative definite Hessian
        safe = np.where(ok, det, 1.0)
        ox = -(hyy * gx - hxy * gy) / safe
        oy = -(hxx * gy - hxy * gx) / safe
        off = np.stack([np.where(ok, ox, 0.0), np.where(ok, oy, 0.0)], axis=-1)
        return np.clip(off, -1.0, 1.0).astype(np.float32)


# The Newton step's derivatives at the centre of a 3x3 window (rows dy = -1, 0, 1; columns
# dx = -1, 0, 1), flattened into the columns of one (9, 5) matrix: d/dx, d/dy (central
# differences), d2/dx2, d2/dy2 (one-pixel second differences) and d2/dxdy.
_NEWTON_STENCILS = np.stack([np.array(m, np.float32).reshape(9) for m in (
    [[0, 0, 0], [-0.5, 0, 0.5], [0, 0, 0]],
    [[0, -0.5, 0], [0, 0, 0], [0, 0.5, 0]],
    [[0, 0, 0], [1, -2, 1], [0, 0, 0]],
    [[0, 1, 0], [0, -2, 0], [0, 1, 0]],
    [[0.25, 0, -0.25], [0, 0, 0], [-0.25, 0, 0.25]],
)], axis=1)


def _gaussian_kernel(sigma: float) -> np.ndarray:
    radius = max(1, int(np.ceil(3 * sigma)))
    t = np.arange(-radius, radius + 1, dtype=np.float32)
    kern = np.exp(-(t ** 2) / (2 * sigma ** 2))
    return (kern / kern.sum()).astype(np.float32)


@lru_cache(maxsize=16)
def _blur_rows(n: int, sigma: float) -> np.ndarray:
    """(n, 3, n): for each pixel p, the rows p-1, p, p+1 of the n x n matrix that blurs a
    length-n signal with the Gaussian (zero padding: heatmaps are ~0 beyond the border, and
    replicating the map's edge would bias peaks near it). Rows beyond the map are clamped to
    the border row: the blurred map's own edge replication, which the Newton step needs there."""
    kern = _gaussian_kernel(sigma)
    r = len(kern) // 2
    d = np.arange(n)[None, :] - np.arange(n)[:, None] + r
    band = np.where((d >= 0) & (d < len(kern)), kern[np.clip(d, 0, len(kern) - 1)], 0.0).astype(np.float32)
    near = np.clip(np.arange(n)[:, None] + np.arange(-1, 2)[None, :], 0, n - 1)
    out = band[near]
    out.setflags(write=False)
    return out


def _smoothed_neighbourhood(hm: np.ndarray, px: np.ndarray, py: np.ndarray, sigma: float) -> np.ndarray:
    """(N,K,3,3): the heatmaps blurred by a Gaussian, at the pixels (px+dx, py+dy), dx, dy in
    -1..1, edge-replicated beyond the map: the 3 blur rows around py times the map times the
    3 blur columns around px (two small matmuls, nothing else of the map is blurred)."""
    h, w = hm.shape[2:]
    rows = _blur_rows(h, sigma)[py]                    # (N,K,3,H)
    cols = _blur_rows(w, sigma)[px]                    # (N,K,3,W)
    return rows @ hm @ cols.swapaxes(-1, -2)


def average_with_mirror(pts: np.ndarray, scores: np.ndarray, mirrored_pts: np.ndarray,
                        mirrored_scores: np.ndarray, flip_perm: list[int] | np.ndarray,
                        width: int) -> tuple[np.ndarray, np.ndarray]:
    """Flip test: average a prediction (N,K,2), (N,K) with the prediction on the mirrored crops,
    mapped back (x -> width-1-x, landmarks renamed by the scheme's flip permutation). In
    coordinates rather than heatmaps, so there is no half-pixel shift to correct."""
    back = mirrored_pts.copy()
    back[..., 0] = width - 1 - back[..., 0]
    return (pts + back[:, flip_perm]) / 2, (scores + mirrored_scores[:, flip_perm]) / 2
