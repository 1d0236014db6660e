"""``surrogate="robust"``: the model chosen on the data at hand by held-out log predictive density.

Candidates (one objective without outcome constraints; otherwise the plain GP and the forest):

- the GP on the outputs as they are (the default surrogate);
- the GP on ``bilog(y) = sign(y) log(1 + |y|)`` (BoTorch's Bilog: compresses heavy tails,
  defined for zeros and negatives);
- the GP on Yeo-Johnson-transformed outputs (``lambda`` by maximum likelihood; HEBO's warping);
- a random forest whose per-tree spread is the posterior.

Each is scored by its held-out log predictive density on the *outputs' own scale*: for a GP
the closed-form leave-one-out predictive ``N(mu_-i, s2_-i)`` of the transformed output plus
the log-Jacobian of the transform (hyperparameters fitted on all rows, which flatters every
GP a little and equally); for the forest the out-of-bag trees' mean and spread. The best one
is used if it beats the plain GP by ``ROBUST_MARGIN`` nats per observation; a warped GP works in its transformed scale (the acquisition ranks candidates there,
a monotone map keeps the order of the values) and the table reports the back-transformed
posterior median and a delta-method spread.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Warp", "fit_robust", "ROBUST_MIN_OBSERVATIONS"]

#: Below this many observations the robust choice is the plain GP (too few rows to judge).
ROBUST_MIN_OBSERVATIONS = 8
#: Mean held-out log density (nats per observation) by which another model must beat the plain
#: GP to replace it: small differences are noise, and the plain GP is the measured default.
ROBUST_MARGIN = 0.05
_LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class Warp:
    """A monotone increasing output transform ``z = forward(y)`` with its inverse."""

    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    inverse: Callable[[np.ndarray], np.ndarray]
    log_jacobian: Callable[[np.ndarray], np.ndarray]  # log dz/dy at y
    inverse_slope: Callable[[np.ndarray], np.ndarray]  # dy/dz at z

    def moments(self, mean: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Back-transformed posterior median and delta-method variance (data scale)."""
        return self.inverse(mean), (self.inverse_slope(mean) ** 2) * var


def _bilog() -> Warp:
    return Warp(
        "bilog",
        lambda y: np.sign(y) * np.log1p(np.abs(y)),
        lambda z: np.sign(z) * np.expm1(np.minimum(np.abs(z), 700.0)),
        lambda y: -np.log1p(np.abs(y)),
        lambda z: np.exp(np.minimum(np.abs(z), 700.0)),
    )


def _yeo_johnson(y: np.ndarray) -> Warp:
    from scipy.stats import yeojohnson

    _, lam = yeojohnson(y)
    lam = float(np.clip(lam, -3.0, 5.0))

    def fwd(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=float)
        out = np.empty_like(v)
        pos = v >= 0
        out[pos] = np.log1p(v[pos]) if abs(lam) < 1e-9 else ((v[pos] + 1) ** lam - 1) / lam
        out[~pos] = (
            -np.log1p(-v[~pos]) if abs(lam - 2) < 1e-9 else -(((1 - v[~pos]) ** (2 - lam)) - 1) / (2 - lam)
        )
        return out

    def inv(z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=float)
        out = np.empty_like(z)
        pos = z >= 0
        if abs(lam) < 1e-9:
            out[pos] = np.expm1(np.minimum(z[pos], 700.0))
        else:
            out[pos] = np.maximum(z[pos] * lam + 1, 1e-300) ** (1 / lam) - 1
        if abs(lam - 2) < 1e-9:
            out[~pos] = -np.expm1(np.minimum(-z[~pos], 700.0))
        else:
            out[~pos] = 1 - np.maximum(1 - (2 - lam) * z[~pos], 1e-300) ** (1 / (2 - lam))
        return out

    def log_jac(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=float)
        return np.where(v >= 0, (lam - 1) * np.log1p(np.abs(v)), (1 - lam) * np.log1p(np.abs(v)))

    def inv_slope(z: np.ndarray) -> np.ndarray:
        return np.exp(-log_jac(inv(z)))

    return Warp(f"Yeo-Johnson(lambda={lam:.2f})", fwd, inv, log_jac, inv_slope)


def _gp_lpd(gp: Any) -> np.ndarray:
    """Leave-one-out log predictive density of each training row (the GP's output scale)."""
    import torch

    with torch.no_grad():
        k_inv_diag = torch.diagonal(torch.cholesky_inverse(gp.chol), dim1=-2, dim2=-1).reshape(-1)
        resid = gp.alpha.reshape(-1) / k_inv_diag  # standardized units
        var = 1.0 / k_inv_diag
    resid, var = resid.numpy(), var.numpy()
    scale = float(gp.y_std[0])
    return -0.5 * (_LOG_2PI + np.log(var) + resid**2 / var) - math.log(scale)


def _forest_lpd(X: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """Out-of-bag log predictive density of 100 bagged trees (the default forest, whose
    ``max_features=1.0`` makes it bagging), from the out-of-bag trees' mean and spread."""
    from sklearn.ensemble import BaggingRegressor
    from sklearn.tree import DecisionTreeRegressor

    bag = BaggingRegressor(DecisionTreeRegressor(), n_estimators=100, random_state=seed, n_jobs=1).fit(X, y)
    n = len(y)
    sums, squares, counts = np.zeros(n), np.zeros(n), np.zeros(n)
    for tree, in_bag in zip(bag.estimators_, bag.estimators_samples_):
        out = np.ones(n, dtype=bool)
        out[in_bag] = False
        if out.any():
            p = tree.predict(X[out])
            sums[out] += p
            squares[out] += p**2
            counts[out] += 1
    ok = counts >= 2
    mu = np.where(ok, sums / np.maximum(counts, 1), np.nan)
    var = np.where(ok, squares / np.maximum(counts, 1) - mu**2, np.nan)
    var = np.maximum(var, 0) + 1e-6 * max(float(np.var(y)), 1e-300)
    return np.where(ok, -0.5 * (_LOG_2PI + np.log(var) + (y - mu) ** 2 / var), np.nan)


def fit_robust(
    observed: Any, Y: np.ndarray, encoder: Any, outputs: list[str], *, seed: int, warp_allowed: bool
) -> tuple[Any, Warp | None, dict[str, float], str]:
    """Fit the candidates and keep the best by held-out log predictive density.

    Args:
        observed: The observed points.
        Y: Outputs (larger is better), ``n x m``.
        encoder: The input encoder.
        outputs: Output names.
        seed: Seeds the forest.
        warp_allowed: Whether output transforms may be tried (one objective, no constraint).

    Returns:
        The surrogate (fitted to the transformed outputs when a warp won), the warp or
        ``None``, the mean held-out log density of every candidate, and a one-line note.

    Raises:
        GPFitError: The plain GP failed numerically (the caller falls back to the forest).
    """
    from planner.active._ensemble import fit_ensemble
    from planner.active._gp import fit_gp
    from planner.exceptions import GPFitError

    gp = fit_gp(observed.enc, Y, encoder.lower, encoder.upper, outputs)
    n = len(Y)
    if n < ROBUST_MIN_OBSERVATIONS or Y.shape[1] != 1:
        why = (
            f"fewer than {ROBUST_MIN_OBSERVATIONS} observations to compare models on"
            if n < ROBUST_MIN_OBSERVATIONS
            else "several outputs: the plain GP"
        )
        return gp, None, {}, f"surrogate robust: GP ({why})"
    y = Y[:, 0]
    scores: dict[str, float] = {"GP": float(np.mean(_gp_lpd(gp)))}
    fits: dict[str, tuple[Any, Warp | None]] = {"GP": (gp, None)}
    if warp_allowed and np.ptp(y) > 0:
        for warp in (_bilog(), _yeo_johnson(y)):
            z = warp.forward(y)
            if not np.isfinite(z).all() or np.ptp(z) == 0:
                continue
            try:
                g = fit_gp(observed.enc, z[:, None], encoder.lower, encoder.upper, outputs)
            except GPFitError:
                continue
            label = f"GP on {warp.name}(y)"
            scores[label] = float(np.mean(_gp_lpd(g) + warp.log_jacobian(y)))
            fits[label] = (g, warp)
    forest = _forest_lpd(observed.enc, y, seed)
    if np.isfinite(forest).sum() >= n // 2:
        # Rows without out-of-bag trees are scored by the GP's number, so the forest is not
        # credited for them.
        scores["random forest"] = float(np.mean(np.where(np.isfinite(forest), forest, _gp_lpd(gp))))
    best = max(scores, key=scores.__getitem__)
    if scores[best] < scores["GP"] + ROBUST_MARGIN:
        best = "GP"
    detail = ", ".join(f"{k} {v:.3g}" for k, v in scores.items())
    note = f"surrogate robust: {best} (mean held-out log predictive density on the data's scale: {detail})"
    if best == "random forest":
        model = fit_ensemble("rf", observed, Y, inputs=list(encoder.inputs), features=list(encoder.feature_names), seed=seed)
        return model, None, scores, note
    model, warp = fits[best]
    return model, warp, scores, note
