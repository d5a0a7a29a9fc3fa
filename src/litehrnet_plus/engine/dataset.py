"""PyTorch dataset of augmented face crops with heatmap targets from the shared codec.

Augmentation is a pure function of (seed, epoch, index), so a resumed run sees exactly the
samples an uninterrupted run would, whatever the number of loader workers.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from ..codec import HeatmapCodec
from ..data.formats import FaceSample
from ..card import DEFAULT_CROP_SCALE
from ..data.images import read_image
from ..data.photometric import photometric
from ..data.transforms import (AugmentConfig, crop_matrix, flip_landmarks,
                               sample_matrix, to_input, transform_points, warp)
from ..errors import ConfigError
from ..schemes import LandmarkScheme


class LandmarkDataset(Dataset):
    def __init__(self, samples: list[FaceSample], codec: HeatmapCodec, scheme: LandmarkScheme,
                 augment: AugmentConfig | None = None, crop_scale: float = DEFAULT_CROP_SCALE, seed: int = 0,
                 cache_images: bool = True) -> None:
        if not samples:
            raise ConfigError("empty dataset: no samples to train on")
        k = samples[0].landmarks.shape[0]
        if k != scheme.num_landmarks:
            raise ConfigError(f"samples have {k} landmarks, scheme {scheme.name!r} has {scheme.num_landmarks}")
        if augment is not None and augment.flip_prob > 0 and not scheme.can_flip:
            raise ConfigError(f"scheme {scheme.name!r} has no flip permutation: set augment.flip_prob to 0 "
                             "or give the scheme flip pairs")
        self.samples = samples
        self.codec = codec
        self.scheme = scheme
        self.augment = augment
        self.crop_scale = crop_scale
        self.seed = seed
        self.epoch = 0
        self.perm = scheme.flip_permutation() if scheme.can_flip else None
        self._cache: dict[int, np.ndarray] | None = {} if cache_images else None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def image(self, i: int) -> np.ndarray:
        if self._cache is None:
            return read_image(self.samples[i].image_path, orient=False)
        if i not in self._cache:
            self._cache[i] = read_image(self.samples[i].image_path, orient=False)
        return self._cache[i]

    def crop(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(crop uint8 SxSx3, landmarks in crop pixels (K,2), matrix 2x3) for sample i."""
        s = self.samples[i]
        size = self.codec.input_size
        if self.augment is None:
            m, flipped = crop_matrix(s.box, size, self.crop_scale), False
            rng = None
        else:
            rng = np.random.default_rng([self.seed, self.epoch, i])
            m, flipped = sample_matrix(s.box, size, self.augment, rng, self.crop_scale, self.perm is not None)
        crop = warp(self.image(i), m, size)
        pts = transform_points(s.landmarks, m)
        if flipped:
            pts = flip_landmarks(pts, self.perm)
        if rng is not None:
            crop = photometric(crop, self.augment, rng)
        return crop, pts, m

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        crop, pts, _ = self.crop(i)
        target, weight = self.codec.encode(pts)
        return {"image": torch.from_numpy(to_input(crop)[0]), "target": torch.from_numpy(target),
                "weight": torch.from_numpy(weight), "index": torch.tensor(i)}
