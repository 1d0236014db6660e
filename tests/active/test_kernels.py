"""The engine's kernels (``planner.active._kernels``): the additive Matern part against gpytorch's
own construction, its hand-written gradient against autograd, the cached differences, and the
copy of fitted hyperparameters into a joined model."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from gpytorch.kernels import AdditiveKernel, MaternKernel

from planner.active import ContinuousDesign, suggest
from planner.active._kernels import (
    MAX_ADDITIVE_INPUTS,
    AdditiveMaternKernel,
    _AdditiveTerms,
    _distinct_rows,
    copy_kernel,
    engine_kernel,
    kernel_name,
    kernel_parts,
)

DT = torch.float64


def _kernel(d: int, batch: tuple[int, ...] = ()) -> AdditiveMaternKernel:
    k = AdditiveMaternKernel(ard_num_dims=d, batch_shape=torch.Size(batch)).to(DT)
    with torch.no_grad():
        k.lengthscale = 0.2 + torch.rand(k.lengthscale.shape, dtype=DT, generator=torch.Generator().manual_seed(3))
    return k


@pytest.mark.parametrize("batch", [(), (2,)])
def test_additive_kernel_equals_gpytorchs_sum_of_one_dimensional_materns(batch):
    d = 4
    k = _kernel(d, batch)
    X, Z = torch.rand(9, d, dtype=DT), torch.rand(6, d, dtype=DT)
    for b in range(batch[0] if batch else 1):
        ref = AdditiveKernel(*[MaternKernel(nu=2.5, active_dims=(i,)) for i in range(d)]).to(DT)
        with torch.no_grad():
            for i, term in enumerate(ref.kernels):
                term.lengthscale = k.lengthscale.reshape(-1, d)[b, i]
        got = k(X, Z).to_dense()
        got = got[b] if batch else got
        torch.testing.assert_close(got, ref(X, Z).to_dense(), rtol=0, atol=1e-13)
    assert torch.equal(k(X, X, diag=True), torch.full(batch + (9,), float(d), dtype=DT))


def _autograd_terms(x1, x2, ls):
    s = (x1.div(ls).unsqueeze(-2) - x2.div(ls).unsqueeze(-3)).abs() * math.sqrt(5.0)
    return ((1.0 + s + s.square() / 3.0) * torch.exp(-s)).sum(-1)


@pytest.mark.parametrize("batch", [(), (3,)])
def test_the_written_out_lengthscale_gradient_equals_autograds(batch):
    d = 5
    X, Z = torch.rand(8, d, dtype=DT), torch.rand(7, d, dtype=DT)
    ls = 0.1 + torch.rand(batch + (1, d), dtype=DT)
    weights = torch.rand(batch + (8, 7), dtype=DT)
    fast = ls.clone().requires_grad_(True)
    (_AdditiveTerms.apply((X.unsqueeze(-2) - Z.unsqueeze(-3)).abs(), fast) * weights).sum().backward()
    slow = ls.clone().requires_grad_(True)
    (_autograd_terms(X, Z, slow) * weights).sum().backward()
    torch.testing.assert_close(fast.grad, slow.grad, rtol=1e-12, atol=1e-12)
    D = (X.unsqueeze(-2) - Z.unsqueeze(-3)).abs()
    assert torch.autograd.gradcheck(lambda lengths: _AdditiveTerms.apply(D, lengths), (ls.clone().requires_grad_(True),))


def test_cached_differences_follow_new_inputs_and_inputs_keep_their_gradient():
    d = 3
    k = _kernel(d)
    X = torch.rand(10, d, dtype=DT)
    first = k(X, X).to_dense()
    X2 = X.clone()
    X2[4, 1] += 0.3  # same shape, one value changed: the cache must not answer
    torch.testing.assert_close(k(X2, X2).to_dense(), _autograd_terms(X2, X2, k.lengthscale.detach()), rtol=0, atol=1e-13)
    torch.testing.assert_close(k(X, X).to_dense(), first, rtol=0, atol=0)
    # Candidates that need a gradient (continuous designs) get one, equal to finite differences.
    x = torch.rand(1, d, dtype=DT, requires_grad=True)
    k(x, X).to_dense().sum().backward()
    step = 1e-6
    for i in range(d):
        e = torch.zeros(1, d, dtype=DT)
        e[0, i] = step
        with torch.no_grad():
            fd = (_autograd_terms(x + e, X, k.lengthscale) - _autograd_terms(x - e, X, k.lengthscale)).sum() / (2 * step)
        assert float(x.grad[0, i]) == pytest.approx(float(fd), rel=1e-5, abs=1e-8)


@pytest.mark.parametrize("batched_train", [False, True])
def test_batches_that_repeat_rows_are_computed_on_the_distinct_rows_exactly(batched_train):
    """An acquisition function's t-batches repeat the baseline: the kernel without gradients
    computes the distinct rows and gathers them; the values equal the direct evaluation."""
    d = 4
    k = _kernel(d)
    baseline, train = torch.rand(6, d, dtype=DT), torch.rand(11, d, dtype=DT)
    X = torch.cat([baseline.expand(32, 6, d), torch.rand(32, 1, d, dtype=DT)], dim=-2)  # 32 x 7 x d
    Z = torch.cat([baseline.expand(32, 6, d), X[:, -1:]], dim=-2) if batched_train else train
    with torch.no_grad():
        got = k.forward(X, Z)
    ls = k.lengthscale.detach()
    torch.testing.assert_close(got, _autograd_terms(X, Z, ls), rtol=0, atol=1e-14)
    assert got.shape == (32, 7, 7 if batched_train else 11)


def test_distinct_rows_are_checked_not_trusted():
    x = torch.rand(50, 3, dtype=DT)
    x[10:20] = x[0]
    rows, inv = _distinct_rows(x)
    assert len(rows) == 40 and torch.equal(rows[inv], x)
    # Two different rows with the same projection (built against the projection used): refused.
    w = torch.randn(3, generator=torch.Generator().manual_seed(0), dtype=DT)
    v = torch.linalg.cross(w, torch.tensor([1.0, 0.0, 0.0], dtype=DT))  # orthogonal to w
    gen = torch.Generator().manual_seed(5)
    twins = (torch.stack([a, a + 2.0**-10 * v]) for a in torch.rand(200, 3, dtype=DT, generator=gen))
    twin = next(t for t in twins if float(t[0] @ w) == float(t[1] @ w))  # equal in floating point
    assert not torch.equal(twin[0], twin[1]) and _distinct_rows(twin)[0] is None
    # ... and the kernel then evaluates every pair directly, with the same values.
    k = _kernel(3)
    X = torch.cat([twin.expand(8, 2, 3), torch.rand(8, 1, 3, dtype=DT)], dim=-2)
    with torch.no_grad():
        torch.testing.assert_close(k.forward(X, x), _autograd_terms(X, x, k.lengthscale), rtol=0, atol=1e-14)


def test_engine_kernels_and_their_names():
    plain = engine_kernel(4, torch.Size([]), "matern")
    both = engine_kernel(4, torch.Size([]), "additive")
    assert kernel_parts(plain) is None and kernel_name(plain) == "ARD Matern-5/2"
    assert kernel_parts(both) is not None and kernel_name(both) == "ARD Matern-5/2 + additive Matern-5/2"
    wide = engine_kernel(MAX_ADDITIVE_INPUTS + 1, torch.Size([]), "additive")
    assert kernel_parts(wide) is None  # beyond the cap: the plain Matern
    with pytest.raises(ValueError, match="unknown kernel"):
        engine_kernel(4, torch.Size([]), "rbf")


def test_copy_kernel_joins_single_output_fits_into_a_batched_kernel():
    singles = [engine_kernel(3, torch.Size([]), "additive").to(DT) for _ in range(2)]
    for j, s in enumerate(singles):
        with torch.no_grad():
            for p in s.parameters():
                p.add_(0.1 * (j + 1))
    joined = engine_kernel(3, torch.Size([2]), "additive").to(DT)
    copy_kernel(joined, singles)
    X = torch.rand(5, 3, dtype=DT)
    for j, s in enumerate(singles):
        torch.testing.assert_close(joined(X).to_dense()[j], s(X).to_dense(), rtol=0, atol=1e-14)


def test_gp_additive_suggests_in_a_continuous_design():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.random((15, 2)), columns=["a", "b"])
    y = pd.DataFrame({"y": np.sin(3 * X["a"]) + X["b"] ** 2})
    result = suggest(
        X, y, design=ContinuousDesign({"a": (0.0, 1.0), "b": (0.0, 1.0)}), targets="y", n=2, surrogate="gp-additive", seed=0
    )
    assert len(result.table) == 2 and "additive Matern-5/2" in result.metadata["model"]
    assert result.table[["a", "b"]].apply(lambda c: c.between(0, 1)).all().all()
