"""``surrogate="portfolio"``: half of a batch from the GP, the rest from a random forest that
sees the GP's picks as pending (planner.active._portfolio)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from planner.active import ContinuousDesign, PoolDesign, suggest


@pytest.fixture(scope="module")
def pool() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.random((300, 3)), columns=["a", "b", "c"])
    frame["id"] = [f"S{i:03d}" for i in range(len(frame))]
    return frame


def _y(frame: pd.DataFrame) -> pd.DataFrame:
    # A step in a and a smooth bump in b: the two models disagree on where to look.
    return pd.DataFrame(
        {"y": (frame["a"] > 0.7) * 1.0 - (frame["b"] - 0.4) ** 2 + 0.1 * frame["c"]}, index=frame.index
    )


@pytest.fixture(scope="module")
def observed(pool):
    obs = pool.sample(15, random_state=2)
    return obs[["a", "b", "c"]], _y(obs)


def test_the_batch_is_the_gps_picks_then_the_forests_with_the_gps_pending(pool, observed):
    X, y = observed
    design = PoolDesign(pool, id_column="id")
    out = suggest(X, y, design=design, targets="y", n=5, surrogate="portfolio", seed=4)
    table, meta = out.table, out.metadata

    gp = suggest(X, y, design=design, targets="y", n=3, surrogate="gp", seed=4).table
    gp_picks = pool.loc[gp["candidate"], ["a", "b", "c"]]
    forest = suggest(X, y, design=design, targets="y", n=2, surrogate="rf", pending=gp_picks, seed=4).table

    # The GP's three picks, then the forest's two; each part is exactly that model's own batch.
    is_gp = table["model"].str.startswith("GP").tolist()
    assert is_gp == [True, True, True, False, False]
    assert table.loc[is_gp, "candidate"].tolist() == gp["candidate"].tolist()
    assert table.loc[[not g for g in is_gp], "candidate"].tolist() == forest["candidate"].tolist()
    assert table["candidate"].is_unique and not set(table["candidate"]) & set(X.index)
    assert table["id"].tolist() == pool.loc[table["candidate"], "id"].tolist()
    assert all(r.endswith("picked by the GP (model portfolio)") for r in table.loc[is_gp, "reason"])
    assert all(r.endswith("picked by the random forest (model portfolio)") for r in table.loc[[not g for g in is_gp], "reason"])

    assert meta["portfolio"]["split"] == {"GP": 3, "random forest": 2}
    assert meta["model"].startswith("portfolio: GP") and "RandomForestRegressor" in meta["model"]
    assert "3 of 5 picks by the GP, 2 by the random forest" in meta["notes"][-1]
    assert meta["n_pending"] == 0 and meta["portfolio"]["forest"]["n_scored"] > 0
    # Reproducible.
    again = suggest(X, y, design=design, targets="y", n=5, surrogate="portfolio", seed=4).table
    pd.testing.assert_frame_equal(again, table)


def test_pending_experiments_stay_out_of_both_parts(pool, observed):
    X, y = observed
    first = suggest(X, y, design=PoolDesign(pool, id_column="id"), targets="y", n=4, surrogate="portfolio", seed=0).table
    pending = pool.loc[first["candidate"], ["a", "b", "c"]]
    second = suggest(X, y, design=PoolDesign(pool, id_column="id"), targets="y", n=4, surrogate="portfolio", pending=pending, seed=0)
    assert not set(second.table["candidate"]) & set(first["candidate"])
    assert second.metadata["n_pending"] == 4


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        pytest.param({"n": 1}, "one suggestion: the GP's", id="one-suggestion"),
        pytest.param({"n": 4, "strategy": "max_variance"}, "does not rank by a model's predictions", id="exploration"),
    ],
)
def test_the_gp_alone_where_the_portfolio_does_not_apply(pool, observed, kwargs, why):
    X, y = observed
    out = suggest(X, y, design=PoolDesign(pool, id_column="id"), targets="y", surrogate="portfolio", seed=0, **kwargs)
    plain = suggest(X, y, design=PoolDesign(pool, id_column="id"), targets="y", surrogate="gp", seed=0, **kwargs)
    assert out.table["candidate"].tolist() == plain.table["candidate"].tolist()
    assert why in out.metadata["notes"][-1] and out.metadata["portfolio"]["split"] == {"GP": kwargs["n"]}


def test_identical_observed_values_give_the_gps_exploration_for_the_whole_batch(pool, observed):
    # A forest fitted to one repeated value predicts it everywhere with no spread: its picks would
    # be arbitrary rows with a made-up "high uncertainty" reason.
    X, _ = observed
    flat = pd.DataFrame({"y": np.zeros(len(X))}, index=X.index)
    with pytest.warns(UserWarning, match="are identical"):
        out = suggest(X, flat, design=PoolDesign(pool, id_column="id"), targets="y", n=4, surrogate="portfolio", seed=0)
    with pytest.warns(UserWarning, match="are identical"):
        plain = suggest(X, flat, design=PoolDesign(pool, id_column="id"), targets="y", n=4, surrogate="gp", seed=0)
    assert out.table["candidate"].tolist() == plain.table["candidate"].tolist()
    assert out.metadata["strategy_used"] == "max_variance" and out.metadata["portfolio"]["split"] == {"GP": 4}
    assert "cannot rank candidates yet" in out.metadata["notes"][-1]


def test_several_objectives_use_the_gp_alone(pool, observed):
    X, y = observed
    y2 = y.assign(z=X["c"].to_numpy())
    out = suggest(
        X, y2, design=PoolDesign(pool, id_column="id"), targets=[("y", "max"), ("z", "min")], n=2,
        surrogate="portfolio", seed=0, n_mc_samples=16, shortlist_size=20,
    )
    assert "several objectives" in out.metadata["notes"][-1] and len(out.table) == 2


def test_too_few_observations_give_space_filling_once(pool):
    obs = pool.iloc[:1]
    out = suggest(obs[["a", "b", "c"]], _y(obs), design=PoolDesign(pool, id_column="id"), targets="y", n=4, surrogate="portfolio", seed=0)
    assert len(out.table) == 4 and out.metadata["strategy_used"] == "space_filling"
    assert "space-filling" in out.metadata["notes"][-1] and out.metadata["portfolio"]["split"] == {"space filling": 4}


def test_a_continuous_design_splits_too():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.random((12, 2)), columns=["a", "b"])
    y = pd.DataFrame({"y": np.sin(5 * X["a"]) + X["b"]})
    out = suggest(X, y, design=ContinuousDesign({"a": (0, 1), "b": (0, 1)}), targets="y", n=4, surrogate="portfolio", seed=0)
    assert out.metadata["portfolio"]["split"] == {"GP": 2, "random forest": 2}
    assert ((out.table[["a", "b"]] >= 0) & (out.table[["a", "b"]] <= 1)).all().all()
    assert not out.table[["a", "b"]].duplicated().any()


def test_each_warning_is_given_once_though_both_parts_see_it(pool, observed):
    import warnings

    X, y = observed
    off_pool = X.copy()
    off_pool.iloc[:3, 0] += 0.0123  # three observations that match no candidate: both parts notice
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = suggest(off_pool, y, design=PoolDesign(pool, inputs=("a", "b", "c")), targets="y", n=4, seed=0, surrogate="portfolio")
    assert result.metadata["portfolio"]["split"] == {"GP": 2, "random forest": 2}
    texts = [str(w.message) for w in caught if "match no candidate" in str(w.message)]
    assert len(texts) == 1 and texts[0].startswith("3 observation(s) match no candidate"), texts
    with warnings.catch_warnings(record=True) as caught:  # a filter on planner's modules still applies
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", module=r"planner\.")
        suggest(off_pool, y, design=PoolDesign(pool, inputs=("a", "b", "c")), targets="y", n=4, seed=0, surrogate="portfolio")
    assert not [w for w in caught if "match no candidate" in str(w.message)]
