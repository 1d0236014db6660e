"""The public request record and strategy capabilities declared as class attributes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from planner.active import BaseStrategy, PoolDesign, Selection, SuggestRequest, register_strategy, suggest
from planner.exceptions import SpecError


@pytest.fixture(scope="module")
def small_pool() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    pool = pd.DataFrame(rng.random((300, 2)), columns=["a", "b"])
    obs = pool.sample(12, random_state=0)
    y = pd.DataFrame({"y": -((obs - 0.4) ** 2).sum(axis=1).to_numpy()}, index=obs.index)
    return pool, obs, y


def test_request_is_frozen_validated_and_runs_like_suggest(small_pool):
    pool, obs, y = small_pool
    design = PoolDesign(pool)
    req = SuggestRequest.create(design=design, targets=[("y", "min")], n=3, seed=4)
    assert req.asked == "qlognei" and req.strategy.name == "qlognei"
    assert req.outputs == ("y",) and req.signs.tolist() == [-1.0]
    assert req.n_mc_samples == 256 and req.shortlist_size == 1000 and not req.is_multi
    with pytest.raises(dataclasses.FrozenInstanceError):
        req.n = 4  # type: ignore[misc]
    via_record = req.run(obs, y)
    via_function = suggest(obs, y, design=design, targets=[("y", "min")], n=3, seed=4)
    pd.testing.assert_frame_equal(via_record.table, via_function.table)
    assert {k: v for k, v in via_record.metadata.items() if k != "seconds"} == {
        k: v for k, v in via_function.metadata.items() if k != "seconds"
    }
    with pytest.raises(SpecError, match="handles one target"):
        SuggestRequest.create(design=design, targets=[("y", "max"), ("z", "max")], strategy="qucb")


def test_capabilities_are_class_attributes_not_names(small_pool):
    """A new exploring strategy declares ``explores_only`` and keeps running on flat data,
    where a value-seeking one is switched to max_variance; ``uses_beta``/``log_scale`` drive
    the metadata."""
    pool, obs, _ = small_pool
    flat = pd.DataFrame({"y": np.ones(len(obs))}, index=obs.index)

    @register_strategy("far_test")
    class Far(BaseStrategy):
        """Picks the largest posterior variances (a test strategy)."""

        explores_only = True
        uses_beta = True
        kind = "uncertainty"

        def prefilter_score(self, prob, mean, var):
            return var[:, 0]

        def select(self, prob, pts, mean, var, n):
            order = list(np.argsort(-var[:, 0])[:n])
            return Selection(order, [float(var[i, 0]) for i in order], "uncertainty")

    design = PoolDesign(pool)
    with pytest.warns(UserWarning, match="identical"):
        greedy = suggest(obs, flat, design=design, targets="y", n=2, strategy="greedy", seed=0)
    assert greedy.metadata["strategy_used"] == "max_variance"
    far = suggest(obs, flat, design=design, targets="y", n=2, strategy="far_test", seed=0, beta=3.0)
    assert far.metadata["strategy_used"] == "far_test" and not far.fallbacks
    assert far.metadata["beta"] == 3.0 and far.metadata["acquisition_scale"] == "linear"
    y = pd.DataFrame({"y": obs["a"].to_numpy()}, index=obs.index)
    assert suggest(obs, y, design=design, targets="y", n=2, seed=0).metadata["acquisition_scale"] == "log"


def test_the_default_surrogate_is_the_additive_kernel_gp_and_every_reason_names_it(small_pool):
    from planner.active import DEFAULT_SURROGATE

    pool, obs, y = small_pool
    result = suggest(obs, y, design=PoolDesign(pool), targets=[("y", "max")], n=3, seed=0)
    assert DEFAULT_SURROGATE == "gp-additive"
    assert result.metadata["model"] == "GP (ARD Matern-5/2 + additive Matern-5/2, inferred noise)"
    assert result.table["reason"].str.endswith("; model: " + result.metadata["model"]).all()
    plain = suggest(obs, y, design=PoolDesign(pool), targets=[("y", "max")], n=3, seed=0, surrogate="gp")
    assert plain.metadata["model"] == "GP (ARD Matern-5/2, inferred noise)"
    assert plain.table["reason"].str.endswith("; model: GP (ARD Matern-5/2, inferred noise)").all()
