"""`planner suggest` on a pool campaign: real BoTorch fits, pending handling, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from planner.campaign import Campaign
from planner.cli import main
from planner.exceptions import DesignSpaceWarning
from planner.spec import CampaignSpec, DataSource, DataSpec, DesignSpace, InputSpec, TargetSpec

INPUTS = ["Prime Delay", "Print Speed", "X Offset Correction", "Y Offset Correction"]


def csv_campaign(tmp_path, name: str, inputs: list[InputSpec], target: str = "y", **design) -> Campaign:
    """A campaign in ``tmp_path/camp`` on ``tmp_path/measured.csv`` (``target`` maximised) with
    ``tmp_path/pool.csv`` as its pool; ``design``: further ``DesignSpace`` fields."""
    spec = CampaignSpec(
        name=name,
        data=DataSpec(sources=[DataSource(path=str(tmp_path / "measured.csv"), label="lab")]),
        inputs=inputs,
        targets=[TargetSpec(name=target, direction="max")],
        design_space=DesignSpace(pool=str(tmp_path / "pool.csv"), **design),
    )
    return Campaign.create(tmp_path / "camp", spec)


def pool_campaign(tmp_path, name: str, full: pd.DataFrame, measured: pd.DataFrame) -> Campaign:
    """A campaign on the AutoAM print settings: ``measured`` as its data, ``full``'s inputs as its pool."""
    measured.to_csv(tmp_path / "measured.csv", index=False)
    full[INPUTS].to_csv(tmp_path / "pool.csv", index=False)
    return csv_campaign(tmp_path, name, [InputSpec(name=c) for c in INPUTS], target="Score")


@pytest.fixture
def autoam(datasets_dir, tmp_path):
    """AutoAM (Liang et al. 2021): 100 unique print settings; 12 measured, the rest a candidate pool."""
    full = pd.read_csv(datasets_dir / "liang2021_pvlab" / "AutoAM_dataset.csv")
    measured = full.sample(12, random_state=0)
    return pool_campaign(tmp_path, "autoam", full, measured), full, measured


def test_suggest_twice_never_repeats_and_skips_measured(autoam, capsys, tmp_path):
    campaign, full, measured = autoam
    out = tmp_path / "s.csv"
    assert main(["suggest", str(campaign.directory), "-n", "5", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "round 1: 5 suggestion(s), strategy qlognei" in text
    first = pd.read_csv(out)
    assert {"suggestion_id", "Score_mean", "Score_std", "acquisition", "distance_to_nearest_observed", "reason"} <= set(first.columns)
    assert main(["suggest", str(campaign.directory), "-n", "5", "--strategy", "qucb"]) == 0
    capsys.readouterr()
    log = campaign.suggestions.read()
    assert len(log) == 10 and (log["_status"] == "pending").all()
    keys = log[INPUTS].round(6).apply(tuple, axis=1)
    assert keys.is_unique  # the second round excluded the pending first round
    assert not set(keys) & set(measured[INPUTS].round(6).apply(tuple, axis=1))  # nor measured points
    # Report results for round 1 (true values from the pool) with the suggestion ids.
    truth = first.merge(full, on=INPUTS)[["suggestion_id", *INPUTS, "Score"]]
    truth.to_csv(tmp_path / "results.csv", index=False)
    assert main(["observe", str(campaign.directory), str(tmp_path / "results.csv")]) == 0
    assert "5 pending suggestion(s) now observed" in capsys.readouterr().out
    assert Campaign.load(campaign.directory).status().n_suggestions_pending == 5


def test_suggest_is_reproducible(autoam, tmp_path):
    campaign, _, _ = autoam
    first, _ = campaign.suggest(3)
    # A fresh copy of the campaign in the same state suggests the same experiments.
    import shutil

    shutil.copytree(campaign.directory, tmp_path / "copy")
    (tmp_path / "copy" / "suggestions.csv").unlink()
    again, _ = Campaign.load(tmp_path / "copy").suggest(3)
    pd.testing.assert_frame_equal(first[INPUTS].reset_index(drop=True), again[INPUTS].reset_index(drop=True))


def test_suggest_bad_input(autoam, capsys, tmp_path):
    campaign, _, _ = autoam
    directory = str(campaign.directory)
    assert main(["suggest", directory, "--constraint", "Score<<3"]) == 2
    assert "NAME<=VALUE" in capsys.readouterr().err
    assert main(["suggest", directory, "--strategy", "nope"]) == 2
    assert "qlognei" in capsys.readouterr().err
    assert not (campaign.directory / "suggestions.csv").exists()
    # A batch larger than what is left of the pool returns the rest, with a warning.
    assert main(["suggest", directory, "-n", "500"]) == 0
    shown = capsys.readouterr()
    assert (shown.out + shown.err).count("only 88 candidate(s) remain") == 1  # said once (a note)
    assert len(campaign.suggestions.pending()) == 88
    # No design space at all.
    csv = tmp_path / "d.csv"
    csv.write_text("x,y\n0.1,1\n0.5,2\n0.9,3\n")
    assert main(["init", str(tmp_path / "c"), "--data", str(csv), "--target", "y:max"]) == 0
    capsys.readouterr()
    assert main(["suggest", str(tmp_path / "c")]) == 2
    assert "no design space" in capsys.readouterr().err


@pytest.mark.slow
def test_backtest_cli_on_the_autoam_pool(autoam, capsys, datasets_dir, tmp_path):
    campaign, full, _ = autoam
    pool = tmp_path / "labelled.csv"
    full.to_csv(pool, index=False)
    args = ["backtest", str(campaign.directory), "--pool", str(pool), "--seeds", "3", "--budget", "10", "--strategies", "random,greedy@rf"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "pool: 100 unique candidates" in out and "greedy@rf" in out
    runs = sorted((campaign.directory / "backtests").iterdir())
    assert len(runs) == 1
    frame = pd.read_csv(runs[0] / "runs.csv")
    assert set(frame["arm"]) == {"random", "greedy@rf"} and frame.groupby(["arm", "seed"]).size().eq(10).all()
    # Best-so-far never decreases within a run.
    assert frame.groupby(["arm", "seed"])["best_so_far"].apply(lambda s: s.is_monotonic_increasing).all()


def test_suggest_auto_surrogate_says_which_model_it_chose(autoam, capsys):
    campaign, _, _ = autoam
    assert main(["suggest", str(campaign.directory), "-n", "2", "--surrogate", "auto"]) == 0
    text = capsys.readouterr().out
    note = next(line for line in text.splitlines() if line.startswith("note: surrogate auto: "))
    chosen = "GP" if note.startswith("note: surrogate auto: GP") else "ensemble"
    assert f", model {chosen}" in text and "leave-one-out" in note and "out-of-bag" in note


def test_suggest_floor_modes_on_failed_runs(datasets_dir, capsys, tmp_path):
    """Measured prints with 4 failures scored 0: by default `planner suggest` models them as
    values and says how else to model them; `--floor failures` models them as failures and logs
    P(not failed); a bad mode is a clear error that stores nothing."""
    full = pd.read_csv(datasets_dir / "liang2021_pvlab" / "AutoAM_dataset.csv")
    measured = pd.concat([full[full["Score"] == 0].head(4), full[full["Score"] > 0].sample(12, random_state=1)])
    directory = str(pool_campaign(tmp_path, "failures", full, measured).directory)
    assert main(["suggest", directory, "-n", "2", "--floor", "nope"]) == 2
    assert "floor must be one of" in capsys.readouterr().err
    assert not (tmp_path / "camp" / "suggestions.csv").exists()
    assert main(["suggest", directory, "-n", "2", "--floor", "failures"]) == 0
    captured = capsys.readouterr()
    assert "25% of the observed 'Score' (4 of 16) equal its worst value (0): modelled as failed" in captured.err
    assert "Score_p_not_failed" in captured.out
    assert main(["suggest", directory, "-n", "2"]) == 0
    assert "floor='failures' (CLI --floor failures)" in capsys.readouterr().err
    log = Campaign.load(directory).suggestions.read()
    assert log["Score_p_not_failed"].notna().sum() == 2 and len(log) == 4


def test_backtest_default_arms_follow_the_targets_and_typos_exit_2(tmp_path, capsys):
    """Two targets: the default arms use qlognehvi (qlognei would fail every run); a mistyped
    arm is an error before any run, and nothing is saved."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.random((16, 2))
    frame = pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "f": x.sum(1), "g": (x[:, 0] - x[:, 1]) ** 2})
    frame.to_csv(tmp_path / "two.csv", index=False)
    directory = str(tmp_path / "mo")
    assert main(["init", directory, "--data", str(tmp_path / "two.csv"), "--target", "f:max", "--target", "g:min"]) == 0
    capsys.readouterr()
    assert main(["backtest", directory, "--strategies", "random,qlognie", "--seeds", "1", "--budget", "6"]) == 2
    err = capsys.readouterr().err
    assert "backtest arm 'qlognie': unknown acquisition strategy" in err and "Traceback" not in err
    assert main(["backtest", directory, "--strategies", "qlognei", "--seeds", "1", "--budget", "6"]) == 2
    assert "backtest arm 'qlognei': strategy 'qlognei' handles one target, but 2 were given" in capsys.readouterr().err
    assert not (tmp_path / "mo" / "backtests").exists() or not any(
        p.name.startswith("2") for p in (tmp_path / "mo" / "backtests").iterdir()
    )
    assert main(["backtest", directory, "--seeds", "1", "--budget", "6", "--batch", "2"]) == 0
    out = capsys.readouterr().out
    assert "4 strategies" in out and "qlognehvi" in out and "hypervolume" in out
    run = next(p for p in (tmp_path / "mo" / "backtests").iterdir() if p.name.startswith("2"))
    assert set(pd.read_csv(run / "runs.csv")["arm"]) == {"random", "greedy@rf", "qlognehvi", "qlognehvi@gp-additive"}


def test_design_space_ranges_narrow_a_pool(tmp_path, capsys):
    """With a pool, ranges and choices were ignored without a word: now rows outside them are
    left out with a warning, and `candidate` stays the row's position in the pool file."""
    import numpy as np

    rng = np.random.default_rng(0)
    pool = pd.DataFrame({"x": np.round(rng.uniform(0, 10, 60), 3), "salt": rng.choice(["LiFSI", "LiPF6", "LiTFSI"], 60)})
    pool.to_csv(tmp_path / "pool.csv", index=False)
    measured = pool.sample(8, random_state=1).assign(y=lambda f: -((f["x"] - 6) ** 2))
    measured.to_csv(tmp_path / "measured.csv", index=False)
    campaign = csv_campaign(
        tmp_path, "narrow", [InputSpec(name="x"), InputSpec(name="salt", role="categorical")],
        ranges={"x": (2.0, 5.0)}, choices={"salt": ["LiFSI", "LiPF6"]},
    )
    out = tmp_path / "s.csv"
    assert main(["suggest", str(campaign.directory), "-n", "4", "--surrogate", "gp", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    inside = pool["x"].between(2.0, 5.0) & pool["salt"].isin(["LiFSI", "LiPF6"])
    assert f"{int((~inside).sum())} row(s) lie outside design_space.ranges/choices and are left out" in err
    table = pd.read_csv(out)
    assert table["x"].between(2.0, 5.0).all() and table["salt"].isin(["LiFSI", "LiPF6"]).all()
    assert table["x"].tolist() == pool.loc[table["candidate"], "x"].tolist()  # file positions, not renumbered
    assert "(first line " in err and "np." not in err  # plain values, not numpy reprs


def test_text_in_a_numeric_pool_column_names_the_line_and_the_fix(tmp_path, capsys):
    (tmp_path / "measured.csv").write_text("x,z,y\n1,2,3\n2,3,5\n3,1,4\n")
    (tmp_path / "pool.csv").write_text("x,z\n1.5,2\n2.5,6.5x\n3.5,1\n")
    campaign = csv_campaign(tmp_path, "text", [InputSpec(name="x"), InputSpec(name="z")])
    assert main(["suggest", str(campaign.directory), "-n", "1"]) == 2
    err = capsys.readouterr().err
    assert "pool.csv, line 3: input 'z' holds '6.5x' where campaign.yaml declares a number" in err, err
    assert "role: categorical" in err and "Traceback" not in err
    labelled = tmp_path / "labelled.csv"
    labelled.write_text("x,z,y\n1,2,3\n2,oops,5\n3,1,4\n4,2,2\n")
    assert main(["backtest", str(campaign.directory), "--pool", str(labelled), "--seeds", "1"]) == 2
    assert "labelled.csv, line 3: input 'z' holds 'oops'" in capsys.readouterr().err


def test_zero_padded_numbers_in_a_numeric_pool_column_are_numbers(tmp_path, capsys):
    """The reader keeps zero-padded whole numbers (``05``) as codes; in a column campaign.yaml
    declares numeric they are numbers, so the pool is not refused."""
    (tmp_path / "measured.csv").write_text("x,batch,y\n1,01,3\n2,02,5\n3,03,4\n")
    (tmp_path / "pool.csv").write_text("x,batch\n1.5,02\n2.5,05\n3.5,10\n")
    campaign = csv_campaign(tmp_path, "padded", [InputSpec(name="x"), InputSpec(name="batch")])
    out = tmp_path / "s.csv"
    assert main(["suggest", str(campaign.directory), "-n", "2", "--surrogate", "gp", "-o", str(out)]) == 0, capsys.readouterr().err
    assert set(pd.read_csv(out)["batch"]) <= {2, 5, 10}


def test_engine_messages_name_the_file_and_line_of_an_observation(tmp_path):
    """The engine's warnings name observations where they were written (``measured.csv line 3``,
    ``more.csv line 2``), not by their position in the campaign's combined table."""
    (tmp_path / "measured.csv").write_text("x,z,y\n1,2,3\n2,3,5\n3,1,4\n")
    (tmp_path / "pool.csv").write_text("x,z\n1,2\n2.5,6.5\n3.5,1\n4,4\n")
    campaign = csv_campaign(tmp_path, "lines", [InputSpec(name="x"), InputSpec(name="z")])
    (tmp_path / "more.csv").write_text("x,z,y\n5,5,1\n")
    campaign.observe(tmp_path / "more.csv")
    with pytest.warns(DesignSpaceWarning, match="match no candidate") as record:
        batch = campaign.suggest(n=1, surrogate="gp")
    text = next(str(w.message) for w in record if "match no candidate" in str(w.message))
    # measured.csv line 2 (x=1, z=2) is pool row 0; the others are not in the pool.
    assert "3 observation(s) match no candidate of the pool (first rows measured.csv line 3, measured.csv line 4, more.csv line 2)" in text
    assert len(batch.table) == 1
    # two files of one name are told apart by their paths
    (tmp_path / "day2").mkdir()
    (tmp_path / "day2" / "more.csv").write_text("x,z,y\n6,6,2\n")
    campaign.observe(tmp_path / "day2" / "more.csv")
    with pytest.warns(DesignSpaceWarning, match="match no candidate") as record:
        campaign.suggest(n=1, surrogate="gp")
    text = next(str(w.message) for w in record if "match no candidate" in str(w.message))
    assert f"{tmp_path / 'more.csv'} line 2" in text and f"{tmp_path / 'day2' / 'more.csv'} line 2" in text, text


def test_suggest_says_which_measurements_written_as_limits_it_leaves_out(tmp_path, capsys):
    (tmp_path / "measured.csv").write_text("x,z,y\n1,2,3\n2,3,<0.5\n3,1,4\n4,4,5\n")
    (tmp_path / "pool.csv").write_text("x,z\n1.5,2\n2.5,2.5\n3.5,1\n")
    campaign = csv_campaign(tmp_path, "limits", [InputSpec(name="x"), InputSpec(name="z")])
    assert main(["suggest", str(campaign.directory), "-n", "1", "--surrogate", "gp"]) == 0
    out = capsys.readouterr().out
    assert "note: " in out and "1 value(s) of target 'y' written as limits (line 3 ('<0.5')) are left out of the model" in out
    assert "3 observations" in out


def test_compositions_are_atomic_fractions_for_suggest(tmp_path, capsys):
    """A pool of 120 formulas (more than one-hot encoding allows): suggest featurizes them as
    atomic fractions, fits the portfolio on the measured ones and never suggests a measured formula."""
    from planner.campaign._molecules import suggest_featurizer

    xs, ys = np.round(np.linspace(0.05, 0.95, 12), 3), np.round(np.linspace(0.1, 0.9, 10), 3)
    formulas = [f"Li{x}Na{1 - x:.3f}Co{y}Mn{1 - y:.3f}O2" for x in xs for y in ys]
    pool = pd.DataFrame({"formula": formulas, "T": 25.0})
    pool.to_csv(tmp_path / "pool.csv", index=False)
    measured = pool.sample(8, random_state=0)
    li = measured["formula"].str.extract(r"Li([\d.]+)")[0].astype(float)
    measured.assign(y=-((li - 0.7) ** 2)).to_csv(tmp_path / "measured.csv", index=False)
    campaign = csv_campaign(tmp_path, "comp", [InputSpec(name="formula", role="composition"), InputSpec(name="T")])
    features = suggest_featurizer(campaign.spec, "portfolio").fit(pool).transform(pool.head(3))
    assert [c for c in features.columns if c.startswith("formula:")] == [f"formula:frac_{e}" for e in ("Li", "O", "Na", "Mn", "Co", "other")]
    assert np.allclose(features.filter(like="formula:").sum(axis=1), 1.0)
    out = tmp_path / "s.csv"
    assert main(["suggest", str(campaign.directory), "-n", "3", "-o", str(out)]) == 0, capsys.readouterr().err
    assert "strategy qlognei" in capsys.readouterr().out
    table = pd.read_csv(out)
    assert len(table) == 3 and not table["formula"].isin(measured["formula"]).any()


def test_a_none_level_in_a_declared_categorical_column_is_kept_on_observe(tmp_path):
    """A results file whose categorical column holds only ``none`` (an undoped first batch) stores
    the level, not an empty cell: the reader's rule "none is missing unless the column holds other
    text" yields to campaign.yaml's role."""
    (tmp_path / "measured.csv").write_text("x,dopant,y\n1,ga,3\n2,none,5\n3,al,4\n")
    (tmp_path / "pool.csv").write_text("x,dopant\n1.5,none\n2.5,ga\n3.5,al\n")
    campaign = csv_campaign(tmp_path, "levels", [InputSpec(name="x"), InputSpec(name="dopant", role="categorical")])
    (tmp_path / "new.csv").write_text("x,dopant,y\n1.5,none,6\n")
    campaign.observe(tmp_path / "new.csv")
    assert campaign.observations()["dopant"].tolist() == ["none"]
    batch = campaign.suggest(n=1, surrogate="gp")  # the measured pool row is not suggested again
    assert batch.table["x"].tolist()[0] in (2.5, 3.5)


def test_number_coded_levels_with_a_none_still_match_the_measured_rows(tmp_path):
    """A categorical column of number codes plus 'none' in the pool (read as 1.0, 2.0, 'none')
    still matches observations written 1, 2: measured rows are not suggested again."""
    (tmp_path / "measured.csv").write_text("furnace,x,y\n1,0.5,1\n2,0.7,2\n1,0.9,3\n")
    (tmp_path / "pool.csv").write_text("furnace,x\n1,0.5\n2,0.7\n1,0.9\nnone,0.6\n2,0.2\n")
    campaign = csv_campaign(tmp_path, "codes", [InputSpec(name="furnace", role="categorical"), InputSpec(name="x")])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batch = campaign.suggest(n=5, strategy="random")
    assert not [w for w in caught if "match no candidate" in str(w.message)]
    assert sorted(batch.table["x"]) == [0.2, 0.6] and set(map(str, batch.table["furnace"])) == {"2", "none"}


def test_a_formula_that_does_not_parse_leaves_its_row_out_not_the_campaign(tmp_path, capsys):
    pool = [f"Li{x:.2f}Na{1 - x:.2f}CoO2" for x in np.linspace(0.05, 0.95, 19)]
    (tmp_path / "pool.csv").write_text("formula\n" + "\n".join(pool[:5] + ["Xx2O3"] + pool[5:]) + "\n")
    (tmp_path / "measured.csv").write_text(f"formula,y\n{pool[0]},1\n{pool[9]},3\nQq,2\n{pool[18]},2\n")
    campaign = csv_campaign(tmp_path, "badformula", [InputSpec(name="formula", role="composition")])
    out = tmp_path / "s.csv"
    assert main(["suggest", str(campaign.directory), "-n", "2", "--surrogate", "gp", "-o", str(out)]) == 0
    text, err = capsys.readouterr()
    assert "composition input 'formula' does not parse at line 7" in err and "1 row(s) left out" in err
    assert "1 observation(s) whose composition does not parse are left out of the model (measured.csv line 4)" in text
    assert "3 observations" in text and not pd.read_csv(out)["formula"].isin(["Xx2O3", pool[0], pool[9]]).any()


def test_the_suggestions_file_with_values_filled_in_is_observed(tmp_path, capsys):
    """`suggest --out next.csv`, the lab fills in the target, `observe next.csv`: planner's own
    columns (predictions, reason, flags) are ignored, any other unknown column is still refused."""
    (tmp_path / "measured.csv").write_text("x,z,y\n1,2,3\n2,3,5\n3,1,4\n")
    (tmp_path / "pool.csv").write_text("x,z\n1.5,2\n2.5,2.5\n3.5,1\n4,4\n")
    campaign = csv_campaign(tmp_path, "roundtrip", [InputSpec(name="x"), InputSpec(name="z")])
    out = tmp_path / "next.csv"
    assert main(["suggest", str(campaign.directory), "-n", "2", "-o", str(out)]) == 0
    filled = pd.read_csv(out).assign(y=[6.0, 7.0])
    filled.to_csv(out, index=False)
    capsys.readouterr()
    assert main(["observe", str(campaign.directory), str(out)]) == 0, capsys.readouterr().err
    text = capsys.readouterr().out
    assert "2 pending suggestion(s) now observed" in text and "ignored the columns of planner's suggestions table" in text
    filled.assign(operator="ann").to_csv(out, index=False)
    assert main(["observe", str(campaign.directory), str(out)]) == 2
    assert "unknown column(s) ['operator']" in capsys.readouterr().err
