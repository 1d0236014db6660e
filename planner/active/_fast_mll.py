"""A faster loss for fitting the engine's GPs: the same negative log marginal likelihood as
gpytorch's ``ExactMarginalLogLikelihood``, computed on dense tensors.

BoTorch's ``fit_gpytorch_mll`` evaluates the loss through gpytorch's lazy kernel tensors and
linear operators; at a few hundred observations most of a step's time is that machinery, not
the arithmetic. :func:`loss_closure` returns a closure for ``fit_gpytorch_mll(closure=...)``
(BoTorch's own optimiser, bounds and retries are kept) that calls the kernel modules'
``forward`` directly (the same expressions gpytorch evaluates), factors ``K + noise I`` with
linear_operator's ``psd_safe_cholesky`` (the same jitter retries and settings) and adds every
registered prior of the model (its likelihood's included), as gpytorch does. It applies to the models
:func:`planner.active._gp._build_gp` builds (one output, constant mean, Gaussian likelihood,
the engine's kernels); for anything else it returns ``None`` and BoTorch's closure is used.
A test holds its value and gradient to gpytorch's at 1e-10.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

__all__ = ["loss_closure"]


def _dense_covariance(kern: Any) -> Callable[[Tensor], Tensor] | None:
    """``X -> k(X, X)`` as a dense tensor for the engine's kernels (``None`` for any other)."""
    from planner.active._kernels import is_plain_matern, kernel_parts

    if is_plain_matern(kern):
        return lambda X: kern.forward(X, X)
    if kernel_parts(kern) is None:
        return None
    full, additive = kern.kernels  # the sum of two scaled kernels, without gpytorch's lazy sum
    return lambda X: full.forward(X, X) + additive.forward(X, X)


def _supported(mll: Any) -> bool:
    """Whether ``mll`` is a one-output model of :func:`planner.active._gp._build_gp`'s kind (its
    kernel aside)."""
    from botorch.models import SingleTaskGP
    from gpytorch.likelihoods import GaussianLikelihood
    from gpytorch.likelihoods.noise_models import HomoskedasticNoise
    from gpytorch.means import ConstantMean
    from gpytorch.mlls import ExactMarginalLogLikelihood

    model = getattr(mll, "model", None)
    if type(mll) is not ExactMarginalLogLikelihood or type(model) is not SingleTaskGP:
        return False
    return (
        type(model.mean_module) is ConstantMean
        and type(model.likelihood) is GaussianLikelihood
        and type(model.likelihood.noise_covar) is HomoskedasticNoise
        and len(model.train_inputs) == 1
        and model.train_targets.dim() == 1  # one output, no batch
        and not list(model.added_loss_terms())
    )


def loss_closure(mll: Any) -> Callable[[], tuple[Tensor, tuple[Tensor | None, ...]]] | None:
    """A closure returning gpytorch's ``-mll(model(X), y)`` (per observation) and its gradients
    with respect to ``get_parameters(mll, requires_grad=True)``, in that order; ``None`` when
    ``mll`` is not one of the engine's models."""
    covariance = _dense_covariance(mll.model.covar_module) if _supported(mll) else None
    if covariance is None:
        return None
    from botorch.optim.utils import get_parameters
    from linear_operator.utils.cholesky import psd_safe_cholesky

    model = mll.model
    parameters = list(get_parameters(mll, requires_grad=True).values())
    priors = [(module, prior, closure) for _, module, prior, closure, _ in model.named_priors()]
    with torch.no_grad():
        X = model.transform_inputs(model.train_inputs[0]) if hasattr(model, "input_transform") else model.train_inputs[0]
    X = X.detach()
    y = model.train_targets.detach()
    n = y.shape[-1]
    log_2pi = n * math.log(2.0 * math.pi)

    def closure() -> tuple[Tensor, tuple[Tensor | None, ...]]:
        K = covariance(X)
        K = K + torch.diag_embed(model.likelihood.noise.expand(n))
        L = psd_safe_cholesky(K)
        r = (y - model.mean_module.constant).unsqueeze(-1)
        v = torch.linalg.solve_triangular(L, r, upper=False)
        logp = -0.5 * (v.square().sum() + 2.0 * L.diagonal().log().sum() + log_2pi)
        for module, prior, value in priors:
            logp = logp + prior.log_prob(value(module)).sum()
        loss = -logp / n
        grads = torch.autograd.grad(loss, parameters, allow_unused=True)
        return loss.detach(), grads

    return closure
