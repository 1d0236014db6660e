"""The engine GP's kernels: the ARD Matern-5/2, and that plus a first-order additive Matern-5/2 part.

``"matern"`` (every GP surrogate's default): the ARD Matern-5/2 with the dimension-scaled
log-normal lengthscale prior of Hvarfner et al. 2024 (BoTorch's default).

``"additive"`` (``surrogate="gp-additive"``): ``k(x, z) = s_f M(x, z; l) + s_a sum_i M_1(x_i, z_i; l_i)``.
The full Matern keeps the interactions; the sum of one-dimensional Matern-5/2 kernels (Duvenaud
et al. 2011, "Additive Gaussian processes") carries the main effects, which a few dozen
observations in several dimensions pin down far better than a full interaction surface. Each
part has its own output scale under a Gamma(2, .) prior whose mean is half the standardized
variance (the additive part's split over its ``d`` terms), so the data decide how much of the
signal is additive. Measured in ``benchmarks/active`` (``results/ablation/ABLATION.md`` and
``results/headline_arms/HEADLINE_ARMS.md``): fewer experiments to the first top-1 % hit than the
plain Matern on AutoAM and OER 3496 (10 held-out seeds), and than BayBE on AgNP, AutoAM, OER
3496 (40 seeds) and OER 3851 (20 seeds), never significantly more; on the categorical
three-target redoxmers pool it leans below the plain Matern. It is ``suggest``'s default
(``DEFAULT_SURROGATE``). Its marginal likelihood has ``2d + 3`` hyperparameters, some weakly
identified; fitted with a longer L-BFGS memory (:data:`planner.active._gp.FIT_MAXCOR`) and the
dense loss of :mod:`planner.active._fast_mll`, a fit at 200 observations takes about 0.7 s on
one core (it took 6 s with BoTorch's defaults).

:func:`kernel_parts` reads the fitted pieces back (for the fast prefilter of
:mod:`planner.active._posterior`), :func:`copy_kernel` moves fitted hyperparameters between
models (one output's fit into the joined, batched model).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from gpytorch.kernels import Kernel
from torch import Tensor

__all__ = [
    "AdditiveMaternKernel", "engine_kernel", "effective_kernel", "kernel_parts", "kernel_name", "is_plain_matern",
    "copy_kernel", "KERNEL_NAME", "KernelParts",
]

KERNEL_NAME = "ARD Matern-5/2 + additive Matern-5/2"


class _AdditiveTerms(torch.autograd.Function):
    """``sum_i (1 + s_i + s_i^2 / 3) exp(-s_i)`` with ``s_i = sqrt(5) D_i / l_i`` for fixed absolute
    differences ``D`` (``... x n x m x d``) and lengthscales ``l`` (``... x 1 x d``), with the
    lengthscales' gradient written out: ``d k / d l_i = s_i^2 (1 + s_i) exp(-s_i) / (3 l_i)``.
    A fit step costs about a third of the same expression through autograd (9.5 ms against 32 ms
    at 200 observations and 6 inputs)."""

    @staticmethod
    def forward(ctx: Any, D: Tensor, ls: Tensor) -> Tensor:
        s = D * (math.sqrt(5.0) / ls).unsqueeze(-2)  # ... x n x m x d
        e = torch.exp(-s)
        k = s.div(3.0).add_(1.0).mul_(s).add_(1.0).mul_(e)
        ctx.save_for_backward(s, e, ls)
        return k.sum(-1)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[None, Tensor]:
        s, e, ls = ctx.saved_tensors
        t = s.add(1.0).mul_(s).mul_(s).mul_(e)  # s^2 (1 + s) exp(-s)
        # sum over n, m of grad * t, as one matrix-vector product per batch (einsum took 1 ms a step)
        g = (grad.flatten(-2).unsqueeze(-2) @ t.flatten(-3, -2)).squeeze(-2) / (3.0 * ls.squeeze(-2))
        g = g.reshape(g.shape[:-1] + (1, g.shape[-1]))
        while g.dim() > ls.dim():
            g = g.sum(0)
        for i, (have, want) in enumerate(zip(g.shape, ls.shape)):
            if want == 1 and have != 1:
                g = g.sum(i, keepdim=True)
        return None, g


class AdditiveMaternKernel(Kernel):
    """``sum_i M_{5/2}(|x_i - z_i| / l_i)``: one one-dimensional Matern-5/2 per input, each with its
    own lengthscale, computed for all inputs at once with the lengthscales' gradient written out
    (:class:`_AdditiveTerms`; gpytorch's ``AdditiveKernel`` of ``active_dims`` kernels gives the
    same values, one module per input). ``k(x, x) = d``. The absolute differences of the last inputs seen are kept: a fit evaluates
    the kernel on the same training inputs at every step."""

    has_lengthscale = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._differences: tuple[Tensor, Tensor, Tensor] | None = None

    def _abs_differences(self, x1: Tensor, x2: Tensor) -> Tensor:
        cached = self._differences
        if (
            cached is not None
            and cached[0].shape == x1.shape
            and cached[1].shape == x2.shape
            and torch.equal(cached[0], x1)
            and torch.equal(cached[1], x2)
        ):
            return cached[2]
        D = (x1.unsqueeze(-2) - x2.unsqueeze(-3)).abs()
        self._differences = (x1.detach().clone(), x2.detach().clone(), D)
        return D

    def forward(self, x1: Tensor, x2: Tensor, diag: bool = False, last_dim_is_batch: bool = False, **params: Any) -> Tensor:
        if last_dim_is_batch:
            raise NotImplementedError("last_dim_is_batch is not supported by the additive Matern kernel")
        ls = self.lengthscale  # (batch x) 1 x d
        if diag:
            shape = torch.broadcast_shapes(x1.shape[:-1], x2.shape[:-1])
            shape = torch.broadcast_shapes(shape, ls.shape[:-2] + (1,))
            return torch.full(shape, float(x1.shape[-1]), dtype=x1.dtype, device=x1.device)
        if x1.requires_grad or x2.requires_grad:  # gradients in the inputs (acquisition optimisation)
            return _direct(x1, x2, ls)
        if not torch.is_grad_enabled() and ls.shape[:-2].numel() == 1 and x1.shape[:-2].numel() > 1:
            return _batched_unique(x1, x2, ls)
        return _AdditiveTerms.apply(self._abs_differences(x1, x2), ls)


def _terms(a: Tensor, b: Tensor) -> Tensor:
    """``sum_i M_1(a_i - b_i)`` for broadcastable inputs already divided by the lengthscales."""
    s = (a - b).abs().mul(math.sqrt(5.0))
    return ((1.0 + s + s.square().div(3.0)) * torch.exp(-s)).sum(-1)


def _direct(x1: Tensor, x2: Tensor, ls: Tensor) -> Tensor:
    """The kernel of ``x1`` and ``x2`` evaluated pair by pair (autograd-friendly)."""
    return _terms(x1.div(ls).unsqueeze(-2), x2.div(ls).unsqueeze(-3))


def _distinct_rows(x: Tensor) -> tuple[Tensor | None, Tensor]:
    """The distinct rows of ``x`` (``N x d``) and each row's index among them, found by one random
    projection per row (a sort of ``N`` numbers instead of ``torch.unique(dim=0)``'s row sort, which
    cost 24 ms at 14,000 rows); ``None`` if two different rows share a projection (checked)."""
    w = torch.randn(x.shape[-1], generator=torch.Generator().manual_seed(0), dtype=x.dtype)
    keys, inv = torch.unique(x @ w, return_inverse=True)
    rep = torch.empty(len(keys), dtype=torch.long).scatter_(0, inv, torch.arange(len(x)))
    rows = x[rep]
    return (rows, inv) if torch.equal(rows[inv], x) else (None, inv)


def _batched_unique(x1: Tensor, x2: Tensor, ls: Tensor) -> Tensor:
    """The kernel of batched inputs (no gradients; one set of lengthscales) from its values on
    the distinct rows. An acquisition function evaluates candidates in batches that each repeat
    the same baseline and pending points (``b x (n_baseline + q) x d`` against the training
    inputs): the distinct rows are a small fraction, and the kernel costs a pass per input over
    every pair. Exact: the values are gathered, not approximated."""
    d = x1.shape[-1]
    u1, inv1 = _distinct_rows(x1.reshape(-1, d))
    scale = ls.reshape(1, d)
    if x2.dim() == 2:  # the training inputs: gather whole rows of the kernel
        if u1 is None or 2 * len(u1) > x1.shape[:-1].numel():
            return _direct(x1, x2, ls)
        return _terms((u1 / scale).unsqueeze(-2), (x2 / scale).unsqueeze(-3))[inv1.reshape(x1.shape[:-1])]
    u2, inv2 = _distinct_rows(x2.reshape(-1, d))
    if u1 is None or u2 is None or 2 * len(u1) * len(u2) > x1.shape[:-1].numel() * x2.shape[:-1].numel():
        return _direct(x1, x2, ls)
    k = _terms((u1 / scale).unsqueeze(-2), (u2 / scale).unsqueeze(-3))
    return k[inv1.reshape(x1.shape[:-1]).unsqueeze(-1), inv2.reshape(x2.shape[:-1]).unsqueeze(-2)]


#: Above this many encoded inputs the kernel is the plain ARD Matern-5/2: the additive part's
#: ``n x n x d`` differences would grow with ``d``, and with more inputs than a few dozen its
#: ``d`` lengthscales are no longer identified from the observations a campaign has.
MAX_ADDITIVE_INPUTS = 64


KERNELS = ("matern", "additive")


def effective_kernel(d: int, kind: str) -> str:
    """The kernel :func:`engine_kernel` builds for ``kind`` over ``d`` inputs: ``"additive"``
    becomes ``"matern"`` above :data:`MAX_ADDITIVE_INPUTS`."""
    if kind not in KERNELS:
        raise ValueError(f"unknown kernel {kind!r}; choose from {KERNELS}")
    return "matern" if d > MAX_ADDITIVE_INPUTS else kind


def engine_kernel(d: int, batch_shape: torch.Size, kind: str = "matern") -> Any:
    """The engine's kernel over ``d`` normalised inputs (one per output in ``batch_shape``):
    ``"matern"`` the ARD Matern-5/2, ``"additive"`` that plus the additive part (the plain
    Matern above :data:`MAX_ADDITIVE_INPUTS` inputs)."""
    kind = effective_kernel(d, kind)
    from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
    from gpytorch.kernels import ScaleKernel
    from gpytorch.priors import GammaPrior, LogNormalPrior

    matern = get_covar_module_with_dim_scaled_prior(ard_num_dims=d, batch_shape=batch_shape, use_rbf_kernel=False)
    if kind == "matern":
        return matern
    full = ScaleKernel(matern, batch_shape=batch_shape, outputscale_prior=GammaPrior(2.0, 4.0))
    # The one-dimensional lengthscale prior is the dimension-scaled one at d = 1.
    terms = AdditiveMaternKernel(
        ard_num_dims=d, batch_shape=batch_shape, lengthscale_prior=LogNormalPrior(loc=math.sqrt(2), scale=math.sqrt(3))
    )
    additive = ScaleKernel(terms, batch_shape=batch_shape, outputscale_prior=GammaPrior(2.0, 4.0 * d))
    full.outputscale = 0.5
    additive.outputscale = 0.5 / d
    return full + additive


@dataclass(frozen=True)
class KernelParts:
    """The fitted pieces of :func:`engine_kernel`, as ``b x ...`` float64 tensors (``b`` outputs).

    Attributes:
        full_scale: Output scale of the full Matern, ``b``.
        full_lengthscale: Its lengthscales, ``b x d``.
        additive_scale: Output scale of the additive part, ``b``.
        additive_lengthscale: The one-dimensional lengthscales, ``b x d`` (input ``i`` in column ``i``).
    """

    full_scale: torch.Tensor
    full_lengthscale: torch.Tensor
    additive_scale: torch.Tensor
    additive_lengthscale: torch.Tensor


def kernel_parts(kernel: Any) -> KernelParts | None:
    """The pieces of a kernel built by :func:`engine_kernel` (``None`` for any other kernel)."""
    from gpytorch.kernels import AdditiveKernel, MaternKernel, ScaleKernel

    if type(kernel) is not AdditiveKernel or len(kernel.kernels) != 2:
        return None
    full, additive = kernel.kernels
    if not (type(full) is ScaleKernel and type(additive) is ScaleKernel):
        return None
    base, terms = full.base_kernel, additive.base_kernel
    if type(base) is not MaternKernel or base.nu != 2.5 or base.active_dims is not None:
        return None
    if type(terms) is not AdditiveMaternKernel or terms.active_dims is not None:
        return None
    with torch.no_grad():
        b = base.lengthscale.shape[:-2].numel()
        d = base.lengthscale.shape[-1]
        return KernelParts(
            full_scale=full.outputscale.detach().reshape(b).to(torch.float64),
            full_lengthscale=base.lengthscale.detach().reshape(b, d).to(torch.float64),
            additive_scale=additive.outputscale.detach().reshape(b).to(torch.float64),
            additive_lengthscale=terms.lengthscale.detach().reshape(b, d).to(torch.float64),
        )


def is_plain_matern(kernel: Any) -> bool:
    """Whether ``kernel`` is the engine's plain kernel: one ARD Matern-5/2 over all inputs, without
    an output scale (what the fast prefilter and the dense fitting loss compute)."""
    from gpytorch.kernels import MaternKernel

    return type(kernel) is MaternKernel and kernel.nu == 2.5 and kernel.active_dims is None


def kernel_name(kernel: Any) -> str:
    """How the model card names ``kernel``: the engine's, a plain ARD Matern-5/2, or its class."""
    from gpytorch.kernels import MaternKernel

    if kernel_parts(kernel) is not None:
        return KERNEL_NAME
    if type(kernel) is MaternKernel and kernel.nu == 2.5:
        return "ARD Matern-5/2"
    return type(kernel).__name__


def copy_kernel(target: Any, sources: list[Any]) -> None:
    """Set ``target``'s kernel hyperparameters to those fitted in ``sources``.

    ``sources`` holds one single-output kernel per output of ``target`` (one: the same
    shapes; several: ``target`` is batched over them). Raw (unconstrained) values are copied,
    so the kernels must be built alike (:func:`engine_kernel`, or the same plain kernel).
    """
    fitted_by_source = [dict(s.named_parameters()) for s in sources]
    with torch.no_grad():
        for name, value in target.named_parameters():
            fitted = [params[name].detach() for params in fitted_by_source]
            new = fitted[0].clone() if len(fitted) == 1 else torch.stack([f.reshape(value.shape[1:]) for f in fitted])
            value.copy_(new.reshape(value.shape))
