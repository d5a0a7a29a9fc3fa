"""The quality score's fit (inference/quality_fit.py, run by tools/calibrate_quality.py): the
noisy-AND likelihood's gradient, and that maximum likelihood recovers known parameters from
synthetic fits."""
from __future__ import annotations

import numpy as np

from litehrnet_plus.inference import quality_fit as cq
from litehrnet_plus.inference.calibration import quality_probability

TRUE = np.array([20.0, -11.0, -6.0, -2.0, -12.0])     # peaks a, b; shape w_r, w_m, c


def _synthetic(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    f = np.stack([rng.uniform(0, 0.8, n), rng.uniform(-3.4, -0.5, n), rng.uniform(1.3, 3.6, n)], 1)
    return f, (rng.random(n) < quality_probability(f, TRUE)).astype(float)


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    f, y = _synthetic(500, rng)
    theta = TRUE + rng.normal(0, 0.5, 5)
    _, grad = cq.neg_log_likelihood(theta, f, y)
    eps = 1e-6
    numeric = [(cq.neg_log_likelihood(theta + eps * e, f, y)[0] - cq.neg_log_likelihood(theta - eps * e, f, y)[0])
               / (2 * eps) for e in np.eye(5)]
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-4)


def test_maximum_likelihood_recovers_known_parameters():
    f, y = _synthetic(40000, np.random.default_rng(1))
    fitted = cq.fit_noisy_and(f, y)
    np.testing.assert_allclose(fitted, TRUE, rtol=0.15)
    # and it is the optimum: the likelihood's gradient vanishes there
    assert np.abs(cq.neg_log_likelihood(fitted, f, y)[1]).max() < 1e-3 * len(y)


def test_shape_weights_stay_negative():
    """Labels that reward an odd shape (good fits only where the residual is large) cannot turn
    the shape factor around: less face-like never means more trustworthy."""
    rng = np.random.default_rng(2)
    f = np.stack([rng.uniform(0, 0.8, 4000), rng.uniform(-3.4, -0.5, 4000), rng.uniform(1.3, 3.6, 4000)], 1)
    y = (f[:, 1] > -2.0).astype(float)
    fitted = cq.fit_noisy_and(f, y)
    assert fitted[2] < 0 and fitted[3] < 0
