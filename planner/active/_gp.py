"""The engine's Gaussian-process surrogate (BoTorch; an ARD Matern-5/2, optionally plus an additive
Matern-5/2 part, :mod:`planner.active._kernels`) and the ``auto`` choice.

:func:`fit_gp` fits one GP per output (retrying with jitter), :class:`GPSurrogate` exposes
the :class:`~planner.active._surrogates.BaseSurrogate` surface, and :func:`choose_surrogate`
picks the GP or a random forest by held-out error (``surrogate="auto"``). Imports torch and
BoTorch; only imported when a suggestion is made.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from planner.active._surrogates import DTYPE, VAR_FLOOR, BaseSurrogate, Points
from planner.exceptions import GPFitError

__all__ = ["GPSurrogate", "fit_gp", "choose_surrogate", "AUTO_MIN_OBSERVATIONS"]


def _build_gp(
    X: Tensor,
    Y: Tensor,
    lower: Tensor,
    upper: Tensor,
    noise_floor: float | None,
    *,
    covar: Any = None,
    likelihood: Any = None,
    warp: Any = None,
    kernel: str = "matern",
) -> Any:
    """planner's GP: :func:`~planner.active._kernels.engine_kernel` (``kernel="matern"``: an ARD
    Matern-5/2 with the dimension-scaled log-normal lengthscale prior; ``"additive"``: plus a
    first-order additive Matern-5/2 part), a log-normal noise prior (at least ``noise_floor``),
    inputs normalised to the design's bounds, outputs standardized. ``covar``, ``likelihood`` and ``warp`` (an input transform applied after the
    normalisation) replace those parts; the benchmarks' ablation uses them."""
    from botorch.models import SingleTaskGP
    from botorch.models.transforms import Normalize, Standardize
    from botorch.models.utils.gpytorch_modules import get_gaussian_likelihood_with_lognormal_prior

    from planner.active._kernels import engine_kernel

    d, m = X.shape[-1], Y.shape[-1]
    batch_shape = torch.Size([m]) if m > 1 else torch.Size([])
    if covar is None:
        covar = engine_kernel(d, batch_shape, kernel)
    if likelihood is None:
        likelihood = get_gaussian_likelihood_with_lognormal_prior(batch_shape=batch_shape)
    if noise_floor is not None:
        from gpytorch.constraints import GreaterThan

        likelihood.noise_covar.register_constraint("raw_noise", GreaterThan(noise_floor))
        likelihood.noise_covar.initialize(noise=max(10 * noise_floor, 1e-2))
    transform = Normalize(d, bounds=torch.stack([lower, upper]))
    if warp is not None:
        from botorch.models.transforms.input import ChainedInputTransform

        transform = ChainedInputTransform(normalize=transform, warp=warp)
    return SingleTaskGP(
        X, Y, likelihood=likelihood, covar_module=covar, input_transform=transform, outcome_transform=Standardize(m)
    )


#: ``maxcor`` of the marginal-likelihood optimiser (BoTorch's scipy L-BFGS-B): the number of past
#: steps whose curvature L-BFGS keeps. scipy's default of 10 is fewer than the additive kernel's
#: ``2d + 3`` hyperparameters, and its fit crawled along weakly identified directions for 300-600
#: evaluations; with 50 it reaches the same optimum in a quarter of them (median 406 -> 118; the
#: plain Matern's 73 -> 52), within 0.009 nats or better (``benchmarks/active/fit_steps.py``,
#: ``results/FIT_STEPS.md``: five benchmark pools and Hartmann-6, 20-200 observations).
FIT_MAXCOR = 50


def _fit_single(
    X: Tensor, y: Tensor, lo: Tensor, hi: Tensor, label: str, kernel: str = "matern"
) -> tuple[Any, float | None, list[str]]:
    """Fit one output (``y`` is ``n x 1``), retrying with a noise floor and more jitter.

    Returns the fitted model, the jitter it needs, and what happened.
    """
    import gpytorch
    from botorch.exceptions.errors import ModelFittingError
    from botorch.fit import fit_gpytorch_mll
    from gpytorch.mlls import ExactMarginalLogLikelihood
    from linear_operator.utils.errors import NotPSDError

    from planner.active import _fast_mll

    attempts = [
        ("default", None, None),
        ("noise floor 1e-4 and jitter 1e-6", 1e-4, 1e-6),
        ("noise floor 1e-2 and jitter 1e-4", 1e-2, 1e-4),
    ]
    notes: list[str] = []
    errors: list[str] = []
    for name, noise_floor, jitter in attempts:
        try:
            gp = _build_gp(X, y, lo, hi, noise_floor, kernel=kernel)
            mll = ExactMarginalLogLikelihood(gp.likelihood, gp)
            fit_args = {"closure": _fast_mll.loss_closure(mll), "optimizer_kwargs": {"options": {"maxcor": FIT_MAXCOR}}}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if jitter is None:
                    fit_gpytorch_mll(mll, **fit_args)
                else:
                    with gpytorch.settings.cholesky_jitter(float_value=jitter, double_value=jitter):
                        fit_gpytorch_mll(mll, **fit_args)
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
    kernel: str = "matern",
) -> GPSurrogate:
    """Fit the engine's GP (ARD Matern-5/2, optionally plus an additive part) with inferred noise by maximum a posteriori.

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
        kernel: ``"matern"`` (ARD Matern-5/2) or ``"additive"`` (plus a first-order additive
            Matern-5/2 part, ``surrogate="gp-additive"``; see :mod:`planner.active._kernels`).

    Returns:
        The fitted surrogate; its ``notes`` list the retries and the subset taken.

    Raises:
        GPFitError: No attempt produced a usable model.
    """
    from planner.active._kernels import MAX_ADDITIVE_INPUTS, copy_kernel, effective_kernel

    Xt = torch.as_tensor(X, dtype=DTYPE)
    Yt = torch.as_tensor(Y, dtype=DTYPE)
    lo, hi = torch.as_tensor(lower, dtype=DTYPE), torch.as_tensor(upper, dtype=DTYPE)
    m = Yt.shape[-1]
    names = output_names or [f"y{j}" for j in range(m)]
    n = Xt.shape[0]
    singles, jitters, notes = [], [], []
    if effective_kernel(Xt.shape[-1], kernel) != kernel:
        notes.append(
            f"{Xt.shape[-1]} encoded inputs: the kernel's additive part takes at most {MAX_ADDITIVE_INPUTS} "
            "(one lengthscale each), so the GP is the plain ARD Matern-5/2"
        )
    subset = slice(None)
    if n > max_fit_points:
        subset = torch.as_tensor(np.sort(np.random.default_rng(0).choice(n, max_fit_points, replace=False)))
        notes.append(
            f"GP hyperparameters fitted on a random {max_fit_points} of the {n} observations; the model conditions on all"
        )
    for j in range(m):
        gp, jitter, more = _fit_single(Xt[subset], Yt[subset, j : j + 1], lo, hi, repr(names[j]), kernel)
        singles.append(gp)
        jitters.append(jitter or 0.0)
        notes.extend(more)
    jitter = max(jitters) or None
    if m == 1 and n <= max_fit_points:
        gp = singles[0]
    else:
        floor = 1e-2 if jitter and jitter >= 1e-4 else (1e-4 if jitter else None)
        gp = _build_gp(Xt, Yt, lo, hi, floor, kernel=kernel)
        copy_kernel(gp.covar_module, [s.covar_module for s in singles])
        with torch.no_grad():
            if m == 1:
                gp.likelihood.noise = singles[0].likelihood.noise.detach().clone()
                gp.mean_module.constant = singles[0].mean_module.constant.detach().clone()
            else:
                gp.likelihood.noise = torch.stack([s.likelihood.noise.reshape(1) for s in singles])
                gp.mean_module.constant = torch.stack([s.mean_module.constant.reshape(()) for s in singles])
    try:
        surrogate = GPSurrogate.from_model(gp, Yt, jitter=jitter)
    except (RuntimeError, ValueError) as err:
        raise GPFitError(f"the joined GP is numerically unusable: {err}") from err
    surrogate.notes = notes
    surrogate.train = (Points(pd.DataFrame(index=range(n)), np.asarray(X, dtype=float)), np.asarray(Y, dtype=float))
    surrogate.refit = lambda points, y: fit_gp(
        points.enc, y, lower, upper, output_names=output_names, max_fit_points=max_fit_points, kernel=kernel
    )
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
    _fast: Any = None
    #: ``(Points, Y) -> GPSurrogate`` fitted the same way, and the observations it was fitted on
    #: (larger is better): cross-validated residuals for the conformal intervals.
    refit: Any = None
    train: tuple[Points, np.ndarray] | None = None

    @classmethod
    def from_model(cls, gp: Any, Y: Tensor, jitter: float | None = None) -> GPSurrogate:
        """Wrap a fitted GP and cache the solves its predictions need."""
        from linear_operator.utils.cholesky import psd_safe_cholesky

        from planner.active._kernels import kernel_name

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
            name=f"GP ({kernel_name(gp.covar_module)}, inferred noise)",
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
        var = np.clip(torch.cat(variances, dim=-1).T.numpy(), VAR_FLOOR, None) * self.y_std**2
        return mean, var

    #: Above this many observations the prefilter bounds variances from a subset of them.
    PREFILTER_SUBSET = 300
    #: Compute the prefilter's moments with :class:`~planner.active._posterior.MaternPosterior`
    #: where the kernel allows (the same numbers to rounding, several times faster on large
    #: pools); ``False`` keeps gpytorch's path (the reference the tests compare against).
    fast_prefilter: ClassVar[bool] = True

    @property
    def prefilter_bounds_variance(self) -> bool:
        """Whether :meth:`prefilter_moments` bounds the variances from a subset of the observations."""
        return self.model.train_inputs[0].shape[-2] > self.PREFILTER_SUBSET

    def _subset(self) -> tuple[Tensor, Tensor]:
        """The fixed random subset of ``PREFILTER_SUBSET`` transformed training inputs and the
        Cholesky factor of their covariance (noise and a 1e-8 jitter included)."""
        if self._subset_chol is None:
            gp = self.model
            Xtr = gp.train_inputs[0]
            idx = torch.as_tensor(
                np.sort(np.random.default_rng(0).choice(Xtr.shape[-2], self.PREFILTER_SUBSET, replace=False))
            )
            Xs = Xtr[..., idx, :]
            noise = gp.likelihood.noise
            noise = noise.reshape(*noise.shape[:-1], 1, 1) if Xs.dim() > 2 else noise
            with torch.no_grad():
                K = gp.covar_module(Xs).to_dense() + noise * torch.eye(len(idx), dtype=DTYPE)
                self._subset_chol = (Xs, torch.linalg.cholesky(K + 1e-8 * torch.eye(len(idx), dtype=DTYPE)))
        return self._subset_chol

    def _matern_posterior(self) -> Any:
        """The prepared :class:`~planner.active._posterior.MaternPosterior` of the prefilter, or
        ``None`` where the kernel is not the plain Matern-5/2 (built once per fitted model)."""
        if self._fast is None:
            from planner.active._posterior import MaternPosterior

            subset = self._subset() if self.prefilter_bounds_variance else (None, None)
            self._fast = MaternPosterior.of(self.model, self.chol, self.alpha, *subset) or False
        return self._fast or None

    def prefilter_moments(self, points: Points) -> tuple[np.ndarray, np.ndarray]:
        """Exact means; variances bounded from above by conditioning on a fixed random subset
        of ``PREFILTER_SUBSET`` observations (fewer observations never shrink a GP's variance):
        ``O(n_cand x 300^2)`` instead of ``O(n_cand x n_train^2)``."""
        if len(points) == 0:
            return np.zeros((0, self.n_outputs)), np.zeros((0, self.n_outputs))
        fast = self._matern_posterior() if self.fast_prefilter else None
        if fast is not None:
            mean, var = fast.moments(points.enc)
            return mean * self.y_std + self.y_mean, np.clip(var, VAR_FLOOR, None) * self.y_std**2
        if not self.prefilter_bounds_variance:
            return self.moments(points)
        gp = self.model
        Xtr = gp.train_inputs[0]
        Xs, Ls = self._subset()
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
        var = np.clip(torch.cat(variances, dim=-1).reshape(-1, n).T.numpy(), VAR_FLOOR, None) * self.y_std**2
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

    def held_out_residuals(self, n_folds: int = 5) -> np.ndarray:
        """Absolute held-out residuals over the predictive spread of a new measurement, per output.

        Where the model knows how it was fitted (:func:`fit_gp` sets ``refit``): ``n_folds``-fold
        cross-validation with the hyperparameters refitted in every fold, so the scores of the
        conformal intervals are honest (the closed-form leave-one-out residuals with the
        hyperparameters fitted on every row are optimistic: intervals built on them covered
        0.74-0.87 of held-out AgNP, AutoAM and crossed-barrel rows at a nominal 0.9). Otherwise
        the closed-form leave-one-out residuals ``[K^-1 y]_i / sqrt([K^-1]_ii)``."""
        if self.refit is not None and self.train is not None and len(self.train[1]) >= 2 * n_folds:
            return self.cross_validated_residuals(self.refit, *self.train, n_folds)
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

    from planner.active._ensemble import fit_ensemble

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
