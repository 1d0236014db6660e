"""The fit's loss closure (planner.active._fast_mll) against gpytorch's marginal likelihood."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from planner.active._fast_mll import loss_closure
from planner.active._gp import _build_gp, fit_gp


def _model(kernel: str, noise_floor: float | None, n: int = 40, d: int = 3, seed: int = 0):
    from gpytorch.mlls import ExactMarginalLogLikelihood

    rng = np.random.default_rng(seed)
    X = torch.as_tensor(rng.random((n, d)) * 4.0 - 1.0)
    Y = torch.as_tensor(np.sin(3 * X[:, :1].numpy()) + 0.1 * rng.standard_normal((n, 1)))
    lo, hi = torch.full((d,), -1.0, dtype=torch.float64), torch.full((d,), 3.0, dtype=torch.float64)
    gp = _build_gp(X, Y, lo, hi, noise_floor, kernel=kernel)
    return ExactMarginalLogLikelihood(gp.likelihood, gp)


def _reference(mll):
    from botorch.optim.closures import get_loss_closure_with_grads
    from botorch.optim.utils import get_parameters

    return get_loss_closure_with_grads(mll, parameters=get_parameters(mll, requires_grad=True))


@pytest.mark.parametrize("noise_floor", [None, 1e-2])
@pytest.mark.parametrize("kernel", ["matern", "additive"])
def test_loss_and_gradients_equal_gpytorchs(kernel, noise_floor):
    from botorch.optim.utils import get_parameters

    mll = _model(kernel, noise_floor)
    mll.train()
    params = get_parameters(mll, requires_grad=True)
    gen = torch.Generator().manual_seed(1)
    for _ in range(3):  # away from the initial values, inside the constraints (positive scales)
        with torch.no_grad():
            for name, p in params.items():
                step = 0.4 * torch.randn(p.shape, generator=gen, dtype=p.dtype)
                p.copy_(p + step if "constant" in name else p * torch.exp(step))
        value, grads = _reference(mll)()
        fast_value, fast_grads = loss_closure(mll)()
        assert float(fast_value) == pytest.approx(float(value), abs=1e-10)
        assert len(fast_grads) == len(grads) == len(params)
        for g, h in zip(fast_grads, grads):
            assert torch.allclose(g, h, atol=1e-10, rtol=0)


def test_other_models_keep_botorchs_closure():
    from gpytorch.kernels import RBFKernel, ScaleKernel
    from gpytorch.mlls import ExactMarginalLogLikelihood

    mll = _model("matern", None)
    gp = mll.model
    gp.covar_module = ScaleKernel(RBFKernel())
    assert loss_closure(ExactMarginalLogLikelihood(gp.likelihood, gp)) is None
    two = _build_gp(
        torch.rand(10, 2, dtype=torch.float64), torch.rand(10, 2, dtype=torch.float64),
        torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64), None,
    )
    assert loss_closure(ExactMarginalLogLikelihood(two.likelihood, two)) is None  # batched outputs


@pytest.mark.parametrize("kernel", ["matern", "additive"])
def test_fit_reaches_the_optimum_of_botorchs_own_closure(kernel):
    """fit_gp (this closure) and fit_gpytorch_mll with gpytorch's closure, same optimiser settings:
    the same hyperparameters and marginal likelihood."""
    from botorch.fit import fit_gpytorch_mll

    from planner.active._gp import FIT_MAXCOR

    rng = np.random.default_rng(3)
    X = rng.random((30, 3))
    y = (np.sin(4 * X[:, 0]) + X[:, 1] ** 2 + 0.05 * rng.standard_normal(30))[:, None]
    ours = fit_gp(X, y, np.zeros(3), np.ones(3), kernel=kernel).model
    gp = _build_gp(torch.as_tensor(X), torch.as_tensor(y), torch.zeros(3, dtype=torch.float64),
                   torch.ones(3, dtype=torch.float64), None, kernel=kernel)
    from gpytorch.mlls import ExactMarginalLogLikelihood

    mll = ExactMarginalLogLikelihood(gp.likelihood, gp)
    fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxcor": FIT_MAXCOR}})

    def value(model):
        model.train()
        m = ExactMarginalLogLikelihood(model.likelihood, model)
        with torch.no_grad():
            return float(m(model(*model.train_inputs), model.train_targets))

    assert value(ours) == pytest.approx(value(gp), abs=1e-6)
    for (name, a), (_, b) in zip(ours.named_parameters(), gp.named_parameters()):
        assert torch.allclose(a, b, atol=1e-3), name
