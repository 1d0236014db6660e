"""``suggest`` over continuous designs: the OER composition simplex (fractions sum to 1),
linear inequalities, and mixed continuous + categorical spaces."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from planner.active import ContinuousDesign, LinearConstraint, suggest
from planner.exceptions import DataQualityWarning, DesignSpaceWarning


@pytest.fixture(scope="module")
def simplex(oer_fractions) -> ContinuousDesign:
    return ContinuousDesign.simplex(oer_fractions)


@pytest.fixture(scope="module")
def oer_obs(oer_plate) -> pd.DataFrame:
    return oer_plate.sample(25, random_state=0)


def check_on_simplex(table: pd.DataFrame, fractions: list[str]) -> None:
    values = table[fractions].to_numpy()
    assert np.abs(values.sum(axis=1) - 1.0).max() <= 1e-12
    assert values.min() >= 0.0 and values.max() <= 1.0


@pytest.mark.parametrize("strategy", ["qlognei", "qucb", "greedy", "thompson", "max_variance", "random"])
def test_simplex_suggestions_are_exactly_on_the_simplex(strategy, simplex, oer_obs, oer_fractions):
    result = suggest(
        oer_obs[oer_fractions],
        oer_obs[["overpotential"]],
        design=simplex,
        targets=[("overpotential", "min")],
        n=3,
        strategy=strategy,
        seed=1,
    )
    table = result.table
    assert len(table) == 3 and result.metadata["design"] == "continuous"
    check_on_simplex(table, oer_fractions)
    assert (table["distance_to_nearest_observed"] > 1e-6).all()
    # The batch holds three different experiments.
    assert len({tuple(np.round(r, 6)) for r in table[oer_fractions].to_numpy()}) == 3
    if strategy != "random":
        assert table["overpotential_std"].gt(0).all()


def test_qlognei_heads_for_low_overpotential(simplex, oer_obs, oer_fractions):
    result = suggest(
        oer_obs[oer_fractions],
        oer_obs[["overpotential"]],
        design=simplex,
        targets=[("overpotential", "min")],
        n=2,
        seed=0,
    )
    t = result.table
    assert np.isfinite(t["acquisition"]).all() and result.metadata["acquisition_scale"] == "log"
    assert t["overpotential_mean"].iloc[0] < oer_obs["overpotential"].median()


def test_pending_points_steer_the_continuous_batch(simplex, oer_obs, oer_fractions):
    first = suggest(
        oer_obs[oer_fractions],
        oer_obs[["overpotential"]],
        design=simplex,
        targets=[("overpotential", "min")],
        n=1,
        seed=0,
    )
    second = suggest(
        oer_obs[oer_fractions],
        oer_obs[["overpotential"]],
        design=simplex,
        targets=[("overpotential", "min")],
        n=1,
        seed=0,
        pending=first.table[oer_fractions],
    )
    gap = np.abs(first.table[oer_fractions].to_numpy() - second.table[oer_fractions].to_numpy()).max()
    assert gap > 1e-3


def test_linear_inequalities_and_mixed_categorical_inputs():
    """A formulation: two solvent fractions summing to 1, salt fraction capped by the first
    solvent's, temperature, and a categorical salt."""
    design = ContinuousDesign(
        bounds={"ec": (0.0, 1.0), "dmc": (0.0, 1.0), "salt_conc": (0.5, 2.0), "temp": (20.0, 60.0)},
        constraints=(
            LinearConstraint({"ec": 1, "dmc": 1}, "==", 1.0),
            LinearConstraint({"salt_conc": 1, "ec": -2}, "<=", 0.5),
        ),
        categorical={"salt": ["LiPF6", "LiFSI", "LiTFSI"]},
    )
    rng = np.random.default_rng(0)
    ec = rng.uniform(0.2, 0.9, 12)
    X = pd.DataFrame(
        {
            "ec": ec,
            "dmc": 1 - ec,
            "salt_conc": np.minimum(0.5 + 2 * ec, rng.uniform(0.5, 2.0, 12)),
            "temp": rng.uniform(20, 60, 12),
            "salt": rng.choice(["LiPF6", "LiFSI", "LiTFSI"], 12),
        }
    )
    y = pd.DataFrame(
        {"cond": X["ec"] * 2 - (X["salt_conc"] - 1.2) ** 2 + (X["salt"] == "LiFSI") * 0.5 + 0.01 * X["temp"]}
    )
    result = suggest(X, y, design=design, targets=[("cond", "max")], n=3, seed=0)
    t = result.table
    assert set(t["salt"]) <= {"LiPF6", "LiFSI", "LiTFSI"}
    assert np.abs(t["ec"] + t["dmc"] - 1).max() <= 1e-12
    assert (t["salt_conc"] - 2 * t["ec"] <= 0.5 + 1e-6).all()
    assert design.violation(t).max() <= 1e-6


def test_observations_outside_the_continuous_design_are_flagged(simplex, oer_obs, oer_fractions):
    off = oer_obs.copy()
    off.iloc[0, off.columns.get_loc(oer_fractions[0])] += 0.2
    # The warning says what puts the row outside (here the fractions no longer sum to 1).
    with pytest.warns(DesignSpaceWarning, match=r"1 observation\(s\) lie outside the continuous design \(first row "
                      r"\d+; row \d+: '.*' broken by 0.2\)"):
        suggest(
            off[oer_fractions],
            off[["overpotential"]],
            design=simplex,
            targets=[("overpotential", "min")],
            n=1,
            strategy="greedy",
        )


def test_cold_start_on_the_simplex_is_space_filling(simplex, oer_fractions):
    with pytest.warns(DataQualityWarning, match="space-filling"):
        result = suggest(None, None, design=simplex, targets=[("overpotential", "min")], n=4, seed=0)
    check_on_simplex(result.table, oer_fractions)
    assert result.metadata["strategy_used"] == "space_filling"


def test_box_design_without_constraints():
    design = ContinuousDesign(bounds={"thickness_um": (40.0, 200.0), "porosity": (0.2, 0.5)})
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"thickness_um": rng.uniform(40, 200, 10), "porosity": rng.uniform(0.2, 0.5, 10)})
    y = pd.DataFrame({"energy": -(((X["thickness_um"] - 120) / 80) ** 2) - ((X["porosity"] - 0.3) / 0.3) ** 2})
    result = suggest(X, y, design=design, targets=[("energy", "max")], n=2, strategy="qucb", beta=1.0, seed=0)
    t = result.table
    assert design.violation(t).max() == 0.0 and len(t) == 2
    assert result.metadata["beta"] == 1.0


def test_failed_runs_in_a_continuous_space_steer_the_optimizer_away():
    """Two inputs; runs with a + b above 1.3 fail (scored 0), the score grows with a * b, so
    the successful runs alone point to the corner a = b = 1. The failure model keeps the
    optimized picks out of that corner, where runs are predicted to succeed, and each carries
    P(not failed); without it the table has no such column. (With 24 random observations the
    estimated boundary is soft: picks near it are expected.)"""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.uniform(0, 1, 24), "b": rng.uniform(0, 1, 24)})
    y = pd.DataFrame({"s": np.where(X["a"] + X["b"] < 1.3, 4 * X["a"] * X["b"], 0.0)})
    design = ContinuousDesign({"a": (0, 1), "b": (0, 1)})
    with pytest.warns(DataQualityWarning, match="modelled as failed"):
        result = suggest(X, y, design=design, targets=[("s", "max")], n=3, seed=0, floor="failures")
    table = result.table
    assert result.metadata["failed_rows"] == {"s": int((y["s"] == 0).sum())}
    assert table["s_p_not_failed"].between(0, 1).all()
    assert ((table["a"] + table["b"]) < 1.7).all(), table
    # Deep in the failing corner the failure model gives a low P(not failed), unlike its picks.
    corner = suggest(
        X, y, design=ContinuousDesign({"a": (0.95, 1), "b": (0.95, 1)}), targets=[("s", "max")], n=1, seed=0,
        floor="failures",
    ).table
    assert corner["s_p_not_failed"].iloc[0] < min(0.3, table["s_p_not_failed"].min()), (corner, table)
    with pytest.warns(DataQualityWarning, match="equal its worst value"):
        values = suggest(X, y, design=design, targets=[("s", "max")], n=3, seed=0)  # the default
    assert "s_p_not_failed" not in values.table
