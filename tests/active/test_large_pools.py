"""The fast paths of ``suggest`` on large pools change no suggestion.

The prefilter's posterior moments (:mod:`planner.active._posterior`), the encoded pool kept on
the design, and the exclusion of measured and pending rows are each compared with the
reference computation they replace: gpytorch's posterior (``GPSurrogate.fast_prefilter =
False``), ``encoder.transform`` of the pool, and whole-row key matching.
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from planner.active import PoolDesign, suggest
from planner.active._candidates import exclude_rows
from planner.active._encoding import build_encoder, row_keys
from planner.active._gp import GPSurrogate, fit_gp
from planner.active._impute import ImputingEncoder, fit_imputation
from planner.active._posterior import MaternPosterior
from planner.active._surrogates import Points


def _reference_moments(gp: GPSurrogate, points: Points, monkeypatch: pytest.MonkeyPatch) -> tuple:
    with monkeypatch.context() as m:
        m.setattr(GPSurrogate, "fast_prefilter", False)
        return gp.prefilter_moments(points)


@pytest.mark.parametrize(
    ("n_obs", "n_outputs", "kernel"),
    [(60, 1, "matern"), (45, 2, "matern"), (330, 1, "matern"), (60, 1, "additive"), (45, 2, "additive"), (330, 1, "additive")],
)
def test_prefilter_moments_equal_gpytorchs(n_obs, n_outputs, kernel, monkeypatch):
    rng = np.random.default_rng(n_obs)
    X = rng.uniform(-2, 3, size=(n_obs, 4))
    Y = np.column_stack([np.sin(X).sum(axis=1), X[:, 0] * X[:, 1]][:n_outputs]) + 0.05 * rng.standard_normal((n_obs, n_outputs))
    gp = fit_gp(X, Y, np.full(4, -2.0), np.full(4, 3.0), kernel=kernel)
    assert ("additive" in gp.name) is (kernel == "additive")
    C = Points(pd.DataFrame(), np.vstack([rng.uniform(-2.5, 3.5, size=(5000, 4)), X[:7]]))  # beyond the bounds, and at data
    assert isinstance(gp._matern_posterior(), MaternPosterior)
    mean, var = gp.prefilter_moments(C)
    ref_mean, ref_var = _reference_moments(gp, C, monkeypatch)
    assert mean.shape == var.shape == (len(C), n_outputs)
    np.testing.assert_allclose(mean, ref_mean, rtol=0, atol=1e-9 * gp.y_std.max())
    np.testing.assert_allclose(var, ref_var, rtol=1e-9, atol=1e-12 * gp.y_std.max() ** 2)
    assert gp.prefilter_bounds_variance is (n_obs > GPSurrogate.PREFILTER_SUBSET)
    # Other block sizes: the same numbers to rounding.
    np.testing.assert_allclose(gp._matern_posterior().moments(C.enc, rows=333)[0][:, 0] * gp.y_std[0] + gp.y_mean[0], mean[:, 0], rtol=1e-12, atol=1e-12)


def test_other_kernels_keep_the_gpytorch_path():
    from botorch.models import SingleTaskGP
    from gpytorch.kernels import RBFKernel

    X = torch.rand(20, 2, dtype=torch.float64)
    gp = SingleTaskGP(X, X.sum(-1, keepdim=True), covar_module=RBFKernel(ard_num_dims=2)).eval()
    assert MaternPosterior.of(gp, torch.eye(20, dtype=torch.float64), torch.zeros(20, 1, dtype=torch.float64)) is None


def _pool_problem(n: int = 20_000):
    rng = np.random.default_rng(3)
    pool = pd.DataFrame(rng.random((n, 5)), columns=[f"x{i}" for i in range(5)])
    pool["solvent"] = rng.choice(["water", "ethanol", "dmso"], size=n)
    pool["name"] = [f"c{i}" for i in range(n)]

    def f(frame: pd.DataFrame) -> np.ndarray:
        x = frame[[f"x{i}" for i in range(5)]].to_numpy()
        return -((x - 0.3) ** 2).sum(axis=1) + 0.3 * (frame["solvent"] == "dmso").to_numpy() + np.sin(6 * x[:, 0])

    measured = pool.sample(40, random_state=1)[list(pool.columns[:6])]
    beside = pd.DataFrame(rng.random((20, 5)), columns=[f"x{i}" for i in range(5)])
    beside["solvent"] = "water"
    obs = pd.concat([measured, beside], ignore_index=True)
    pending = pool.iloc[[5, 17, 99]][list(pool.columns[:6])]
    return pool, obs, pd.DataFrame({"y": f(obs)}), pending, set(measured.index) | set(pending.index)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", [None, "greedy"])
def test_suggestions_on_a_20k_pool_are_those_of_the_reference_path(strategy, monkeypatch):
    pool, obs, y, pending, taken = _pool_problem()
    kwargs = dict(targets=[("y", "max")], n=5, strategy=strategy, pending=pending, seed=4)
    design = PoolDesign(pool, id_column="name")
    fast = suggest(obs, y, design=design, **kwargs)
    again = suggest(obs, y, design=design, **kwargs)  # the steady state: the design's cache is used
    with monkeypatch.context() as m:
        m.setattr(GPSurrogate, "fast_prefilter", False)
        ref = suggest(obs, y, design=PoolDesign(pool, id_column="name"), **kwargs)
    for result in (fast, again):
        assert result.table["candidate"].tolist() == ref.table["candidate"].tolist()
        pd.testing.assert_frame_equal(result.table, ref.table, check_exact=False, rtol=1e-10)
        assert result.table["reason"].tolist() == ref.table["reason"].tolist()
        assert result.metadata["notes"] == ref.metadata["notes"]
        assert result.metadata["n_scored"] == ref.metadata["n_scored"] == len(pool) - len(taken)
    assert not taken & set(fast.table["candidate"])
    assert "20 observation(s) match no candidate" in " ".join(fast.metadata["notes"])
    assert not any("prefilter bounded" in note for note in fast.metadata["notes"])
    assert not fast.table["reason"].str.contains("100 %").any()


def test_exclude_rows_is_whole_row_key_matching():
    pool = pd.DataFrame(
        {
            "a": [0.0, -0.0, 1.0, 1.0 + 4e-10, 2.0, 2.0, 3.0, 0.5],
            "b": [1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 1.0],
            "c": ["x", "y", "x", "x", "10", "10", "x", "y"],
        }
    )
    design = PoolDesign(pool, categorical=("c",))
    X = pd.DataFrame({"a": [-0.0, 1.0, 2.0, 3.0, 0.5, np.nan], "b": [1.0, 2.0, 3.0, 4.0, 2.0, 1.0], "c": ["x", "x", "10", "y", "y", "y"]})
    keys = row_keys(X, design.inputs, design.categorical).unique()
    keep, found = exclude_rows(pool, design, keys)
    pool_keys = row_keys(pool, design.inputs, design.categorical)
    np.testing.assert_array_equal(keep, ~pool_keys.isin(keys))
    assert found.equals(keys[keys.isin(pool_keys)])
    assert keep.tolist() == [False, True, False, False, False, False, True, True]
    assert len(found) == 3


def test_the_encoded_pool_is_kept_per_encoding():
    pool = pd.DataFrame({"x": [0.1, 0.5, 0.9, 0.3], "s": ["a", "b", "a", "b"]})
    design = PoolDesign(pool)
    enc = build_encoder(design, [])
    arr = enc.encode_pool(design)
    np.testing.assert_array_equal(arr, enc.transform(pool))
    assert enc.encode_pool(design) is arr and build_encoder(design, []).encode_pool(design) is arr
    # A level only the observations have widens the one-hot block: a new encoding, not the old one.
    obs = pd.DataFrame({"x": [0.2, np.nan, np.nan, 0.4], "s": ["c", "a", "a", "b"]})
    imputation = fit_imputation(obs, ("x", "s"), ("s",))
    wider = ImputingEncoder.wrap(build_encoder(design, [imputation.fill(obs)]), imputation)
    arr2 = wider.encode_pool(design)
    assert wider.n_indicators == 1 and arr2.shape == (4, 1 + 3 + 1)
    np.testing.assert_array_equal(arr2, wider.transform(pool))
    assert design._cache["encoded"][1] is not arr
    # Pickled designs (process pools) travel without the cache.
    assert pickle.loads(pickle.dumps(design))._cache == {}
    assert design._cache


def test_the_forest_prefilter_of_a_large_pool_uses_a_subset_of_the_trees():
    """Above LARGE_POOL candidates a forest's prefilter moments come from its first
    PREFILTER_MEMBERS trees (said in a note); below, and for the shortlist, from every tree."""
    from planner.active import _ensemble
    from planner.active._ensemble import fit_ensemble

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.random((40, 3)), columns=["a", "b", "c"])
    X = frame.to_numpy()
    Y = (np.sin(5 * X[:, 0]) + X[:, 1])[:, None]
    model = fit_ensemble("rf", Points(frame, X), Y, inputs=["a", "b", "c"], features=["a", "b", "c"], seed=0)
    probe = Points(frame.iloc[:7], X[:7] * 0.9)
    full_mean, full_var = model.moments(probe)

    assert model.prepare_prefilter(_ensemble.LARGE_POOL) is None
    mean, var = model.prefilter_moments(probe)
    np.testing.assert_array_equal(mean, full_mean)

    note = model.prepare_prefilter(_ensemble.LARGE_POOL + 1)
    assert f"with {_ensemble.PREFILTER_MEMBERS} of the forest's 100 trees" in note
    forest = model.members[0].estimator
    trees = np.stack([t.predict(np.float32(X[:7] * 0.9)) for t in forest.estimators_[: _ensemble.PREFILTER_MEMBERS]])
    mean, var = model.prefilter_moments(probe)
    np.testing.assert_allclose(mean[:, 0], trees.mean(axis=0))
    np.testing.assert_allclose(var[:, 0], np.maximum(trees.var(axis=0, ddof=1), var[:, 0].min()), rtol=1e-6)
    assert not np.allclose(mean, full_mean)
    np.testing.assert_array_equal(model.moments(probe)[0], full_mean)  # the shortlist's exact moments
