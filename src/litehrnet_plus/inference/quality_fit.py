"""The fit of the per-face quality score (`calibration.quality_probability`): the product of two
logistic functions (a noisy AND), one of the mean heatmap peak score, one of how face-like the
landmarks are under the scheme's shape model, fitted by maximum likelihood on fits labelled good
(NME < 0.10) or failed. `tools/calibrate_quality.py` gathers the fits and installs the result
into calibration.json."""
from __future__ import annotations

import numpy as np

from .calibration import quality_factors, sigmoid


def fit_logistic(x: np.ndarray, y: np.ndarray, iters: int = 100) -> tuple[np.ndarray, float]:
    """P(y=1) = sigmoid(x @ w + b) for features x (N, F), by Newton's method (a tiny ridge keeps
    it finite where the classes separate)."""
    X = np.c_[np.asarray(x, np.float64).reshape(len(x), -1), np.ones(len(x))]
    w = np.zeros(X.shape[1])
    for _ in range(iters):
        p = sigmoid(X @ w)
        g = X.T @ (p - y) + 1e-6 * w
        h = (X * (p * (1 - p))[:, None]).T @ X + 1e-6 * np.eye(len(w))
        w -= np.linalg.solve(h, g)
    return w[:-1], float(w[-1])


def neg_log_likelihood(params: np.ndarray, f: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Of `quality_probability`, with its gradient in the five parameters."""
    p1, p2 = quality_factors(f, params)
    p = np.clip(p1 * p2, 1e-12, 1 - 1e-12)
    nll = -np.sum(y * np.log(p) + (1 - y) * np.log(1 - p))
    g = y - (1 - y) * p / (1 - p)                      # d log-likelihood / d log p
    d1, d2 = -(1 - p1) * g, -(1 - p2) * g              # d nll / d logit of each factor
    grad = np.array([d1 @ f[:, 0], d1.sum(), d2 @ f[:, 1], d2 @ f[:, 2], d2.sum()])
    return float(nll), grad


def fit_noisy_and(f: np.ndarray, y: np.ndarray, iters: int = 200) -> np.ndarray:
    """Maximum-likelihood parameters of `quality_probability` for features f (N, 3), the shape
    weights held negative (a less face-like shape never raises the quality) by fitting their
    logs: Newton steps on a finite-difference Hessian with backtracking, from each factor
    fitted alone."""
    (a,), b = fit_logistic(f[:, :1], y)
    (wr, wm), c = fit_logistic(f[:, 1:], y)
    to_params = lambda u: np.r_[u[:2], -np.exp(u[2:4]), u[4]]          # noqa: E731

    def objective(u: np.ndarray) -> tuple[float, np.ndarray]:
        with np.errstate(over="ignore", invalid="ignore"):   # a trial step too far: nan, rejected
            nll, grad = neg_log_likelihood(to_params(u), f, y)
            grad[2:4] *= -np.exp(u[2:4])                                # chain rule of -exp
        return nll, grad

    u = np.array([a, b, np.log(max(-wr, 1e-3)), np.log(max(-wm, 1e-3)), c])
    nll, grad = objective(u)
    for _ in range(iters):
        eps = 1e-5
        hess = np.array([(objective(u + eps * e)[1] - objective(u - eps * e)[1]) / (2 * eps) for e in np.eye(5)])
        try:
            step = np.linalg.solve((hess + hess.T) / 2 + 1e-6 * np.eye(5), grad)
        except np.linalg.LinAlgError:
            step = grad
        if step @ grad <= 0:                            # not a descent direction: plain gradient
            step = grad
        t = 1.0
        while t > 1e-10:
            new_nll, new_grad = objective(u - t * step)
            if new_nll <= nll - 1e-4 * t * (step @ grad):
                break
            t /= 2
        if t <= 1e-10 or nll - new_nll < 1e-9:
            break
        u, nll, grad = u - t * step, new_nll, new_grad
    return to_params(u)
