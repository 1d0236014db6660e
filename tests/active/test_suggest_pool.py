"""``suggest`` over candidate pools: every strategy, pending handling, fallbacks, bad input.

Real BoTorch fits on the AgNP pool of Liang et al. (loss, minimize), no mocks.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from planner.active import PoolDesign, available_strategies, suggest
from planner.exceptions import DataQualityWarning, DataValidationError, DesignSpaceWarning, PlannerWarning, SpecError

REASON_HEADS = (
    "high predicted value",
    "low predicted value",
    "high uncertainty",
    "value and uncertainty together",
    "one of the last candidates",
    "extends the Pareto front",
    "space-filling",
    "random baseline",
)
SINGLE_OBJECTIVE = ["qlognei", "qucb", "pi", "mli", "thompson", "max_variance", "ivr", "greedy", "random"]


@pytest.fixture(scope="module")
def design(agnp_pool, agnp_inputs) -> PoolDesign:
    return PoolDesign(agnp_pool[agnp_inputs])


@pytest.fixture(scope="module")
def observed(agnp_pool) -> pd.DataFrame:
    return agnp_pool.sample(15, random_state=3)


def run(observed, design, inputs, **kwargs):
    kwargs.setdefault("targets", [("loss", "min")])
    kwargs.setdefault("n", 3)
    kwargs.setdefault("surrogate", "gp")  # these tests are about the GP; the default portfolio: test_portfolio.py
    return suggest(observed[inputs], observed[["loss"]], design=design, **kwargs)


def test_every_single_objective_strategy_is_registered():
    assert set(SINGLE_OBJECTIVE) | {"qlognehvi"} <= set(available_strategies())


@pytest.mark.parametrize("strategy", SINGLE_OBJECTIVE)
def test_strategy_returns_new_distinct_candidates_with_the_documented_columns(strategy, observed, design, agnp_inputs):
    result = run(observed, design, agnp_inputs, strategy=strategy)
    table = result.table
    assert len(table) == 3 and table["candidate"].is_unique
    assert not set(table["candidate"]) & set(observed.index)
    for col in [
        "candidate",
        *agnp_inputs,
        "loss_mean",
        "loss_std",
        "acquisition",
        "distance_to_nearest_observed",
        "reason",
    ]:
        assert col in table.columns
    assert (table["distance_to_nearest_observed"] > 0).all()
    assert all(r.startswith(REASON_HEADS) for r in table["reason"])
    assert result.metadata["strategy_used"] == strategy and result.fallbacks == ()
    if strategy != "random":
        assert result.metadata["model"].startswith("GP") and (table["loss_std"] > 0).all()
    # The suggested inputs are the pool's rows.
    pd.testing.assert_frame_equal(
        table[agnp_inputs].reset_index(drop=True),
        design.candidates.loc[table["candidate"], agnp_inputs].reset_index(drop=True),
    )


def test_pending_suggestions_are_not_suggested_again(observed, design, agnp_inputs):
    first = run(observed, design, agnp_inputs, n=4)
    second = run(observed, design, agnp_inputs, n=4, pending=first.table[agnp_inputs])
    assert not set(first.table["candidate"]) & set(second.table["candidate"])
    assert second.metadata["n_pending"] == 4
    assert second.metadata["n_candidates"] == first.metadata["n_candidates"] - 4


def test_greedy_follows_the_direction(observed, design, agnp_inputs):
    low = run(observed, design, agnp_inputs, strategy="greedy", targets=[("loss", "min")])
    high = run(observed, design, agnp_inputs, strategy="greedy", targets=[("loss", "max")])
    assert low.table["loss_mean"].max() < high.table["loss_mean"].min()
    assert low.table["loss_mean"].is_monotonic_increasing
    assert low.table["reason"].str.startswith("low predicted value").all()
    assert high.table["reason"].str.startswith("high predicted value").all()


def test_qucb_states_its_beta(observed, design, agnp_inputs):
    result = run(observed, design, agnp_inputs, strategy="qucb", beta=4.0)
    assert result.metadata["beta"] == 4.0


@pytest.mark.slow
def test_same_seed_same_suggestions_also_in_another_process(observed, design, agnp_inputs, datasets_dir):
    # The default surrogate (the GP with the additive kernel) here, in the subprocess below too;
    # the portfolio (GP + forest) is reproducible too.
    here = run(observed, design, agnp_inputs, seed=11, strategy="qlognei", surrogate="gp-additive")
    again = run(observed, design, agnp_inputs, seed=11, strategy="qlognei", surrogate="gp-additive")
    pd.testing.assert_frame_equal(here.table, again.table)
    mixed = run(observed, design, agnp_inputs, seed=11, strategy="qlognei", surrogate="portfolio")
    assert mixed.metadata["portfolio"]["split"] == {"GP": 2, "random forest": 1}
    pd.testing.assert_frame_equal(mixed.table, run(observed, design, agnp_inputs, seed=11, strategy="qlognei", surrogate="portfolio").table)
    code = textwrap.dedent(
        f"""
        import json, warnings
        import pandas as pd
        from planner.active import PoolDesign, suggest
        warnings.simplefilter("ignore")
        df = pd.read_csv({str(datasets_dir / "liang2021_pvlab" / "AgNP_dataset.csv")!r})
        inputs = list(df.columns[:-1])
        pool = df.groupby(inputs, as_index=False, sort=False)["loss"].mean()
        obs = pool.sample(15, random_state=3)
        r = suggest(obs[inputs], obs[["loss"]], design=PoolDesign(pool[inputs]), targets=[("loss", "min")], n=3, seed=11)
        print(json.dumps(r.table["candidate"].tolist()))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == here.table["candidate"].tolist()


def test_too_few_observations_fall_back_to_space_filling(observed, design, agnp_inputs):
    with pytest.warns(DataQualityWarning, match="space-filling"):
        result = run(observed.iloc[:1], design, agnp_inputs, n=4)
    assert result.metadata["strategy_used"] == "space_filling"
    assert any("only 1 usable observation" in f for f in result.fallbacks)
    assert result.table["reason"].str.startswith("space-filling").all()
    assert result.table["candidate"].is_unique
    with pytest.warns(DataQualityWarning):
        cold = suggest(None, None, design=design, targets=[("loss", "min")], n=2)
    assert cold.metadata["n_observations"] == 0 and len(cold) == 2


def test_identical_targets_explore_and_say_so(observed, design, agnp_inputs):
    flat = observed.assign(loss=0.5)
    with pytest.warns(DataQualityWarning, match=r"all observed values of \['loss'\] are identical"):
        result = run(flat, design, agnp_inputs)
    assert result.metadata["strategy_used"] == "max_variance"
    assert result.table["reason"].str.startswith("high uncertainty").all()


@pytest.mark.parametrize("strategy", ["greedy", "qlognei", "max_variance"])
def test_identical_targets_with_a_forest_fill_the_space(strategy, observed, design, agnp_inputs):
    # A forest fitted to one value has no spread: its exploration ranked every candidate alike
    # and returned the pool's first rows. Space filling picks rows far from the measured ones.
    flat = observed.assign(loss=0.5)
    with pytest.warns(DataQualityWarning, match=r"identical \(0\.5\); an ensemble fitted to one value has no spread"):
        result = run(flat, design, agnp_inputs, n=4, surrogate="rf", strategy=strategy)
    assert result.metadata["strategy_used"] == "space_filling"
    assert result.table["reason"].str.startswith("space-filling").all()
    picked = design.candidates.loc[result.table["candidate"], agnp_inputs].to_numpy(dtype=float)
    first = design.candidates[agnp_inputs].iloc[: len(picked)].to_numpy(dtype=float)
    measured = observed[agnp_inputs].to_numpy(dtype=float)

    def nearest(points):
        return np.sqrt(((points[:, None, :] - measured[None]) ** 2).sum(-1)).min(1)

    assert nearest(picked).min() > 0
    assert np.median(nearest(picked)) > np.median(nearest(first))


def test_batch_larger_than_the_remaining_pool(agnp_pool, agnp_inputs):
    small = agnp_pool.iloc[:10]
    with pytest.warns(DesignSpaceWarning, match="only 3 candidate"):
        result = run(small.iloc[:7], PoolDesign(small[agnp_inputs]), agnp_inputs, n=5)
    assert sorted(result.table["candidate"]) == [7, 8, 9]
    assert any("returning all of them" in f for f in result.fallbacks)
    with pytest.raises(DataValidationError, match="every usable candidate of the pool .* is measured or pending"):
        run(small, PoolDesign(small[agnp_inputs]), agnp_inputs)


def test_observations_outside_the_pool_are_accepted_with_a_warning(observed, design, agnp_inputs):
    extra = observed.copy()
    extra.iloc[0, 0] += 0.123
    with pytest.warns(DesignSpaceWarning, match=r"1 observation\(s\) match no candidate"):
        result = run(extra, design, agnp_inputs)
    assert result.metadata["n_observations"] == 15


def test_observation_rows_with_missing_values_are_dropped_and_reported(observed, design, agnp_inputs):
    holes = observed.copy()
    holes.iloc[2, holes.columns.get_loc("loss")] = np.nan
    with pytest.warns(DataQualityWarning, match=r"missing value of \['loss'\]: dropped 1 row"):
        result = run(holes, design, agnp_inputs)
    assert result.metadata["n_observations"] == 14


def test_gp_that_fails_numerically_falls_back_and_records_it(observed, design, agnp_inputs):
    huge = observed.assign(loss=observed["loss"] * 1e160)  # variance overflows double precision
    with pytest.warns(PlannerWarning, match="GP fit failed numerically after retries with jitter"):
        result = run(huge, design, agnp_inputs, strategy="greedy")
    assert result.metadata["model"].startswith("ensemble (RandomForestRegressor")
    assert any("fell back to a random-forest ensemble" in f for f in result.fallbacks)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        pytest.param(
            lambda X, y: (X.drop(columns="Qpva(%)"), y),
            DataValidationError,
            r"observed_X lacks input column\(s\) \['Qpva\(%\)'\]",
            id="missing-input",
        ),
        pytest.param(
            lambda X, y: (X, y.rename(columns={"loss": "Loss"})),
            DataValidationError,
            r"observed_y lacks column\(s\) \['loss'\]",
            id="missing-target",
        ),
        pytest.param(
            lambda X, y: (X, y.astype(object).assign(loss=["bad", *y["loss"].iloc[1:]])),
            DataValidationError,
            r"column 'loss' must be numeric, but row \d+ holds 'bad'",
            id="text-target",
        ),
        pytest.param(
            lambda X, y: (X.iloc[:-1], y),
            DataValidationError,
            "observed_X has 14 rows but observed_y has 15",
            id="misaligned",
        ),
        pytest.param(lambda X, y: (X, y.assign(loss=np.inf)), DataValidationError, "is infinite", id="infinite-target"),
    ],
)
def test_bad_observations_give_clear_errors(observed, design, agnp_inputs, change, error, match):
    X, y = change(observed[agnp_inputs], observed[["loss"]])
    with pytest.raises(error, match=match):
        suggest(X, y, design=design, targets=[("loss", "min")], n=2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param(
            {"strategy": "magic"},
            r"unknown acquisition strategy 'magic'; choose one of .*register_strategy",
            id="unknown-strategy",
        ),
        pytest.param({"strategy": "qlognehvi"}, "needs several targets", id="mo-strategy-one-target"),
        pytest.param({"n": 0}, "must be a positive integer", id="n-zero"),
        pytest.param({"targets": [("loss", "down")]}, "direction must be 'max' or 'min'", id="bad-direction"),
        pytest.param({"surrogate": "svm"}, "unknown surrogate 'svm'", id="unknown-surrogate"),
        pytest.param({"beta": -1.0}, "beta must be a non-negative number", id="negative-beta"),
    ],
)
def test_bad_arguments_are_spec_errors(observed, design, agnp_inputs, kwargs, match):
    with pytest.raises(SpecError, match=match):
        run(observed, design, agnp_inputs, **kwargs)


def test_large_pool_is_scored_in_chunks():
    rng = np.random.default_rng(0)
    pool = pd.DataFrame(rng.random((60_000, 3)), columns=["a", "b", "c"])
    obs = pool.sample(30, random_state=0)
    y = pd.DataFrame({"y": -((obs - 0.3) ** 2).sum(axis=1).to_numpy()})
    design = PoolDesign(pool, chunk_size=7_000)
    result = suggest(obs, y, design=design, targets="y", n=5, seed=0)
    assert result.metadata["n_scored"] == 60_000 - 30
    assert len(result) == 5 and result.table["candidate"].is_unique
    # The optimum is near (0.3, 0.3, 0.3): the suggestions head there.
    assert (result.table[["a", "b", "c"]] - 0.3).abs().max(axis=1).min() < 0.2


def test_categorical_pool_with_a_featurizer(datasets_dir):
    """BTZ solubility pool: solvent names are categorical; a featurizer turns SMILES into numbers."""
    df = pd.read_csv(datasets_dir / "cobol_btz_solubility" / "btz_pool_all_218.csv")
    target = "BTZ_molar_conc_20Celcius(M)"
    df = df.fillna({"Solvent2": "none", "SMILES2": ""})
    inputs = ["Solvent1", "SMILES1", "Solvent1_volFraction", "Solvent2", "SMILES2", "Solvent2_volFraction"]
    obs = df.sample(20, random_state=1)
    # One-hot encoding of the solvent names (22 + 1 levels each).
    onehot = suggest(obs[inputs], obs[[target]], design=PoolDesign(df[inputs]), targets=[(target, "max")], n=2, seed=0)
    assert len(onehot) == 2

    def smiles_descriptors(frame: pd.DataFrame) -> pd.DataFrame:
        out = {}
        for k in ("1", "2"):
            s = frame[f"SMILES{k}"].astype(str)
            w = frame[f"Solvent{k}_volFraction"].to_numpy(dtype=float)
            out[f"n_O{k}"] = w * s.str.count("O").to_numpy()
            out[f"n_C{k}"] = w * s.str.count("C").to_numpy()
            out[f"ring{k}"] = w * s.str.contains("1").to_numpy()
        return pd.DataFrame(out, index=frame.index)

    featurized = suggest(
        obs[inputs],
        obs[[target]],
        design=PoolDesign(df[inputs]),
        targets=[(target, "max")],
        n=2,
        seed=0,
        featurizer=smiles_descriptors,
    )
    assert len(featurized) == 2 and not set(featurized.table["candidate"]) & set(obs.index)


def test_too_many_text_levels_ask_for_a_featurizer():
    pool = pd.DataFrame({"composition": [f"Li{i}La3Zr2O12" for i in range(100)], "x": np.linspace(0, 1, 100)})
    obs = pool.iloc[:5]
    with pytest.raises(DataValidationError, match=r"column 'composition' has 100 distinct text values.*featurizer"):
        suggest(obs, pd.DataFrame({"y": np.arange(5.0)}), design=PoolDesign(pool), targets="y", n=2)


@pytest.mark.slow
def test_composition_strings_featurized_like_the_automl_pipelines(datasets_dir):
    """Liverpool solid electrolytes at room temperature: the pool holds formula strings; the
    planner.steps element-fraction featurizer (unfitted: fitted here on the inputs) turns
    them into descriptors for the GP."""
    from planner.steps import ElementFractionFeaturizer

    df = pd.read_csv(datasets_dir / "liverpool_li_ion_conductivity" / "LiIonDatabase.csv", encoding="utf-8-sig")
    room = df[df["temperature"].between(15, 35)].groupby("composition", as_index=False)["log_target"].mean()
    obs = room.sample(30, random_state=0)
    result = suggest(
        obs[["composition"]],
        obs[["log_target"]],
        design=PoolDesign(room[["composition"]]),
        targets=[("log_target", "max")],
        n=3,
        featurizer=ElementFractionFeaturizer(composition_column="composition"),
        seed=0,
    )
    # The default GP reads the featurizer's descriptors (one column per element of the table).
    assert result.metadata["model"].startswith("GP (ARD Matern-5/2") and result.fallbacks == ()
    assert not set(result.table["composition"]) & set(obs["composition"])


def test_custom_strategies_register_once(observed, design, agnp_inputs):
    from planner.active import BaseStrategy, Selection, register_strategy

    @register_strategy("lowest_std_test")
    class LowestStd(BaseStrategy):
        """Picks the most certain candidates (a test strategy)."""

        kind = "value"

        def prefilter_score(self, prob, mean, var):
            return -var[:, 0]

        def select(self, prob, pts, mean, var, n):
            order = list(np.argsort(var[:, 0])[:n])
            return Selection(order, [float(-var[i, 0]) for i in order], "value")

    result = run(observed, design, agnp_inputs, strategy="lowest_std_test")
    assert result.metadata["strategy_used"] == "lowest_std_test" and len(result) == 3
    with pytest.raises(SpecError, match="'lowest_std_test' is registered already"):
        register_strategy("lowest_std_test")(LowestStd)
    with pytest.raises(SpecError, match="decorates BaseStrategy subclasses"):
        register_strategy("not_a_strategy")(dict)


def test_threads_are_restored_and_bad_pending_rows_reported(observed, design, agnp_inputs):
    import torch

    before = torch.get_num_threads()
    pending = design.candidates.iloc[[0, 1]].copy()
    pending.iloc[1, 0] = np.nan
    with pytest.warns(DataQualityWarning, match=r"pending experiments with a missing input: dropped 1 row"):
        result = run(observed, design, agnp_inputs, pending=pending, n_threads=1)
    assert torch.get_num_threads() == before
    assert result.metadata["n_pending"] == 1 and 0 not in set(result.table["candidate"])


def _floor_notes(result):
    return [n for n in result.metadata["notes"] if "equal its worst value" in n]


def test_failed_runs_at_the_worst_value_are_modelled_as_failures(autoam_pool):
    """AutoAM: 16% of the prints score exactly 0 (failed). By default they are values, with a
    note that names both remedies; with floor='failures' the GP follows the other prints and a
    second GP models failure; a forest surrogate and observations without a floor are untouched."""
    inputs = ["Prime Delay", "Print Speed", "X Offset Correction", "Y Offset Correction"]
    design = PoolDesign(autoam_pool[inputs])
    zeros = autoam_pool[autoam_pool["Score"] == 0]
    seen = pd.concat([zeros.head(4), autoam_pool[autoam_pool["Score"] > 0].sample(16, random_state=0)])

    def run_(frame, **kwargs):
        kwargs.setdefault("surrogate", "gp")
        return suggest(frame[inputs], frame[["Score"]], design=design, targets=[("Score", "max")], n=3, **kwargs)

    with pytest.warns(DataQualityWarning, match="modelled as failed experiments"):
        failures = run_(seen, floor="failures")
    (note,) = _floor_notes(failures)
    assert note.startswith("20% of the observed 'Score' (4 of 20) equal its worst value (0)")
    assert failures.metadata["failed_rows"] == {"Score": 4}
    table = failures.table
    assert table["Score_p_not_failed"].between(0, 1).all() and "p_feasible" in table
    # Predictions for the successful prints are not dragged towards 0 by the failed ones.
    assert (table["Score_mean"] > 0.5).all()

    with pytest.warns(DataQualityWarning, match="equal its worst value"):
        values = run_(seen)  # floor="values", the default
    (note,) = _floor_notes(values)
    assert "floor='failures'" in note and "--surrogate rf" in note
    assert values.metadata["failed_rows"] == {} and "Score_p_not_failed" not in values.table
    assert _floor_notes(run_(seen, surrogate="rf")) == []

    # Without a floor both modes are the same model and the same picks.
    clean = seen[seen["Score"] > 0]
    a, b = run_(clean, floor="failures"), run_(clean)
    assert _floor_notes(a) == [] and a.metadata["failed_rows"] == {}
    pd.testing.assert_frame_equal(a.table, b.table)


def test_failure_model_steers_away_from_a_failing_region():
    """One input, the score rises with x until the process fails beyond 0.7 (scored 0). The
    failure GP gives low P(not failed) deep in the failing region, high where runs succeed, and
    the picks stay out of the failing region."""
    x = np.round(np.linspace(0, 1, 101), 2)
    pool = pd.DataFrame({"x": x, "score": np.where(x < 0.7, 1 + x, 0.0)})
    seen = pool[pool["x"].isin([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.75, 0.85, 0.95, 1.0])]
    with pytest.warns(DataQualityWarning, match="modelled as failed"):
        result = suggest(
            seen[["x"]],
            seen[["score"]],
            design=PoolDesign(pool[["x"]]),
            targets=[("score", "max")],
            n=3,
            seed=0,
            floor="failures",
        )
    table = result.table
    assert result.metadata["failed_rows"] == {"score": 4}
    assert (table["x"] < 0.75).all(), table
    assert table["reason"].str.contains("; P(not failed) ", regex=False).all()
    with pytest.warns(DesignSpaceWarning, match="match no candidate"):
        probe = suggest(
            seen[["x"]],
            seen[["score"]],
            design=PoolDesign(pool.loc[pool["x"].isin([0.25, 0.9]), ["x"]]),
            targets=[("score", "max")],
            n=2,
            strategy="greedy",
            floor="failures",
        ).table.set_index("x")
    assert probe.loc[0.25, "score_p_not_failed"] > 0.8 and probe.loc[0.9, "score_p_not_failed"] < 0.2, probe


def test_unknown_floor_mode_is_a_spec_error(design, observed, agnp_inputs):
    with pytest.raises(SpecError, match="floor must be one of"):
        run(observed, design, agnp_inputs, floor="ignore")


@pytest.mark.parametrize("surrogate", ["gp", "portfolio"])
def test_pool_rows_with_the_same_inputs_are_one_candidate(surrogate):
    # Two ids for one recipe: suggested once (not twice in a batch), and the portfolio's forest
    # part no longer finds "every candidate measured or pending" when its twin is pending.
    obs = pd.DataFrame({"a": [0.1, 0.5, 0.9], "b": [1.0, 2.0, 3.0]})
    y = pd.DataFrame({"y": [3.0, 3.5, 2.0]})
    pool = pd.DataFrame({"id": ["010", "011", "012", "013"], "a": [0.2, 0.2 + 1e-12, 0.6, 0.1], "b": [1.5, 1.5, 3.5, 1.0]})
    with pytest.warns(DataQualityWarning, match=r"1 candidate row\(s\) repeat the inputs of an earlier row \(first rows "
                      r"\[1\]; row 1 = row 0 \(id '011' = '010'\)\)"):
        design = PoolDesign(pool, inputs=("a", "b"), id_column="id")
    assert design.report.n_valid == 3 and design.report.repeated_rows == (1,)
    with pytest.warns(DesignSpaceWarning, match="only 2 candidate"):
        result = suggest(obs, y, design=design, targets="y", n=3, surrogate=surrogate, seed=0)
    assert sorted(result.table["id"]) == ["010", "012"]  # '013' is measured (row 0 of obs)
