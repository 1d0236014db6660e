"""GP kernels for molecules and mixtures: MinMax (Tanimoto on counts) over fingerprints.

A mixture's fingerprint is the fraction-weighted average of its components' Morgan count
fingerprints (:class:`planner.steps.MoleculeFeaturizer`, ``kind="morgan"``), so it
is the same whatever order the components are written in. The MinMax kernel (the Tanimoto
kernel generalised to counts, as in GAUCHE)

    k(x, x') = sum_i min(x_i, x'_i) / sum_i max(x_i, x'_i)

is computed without an ``n x m x d`` tensor: with ``S = sum(x) + sum(x')`` and the L1 distance
``D = |x - x'|_1``, ``sum min = (S - D) / 2`` and ``sum max = (S + D) / 2``, so
``k = (S - D) / (S + D)``. It has no lengthscales (nothing to overfit on a few dozen rows);
a scale and the noise are fitted by maximum a posteriori.

Kernels (``gp_kernel`` of :class:`planner.campaign._molecules.CampaignMoleculeFeaturizer`):

* ``minmax`` - MinMax on the fingerprint columns; other columns (numeric conditions such as a
  temperature) enter through a product with an ARD Matern-5/2 on them (none on BTZ);
* ``minmax+matern`` - MinMax on the fingerprint columns plus an ARD Matern-5/2 on the other
  columns (descriptors, fraction-weighted identities), each with its own scale.

torch / gpytorch / botorch load only when a kernel is built.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["GP_KERNELS", "MinMaxKernel", "fit_molecular_gp", "fingerprint_columns"]

GP_KERNELS = ("minmax", "minmax+matern")
_FINGERPRINT_MARK = ":morgan"


def fingerprint_columns(feature_names: Sequence[str]) -> list[int]:
    """Positions of the Morgan count fingerprint features among ``feature_names``."""
    return [i for i, name in enumerate(feature_names) if _FINGERPRINT_MARK in str(name)]


def _minmax_kernel_class() -> type:
    import torch
    from gpytorch.kernels import Kernel

    class _MinMax(Kernel):
        """MinMax kernel on non-negative inputs (``k(x, x) = 1`` for ``x != 0``)."""

        has_lengthscale = False

        def forward(self, x1: Any, x2: Any, diag: bool = False, last_dim_is_batch: bool = False, **params: Any) -> Any:
            if last_dim_is_batch:
                raise NotImplementedError("MinMaxKernel does not support last_dim_is_batch")
            x1 = x1.clamp_min(0.0)
            x2 = x2.clamp_min(0.0)
            s1 = x1.sum(-1)
            s2 = x2.sum(-1)
            if diag:
                d = (x1 - x2).abs().sum(-1)
                total = s1 + s2
            else:
                d = torch.cdist(x1, x2, p=1)
                total = s1.unsqueeze(-1) + s2.unsqueeze(-2)
            # two empty fingerprints are identical (k = 1); eps keeps the gradient finite
            return torch.where(total > 0, (total - d) / (total + d).clamp_min(1e-12), torch.ones_like(total))

    return _MinMax


def MinMaxKernel(**kwargs: Any) -> Any:  # noqa: N802 - a class built on first use (gpytorch is heavy)
    """A gpytorch MinMax kernel (``active_dims``, ``batch_shape`` as for any gpytorch kernel)."""
    return _minmax_kernel_class()(**kwargs)


def _covar(kind: str, d: int, fp: list[int], batch_shape: Any) -> Any:
    import torch
    from gpytorch.kernels import MaternKernel, ScaleKernel
    from gpytorch.priors import GammaPrior, LogNormalPrior

    fp_dims = torch.as_tensor(fp, dtype=torch.long)
    covar = ScaleKernel(MinMaxKernel(active_dims=fp_dims, batch_shape=batch_shape), batch_shape=batch_shape, outputscale_prior=GammaPrior(2.0, 0.15))
    rest = [i for i in range(d) if i not in set(fp)]
    if not rest:
        return covar
    import math

    n = len(rest)
    matern = MaternKernel(
        nu=2.5, ard_num_dims=n, active_dims=torch.as_tensor(rest, dtype=torch.long), batch_shape=batch_shape,
        lengthscale_prior=LogNormalPrior(loc=math.sqrt(2) + 0.5 * math.log(n), scale=math.sqrt(3)),
    )
    if kind == "minmax+matern":
        return covar + ScaleKernel(matern, batch_shape=batch_shape, outputscale_prior=GammaPrior(2.0, 0.15))
    # "minmax" with other inputs (temperature, a salt concentration, ...): molecule x conditions
    return ScaleKernel(MinMaxKernel(active_dims=fp_dims, batch_shape=batch_shape) * matern, batch_shape=batch_shape, outputscale_prior=GammaPrior(2.0, 0.15))


def fit_molecular_gp(
    X: np.ndarray,
    Y: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    feature_names: Sequence[str],
    *,
    kernel: str = "minmax",
    output_names: Sequence[str] | None = None,
) -> Any:
    """Fit a GP with a molecular kernel; returns a :class:`planner.active._surrogates.GPSurrogate`.

    Fingerprint columns enter the kernel as raw counts (MinMax needs non-negative values, and
    is scale-free); other columns are normalized with ``lower``/``upper`` like the default GP.
    Outputs are standardized; several outputs share one batched model. A numerically failed
    fit is retried with a noise floor.

    Raises:
        SpecError: An unknown kernel, or no fingerprint features.
        GPFitError: No attempt produced a usable model.
    """
    import torch
    from botorch.exceptions.errors import ModelFittingError
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms import Normalize, Standardize
    from botorch.models.utils.gpytorch_modules import get_gaussian_likelihood_with_lognormal_prior
    from gpytorch.constraints import GreaterThan
    from gpytorch.mlls import ExactMarginalLogLikelihood
    from linear_operator.utils.errors import NotPSDError

    from planner.active._gp import GPSurrogate
    from planner.active._surrogates import DTYPE
    from planner.exceptions import GPFitError, SpecError

    if kernel not in GP_KERNELS:
        raise SpecError(f"unknown molecular GP kernel {kernel!r}; use one of {list(GP_KERNELS)}")
    fp = fingerprint_columns(feature_names)
    if not fp:
        raise SpecError(
            f"the {kernel!r} GP kernel needs Morgan fingerprint features (names with ':morgan'), but the "
            f"{len(feature_names)} features have none; use a featurizer with kind 'morgan' (e.g. 'morgan+compact')"
        )
    Xt = torch.as_tensor(np.asarray(X, dtype=float), dtype=DTYPE)
    Yt = torch.as_tensor(np.asarray(Y, dtype=float), dtype=DTYPE)
    d, m = Xt.shape[-1], Yt.shape[-1]
    lo = np.asarray(lower, dtype=float).copy()
    hi = np.asarray(upper, dtype=float).copy()
    lo[fp], hi[fp] = 0.0, 1.0  # identity on the counts
    bounds = torch.as_tensor(np.stack([lo, hi]), dtype=DTYPE)
    batch_shape = torch.Size([m]) if m > 1 else torch.Size([])
    errors: list[str] = []
    for floor in (None, 1e-4, 1e-2):
        try:
            likelihood = get_gaussian_likelihood_with_lognormal_prior(batch_shape=batch_shape)
            if floor is not None:
                likelihood.noise_covar.register_constraint("raw_noise", GreaterThan(floor))
                likelihood.noise_covar.initialize(noise=max(10 * floor, 1e-2))
            gp = SingleTaskGP(
                Xt, Yt, likelihood=likelihood, covar_module=_covar(kernel, d, fp, batch_shape),
                input_transform=Normalize(d, bounds=bounds), outcome_transform=Standardize(m),
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
            surrogate = GPSurrogate.from_model(gp, Yt, jitter=None if floor is None else floor * 1e-2)
        except (ModelFittingError, NotPSDError, RuntimeError, ValueError) as err:
            errors.append(f"noise floor {floor}: {type(err).__name__}: {str(err).splitlines()[0][:120]}")
            continue
        surrogate.name = f"GP ({kernel} kernel on fraction-weighted Morgan counts, inferred noise)"
        surrogate.notes = [f"molecular GP fit failed ({'; '.join(errors)}); succeeded with noise floor {floor}"] if errors else []
        return surrogate
    names = ", ".join(map(str, output_names or [f"y{j}" for j in range(m)]))
    raise GPFitError(f"every molecular GP fit attempt of {names} failed: " + "; ".join(errors))
