"""A PyTorch model as a predictor for the torch-free evaluation protocol (evaluation/)."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..codec import average_with_mirror
from ..codecs import Codec
from ..data.transforms import to_input


def load_torch_predictor(path, flip_test: bool = False, refine: str | None = None) -> "TorchPredictor":
    """A checkpoint (.pt) as a predictor for the evaluation protocol, with its card's facts."""
    from ..inference.runtime import with_refinement
    from ..schemes import scheme_for
    from .checkpoint import card_of, load_checkpoint, model_from_checkpoint

    state = load_checkpoint(path)
    model = model_from_checkpoint(state, str(path)).eval()
    card = card_of(state, str(path))
    scheme = scheme_for(card.num_landmarks)
    pred = TorchPredictor(model, with_refinement(card.codec, refine, path), card.activation,
                          scheme.flip_permutation() if scheme.can_flip else None, flip_test)
    pred.input_size, pred.crop_scale, pred.num_landmarks = card.input_size, card.crop_scale, card.num_landmarks
    return pred


class TorchPredictor:
    """PyTorch model -> landmarks in crop pixels via its codec (heatmap, regression or PIP). flip_test averages the
    prediction with that of the mirrored crop (in coordinates, so no half-pixel shift)."""

    def __init__(self, model: nn.Module, codec: Codec, activation: str = "sigmoid",
                 flip_perm: list[int] | None = None, flip_test: bool = False) -> None:
        if flip_test and flip_perm is None:
            raise ValueError("flip_test needs the scheme's flip permutation")
        self.model, self.codec, self.activation = model, codec, activation
        self.flip_perm, self.flip_test = flip_perm, flip_test

    @torch.no_grad()
    def _outputs(self, crops: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(to_input(crops))
        out = self.model(x)
        return (torch.sigmoid(out) if self.activation == "sigmoid" else out).numpy()

    def predict_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        was_training = self.model.training
        self.model.eval()
        try:
            pts, scores = self.codec.decode(self._outputs(crops))
            if self.flip_test:
                fpts, fscores = self.codec.decode(self._outputs(crops[:, :, ::-1]))
                pts, scores = average_with_mirror(pts, scores, fpts, fscores, self.flip_perm, crops.shape[2])
        finally:
            self.model.train(was_training)
        return pts, scores
