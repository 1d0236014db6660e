"""Surrogate models of the engine: a BoTorch Gaussian process and tree/bootstrap ensembles.

Both are fitted on outputs oriented so that larger is better (the engine negates ``min``
targets before it gets here) and expose the same small surface, used by the acquisition
step:

1. :meth:`BaseSurrogate.moments` - posterior mean and variance of many points, in chunks;
2. :meth:`BaseSurrogate.botorch_model` - a BoTorch model plus the tensor that stands for a
   given set of points, for Monte-Carlo batch acquisition functions with pending points;
3. :meth:`BaseSurrogate.joint_samples` - joint posterior draws for Thompson sampling.

Heavy libraries (torch, botorch, gpytorch, scikit-learn) are imported here; the module is
only imported when a suggestion is made.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from botorch.models.ensemble import EnsembleModel
from torch import Tensor

from planner.exceptions import DataValidationError, SpecError

__all__ = [
    "Points",
    "BaseSurrogate",
    "GPSurrogate",
    "EnsembleSurrogate",
    "GPFitError",
    "fit_gp",
    "fit_ensemble",
    "member_predictions",
]

DTYPE = torch.float64
#: Variance floor (in squared standardized units) so that log-acquisitions stay finite.
_VAR_FLOOR = 1e-12


@dataclass
class Points:
    """A set of experiments in both vocabularies.

    Attributes:
        frame: The inputs as a table (``n`` rows); the surrogate may predict from it.
        enc: The encoded model inputs, shape ``n x d``.
    """

    frame: pd.DataFrame
    enc: np.ndarray

    def __len__(self) -> int:
        return len(self.enc)

    def take(self, idx: np.ndarray | list[int]) -> Points:
        """The sub-set at positions ``idx``."""
        idx = np.asarray(idx, dtype=int)
        return Points(self.frame.iloc[idx], self.enc[idx])

    @staticmethod
    def concat(parts: list[Points]) -> Points:
        """Stack several point sets (``sum n_i`` rows)."""
        parts = [p for p in parts if p is not None]
        d = parts[0].enc.shape[1] if parts else 0
        frames = [p.frame for p in parts if len(p)]
        frame = pd.concat(frames, ignore_index=True) if frames else parts[0].frame.iloc[:0]
        enc = np.vstack([p.enc for p in parts]) if parts else np.zeros((0, d))
        return Points(frame, enc)


class GPFitError(RuntimeError):
    """Internal: every attempt to fit the GP failed numerically (the engine falls back)."""


@dataclass
class BaseSurrogate(ABC):
    """A fitted model of ``m`` outputs (larger is better).

    Attributes:
        name: Short description for the log, e.g. ``"GP (ARD Matern-5/2)"``.
        n_outputs: ``m``.
        y_mean: Mean of the training outputs, shape ``m``.
        y_std: Standard deviation of the training outputs, shape ``m`` (1 where constant).
        notes: What happened while fitting (retries, fallbacks), one line each.
    """

    name: str
    n_outputs: int
    y_mean: np.ndarray
    y_std: np.ndarray
    notes: list[str] = field(default_factory=list)

    @abstractmethod
    def moments(self, points: Points) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and variance, each ``n x m``."""

    def prefilter_moments(self, points: Points) -> tuple[np.ndarray, np.ndarray]:
        """Mean and an upper bound of the variance (each ``n x m``) for scoring very many
        candidates; exact unless a subclass says otherwise."""
        return self.moments(points)

    @abstractmethod
    def botorch_model(self, points: Points) -> tuple[Any, Tensor]:
        """A BoTorch model and the ``n x d'`` tensor that stands for ``points`` in it."""

    @abstractmethod
    def joint_samples(self, points: Points, n_samples: int) -> np.ndarray:
        """Joint posterior draws, ``n_samples x n x m`` (uses the global torch RNG)."""

    @property
    def supports_conditioning(self) -> bool:
        """Whether :meth:`conditional_variance` is available (GPs only)."""
        return False

    @abstractmethod
    def held_out_residuals(self) -> np.ndarray:
        """``|y_i - mean_{-i}| / std_{-i}`` for every training point, fitted without it
        (``n x m``); the scores of a conformal calibration. ``std_{-i}`` is the predictive
        spread of a new measurement: :meth:`moments` plus :meth:`noise_variance`."""

    def noise_variance(self) -> np.ndarray:
        """Variance of the measurement noise per output (``m``), in the outputs' units."""
        return np.zeros(self.n_outputs)

    def conditional_variance(self, points: Points, pending: Points) -> np.ndarray:
        """Standardized variance at ``points`` after observing ``pending`` (``n x m``)."""
        raise NotImplementedError


# ----------------------------------------------------------------------------------------
# Gaussian process
# ----------------------------------------------------------------------------------------


def _build_gp(X: Tensor, Y: Tensor, lower: Tensor, upper: Tensor, noise_floor: float | None) -> Any:
    from botorch.models import SingleTaskGP
    from botorch.models.transforms import Normalize, Standardize
    from botorch.models.utils.gpytorch_modules import (
        get_covar_module_with_dim_scaled_prior,
        get_gaussian_likelihood_with_lognormal_prior,
    )

    d, m = X.shape[-1], Y.shape[-1]
    batch_shape = torch.Size([m]) if m > 1 else torch.Size([])
    covar = get_covar_module_with_dim_scaled_prior(ard_num_dims=d, batch_shape=batch_shape, use_rbf_kernel=False)
    likelihood = get_gaussian_likelihood_with_lognormal_prior(batch_shape=batch_shape)
    if noise_floor is not None:
        from gpytorch.constraints import GreaterThan

        likelihood.noise_covar.register_constraint("raw_noise", GreaterThan(noise_floor))
        likelihood.noise_covar.initialize(noise=max(10 * noise_floor, 1e-2))
    return SingleTaskGP(
        X,
        Y,
        likelihood=likelihood,
        covar_module=covar,
        input_transform=Normalize(d, bounds=torch.stack([lower, upper])),
        outcome_transform=Standardize(m),
    )


def _fit_single(X: Tensor, y: Tensor, lo: Tensor, hi: Tensor, label: str) -> tuple[Any, float | None, list[str]]:
    """Fit one output (``y`` is ``n x 1``), retrying with a noise floor and more jitter.

    Returns the fitted model, the jitter it needs, and what happened.
    """
    import gpytorch
    from botorch.exceptions.errors import ModelFittingError
    from botorch.fit import fit_gpytorch_mll
    from gpytorch.mlls import ExactMarginalLogLikelihood
    from linear_operator.utils.errors import NotPSDError

    attempts = [
        ("default", None, None),
        ("noise floor 1e-4 and jitter 1e-6", 1e-4, 1e-6),
        ("noise floor 1e-2 and jitter 1e-4", 1e-2, 1e-4),
    ]
    notes: list[str] = []
    errors: list[str] = []
    for name, noise_floor, jitter in attempts:
        try:
            gp = _build_gp(X, y, lo, hi, noise_floor)
            mll = ExactMarginalLogLikelihood(gp.likelihood, gp)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if jitter is None:
                    fit_gpytorch_mll(mll)
                else:
                    with gpytorch.settings.cholesky_jitter(float_value=jitter, double_value=jitter):
                        fit_gpytorch_mll(mll)
            GPSurrogate.from_model(gp, y, jitter=jitter)  # raises if the fitted model is unusable
        except (ModelFittingError, NotPSDError, RuntimeError, ValueError) as err:
            errors.append(f"{name}: {type(err).__name__}: {str(err).splitlines()[0][:120]}")
            continue
        if errors:
            notes.append(f"GP fit of {label} failed ({'; '.join(errors)}); succeeded with {name}")
        return gp, jitter, notes
    raise GPFitError(f"every GP fit attempt of {label} failed: " + "; ".join(errors))


def fit_gp(
    X: np.ndarray,
    Y: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    output_names: list[str] | None = None,
    max_fit_points: int = 500,
) -> GPSurrogate:
    """Fit an ARD Matern-5/2 GP with inferred noise by maximum a posteriori.

    Inputs are normalized with the fixed bounds ``lower``/``upper`` (the design's), outputs
    standardized. Each output is fitted on its own (a numerically failed fit is retried with
    a noise floor and more jitter); several outputs are then joined into one batched
    ``SingleTaskGP`` with the fitted hyperparameters, whose posterior is fast to evaluate.
    Beyond ``max_fit_points`` observations the hyperparameters are fitted on a seeded random
    subset (each marginal-likelihood step costs ``O(n^3)``); the model conditions on all of them.

    Args:
        X: Encoded inputs, ``n x d``.
        Y: Outputs (larger is better), ``n x m``.
        lower: Lower normalization bounds, ``d``.
        upper: Upper normalization bounds, ``d``.
        output_names: Names for the notes (default ``y0, y1, ...``).
        max_fit_points: Largest number of observations the hyperparameters are fitted on.

    Returns:
        The fitted surrogate; its ``notes`` list the retries and the subset taken.

    Raises:
        GPFitError: No attempt produced a usable model.
    """
    Xt = torch.as_tensor(X, dtype=DTYPE)
    Yt = torch.as_tensor(Y, dtype=DTYPE)
    lo, hi = torch.as_tensor(lower, dtype=DTYPE), torch.as_tensor(upper, dtype=DTYPE)
    m = Yt.shape[-1]
    names = output_names or [f"y{j}" for j in range(m)]
    n = Xt.shape[0]
    singles, jitters, notes = [], [], []
    subset = slice(None)
    if n > max_fit_points:
        subset = torch.as_tensor(np.sort(np.random.default_rng(0).choice(n, max_fit_points, replace=False)))
        notes.append(
            f"GP hyperparameters fitted on a random {max_fit_points} of the {n} observations; the model conditions on all"
        )
    for j in range(m):
        gp, jitter, more = _fit_single(Xt[subset], Yt[subset, j : j + 1], lo, hi, repr(names[j]))
        singles.append(gp)
        jitters.append(jitter or 0.0)
        notes.extend(more)
    jitter = max(jitters) or None
    if m == 1 and n <= max_fit_points:
        gp = singles[0]
    else:
        floor = 1e-2 if jitter and jitter >= 1e-4 else (1e-4 if jitter else None)
        gp = _build_gp(Xt, Yt, lo, hi, floor)
        with torch.no_grad():
            if m == 1:
                gp.likelihood.noise = singles[0].likelihood.noise.detach().clone()
                gp.covar_module.lengthscale = singles[0].covar_module.lengthscale.detach().clone()
                gp.mean_module.constant = singles[0].mean_module.constant.detach().clone()
            else:
                gp.likelihood.noise = torch.stack([s.likelihood.noise.reshape(1) for s in singles])
                gp.covar_module.lengthscale = torch.stack([s.covar_module.lengthscale for s in singles])
                gp.mean_module.constant = torch.stack([s.mean_module.constant.reshape(()) for s in singles])
    try:
        surrogate = GPSurrogate.from_model(gp, Yt, jitter=jitter)
    except (RuntimeError, ValueError) as err:
        raise GPFitError(f"the joined GP is numerically unusable: {err}") from err
    surrogate.notes = notes
    return surrogate


@dataclass
class GPSurrogate(BaseSurrogate):
    """A fitted BoTorch ``SingleTaskGP`` (batched over outputs) with cached solves.

    Attributes:
        model: The BoTorch model (eval mode).
        chol: Cholesky factor of the training covariance, ``(m x) n x n`` (standardized units).
        alpha: ``K^{-1}(y - mean)``, ``(m x) n x 1``.
    """

    model: Any = None
    chol: Tensor | None = None
    alpha: Tensor | None = None
    _subset_chol: tuple[Tensor, Tensor] | None = None

    @classmethod
    def from_model(cls, gp: Any, Y: Tensor, jitter: float | None = None) -> GPSurrogate:
        """Wrap a fitted GP and cache the solves its predictions need."""
        from linear_operator.utils.cholesky import psd_safe_cholesky

        gp.eval()
        with torch.no_grad():
            Xtr = gp.train_inputs[0]
            y = gp.train_targets
            n = Xtr.shape[-2]
            noise = (
                gp.likelihood.noise.reshape(*gp.likelihood.noise.shape[:-1], 1, 1)
                if y.dim() > 1
                else gp.likelihood.noise
            )
            K = gp.covar_module(Xtr).to_dense() + noise * torch.eye(n, dtype=DTYPE)
            L = psd_safe_cholesky(K, jitter=jitter)
            alpha = torch.cholesky_solve((y - gp.mean_module(Xtr)).unsqueeze(-1), L)
            if not (torch.isfinite(L).all() and torch.isfinite(alpha).all()):
                raise ValueError("non-finite Cholesky factor of the training covariance")
        ot = gp.outcome_transform
        m = Y.shape[-1]
        if not (torch.isfinite(ot.means).all() and torch.isfinite(ot.stdvs).all()):
            raise ValueError("the outputs are too large to standardize in double precision")
        return cls(
            name="GP (ARD Matern-5/2, inferred noise)",
            n_outputs=m,
            y_mean=ot.means.reshape(m).numpy().copy(),
            y_std=ot.stdvs.reshape(m).numpy().copy(),
            model=gp,
            chol=L,
            alpha=alpha,
        )

    def _standardized(self, enc: np.ndarray) -> tuple[Tensor, Tensor, Tensor]:
        """Standardized mean (``m x n``), variance (``m x n``) and ``L^{-1} k(X_train, x)``."""
        gp = self.model
        X = gp.transform_inputs(torch.as_tensor(enc, dtype=DTYPE))
        Xtr = gp.train_inputs[0]
        Kc = gp.covar_module(X, Xtr).to_dense()  # (m x) n_c x n
        mean = gp.mean_module(X) + (Kc @ self.alpha).squeeze(-1)
        V = torch.linalg.solve_triangular(self.chol, Kc.transpose(-1, -2), upper=False)
        var = gp.covar_module(X, diag=True) - (V**2).sum(-2)
        return mean.reshape(-1, len(enc)), var.reshape(-1, len(enc)), V

    def _block_rows(self) -> int:
        """Rows per block so that the ``rows x n_train`` matrices stay near 16 MB each."""
        n_train = self.model.train_inputs[0].shape[-2]
        return max(256, int(2e6 / (n_train * self.n_outputs)))

    def moments(self, points: Points) -> tuple[np.ndarray, np.ndarray]:
        if len(points) == 0:
            return np.zeros((0, self.n_outputs)), np.zeros((0, self.n_outputs))
        means, variances = [], []
        with torch.no_grad():
            for start in range(0, len(points), self._block_rows()):
                mean, var, _ = self._standardized(points.enc[start : start + self._block_rows()])
                means.append(mean)
                variances.append(var)
        mean = torch.cat(means, dim=-1).T.numpy() * self.y_std + self.y_mean
        var = np.clip(torch.cat(variances, dim=-1).T.numpy(), _VAR_FLOOR, None) * self.y_std**2
        return mean, var

    #: Above this many observations the prefilter bounds variances from a subset of them.
    PREFILTER_SUBSET = 300

    def prefilter_moments(self, points: Points) -> tuple[np.ndarray, np.ndarray]:
        """Exact means; variances bounded from above by conditioning on a fixed random subset
        of ``PREFILTER_SUBSET`` observations (fewer observations never shrink a GP's variance):
        ``O(n_cand x 300^2)`` instead of ``O(n_cand x n_train^2)``."""
        gp = self.model
        Xtr = gp.train_inputs[0]
        n_train = Xtr.shape[-2]
        if n_train <= self.PREFILTER_SUBSET:
            return self.moments(points)
        if self._subset_chol is None:
            idx = torch.as_tensor(
                np.sort(np.random.default_rng(0).choice(n_train, self.PREFILTER_SUBSET, replace=False))
            )
            Xs = Xtr[..., idx, :]
            noise = gp.likelihood.noise
            noise = noise.reshape(*noise.shape[:-1], 1, 1) if Xs.dim() > 2 else noise
            with torch.no_grad():
                K = gp.covar_module(Xs).to_dense() + noise * torch.eye(len(idx), dtype=DTYPE)
                self._subset_chol = (Xs, torch.linalg.cholesky(K + 1e-8 * torch.eye(len(idx), dtype=DTYPE)))
        Xs, Ls = self._subset_chol
        means, variances = [], []
        rows = max(256, int(2e6 / (self.PREFILTER_SUBSET * self.n_outputs)))
        with torch.no_grad():
            for start in range(0, len(points), rows):
                X = gp.transform_inputs(torch.as_tensor(points.enc[start : start + rows], dtype=DTYPE))
                means.append(gp.mean_module(X) + (gp.covar_module(X, Xtr).to_dense() @ self.alpha).squeeze(-1))
                V = torch.linalg.solve_triangular(Ls, gp.covar_module(X, Xs).to_dense().transpose(-1, -2), upper=False)
                variances.append(gp.covar_module(X, diag=True) - (V**2).sum(-2))
        n = len(points)
        mean = torch.cat(means, dim=-1).reshape(-1, n).T.numpy() * self.y_std + self.y_mean
        var = np.clip(torch.cat(variances, dim=-1).reshape(-1, n).T.numpy(), _VAR_FLOOR, None) * self.y_std**2
        return mean, var

    def botorch_model(self, points: Points) -> tuple[Any, Tensor]:
        return self.model, torch.as_tensor(points.enc, dtype=DTYPE)

    def joint_samples(self, points: Points, n_samples: int) -> np.ndarray:
        with torch.no_grad():
            post = self.model.posterior(torch.as_tensor(points.enc, dtype=DTYPE))
            return post.rsample(torch.Size([n_samples])).numpy()

    @property
    def supports_conditioning(self) -> bool:
        return True

    def noise_variance(self) -> np.ndarray:
        noise = self.model.likelihood.noise.detach().reshape(-1).numpy()
        return np.broadcast_to(noise, (self.n_outputs,)) * self.y_std**2

    def held_out_residuals(self) -> np.ndarray:
        """Closed-form leave-one-out residuals: ``[K^-1 y]_i / sqrt([K^-1]_ii)`` per output,
        with the fitted hyperparameters (noise included in ``K``)."""
        with torch.no_grad():
            k_inv = torch.cholesky_inverse(self.chol)
            diag = torch.diagonal(k_inv, dim1=-2, dim2=-1)
            z = self.alpha.squeeze(-1).abs() / diag.sqrt()
        return z.reshape(-1, z.shape[-1]).T.numpy()

    def conditional_variance(self, points: Points, pending: Points) -> np.ndarray:
        with torch.no_grad():
            _, var_c, V_c = self._standardized(points.enc)
            if len(pending) == 0:
                return np.clip(var_c.T.numpy(), 0, None)
            gp = self.model
            Xc = gp.transform_inputs(torch.as_tensor(points.enc, dtype=DTYPE))
            Xp = gp.transform_inputs(torch.as_tensor(pending.enc, dtype=DTYPE))
            _, _, V_p = self._standardized(pending.enc)
            S_cp = gp.covar_module(Xc, Xp).to_dense() - V_c.transpose(-1, -2) @ V_p  # (m x) n_c x n_p
            S_pp = gp.covar_module(Xp).to_dense() - V_p.transpose(-1, -2) @ V_p
            noise = gp.likelihood.noise
            noise = noise.reshape(*noise.shape[:-1], 1, 1) if S_pp.dim() > 2 else noise
            S_pp = S_pp + noise * torch.eye(len(pending), dtype=DTYPE)
            L = torch.linalg.cholesky(S_pp + 1e-10 * torch.eye(len(pending), dtype=DTYPE))
            W = torch.linalg.solve_triangular(L, S_cp.transpose(-1, -2), upper=False)
            reduced = var_c.reshape(W.shape[:-2] + (len(points),)) - (W**2).sum(-2)
        return np.clip(reduced.reshape(-1, len(points)).T.numpy(), 0, None)


# ----------------------------------------------------------------------------------------
# Ensembles (random forest, extra trees, bagging, stacking, bootstrap of any regressor)
# ----------------------------------------------------------------------------------------


def _is_pipeline(est: Any) -> bool:
    from sklearn.pipeline import Pipeline

    return isinstance(est, Pipeline)


def _final_step(est: Any) -> tuple[Any, Any]:
    """``(transform_or_None, final_estimator)`` of a pipeline, or ``(None, est)``."""
    if _is_pipeline(est):
        return (est[:-1] if len(est.steps) > 1 else None), est[-1]
    return None, est


def _unwrap(final: Any) -> Any:
    """The model inside a wrapper that does not change predictions: the AutoML's training-row
    outlier filters (``OutlierFiltered*`` with ``estimator_``, as ``planner.automl`` unwraps them)."""
    while type(final).__name__.startswith("OutlierFiltered") and hasattr(final, "estimator_"):
        final = final.estimator_
    return final


def _base_members(estimators: list[Any], Xt: Any) -> list[np.ndarray]:
    """Member tables (``s_b x n``) of base models; point predictions (``1 x n``) for the others."""
    out = []
    for est in estimators:
        if isinstance(est, str):  # "drop"
            continue
        inner_t, inner = _final_step(est)
        members = _members_of(inner, inner_t.transform(Xt) if inner_t is not None else Xt)
        out.append(members if members is not None else np.asarray(est.predict(Xt), dtype=float)[None, :])
    return out


def _members_of(final: Any, Xt: Any) -> np.ndarray | None:
    """Per-member predictions ``s x n`` of a fitted ensemble regressor, else ``None``.

    Forests: one member per tree; bagging: one per bag; stacking and voting: member ``k``
    combines member ``k`` (cyclically) of every base model that is itself an ensemble with the
    point predictions of the others, as the fitted combiner does; a target transformer maps
    each member back to the target's units.
    """
    from scipy import sparse
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.ensemble import (
        BaggingRegressor,
        ExtraTreesRegressor,
        RandomForestRegressor,
        StackingRegressor,
        VotingRegressor,
    )

    final = _unwrap(final)
    if isinstance(final, (RandomForestRegressor, ExtraTreesRegressor)):
        arr = Xt.astype(np.float32).tocsr() if sparse.issparse(Xt) else np.asarray(Xt, dtype=np.float32)
        return np.stack([tree.predict(arr) for tree in final.estimators_]).reshape(len(final.estimators_), -1)
    if isinstance(final, BaggingRegressor):
        arr = Xt.tocsr() if sparse.issparse(Xt) else np.asarray(Xt)
        return np.stack(
            [e.predict(arr[:, feats]) for e, feats in zip(final.estimators_, final.estimators_features_, strict=True)]
        )
    if isinstance(final, TransformedTargetRegressor):
        inner_t, inner = _final_step(final.regressor_)
        members = _members_of(inner, inner_t.transform(Xt) if inner_t is not None else Xt)
        if members is None:
            return None
        return np.stack([np.ravel(final.transformer_.inverse_transform(m.reshape(-1, 1))) for m in members])
    if isinstance(final, (StackingRegressor, VotingRegressor)):
        base = _base_members(list(final.estimators_), Xt)
        s = max(b.shape[0] for b in base)
        if s == 1:
            return None  # point predictions only: the caller bootstraps the whole ensemble
        out = []
        for k in range(s):
            row = np.column_stack([b[k % b.shape[0]] for b in base])
            if isinstance(final, VotingRegressor):
                kept = [
                    w
                    for (_, e), w in zip(final.estimators, final.weights or [1.0] * len(final.estimators), strict=True)
                    if e != "drop"
                ]
                out.append(np.average(row, axis=1, weights=kept))
                continue
            if final.passthrough:
                dense = Xt.toarray() if sparse.issparse(Xt) else np.asarray(Xt, dtype=float)
                row = np.hstack([row, dense])
            out.append(final.final_estimator_.predict(row))
        return np.stack(out)
    return None


def member_predictions(estimator: Any, X: Any) -> np.ndarray | None:
    """Per-member predictions ``s x n`` of a fitted ensemble regressor or pipeline.

    Forests give one member per tree, bagging one per bag, stacking one per member of its
    ensemble base models; anything else returns ``None`` (the caller bootstraps it). An
    ensemble of whole pipelines (``planner.automl`` ensemble selection) whose pipelines all
    have members gives combined members: member ``j`` is the weighted sum of each
    pipeline's member ``j mod s_k``, over ``max(s_k)`` members, so the members' mean is the
    ensemble's weighted mean when the sizes divide ``max(s_k)``.
    """
    if hasattr(estimator, "estimators_") and hasattr(estimator, "weights_") and hasattr(estimator, "members"):
        X = estimator._frame(X)
        tables = [member_predictions(e, X) for e in estimator.estimators_]
        if any(t is None for t in tables):
            return None
        size = max(len(t) for t in tables)  # type: ignore[arg-type]
        return sum(w * t[np.arange(size) % len(t)] for w, t in zip(estimator.weights_, tables, strict=True))  # type: ignore[index]
    transform, final = _final_step(estimator)
    Xt = transform.transform(X) if transform is not None else X
    return _members_of(final, Xt)


def _default_forest(kind: str, seed: int) -> Any:
    from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor

    cls = RandomForestRegressor if kind == "rf" else ExtraTreesRegressor
    return cls(n_estimators=100, min_samples_leaf=1, max_features=1.0, random_state=seed, n_jobs=1)


#: ``surrogate="auto"`` compares surrogates from this many observations on (fewer: the GP).
AUTO_MIN_OBSERVATIONS = 12


def choose_surrogate(observed: Points, Y: np.ndarray, encoder: Any, outputs: list[str], *, seed: int = 0) -> BaseSurrogate:
    """The GP or a random-forest ensemble, whichever predicts held-out observations better.

    Both errors are root-mean-square residuals on rows each model did not train on, in
    units of the outputs' spread: the GP's closed-form leave-one-out residuals
    ``[K^-1 y]_i / [K^-1]_ii`` (hyperparameters fitted on all rows, so slightly
    optimistic) and the forest's out-of-bag residuals. The forest must be better to be
    chosen; the note on the returned surrogate gives both numbers.

    Raises:
        GPFitError: The GP fit failed numerically (the caller falls back to the forest).
    """
    from sklearn.ensemble import RandomForestRegressor

    gp = fit_gp(observed.enc, Y, encoder.lower, encoder.upper, outputs)
    n = len(Y)
    if n < AUTO_MIN_OBSERVATIONS:
        gp.notes.append(f"surrogate auto: GP (fewer than {AUTO_MIN_OBSERVATIONS} observations to compare surrogates on)")
        return gp
    with torch.no_grad():
        k_inv_diag = torch.diagonal(torch.cholesky_inverse(gp.chol), dim1=-2, dim2=-1)
        loo = (gp.alpha.squeeze(-1) / k_inv_diag).reshape(-1, n).T.numpy()  # standardized units
    spread = np.where(Y.std(axis=0) > 0, Y.std(axis=0), 1.0)
    gp_err = np.sqrt(np.mean((loo * gp.y_std) ** 2, axis=0)) / spread
    rf_err = np.empty(Y.shape[1])
    for j in range(Y.shape[1]):
        forest = RandomForestRegressor(n_estimators=100, max_features=1.0, oob_score=True, random_state=seed + j, n_jobs=1)
        forest.fit(observed.enc, Y[:, j])
        rf_err[j] = np.sqrt(np.mean((Y[:, j] - forest.oob_prediction_) ** 2)) / spread[j]
    detail = f"held-out RMSE / spread: GP leave-one-out {np.mean(gp_err):.3f}, random forest out-of-bag {np.mean(rf_err):.3f}"
    if np.mean(rf_err) < np.mean(gp_err):
        chosen = fit_ensemble("rf", observed, Y, inputs=list(encoder.inputs), features=list(encoder.feature_names), seed=seed)
        chosen.notes.append(f"surrogate auto: random forest ({detail})")
        return chosen
    gp.notes.append(f"surrogate auto: GP ({detail})")
    return gp


def _is_fitted(est: Any) -> bool:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(est)
    except NotFittedError:
        return False
    return True


@dataclass
class _Member:
    """One output's fitted ensemble: how to get ``s x n`` member predictions for points."""

    estimator: Any
    input_kind: str  # "raw" or "encoded"
    columns: list[str]
    bootstrap: list[Any] | None = None
    sign: float = 1.0  # -1 for an estimator used as given on a "min" target

    def predict(self, points: Points) -> np.ndarray:
        X = self._design_matrix(points)
        if self.bootstrap is not None:
            return np.stack([np.asarray(b.predict(X), dtype=float) for b in self.bootstrap])
        return self.sign * np.asarray(member_predictions(self.estimator, X), dtype=float)

    def _design_matrix(self, points: Points) -> Any:
        if self.input_kind == "raw":
            return points.frame[self.columns].reset_index(drop=True)
        return pd.DataFrame(points.enc, columns=self.columns)


@dataclass
class EnsembleSurrogate(BaseSurrogate):
    """An ensemble regressor turned into a posterior: mean and variance over its members.

    Joint draws are whole members (one tree predicts every point), which is what BoTorch's
    ``EnsemblePosterior`` assumes; batch acquisition with pending points therefore works
    unchanged.

    Attributes:
        members: One fitted ensemble per output.
        n_members: Ensemble size ``s`` after aligning the outputs.
    """

    members: list[_Member] = field(default_factory=list)
    n_members: int = 0
    refit: Any = None  # (Points, Y) -> EnsembleSurrogate with the same estimators
    train: tuple[Points, np.ndarray] | None = None

    def member_table(self, points: Points) -> np.ndarray:
        """Member predictions, ``s x n x m`` (larger is better)."""
        if len(points) == 0:
            return np.zeros((self.n_members, 0, self.n_outputs))
        preds = []
        for member in self.members:
            p = member.predict(points)
            reps = -(-self.n_members // p.shape[0])
            preds.append(np.tile(p, (reps, 1))[: self.n_members])
        return np.stack(preds, axis=-1)

    def moments(self, points: Points) -> tuple[np.ndarray, np.ndarray]:
        table = self.member_table(points)
        var = table.var(axis=0, ddof=1) if self.n_members > 1 else np.zeros(table.shape[1:])
        return table.mean(axis=0), np.maximum(var, _VAR_FLOOR * self.y_std**2)

    def botorch_model(self, points: Points) -> tuple[Any, Tensor]:
        table = torch.as_tensor(self.member_table(points), dtype=DTYPE)
        return TabulatedEnsembleModel(table), torch.arange(len(points), dtype=DTYPE).unsqueeze(-1)

    def joint_samples(self, points: Points, n_samples: int) -> np.ndarray:
        table = self.member_table(points)
        idx = torch.randint(self.n_members, (n_samples,)).numpy()
        return table[idx]

    def held_out_residuals(self, n_folds: int = 5) -> np.ndarray:
        """Residuals of ``n_folds``-fold cross-validation refits, over their ensemble spread."""
        points, Y = self.train
        n = len(Y)
        folds = np.arange(n) % min(n_folds, n)
        np.random.default_rng(0).shuffle(folds)
        z = np.empty_like(Y)
        for k in np.unique(folds):
            held = np.flatnonzero(folds == k)
            kept = np.flatnonzero(folds != k)
            part = self.refit(points.take(kept), Y[kept])
            mean, var = part.moments(points.take(held))
            z[held] = np.abs(Y[held] - mean) / np.sqrt(var)
        return z


class TabulatedEnsembleModel(EnsembleModel):
    """An ensemble whose member predictions were computed beforehand for a fixed set of
    points; the model's single input is the point's position in that set.

    Args:
        table: Member predictions, ``s x N x m``.
    """

    def __init__(self, table: Tensor) -> None:
        super().__init__()
        self.table = table
        self._num_outputs = table.shape[-1]

    def forward(self, X: Tensor) -> Tensor:
        """``batch x q x 1`` positions -> ``batch x s x q x m`` member predictions."""
        idx = X[..., 0].round().long()
        return self.table[:, idx, :].movedim(0, -3)


def _input_kind(est: Any, inputs: list[str], features: list[str]) -> tuple[str, list[str]]:
    names = getattr(est, "feature_names_in_", None)
    if names is not None:
        names = [str(n) for n in names]
        if set(names) <= set(inputs):
            return "raw", names
        if set(names) <= set(features):
            return "encoded", names
        raise DataValidationError(
            f"the surrogate estimator was fitted on columns {names[:8]}, which are neither the inputs "
            f"{inputs[:8]} nor the encoded features; refit it on the campaign inputs"
        )
    if _is_pipeline(est):
        return "raw", list(inputs)
    return "encoded", list(features)


def fit_ensemble(
    estimator: Any,
    observed: Points,
    Y: np.ndarray,
    *,
    inputs: list[str],
    features: list[str],
    refit: bool = True,
    signs: np.ndarray | None = None,
    n_bootstrap: int = 16,
    seed: int = 0,
) -> EnsembleSurrogate:
    """Turn a scikit-learn regressor (or one per output) into an ensemble posterior.

    Args:
        estimator: ``"rf"``/``"et"`` (a random forest / extra trees on the encoded inputs), a
            scikit-learn regressor or pipeline (fitted or not), or a dict output index -> one.
            Pipelines predict from the raw input table (so they can featurize it themselves);
            bare estimators from the encoded features unless fitted on the raw columns.
        observed: The observed points.
        Y: Outputs (larger is better), ``n x m``.
        inputs: Input column names.
        features: Encoded feature names.
        refit: Refit a clone on ``observed``/``Y`` (default). With ``False`` a fitted estimator
            is used as given: it predicts the outputs in the data's units, and ``signs``
            orients them.
        signs: ``+1``/``-1`` per output (``-1`` for targets to minimize); only used with
            ``refit=False``.
        n_bootstrap: Ensemble size for estimators that are no forest/bagging/stacking.
        seed: Seeds the default forests and the bootstrap.

    Raises:
        SpecError: ``estimator`` is neither a known name nor a regressor.
    """
    from sklearn.base import clone, is_regressor

    m = Y.shape[1]
    per_output = estimator if isinstance(estimator, dict) else {j: estimator for j in range(m)}
    rng = np.random.default_rng(seed)
    members: list[_Member] = []
    notes: list[str] = []
    names = []
    for j in range(m):
        est = per_output.get(j, per_output.get(str(j)))
        if isinstance(est, str):
            if est not in ("rf", "et"):
                raise SpecError(f"unknown ensemble surrogate {est!r}; use 'rf', 'et' or a scikit-learn regressor")
            est = _default_forest(est, seed + j)
        if est is None or not hasattr(est, "predict") or not (is_regressor(est) or _is_pipeline(est)):
            raise SpecError(
                f"surrogate must be 'gp', 'rf', 'et' or a scikit-learn regressor/pipeline, got {type(est).__name__}"
            )
        fitted = _is_fitted(est)
        kind, cols = _input_kind(est, inputs, features)
        member = _Member(est, kind, cols)
        X = member._design_matrix(observed)
        y = Y[:, j]
        if refit or not fitted:
            est = clone(est)
            unseeded = {k: seed + j for k, v in est.get_params().items() if k.endswith("random_state") and v is None}
            est.set_params(**unseeded)
            est.fit(X, y)
            member.estimator = est
        elif signs is not None:
            member.sign = float(signs[j])
        if member_predictions(est, X.iloc[:1]) is None:
            boot = []
            for _ in range(n_bootstrap):
                idx = rng.integers(0, len(y), len(y))
                b = clone(est).fit(X.iloc[idx], y[idx])
                boot.append(b)
            member.bootstrap = boot
            notes.append(
                f"{type(_unwrap(_final_step(est)[1])).__name__} has no members to read a spread from; "
                f"used a bootstrap ensemble of {n_bootstrap} refits"
            )
        members.append(member)
        names.append(type(_unwrap(_final_step(est)[1])).__name__)
    probe = Points(observed.frame.iloc[:1], observed.enc[:1])
    n_members = max(mb.predict(probe).shape[0] for mb in members)

    def refit_on(points: Points, Y_part: np.ndarray) -> EnsembleSurrogate:
        templates = {j: mb.estimator for j, mb in enumerate(members)}
        return fit_ensemble(
            templates, points, Y_part, inputs=inputs, features=features, n_bootstrap=n_bootstrap, seed=seed
        )

    y_std = Y.std(axis=0)
    return EnsembleSurrogate(
        name=f"ensemble ({', '.join(dict.fromkeys(names))}; {n_members} members)",
        n_outputs=m,
        y_mean=Y.mean(axis=0),
        y_std=np.where(y_std > 0, y_std, 1.0),
        notes=list(dict.fromkeys(notes)),
        members=members,
        n_members=n_members,
        refit=refit_on,
        train=(observed, Y),
    )
