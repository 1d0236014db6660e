"""GP arms of the ablation (``ablation.py``): the kernel, the priors, the noise, input warping, the fitting restarts.

Each arm is planner's GP alone (qLogNEI, ``surrogate="gp"``) with one part of its model swapped
for the length of one ``suggest`` call (``planner.active._gp._build_gp`` or BoTorch's
``fit_gpytorch_mll``, patched and restored; ablation runs are in-process and sequential):

- ``rbf``: squared-exponential (RBF) kernel instead of Matern-5/2, the same dimension-scaled
  log-normal lengthscale prior (BoTorch's default since 0.12, Hvarfner et al. 2024);
- ``gamma``: BayBE 0.15's default priors for numerical parameters: a Gamma(3, .) lengthscale prior
  whose mode scales with sqrt(d), lengthscales at least 0.025, and a Gamma(2, .) noise prior
  (BayBE's ``_CustomScaledNumericalKernelFactory`` / ``_CustomScaledLikelihoodFactory``);
- ``edbo``: the EDBO priors of Shields et al. 2021 (Nature 590, 89), a scaled Matern-5/2 with Gamma
  lengthscale, outputscale and noise priors that depend on whether d < 5;
- ``fixnoise``: the noise fixed at 1e-4 (standardized units), a near-interpolating GP, instead of
  being fitted under its log-normal prior;
- ``warp``: the inputs warped by a learned Kumaraswamy CDF per dimension after normalising
  (BoTorch's ``Warp`` input transform, Snoek et al. 2014; log-normal(0, 0.75) priors on both
  concentrations, as in BoTorch's tutorial), for non-stationary objectives;
- ``additive``: the full ARD Matern-5/2 plus a first-order additive part (a sum of one-dimensional
  Matern-5/2 kernels, Duvenaud et al. 2011), each with its own output scale
  (Gamma priors with mean 0.5 in standardized units for each part's total variance): main effects generalise from few
  observations in many dimensions, while the full kernel keeps the interactions;
- ``restarts``: the marginal likelihood maximised from 5 starts (the default start and 4 with
  lengthscales drawn log-uniformly over a factor of e^2 either way, seeded), keeping the best.

Retries of a failed fit (a noise floor, more jitter) behave as in planner. ``edbo`` (a scaled
kernel) only runs where planner keeps the fitted model as it is: one target and at most 500
observations (``fit_gp`` otherwise rebuilds the model and copies a plain kernel's lengthscales),
which holds on every single-objective pool of the backtests (budgets <= 100).
"""

from __future__ import annotations

import copy
import math
from contextlib import contextmanager
from dataclasses import dataclass

GP_VARIANTS = ("rbf", "gamma", "edbo", "fixnoise", "restarts", "warp", "additive")
N_RESTARTS = 5


def _edbo(d: int, batch_shape):
    from gpytorch.kernels import MaternKernel, ScaleKernel
    from gpytorch.likelihoods import GaussianLikelihood
    from gpytorch.priors import GammaPrior

    if d < 5:
        ls, ls0, os_, os0, noise, noise0 = (1.2, 1.1), 0.2, (5.0, 0.5), 8.0, (1.05, 0.5), 0.1
    else:
        ls, ls0, os_, os0, noise, noise0 = (3.0, 1.0), 2.0, (5.0, 0.2), 20.0, (1.5, 0.1), 5.0
    base = MaternKernel(nu=2.5, ard_num_dims=d, batch_shape=batch_shape, lengthscale_prior=GammaPrior(*ls))
    covar = ScaleKernel(base, batch_shape=batch_shape, outputscale_prior=GammaPrior(*os_))
    base.lengthscale = ls0
    covar.outputscale = os0
    likelihood = GaussianLikelihood(noise_prior=GammaPrior(*noise), batch_shape=batch_shape)
    likelihood.noise = noise0
    return covar, likelihood


def _gamma(d: int, batch_shape):
    from botorch.models.utils.gpytorch_modules import MIN_INFERRED_NOISE_LEVEL
    from gpytorch.constraints import GreaterThan
    from gpytorch.kernels import MaternKernel
    from gpytorch.likelihoods import GaussianLikelihood
    from gpytorch.priors import GammaPrior

    prior = GammaPrior(3.0, 2.0 / math.exp(math.sqrt(2) - 3) / math.sqrt(d))
    mode = float((prior.concentration - 1) / prior.rate)
    covar = MaternKernel(
        nu=2.5, ard_num_dims=d, batch_shape=batch_shape, lengthscale_prior=prior,
        lengthscale_constraint=GreaterThan(2.5e-2, transform=None, initial_value=mode),
    )
    noise_prior = GammaPrior(2.0, 1.0 / math.exp(-5.0))
    likelihood = GaussianLikelihood(
        noise_prior=noise_prior, batch_shape=batch_shape,
        noise_constraint=GreaterThan(MIN_INFERRED_NOISE_LEVEL, transform=None, initial_value=float(1.0 / noise_prior.rate)),
    )
    return covar, likelihood


def _additive(d: int, batch_shape):
    import math as _m

    from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
    from gpytorch.kernels import AdditiveKernel, MaternKernel, ScaleKernel
    from gpytorch.priors import GammaPrior, LogNormalPrior

    full = ScaleKernel(
        get_covar_module_with_dim_scaled_prior(ard_num_dims=d, batch_shape=batch_shape, use_rbf_kernel=False),
        batch_shape=batch_shape, outputscale_prior=GammaPrior(2.0, 4.0),
    )
    # One Matern per dimension (gpytorch's AdditiveStructureKernel fails on diagonal calls).
    parts = [
        MaternKernel(
            nu=2.5, batch_shape=batch_shape, active_dims=(i,),
            lengthscale_prior=LogNormalPrior(loc=_m.sqrt(2), scale=_m.sqrt(3)),
        )
        for i in range(d)
    ]
    first = ScaleKernel(AdditiveKernel(*parts), batch_shape=batch_shape, outputscale_prior=GammaPrior(2.0, 4.0 * d))
    full.outputscale = 0.5
    first.outputscale = 0.5 / d
    return full + first


def _build(kind: str, build_gp):
    """``build_gp`` (planner's ``_build_gp``) with the part ``kind`` swaps."""

    def build(X, Y, lower, upper, noise_floor):
        import torch

        d, m = X.shape[-1], Y.shape[-1]
        batch_shape = torch.Size([m]) if m > 1 else torch.Size([])
        parts = {}
        if kind == "edbo":
            parts["covar"], parts["likelihood"] = _edbo(d, batch_shape)
        elif kind == "gamma":
            parts["covar"], parts["likelihood"] = _gamma(d, batch_shape)
        elif kind == "additive":
            parts["covar"] = _additive(d, batch_shape)
        elif kind == "rbf":
            from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior

            parts["covar"] = get_covar_module_with_dim_scaled_prior(
                ard_num_dims=d, batch_shape=batch_shape, use_rbf_kernel=True
            )
        elif kind == "warp":
            from botorch.models.transforms.input import Warp
            from gpytorch.priors import LogNormalPrior

            parts["warp"] = Warp(
                d, indices=list(range(d)),
                concentration1_prior=LogNormalPrior(0.0, 0.75**0.5), concentration0_prior=LogNormalPrior(0.0, 0.75**0.5),
            )
        model = build_gp(X, Y, lower, upper, noise_floor, **parts)
        if kind == "fixnoise":
            model.likelihood.noise_covar.initialize(noise=max(1e-4, 2 * (noise_floor or 0.0)))
            model.likelihood.noise_covar.raw_noise.requires_grad_(False)
        return model

    return build


def _mll_value(mll) -> float:
    import torch

    model = mll.model
    model.train()
    with torch.no_grad():
        return float(mll(model(*model.train_inputs), model.train_targets).sum())


def _with_restarts(fit):
    def fit_with_restarts(mll, *args, **kwargs):
        import torch

        start = copy.deepcopy(mll.model.state_dict())
        fit(mll, *args, **kwargs)
        best, best_state = _mll_value(mll), copy.deepcopy(mll.model.state_dict())
        kernel = mll.model.covar_module
        for r in range(1, N_RESTARTS):
            mll.model.load_state_dict(start)
            with torch.no_grad():
                ls = kernel.lengthscale
                gen = torch.Generator().manual_seed(r)
                kernel.lengthscale = ls * torch.exp(4 * torch.rand(ls.shape, generator=gen, dtype=ls.dtype) - 2)
            try:
                fit(mll, *args, **kwargs)
                value = _mll_value(mll)
            except Exception:  # noqa: BLE001 - a failed restart is skipped; the default start stands
                continue
            if math.isfinite(value) and value > best:
                best, best_state = value, copy.deepcopy(mll.model.state_dict())
        mll.model.load_state_dict(best_state)
        return mll.eval()

    return fit_with_restarts


@contextmanager
def gp_variant(kind: str):
    """Swap one part of planner's GP for the duration of the block."""
    import botorch.fit

    from planner.active import _gp

    if kind not in GP_VARIANTS:
        raise ValueError(f"unknown GP variant {kind!r}; choose from {GP_VARIANTS}")
    saved_build, saved_fit = _gp._build_gp, botorch.fit.fit_gpytorch_mll
    try:
        if kind == "restarts":
            botorch.fit.fit_gpytorch_mll = _with_restarts(saved_fit)
        else:
            _gp._build_gp = _build(kind, saved_build)
        yield
    finally:
        _gp._build_gp, botorch.fit.fit_gpytorch_mll = saved_build, saved_fit


@dataclass(frozen=True)
class gp_variant_policy:  # noqa: N801 - used like the ablation's policy functions
    """A backtest policy: planner's GP alone (qLogNEI), or the portfolio, with one GP variant."""

    kind: str
    surrogate: str = "gp"

    def __call__(self, observed_X, observed_y, candidates, targets, n, seed):
        from ablation import _suggest_labels

        with gp_variant(self.kind):
            return _suggest_labels(observed_X, observed_y, candidates, targets, n, seed, surrogate=self.surrogate)
