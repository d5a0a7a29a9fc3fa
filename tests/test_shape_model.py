"""The point distribution model the quality score reads: Procrustes invariance, the modes it
keeps, and that it tells a face-like shape from a scrambled one (synthetic shapes, no data)."""
from __future__ import annotations

import numpy as np
import pytest

from litehrnet_plus.inference.shape_model import ShapeModel, align

K = 20


def _base() -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, K, endpoint=False)
    return np.stack([np.cos(t) * (1 + 0.3 * np.sin(3 * t)), 1.4 * np.sin(t) + 0.2 * np.cos(2 * t)], 1)


def _similar(shape: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    a = rng.uniform(-np.pi, np.pi)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return rng.uniform(20, 300) * shape @ rot.T + rng.uniform(-500, 500, 2)


@pytest.fixture(scope="module")
def data():
    """Shapes = base + two modes of known spread (+ a little noise), each at a random pose."""
    rng = np.random.default_rng(0)
    m1, m2 = rng.normal(size=(K, 2)), rng.normal(size=(K, 2))
    m1, m2 = 0.1 * m1 / np.linalg.norm(m1), 0.05 * m2 / np.linalg.norm(m2)
    coef = rng.normal(size=(400, 2))
    shapes = _base() + coef[:, :1, None] * m1 + coef[:, 1:, None] * m2 + rng.normal(0, 1e-4, (400, K, 2))
    posed = np.array([_similar(s, rng) for s in shapes])
    return shapes, posed, ShapeModel.fit(posed), rng


def test_align_undoes_position_scale_and_roll(data):
    shapes, posed, model, _ = data
    ref = model.mean
    np.testing.assert_allclose(align(posed[:10], ref), align(shapes[:10], ref), atol=1e-9)


def test_keeps_the_modes_that_carry_the_variance(data):
    _, _, model, _ = data
    assert len(model.modes) == 2                              # the two modes, not the noise
    np.testing.assert_allclose(model.modes @ model.modes.T, np.eye(2), atol=1e-9)
    assert model.variances[0] > model.variances[1] > 0


def test_features_are_pose_invariant_and_tell_plausible_from_scrambled(data):
    shapes, posed, model, rng = data
    r, m = model.features(shapes[:50])
    r2, m2 = model.features(posed[:50])
    np.testing.assert_allclose(r, r2, atol=1e-6)
    np.testing.assert_allclose(m, m2, atol=1e-6)
    scrambled = np.array([s[rng.permutation(K)] for s in posed[:50]])
    rs, ms = model.features(scrambled)
    assert rs.min() > r.max() + 3                      # e^3: twenty times further off the modes
    # far along a mode: face-like next to a scrambled shape, but unusual (large Mahalanobis)
    far = model.mean + 6 * np.sqrt(model.variances[0]) * model.modes[0].reshape(K, 2)
    rf, mf = model.features(far)
    assert rf[0] < rs.min() - 2 and mf[0] > m.max() + 0.5


def test_mirror_image_is_not_aligned_away(data):
    _, posed, model, _ = data
    mirrored = posed[:20] * np.array([-1.0, 1.0])
    assert model.features(mirrored)[0].min() > model.features(posed[:20])[0].max()


def test_round_trip_and_errors(data):
    _, posed, model, _ = data
    back = ShapeModel.from_dict(model.to_dict())
    np.testing.assert_allclose(np.array(back.features(posed[:20])), np.array(model.features(posed[:20])), atol=0.01)
    with pytest.raises(ValueError, match="20 landmarks given 5"):
        model.features(np.zeros((1, 5, 2)))
    with pytest.raises(ValueError, match="need"):
        ShapeModel.fit(np.zeros((1, K, 2)))


def test_features_stop_at_the_training_shapes_noise_floor(data):
    shapes, posed, model, _ = data
    residual, mahalanobis = model.distances(posed)
    np.testing.assert_allclose(model.floors, [np.median(residual), np.median(mahalanobis)], rtol=1e-6)
    # the mean face itself: (nearly) zero distance, read at the floor, not as log(0), and
    # no more plausible than the median training shape by more than that floor
    r, m = model.features(model.mean)
    typical_r, typical_m = (np.median(f) for f in model.features(posed))
    assert np.log(model.floors[0]) <= r[0] < typical_r
    assert np.log(model.floors[1]) <= m[0] < typical_m
