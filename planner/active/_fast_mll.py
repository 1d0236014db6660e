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


def _supported(mll: Any) -> bool:
    from botorch.models import SingleTaskGP
    from gpytorch.kernels import MaternKernel
    from gpytorch.likelihoods import GaussianLikelihood
    from gpytorch.likelihoods.noise_models import HomoskedasticNoise
    from gpytorch.means import ConstantMean
    from gpytorch.mlls import ExactMarginalLogLikelihood

    from planner.active._kernels import kernel_parts

    model = getattr(mll, "model", None)
    if type(mll) is not ExactMarginalLogLikelihood or type(model) is not SingleTaskGP:
        return False
    kern = model.covar_module
    plain = type(kern) is MaternKernel and kern.nu == 2.5 and kern.active_dims is None
    return (
        (plain or kernel_parts(kern) is not None)
        and type(model.mean_module) is ConstantMean
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
    if not _supported(mll):
        return None
    from botorch.optim.utils import get_parameters
    from linear_operator.utils.cholesky import psd_safe_cholesky

    from planner.active._kernels import kernel_parts

    model = mll.model
    kern = model.covar_module
    if kernel_parts(kern) is None:
        covariance = lambda X: kern.forward(X, X)  # noqa: E731
    else:  # the sum of two scaled kernels, without the lazy sum gpytorch's AdditiveKernel returns
        full, additive = kern.kernels
        covariance = lambda X: full.forward(X, X) + additive.forward(X, X)  # noqa: E731
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
