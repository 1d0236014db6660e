"""Several targets (qLogNEHVI, Pareto fronts) and outcome constraints, on the redoxmers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from planner.active import PoolDesign, pareto_front, suggest
from planner.exceptions import DataValidationError, SpecError


@pytest.fixture(scope="module")
def pool(redoxmers) -> pd.DataFrame:
    """A 400-molecule slice keeps the fits quick; all four substituents still vary."""
    return redoxmers.sample(400, random_state=0)


@pytest.fixture(scope="module")
def obs(pool) -> pd.DataFrame:
    return pool.sample(25, random_state=1)


def test_pareto_front_of_observations(obs, redox_targets):
    front = pareto_front(obs, redox_targets)
    Y = obs[[t for t, _ in redox_targets]].to_numpy()
    F = front[[t for t, _ in redox_targets]].to_numpy()
    assert 1 <= len(front) < len(obs)
    for f in F:  # no observation dominates a front member (all minimized)
        assert not ((Y <= f).all(axis=1) & (Y < f).any(axis=1)).any()
    with pytest.raises(DataValidationError, match=r"lacks target column\(s\) \['ered'\]"):
        pareto_front(obs.drop(columns="ered"), redox_targets)


@pytest.mark.slow
@pytest.mark.parametrize("surrogate", ["gp", "rf"])
def test_qlognehvi_extends_the_front(pool, obs, redox_inputs, redox_targets, surrogate):
    names = [t for t, _ in redox_targets]
    result = suggest(
        obs[redox_inputs],
        obs[names],
        design=PoolDesign(pool[redox_inputs]),
        targets=redox_targets,
        n=2,
        surrogate=surrogate,
        seed=0,
    )
    t = result.table
    assert result.metadata["strategy_used"] == "qlognehvi"
    assert set(result.metadata["ref_point"]) == set(names)
    for name in names:
        assert f"{name}_mean" in t and (t[f"{name}_std"] > 0).all()
    assert t["reason"].str.startswith(("extends the Pareto front", "high uncertainty")).all()
    assert not set(t["candidate"]) & set(obs.index)


def test_multiobjective_baselines_and_explicit_reference_point(pool, obs, redox_inputs, redox_targets):
    names = [t for t, _ in redox_targets]
    ref = {"abs_lam_diff": 200.0, "ered": 3.5, "gsol": 0.0}
    greedy = suggest(
        obs[redox_inputs],
        obs[names],
        design=PoolDesign(pool[redox_inputs]),
        targets=redox_targets,
        n=2,
        strategy="greedy",
        surrogate="rf",
        ref_point=ref,
    )
    assert greedy.metadata["ref_point"] == ref
    assert greedy.table["reason"].str.startswith(("extends the Pareto front", "high predicted value")).all()
    with pytest.raises(SpecError, match=r"strategy 'qlognei' handles one target, but 3 were given; use one of \["):
        suggest(
            obs[redox_inputs],
            obs[names],
            design=PoolDesign(pool[redox_inputs]),
            targets=redox_targets,
            strategy="qlognei",
        )
    with pytest.raises(SpecError, match=r"ref_point lacks target\(s\) \['gsol'\]"):
        suggest(
            obs[redox_inputs],
            obs[names],
            design=PoolDesign(pool[redox_inputs]),
            targets=redox_targets,
            surrogate="rf",
            ref_point={"abs_lam_diff": 1, "ered": 1},
        )


@pytest.mark.parametrize("strategy", ["qlognei", "pi", "greedy"])
def test_outcome_constraint_keeps_suggestions_feasible(pool, obs, redox_inputs, strategy):
    """Minimize the reduction potential while keeping the solvation energy below -0.6."""
    result = suggest(
        obs[redox_inputs],
        obs[["ered", "gsol"]],
        design=PoolDesign(pool[redox_inputs]),
        targets=[("ered", "min")],
        outcome_constraints=[("gsol", "<=", -0.6)],
        n=3,
        strategy=strategy,
        surrogate="rf",
        seed=0,
    )
    t = result.table
    assert "p_feasible" in t and t["p_feasible"].between(0, 1).all()
    assert t["p_feasible"].mean() > 0.5
    assert t["reason"].str.contains("P(constraints met)", regex=False).all()
    assert result.metadata["outcome_constraints"] == [("gsol", "<=", -0.6)]


def test_outcome_constraint_needs_its_column(pool, obs, redox_inputs):
    with pytest.raises(DataValidationError, match=r"observed_y lacks column\(s\) \['gsol'\]"):
        suggest(
            obs[redox_inputs],
            obs[["ered"]],
            design=PoolDesign(pool[redox_inputs]),
            targets=[("ered", "min")],
            outcome_constraints=[("gsol", "<=", -0.6)],
        )


def test_constraint_operator_is_checked(pool, obs, redox_inputs):
    with pytest.raises(SpecError, match="operator must be '<=' or '>='"):
        suggest(
            obs[redox_inputs],
            obs[["ered", "gsol"]],
            design=PoolDesign(pool[redox_inputs]),
            targets="ered",
            outcome_constraints=[("gsol", "!=", 0)],
        )


def test_feasible_share_beats_random(pool, obs, redox_inputs):
    """Constraint-aware qLogNEI proposes feasible molecules more often than the pool's base rate."""
    base_rate = float((pool["gsol"] <= -0.6).mean())
    result = suggest(
        obs[redox_inputs],
        obs[["ered", "gsol"]],
        design=PoolDesign(pool[redox_inputs]),
        targets=[("ered", "min")],
        outcome_constraints=[("gsol", "<=", -0.6)],
        n=5,
        surrogate="rf",
        seed=0,
    )
    truth = pool.loc[result.table["candidate"], "gsol"]
    assert float(np.mean(truth <= -0.6)) >= min(base_rate, 0.6)


def test_a_row_missing_one_target_is_named_by_that_target(pool, obs, redox_inputs, redox_targets):
    from planner.exceptions import DataQualityWarning

    names = [t for t, _ in redox_targets]
    holes = obs[names].copy()
    holes.iloc[3, names.index("gsol")] = np.nan
    with pytest.warns(DataQualityWarning, match=r"missing value of \['gsol'\] \(the outputs are modelled together, so a row needs all of them\): dropped 1 row"):
        result = suggest(obs[redox_inputs], holes, design=PoolDesign(pool[redox_inputs]), targets=redox_targets,
                         n=1, strategy="random", seed=0)
    assert result.metadata["n_observations"] == len(obs) - 1
