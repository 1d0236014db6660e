"""Backtesting on labelled pools: protocol, metrics (Top%, EF, AF, first hits), executors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from planner.active import Arm, backtest
from planner.active._backtest_metrics import dedupe_pool, top_rows
from planner.exceptions import DataQualityWarning, DataValidationError, SpecError


def autoam_protocol(pool: pd.DataFrame) -> dict:
    return dict(
        inputs=[c for c in pool.columns if c != "Score"],
        targets=[("Score", "max")],
        strategies=["random", "greedy@rf", "qlognei@rf"],
        n_seeds=2,
        n_initial=2,
        batch_size=5,
        budget=17,
        seed=0,
    )


@pytest.fixture(scope="module")
def autoam_result(autoam_pool):
    return backtest(autoam_pool, **autoam_protocol(autoam_pool))


def test_replicates_are_averaged_per_unique_input(datasets_dir):
    raw = pd.read_csv(datasets_dir / "liang2021_pvlab" / "AgNP_dataset.csv")
    inputs = list(raw.columns[:-1])
    unique, counts = dedupe_pool(raw, inputs, ["loss"])
    assert counts == {"n_rows": 3295, "n_dropped_missing": 0, "n_unique": 164}  # PROVENANCE.md
    assert unique["n_replicates"].sum() == 3295
    first = unique.iloc[0]
    same = (raw[inputs] == first[inputs].to_numpy()).all(axis=1)
    assert first["loss"] == pytest.approx(raw.loc[same, "loss"].mean())


def test_top_sets_include_ties():
    y = np.array([5.0, 4.0, 4.0, 1.0, 0.0, -1.0, 3.0, 2.0, 2.0, 2.0])
    sets = top_rows(y, [0.1, 0.2, 0.5])
    assert sets[0.1].tolist() == [0] and sets[0.2].tolist() == [0, 1, 2] and len(sets[0.5]) == 7


def test_backtest_tables_follow_the_protocol(autoam_result, autoam_pool):
    runs, curves, summary = autoam_result.runs, autoam_result.curves, autoam_result.summary
    assert set(summary["arm"]) == {"random", "greedy@rf", "qlognei@rf"}
    assert (runs.groupby(["arm", "seed"]).size() == 17).all()
    # Every arm of a seed starts from the same two rows, and never measures a row twice.
    starts = runs[runs["is_initial"]].groupby(["arm", "seed"])["row"].apply(tuple).unstack("arm")
    assert (starts.nunique(axis=1) == 1).all()
    assert (runs.groupby(["arm", "seed"])["row"].nunique() == 17).all()
    # Best so far never decreases (maximize) and matches the revealed values.
    for _, run in runs.groupby(["arm", "seed"]):
        assert run["best_so_far"].is_monotonic_increasing
        assert run["best_so_far"].iloc[-1] == run["Score"].max()
    # EF is Top% over the exact random expectation i / N.
    N = autoam_result.metadata["pool"]["n_unique"]
    np.testing.assert_allclose(curves["ef_0.05"], curves["top_0.05_mean"] / (curves["i"] / N))
    assert autoam_result.metadata["top_set_sizes"] == {"0.01": 1, "0.05": 5}
    assert {"af_top_0.05_at_0.5", "first_hit_top_0.01_median", "first_hit_top_0.05_missed"} <= set(summary.columns)


def test_acceleration_factor_definition(autoam_result):
    """AF(L) = ceil(L N) / first i where the arm's mean Top% reaches L."""
    curves, summary = autoam_result.curves, autoam_result.summary.set_index("arm")
    N = autoam_result.metadata["pool"]["n_unique"]
    for arm, c in curves.groupby("arm"):
        reached = c.loc[c["top_0.05_mean"] >= 0.25 - 1e-12, "i"]
        expected = math.ceil(0.25 * N) / reached.iloc[0] if len(reached) else math.nan
        assert summary.loc[arm, "af_top_0.05_at_0.25"] == pytest.approx(expected, nan_ok=True)


def test_backtest_is_reproducible_and_writes_its_tables(autoam_result, autoam_pool, tmp_path):
    again = backtest(autoam_pool, **autoam_protocol(autoam_pool))
    pd.testing.assert_frame_equal(again.runs, autoam_result.runs)
    out = again.to_dir(tmp_path / "bt")
    assert sorted(p.name for p in out.iterdir()) == ["curves.csv", "metadata.json", "runs.csv", "summary.csv"]


@pytest.mark.slow
def test_processes_give_the_same_runs_as_one_process(autoam_pool):
    inputs = [c for c in autoam_pool.columns if c != "Score"]
    kw = dict(
        inputs=inputs,
        targets=[("Score", "max")],
        strategies=["qlognei"],
        n_seeds=2,
        n_initial=3,
        batch_size=4,
        budget=11,
    )
    local = backtest(autoam_pool, executor="local", **kw)
    spread = backtest(autoam_pool, executor="processes", n_jobs=2, **kw)
    pd.testing.assert_frame_equal(local.runs, spread.runs)


@pytest.mark.slow
def test_multiobjective_backtest_tracks_hypervolume(redoxmers, redox_inputs, redox_targets):
    pool = redoxmers.sample(300, random_state=0)
    result = backtest(
        pool,
        inputs=redox_inputs,
        targets=redox_targets,
        strategies=["random", Arm("nehvi-rf", "qlognehvi", "rf")],
        n_seeds=2,
        n_initial=5,
        batch_size=5,
        budget=20,
    )
    assert result.metadata["hypervolume_pool"] > 0
    for _, run in result.runs.groupby(["arm", "seed"]):
        assert run["hv_fraction"].is_monotonic_increasing and run["hv_fraction"].between(0, 1 + 1e-9).all()
    assert "final_top_pareto_mean" in result.summary


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        pytest.param(
            {"n_initial": 100, "budget": 150}, DataValidationError, r"100 unique candidate\(s\), not more than n_initial",
            id="pool-too-small",
        ),
        pytest.param({"budget": 2.5}, SpecError, "budget must be an integer >= 2", id="budget-type"),
        pytest.param({"batch_size": True}, SpecError, "batch_size must be an integer >= 1", id="bool"),
        pytest.param(
            {"n_initial": 10, "budget": 10}, SpecError, r"budget \(10\) must exceed n_initial \(10\)", id="initial"
        ),
        pytest.param({"strategies": ["random", "random"]}, SpecError, "distinct labels", id="duplicate-arms"),
        pytest.param(
            {"inputs": ["Prime Delay", "nozzle"]},
            DataValidationError,
            r"lacks column\(s\) \['nozzle'\]",
            id="missing-column",
        ),
        pytest.param(
            {"executor": "cluster"}, SpecError, "executor must be None, 'local', 'processes', 'ray'", id="executor"
        ),
        pytest.param({"n_seeds": 0}, SpecError, "n_seeds must be an integer >= 1", id="seeds"),
        # Arms are checked before any run: a typo is an error, not a failed arm in the table.
        pytest.param(
            {"strategies": ["random", "qlognie"]}, SpecError,
            r"backtest arm 'qlognie': unknown acquisition strategy 'qlognie'; choose one of", id="arm-typo",
        ),
        pytest.param(
            {"strategies": ["qlognei@forest"]}, SpecError,
            r"backtest arm 'qlognei@forest': unknown surrogate 'forest'; use one of \['portfolio', 'gp'", id="surrogate-typo",
        ),
        pytest.param(
            {"strategies": ["qlognehvi"]}, SpecError,
            r"backtest arm 'qlognehvi': strategy 'qlognehvi' needs several targets", id="multi-only-strategy",
        ),
    ],
)
def test_backtest_bad_arguments(autoam_pool, kwargs, error, match):
    inputs = [c for c in autoam_pool.columns if c != "Score"]
    base = dict(inputs=inputs, targets=[("Score", "max")], strategies=["random"], n_seeds=1, budget=5)
    base.update(kwargs)
    with pytest.raises(error, match=match):
        backtest(autoam_pool, **base)


@pytest.mark.slow
def test_ray_executor_gives_the_same_runs(autoam_pool):
    ray = pytest.importorskip("ray")
    inputs = [c for c in autoam_pool.columns if c != "Score"]
    kw = dict(inputs=inputs, targets=[("Score", "max")], strategies=["random", "greedy@rf"], n_seeds=2, budget=12)
    try:
        spread = backtest(autoam_pool, executor="ray", n_jobs=2, batch_size=5, **kw)
    finally:
        ray.shutdown()
    local = backtest(autoam_pool, executor="local", batch_size=5, **kw)
    pd.testing.assert_frame_equal(local.runs, spread.runs)


def first_unmeasured(observed_X, observed_y, candidates, targets, n, seed):
    """An external policy for the test: the lowest unmeasured row labels."""
    return [i for i in candidates.index if i not in set(observed_X.index)][:n]


def broken_policy(observed_X, observed_y, candidates, targets, n, seed):
    return [int(observed_X.index[0])] * n


def test_external_policies_run_beside_planner_arms(autoam_pool):
    inputs = [c for c in autoam_pool.columns if c != "Score"]
    result = backtest(
        autoam_pool,
        inputs=inputs,
        targets=[("Score", "max")],
        n_seeds=2,
        budget=8,
        batch_size=3,
        strategies=[Arm("first", policy=first_unmeasured), Arm("broken", policy=broken_policy)],
    )
    first = result.runs[(result.runs["arm"] == "first") & ~result.runs["is_initial"]]
    assert (first.groupby("seed")["row"].apply(list).map(lambda rows: rows == sorted(rows))).all()
    failed = result.metadata["failed_runs"]
    assert len(failed) == 2 and all("returned rows" in f["error"] for f in failed)
    assert result.summary.set_index("arm").loc["broken", "n_failed"] == 2
    assert result.metadata["arms"][0]["strategy"] == "policy first_unmeasured"


def test_checkpointed_runs_are_reused_only_for_the_same_protocol(autoam_result, autoam_pool, tmp_path):
    kw = autoam_protocol(autoam_pool)
    folder = tmp_path / "partial"
    first = backtest(autoam_pool, checkpoint=folder, **kw)
    pd.testing.assert_frame_equal(first.runs, autoam_result.runs)  # checkpointing changes nothing
    files = sorted(folder.glob("*.json"))
    assert len(files) == 6 and first.metadata["runs_resumed_from_checkpoint"] == 0
    # A lost run (here: its file removed) is run again; the others are read back.
    files[0].unlink()
    again = backtest(autoam_pool, checkpoint=folder, **kw)
    assert again.metadata["runs_resumed_from_checkpoint"] == 5
    pd.testing.assert_frame_equal(again.runs, first.runs)
    # Another protocol (budget) or another pool never reuses these files.
    other = backtest(autoam_pool, checkpoint=folder, **(kw | {"budget": 12}))
    assert other.metadata["runs_resumed_from_checkpoint"] == 0
    changed = autoam_pool.assign(Score=autoam_pool["Score"] * 2)
    assert backtest(changed, checkpoint=folder, **kw).metadata["runs_resumed_from_checkpoint"] == 0


@pytest.mark.slow
def test_a_killed_backtest_resumes_from_its_finished_runs(autoam_pool, datasets_dir, tmp_path):
    """SIGKILL a real backtest in another process after its first runs are written; the same
    call then reruns only the missing runs and gives the runs of an uninterrupted backtest."""
    import os
    import signal
    import subprocess
    import sys
    import textwrap
    import time

    folder = tmp_path / "partial"
    kw = dict(
        inputs=[c for c in autoam_pool.columns if c != "Score"],
        targets=[("Score", "max")],
        strategies=["qlognei"],
        n_seeds=6,
        n_initial=3,
        batch_size=4,
        budget=15,
        executor="local",
    )
    script = textwrap.dedent(
        f"""
        import pandas as pd
        from planner.active import backtest
        pool = pd.read_csv({str(datasets_dir / "liang2021_pvlab" / "AutoAM_dataset.csv")!r})
        backtest(pool, checkpoint={str(folder)!r}, **{kw!r})
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(folder.glob("*.json"))) < 2 and proc.poll() is None:
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = sorted(p.name for p in folder.glob("*.json"))
    assert 2 <= len(kept) < 6, f"the kill missed its window ({len(kept)} runs written)"
    resumed = backtest(autoam_pool, checkpoint=folder, **kw)
    assert resumed.metadata["runs_resumed_from_checkpoint"] == len(kept)
    pd.testing.assert_frame_equal(resumed.runs, backtest(autoam_pool, **kw).runs)


def _simplex_pool() -> pd.DataFrame:
    """91 three-component compositions (a 1/12 grid), a heavy-tailed cost to minimise (2.4e4 .. 1.8e6)."""
    rows = [(i / 12, j / 12, (12 - i - j) / 12) for i in range(13) for j in range(13 - i)]
    pool = pd.DataFrame(rows, columns=["A", "B", "C"])
    score = np.exp(-((pool.A - 0.3) ** 2 + (pool.B - 0.5) ** 2) / 0.02)
    pool["cost"] = 2.4e4 * 75.0 ** (1 - score / score.max())
    return pool


@pytest.mark.parametrize(
    "arms",
    [
        pytest.param(["random", "greedy@rf"], id="fast"),
        pytest.param([Arm("portfolio", "qlognei", "portfolio")], id="portfolio", marks=pytest.mark.slow),
    ],
)
def test_a_budget_above_the_pool_measures_the_whole_pool(arms):
    pool = _simplex_pool()
    with pytest.warns(DataQualityWarning, match="budget 100 exceeds the 91 unique candidates"):
        result = backtest(
            pool, inputs=["A", "B", "C"], targets=[("cost", "min")], strategies=arms,
            n_seeds=1, n_initial=5, batch_size=5, budget=100,
        )
    assert result.metadata["budget"] == 91 and result.metadata["budget_asked"] == 100
    assert not result.metadata["failed_runs"]
    for _, run in result.runs.groupby(["arm", "seed"]):
        assert len(run) == 91  # every candidate once, the last batch a partial one
    assert (result.summary["first_hit_top_0.01_missed"] == 0).all() and (result.summary["first_hit_top_0.05_missed"] == 0).all()


def test_rows_equal_to_nine_decimals_are_one_candidate():
    # 0.1 + 0.2 written beside 0.3: suggest matches them as one row (row_keys), so the backtest
    # counts them as one candidate (two replicates) and its last batch still finds a candidate.
    pool = _simplex_pool()
    twin = pool.iloc[[40]].copy()
    twin["A"] = twin["A"] + 1e-12
    twin["cost"] = twin["cost"] * 3
    unique, counts = dedupe_pool(pd.concat([pool, twin], ignore_index=True), ["A", "B", "C"], ["cost"])
    assert counts["n_unique"] == 91 and unique["n_replicates"].max() == 2
    assert unique.loc[40, "cost"] == pytest.approx(2 * pool.loc[40, "cost"]) and unique.loc[40, "A"] == pool.loc[40, "A"]
    with pytest.warns(DataQualityWarning, match="budget 95 exceeds the 91 unique candidates"):
        result = backtest(
            pd.concat([pool, twin], ignore_index=True), inputs=["A", "B", "C"], targets=[("cost", "min")],
            strategies=["random"], n_seeds=2, n_initial=5, batch_size=5, budget=95,
        )
    assert not result.metadata["failed_runs"]
    assert (result.runs.groupby(["arm", "seed"]).size() == 91).all()
