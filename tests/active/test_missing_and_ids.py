"""Missing inputs are imputed for the surrogate, pool suggestions carry the id column, reasons
read right for minimised targets, and heavy-tailed targets give no NaN (issue 14, items 3-4)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from planner.active import PoolDesign, suggest
from planner.exceptions import DataValidationError, SpecError


@pytest.fixture(scope="module")
def pool() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.random((400, 2)), columns=["a", "b"])
    frame["dopant"] = rng.choice(["none", "ta", "ga"], size=len(frame))
    return frame


def _y(frame: pd.DataFrame) -> pd.DataFrame:
    a, b = frame["a"].fillna(0.5).to_numpy(), frame["b"].fillna(0.5).to_numpy()
    return pd.DataFrame({"y": -((a - 0.3) ** 2) - (b - 0.6) ** 2 + (frame["dopant"] == "ta") * 0.05}, index=frame.index)


def test_missing_inputs_are_imputed_not_dropped(pool):
    obs = pool.sample(20, random_state=0).copy()
    y = _y(obs)
    obs.iloc[:4, 1] = np.nan  # b unmeasured in 4 rows
    obs.iloc[5, 2] = np.nan  # one dopant not recorded
    with pytest.warns(UserWarning, match="match no candidate"):  # rows with gaps match no pool row
        result = suggest(obs, y, design=PoolDesign(pool), targets="y", n=3, seed=0)
    meta = result.metadata
    assert meta["n_observations"] == 20 and meta["imputed_inputs"] == {"b": 4, "dopant": 1}
    note = next(n for n in meta["notes"] if n.startswith("missing inputs imputed"))
    expected_median = np.median(obs["b"].dropna())
    assert f"b (4 row(s), filled with {expected_median:.4g})" in note
    assert "indicator feature(s) for ['b']" in note  # 4 missing rows: an indicator; 1 missing dopant: none
    assert not any("dropped" in n for n in meta["notes"])
    assert not result.table.drop(columns="reason").isna().any().any()


def test_empty_cells_beside_a_pool_level_no_observation_has_are_pointed_out(pool):
    # LLZO writes "no dopant" as an empty cell; a pool may write "none". planner does not equate
    # them, but says that the pool's "none" rows look unlike every measured row, and how to fix it.
    obs = pool[pool["dopant"] != "none"].sample(20, random_state=0).copy()
    y = _y(obs)
    obs.iloc[:6, 2] = np.nan
    with pytest.warns(UserWarning, match=r"input 'dopant' is empty in 6 observation\(s\) \(imputed as '(ta|ga)' for the "
                      r"surrogate\) while the pool's level\(s\) \['none'\] occur in no observation; .*write that level"):
        result = suggest(obs, y, design=PoolDesign(pool), targets="y", n=3, seed=0)
    assert any("['none'] occur in no observation" in n for n in result.metadata["notes"])
    new_level = pool.assign(dopant=pool["dopant"].replace("none", "nb"))  # a new dopant is no absence
    import warnings as _w

    with _w.catch_warnings(record=True) as caught:
        _w.simplefilter("always")
        suggest(obs, y, design=PoolDesign(new_level), targets="y", n=3, seed=0)
    assert not any("occur in no observation" in str(w.message) for w in caught)
    filled = obs.fillna({"dopant": "none"})  # written out: nothing to point out
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        suggest(filled, y, design=PoolDesign(pool), targets="y", n=3, seed=0)
    assert not any("occur in no observation" in str(w.message) for w in caught)


def test_the_encoder_imputes_like_the_automl_defaults(pool):
    from planner.active._encoding import build_encoder
    from planner.active._impute import ImputingEncoder, fit_imputation

    obs = pd.DataFrame({"a": [0.1, np.nan, 0.5, np.nan], "b": [0.2, 0.3, 0.4, 0.5], "dopant": ["ta", None, "ga", "ta"]})
    imp = fit_imputation(obs, ["a", "b", "dopant"], ["dopant"])
    assert imp.fills == {"a": pytest.approx(0.3), "dopant": "ta"} and imp.indicators == ("a",)
    design = PoolDesign(pool)
    enc = ImputingEncoder.wrap(build_encoder(design, [imp.fill(obs)]), imp)
    X = enc.transform(obs)
    assert enc.feature_names[-1] == "missing:a" and X[:, -1].tolist() == [0, 1, 0, 1]
    assert X[1, 0] == pytest.approx(0.3) and np.isfinite(X).all()
    assert enc.transform(pool.iloc[:5])[:, -1].tolist() == [0] * 5  # candidates are complete
    pd.testing.assert_frame_equal(enc.decode(enc.transform(pool.iloc[:3])), pool.iloc[:3].reset_index(drop=True))


def test_a_column_missing_everywhere_is_named_with_the_fix(pool):
    obs = pool.sample(6, random_state=2).copy()
    y = _y(obs)
    obs["b"] = np.nan
    with pytest.raises(DataValidationError, match=r"input column 'b' is missing in all 6 observations.*fill in its values"):
        suggest(obs, y, design=PoolDesign(pool), targets="y", n=2, seed=0)


def test_pool_suggestions_carry_the_id_column(pool):
    ids = pool.assign(sample=[f"P{i:04d}" for i in range(len(pool))])
    obs = pool.sample(12, random_state=3)
    design = PoolDesign(ids, id_column="sample")
    assert design.inputs == ("a", "b", "dopant")
    table = suggest(obs, _y(obs), design=design, targets="y", n=4, seed=0).table
    assert list(table.columns[:2]) == ["candidate", "sample"]
    assert table["sample"].tolist() == ids.loc[table["candidate"], "sample"].tolist()


def test_a_repeated_or_missing_id_is_a_clear_error(pool):
    ids = pool.assign(sample=[f"P{i % 390:04d}" for i in range(len(pool))])
    with pytest.raises(DataValidationError, match=r"id column 'sample' repeats value\(s\) \['P0000'.*10 in all; 'P0000' in rows \[0, 390\]"):
        PoolDesign(ids, id_column="sample")
    with pytest.raises(DataValidationError, match="has no id column 'name'"):
        PoolDesign(pool, id_column="name")
    with pytest.raises(SpecError, match="is also an input"):
        PoolDesign(pool, inputs=("a", "b"), id_column="a")


def test_reasons_read_right_for_a_minimised_target(pool):
    obs = pool.sample(15, random_state=4)
    y = -_y(obs)  # the same landscape, minimised
    table = suggest(obs, y, design=PoolDesign(pool), targets=[("y", "min")], n=5, seed=0, strategy="greedy").table
    assert table["reason"].str.contains(r"better than \d+ % of candidates").all()
    assert not table["reason"].str.contains("100 %|above 100").any()
    assert "better than 99 % of candidates" in table["reason"].iloc[0]  # the best of 385 by predicted value
    assert table["reason"].str.startswith("low predicted value").all()  # not "high" for a minimised target
    explore = suggest(obs, y, design=PoolDesign(pool), targets=[("y", "min")], n=3, seed=0, strategy="max_variance")
    assert "uncertainty above 99 % of candidates" in explore.table["reason"].iloc[0]  # not "100 %": the pick is one
    # An acquisition's reason names what drives it: a value head only where the value share is
    # at least half, an uncertainty head only where the uncertainty share is; else both.
    for n, seed in ((8, 0), (8, 1)):
        mixed = suggest(obs, y, design=PoolDesign(pool), targets=[("y", "min")], n=n, seed=seed, surrogate="gp").table
        for reason in mixed["reason"]:
            shares = [int(v) for v in re.findall(r"(\d+) % of candidates", reason)]
            if reason.startswith(("low predicted value", "high predicted value")):
                assert shares[0] >= 50, reason
            elif reason.startswith("high uncertainty"):
                assert shares[0] >= 50, reason
            else:
                assert reason.startswith("value and uncertainty together: ") and "more uncertain than" in reason, reason


def test_heavy_tailed_target_with_zeros_and_negatives_gives_no_nan(pool):
    obs = pool.sample(25, random_state=5)
    y = _y(obs)
    z = (y["y"] - y["y"].mean()) / y["y"].std()
    heavy = pd.DataFrame({"y": np.exp(3.0 * z) - 1.0}, index=obs.index)  # a long right tail above -1
    heavy.iloc[:3, 0] = 0.0
    assert (heavy["y"] < 0).any() and (heavy["y"] == 0).any() and heavy["y"].max() > 10 * heavy["y"].abs().median()
    for direction in ("max", "min"):
        table = suggest(obs, heavy, design=PoolDesign(pool), targets=[("y", direction)], n=3, seed=0).table
        assert np.isfinite(table.select_dtypes("number").to_numpy()).all()


@pytest.mark.slow
def test_llzo_campaign_uses_all_176_observations(datasets_dir, tmp_path):
    """The real LLZO file as `planner init` reads it: empty dopants and 63 missing densities."""
    from planner.campaign import Campaign

    csv = datasets_dir / "llzo_doped_conductivity" / "llzo_dataset_clean.csv"
    campaign = Campaign.from_csv(tmp_path / "llzo", csv, ["log_cond:max"])
    spec = campaign.spec
    data = campaign.labelled_data()
    inputs = spec.input_names
    categorical = tuple(i.name for i in spec.inputs if i.role != "numeric")
    assert len(data) == 176 and data["rel_dens_%"].isna().sum() == 63 and data[list(categorical)].isna().any().any()
    # Candidates: the measured recipes with 0.1 more lithium, dopants written out ("none" is a level).
    cands = data[inputs].copy()
    cands[list(categorical)] = cands[list(categorical)].fillna("none")
    cands["rel_dens_%"] = cands["rel_dens_%"].fillna(95.0)
    cands["li_sto"] += 0.1
    design = PoolDesign(cands.drop_duplicates().reset_index(drop=True), inputs=tuple(inputs), categorical=categorical)
    with pytest.warns(UserWarning):
        result = suggest(data[inputs], data[["log_cond"]], design=design, targets="log_cond", n=3, seed=0)
    meta = result.metadata
    assert meta["n_observations"] == 176 and meta["imputed_inputs"]["rel_dens_%"] == 63
    assert meta["strategy_used"] == "qlognei" and not meta["fallbacks"]
    assert not any("dropped" in n for n in meta["notes"])
    # The file's empty dopant cells beside the pool's written-out "none": pointed out per column.
    assert sorted(n.split("'")[1] for n in meta["notes"] if "['none'] occur in no observation" in n) == sorted(categorical)
    assert np.isfinite(result.table["log_cond_mean"]).all()


def _id_campaign(tmp_path, datasets_dir, pool_ids: list[str]):
    from planner.campaign import Campaign
    from planner.spec import CampaignSpec, DataSource, DataSpec, DesignSpace, InputSpec, TargetSpec

    inputs = ["Prime Delay", "Print Speed", "X Offset Correction", "Y Offset Correction"]
    full = pd.read_csv(datasets_dir / "liang2021_pvlab" / "AutoAM_dataset.csv")
    full.insert(0, "print_id", pool_ids)
    full.sample(10, random_state=0).to_csv(tmp_path / "measured.csv", index=False)
    full[["print_id", *inputs]].to_csv(tmp_path / "pool.csv", index=False)
    spec = CampaignSpec(
        name="ids",
        data=DataSpec(sources=[DataSource(path=str(tmp_path / "measured.csv"), label="lab")], id_column="print_id"),
        inputs=[InputSpec(name=c) for c in inputs],
        targets=[TargetSpec(name="Score", direction="max")],
        design_space=DesignSpace(pool=str(tmp_path / "pool.csv")),
    )
    return Campaign.create(tmp_path / "camp", spec), full


def test_cli_suggestions_carry_the_campaign_id_column(datasets_dir, tmp_path, capsys):
    from planner.cli import main

    campaign, full = _id_campaign(tmp_path, datasets_dir, [f"print-{i:03d}" for i in range(100)])
    out = tmp_path / "s.csv"
    assert main(["suggest", str(campaign.directory), "-n", "3", "-o", str(out)]) == 0
    table = pd.read_csv(out)
    assert table["print_id"].tolist() == full.loc[table["candidate"], "print_id"].tolist()


def test_cli_exits_2_on_a_pool_whose_ids_repeat(datasets_dir, tmp_path, capsys):
    from planner.cli import main

    campaign, _ = _id_campaign(tmp_path, datasets_dir, [f"print-{i % 99:03d}" for i in range(100)])
    assert main(["suggest", str(campaign.directory), "-n", "3"]) == 2
    err = capsys.readouterr().err
    assert "id column 'print_id' repeats value(s) ['print-000']" in err and "Traceback" not in err


@pytest.mark.slow
def test_robust_surrogate_is_chosen_by_held_out_density_and_said(pool):
    """A heavy-tailed positive objective (minimised): the choice is recorded in the metadata and
    every reason, and the table is in the data's scale, finite, with zeros and negatives too."""
    obs = pool.sample(30, random_state=6)
    z = -_y(obs)["y"].to_numpy()
    heavy = pd.DataFrame({"y": 1e4 * 100.0 ** ((z - z.min()) / np.ptp(z))}, index=obs.index)  # 1e4 .. 1e6
    result = suggest(obs, heavy, design=PoolDesign(pool), targets=[("y", "min")], n=3, seed=0, surrogate="robust")
    choice = result.metadata["model_choice"]
    assert set(choice["held_out_log_density"]) >= {"GP", "GP on bilog(y)", "random forest"}
    assert choice["chosen"] == max(choice["held_out_log_density"], key=choice["held_out_log_density"].get)
    assert choice["chosen"] != "GP"  # the tail makes a transformed model predict held-out rows better
    assert result.table["reason"].str.endswith(f"model: {choice['chosen']} (best held-out log predictive density)").all()
    table = result.table
    assert np.isfinite(table.select_dtypes("number").to_numpy()).all()
    assert (table["y_mean"] > 0.5 * heavy["y"].min()).all() and (table["y_mean"] < 2 * heavy["y"].max()).all()
    signed = heavy.assign(y=heavy["y"] - heavy["y"].median())  # zeros and negatives
    signed.iloc[:2, 0] = 0.0
    table = suggest(obs, signed, design=PoolDesign(pool), targets="y", n=3, seed=0, surrogate="robust").table
    assert np.isfinite(table.select_dtypes("number").to_numpy()).all()


@pytest.mark.slow
def test_robust_keeps_the_plain_gp_where_transforms_would_misread_the_scale(pool):
    obs = pool.sample(20, random_state=7)
    y = _y(obs).assign(t=obs["a"].to_numpy())
    constrained = suggest(
        obs, y, design=PoolDesign(pool), targets="y", outcome_constraints=[("t", "<=", 0.5)], n=2, seed=0,
        surrogate="robust",
    )
    assert "Yeo" not in constrained.metadata["model"] and "bilog" not in constrained.metadata["model"]
    multi = suggest(obs, y, design=PoolDesign(pool), targets=["y", "t"], n=2, seed=0, surrogate="robust")
    assert multi.metadata["model_choice"]["chosen"] == "GP"


def test_a_pool_row_whose_id_is_measured_is_not_suggested_again(tmp_path):
    """Measured with a gap (b left empty), the pool's row of the same id is that experiment:
    matching by inputs alone suggested it again."""
    from planner.campaign import Campaign
    from planner.spec import CampaignSpec, DataSource, DataSpec, DesignSpace, InputSpec, TargetSpec

    pd.DataFrame({"pid": ["P1", "P2", "P3", "P4"], "a": [0.1, 0.5, 0.9, 0.3], "b": [np.nan, 2.0, 3.0, 1.5],
                  "y": [9.0, 2.0, 0.5, 1.2]}).to_csv(tmp_path / "measured.csv", index=False)
    pool = pd.DataFrame({"pid": [f"P{i}" for i in range(1, 9)], "a": [0.1, 0.5, 0.9, 0.3, 0.7, 0.2, 0.15, 0.05],
                         "b": [1.0, 2.0, 3.0, 1.5, 2.5, 3.5, 1.2, 0.8]})
    pool.to_csv(tmp_path / "pool.csv", index=False)
    spec = CampaignSpec(
        name="ids",
        data=DataSpec(sources=[DataSource(path=str(tmp_path / "measured.csv"), label="lab")], id_column="pid"),
        inputs=[InputSpec(name="a"), InputSpec(name="b")],
        targets=[TargetSpec(name="y", direction="max")],
        design_space=DesignSpace(pool=str(tmp_path / "pool.csv")),
    )
    campaign = Campaign.create(tmp_path / "camp", spec)
    with pytest.warns(UserWarning, match=r"1 row\(s\) carry the pid of a measured or pending experiment but other inputs "
                      r"\(first \['P1'\]"):
        table, _ = campaign.suggest(n=4, surrogate="gp")
    assert "P1" not in set(table["pid"]) and set(table["pid"]) <= {"P5", "P6", "P7", "P8"}
    assert sorted(table["candidate"]) == sorted(pool.index[pool["pid"].isin(table["pid"])])  # pool positions kept


@pytest.mark.slow
def test_robust_transforms_also_run_with_conformal_intervals(pool):
    """The CLI always calibrates (0.9): the transforms used to be switched off there. The
    interval is built on the transformed scale and mapped back: skewed like the data."""
    obs = pool.sample(30, random_state=6)
    z = -_y(obs)["y"].to_numpy()
    heavy = pd.DataFrame({"y": 1e4 * 100.0 ** ((z - z.min()) / np.ptp(z))}, index=obs.index)  # 1e4 .. 1e6
    for direction in ("min", "max"):
        result = suggest(obs, heavy, design=PoolDesign(pool), targets=[("y", direction)], n=3, seed=0,
                         surrogate="robust", calibration=0.9)
        choice = result.metadata["model_choice"]
        assert {"GP on bilog(y)", "GP on yeo-johnson(y)"} & set(choice["held_out_log_density"])
        t = result.table
        assert np.isfinite(t[["y_mean", "y_lower", "y_upper"]].to_numpy()).all()
        assert (t["y_lower"] <= t["y_mean"]).all() and (t["y_mean"] <= t["y_upper"]).all()
        if choice["chosen"] != "GP" and choice["chosen"] != "random forest":
            assert not np.allclose(t["y_upper"] - t["y_mean"], t["y_mean"] - t["y_lower"])  # skewed, not mean +- q sd
        assert result.metadata["calibration"]["y"]["coverage"] == 0.9
