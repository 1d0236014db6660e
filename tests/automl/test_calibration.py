"""Conformal intervals, applicability domain and their storage with the saved model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import KFold, cross_val_predict

from planner.automl import load_fitted, refit
from planner.automl._conformal import (
    MIN_RESIDUALS,
    ClassificationCalibrator,
    RegressionCalibrator,
    check_levels,
    conformal_quantile,
    level_suffix,
)
from planner.automl._domain import ApplicabilityDomain
from planner.exceptions import SpecError

RIDGE = {"imputer": "median", "scaler": "standard", "fusion": "single", "model": "ridge"}


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, float("nan"), True, "0.9"])
def test_levels_outside_zero_one_are_refused(bad):
    with pytest.raises(SpecError, match="strictly between 0 and 1"):
        check_levels(bad)


def test_levels_and_suffixes():
    assert check_levels(None) == (0.9,)
    assert check_levels([0.8, 0.95, 0.8]) == (0.8, 0.95)
    assert level_suffix(0.9, 1) == "" and level_suffix(0.95, 2) == "_95" and level_suffix(0.975, 2) == "_97.5"


def test_quantile_is_the_finite_sample_conformal_one():
    scores = np.arange(1, 20, dtype=float)  # 19 scores: ceil(20 * 0.9) = 18th smallest
    assert conformal_quantile(scores, 0.9) == 18.0
    assert conformal_quantile(scores, 0.96) == np.inf  # ceil(20 * 0.96) = 20 > 19


@pytest.fixture(scope="module")
def lce_oof(kim_ce):
    """Out-of-fold predictions and forest spreads on the Kim LCE data (shared data)."""
    X, y = kim_ce
    folds = KFold(5, shuffle=True, random_state=0)
    pred = np.zeros(len(y))
    std = np.zeros(len(y))
    for train, test in folds.split(X):
        rf = RandomForestRegressor(n_estimators=50, random_state=0).fit(X.iloc[train], y.iloc[train])
        pred[test] = rf.predict(X.iloc[test])
        std[test] = np.std([t.predict(X.iloc[test].to_numpy()) for t in rf.estimators_], axis=0)
    groups = np.where(X.iloc[:, 0].to_numpy() > np.median(X.iloc[:, 0]), "high", "low")
    return pd.DataFrame({"y_true": y.to_numpy(), "prediction": pred, "std": std, "group": groups})


@pytest.mark.parametrize("normalised", [False, True], ids=["plain", "normalised"])
@pytest.mark.parametrize("mondrian", [False, True], ids=["pooled", "mondrian"])
def test_intervals_match_crepes_on_shared_data(lce_oof, normalised, mondrian):
    """Our calibrator gives crepes' intervals (same residuals, spreads + beta, bins)."""
    from crepes import ConformalRegressor

    frame = lce_oof if normalised else lce_oof.drop(columns="std")
    frame = frame if mondrian else frame.drop(columns="group")
    cal_rows, test_rows = frame.iloc[:120], frame.iloc[120:]
    ours = RegressionCalibrator(
        residuals=(cal_rows["y_true"] - cal_rows["prediction"]).to_numpy(),
        std=cal_rows["std"].to_numpy() if normalised else None,
        groups=cal_rows["group"].to_numpy() if mondrian else None,
        beta=0.1 * float(cal_rows["std"].median()) if normalised else 0.0,
    )
    sig_cal = cal_rows["std"].to_numpy() + ours.beta if normalised else None
    sig_test = test_rows["std"].to_numpy() + ours.beta if normalised else None
    bins_cal = cal_rows["group"].to_numpy() if mondrian else None
    bins_test = test_rows["group"].to_numpy() if mondrian else None
    theirs = ConformalRegressor().fit((cal_rows["y_true"] - cal_rows["prediction"]).to_numpy(), sigmas=sig_cal, bins=bins_cal)
    # levels a hair off 0.8/0.9/0.95: crepes takes int((1 - c) * (n + 1)), which floors 4.999999999999999
    # (float for 5) and so is one rank more conservative than the exact quantile at round levels
    for level in (0.801, 0.9005, 0.951):
        lo, hi, ok, _ = ours.intervals(test_rows["prediction"].to_numpy(), test_rows["std"].to_numpy() if normalised else None, level, groups=bins_test)
        ref = theirs.predict_int(test_rows["prediction"].to_numpy(), sigmas=sig_test, bins=bins_test, confidence=level)
        np.testing.assert_allclose(lo, ref[:, 0], rtol=1e-10)
        np.testing.assert_allclose(hi, ref[:, 1], rtol=1e-10)
        assert ok.all()


def test_normalisation_is_used_only_where_the_spread_tracks_the_errors(lce_oof):
    rng = np.random.default_rng(0)
    spread = rng.uniform(0.05, 1.0, 400)
    informative = pd.DataFrame({"y_true": rng.normal(0, spread), "prediction": 0.0, "std": spread})
    cal = RegressionCalibrator.from_oof(informative)
    assert cal.is_normalised and "normalised by the model's spread" in cal.notes[0]
    lo, hi, _, _ = cal.intervals(np.zeros(2), np.array([0.05, 1.0]), 0.9)
    assert (hi - lo)[1] > 5 * (hi - lo)[0]  # wider where the model is unsure
    noise = informative.assign(std=rng.permutation(spread))  # a spread unrelated to the errors
    assert not RegressionCalibrator.from_oof(noise).is_normalised


def test_mondrian_falls_back_to_pooled_for_small_and_unseen_groups(lce_oof):
    frame = lce_oof.copy()
    frame.loc[: MIN_RESIDUALS - 2, "group"] = "tiny"  # 19 rows
    cal = RegressionCalibrator.from_oof(frame.drop(columns="std"))
    pooled, per_group = cal.quantiles(0.9)
    assert "tiny" not in per_group and {"high", "low"} <= set(per_group)
    lo, hi, _, notes = cal.intervals(np.zeros(3), None, 0.9, groups=["tiny", "new", "high"])
    assert hi[0] == pytest.approx(pooled) and hi[1] == pytest.approx(pooled) and hi[2] == pytest.approx(per_group["high"])
    assert any("tiny" in n and "fewer than" in n for n in notes) and any("new" in n and "not in the training data" in n for n in notes)


def test_too_few_residuals_are_marked_uncalibrated():
    oof = pd.DataFrame({"y_true": [1.0, 2.0, 3.0, 4.0, 5.0], "prediction": [1.5, 1.5, 3.5, 3.0, 5.5]})
    lo, hi, ok, _ = RegressionCalibrator.from_oof(oof).intervals(np.array([2.0]), None, 0.9)
    assert not ok.any() and hi[0] - lo[0] == pytest.approx(2.0)  # the largest residual, both ways


def test_classification_refit_gives_sets_and_calibrated_probabilities(llzo_features, llzo):
    params = {"imputer": "median", "encoder": "onehot", "scaler": "standard", "fusion": "single", "model": "logistic"}
    fitted = refit(params, llzo_features, llzo["good_cond"], task="classification")
    out = fitted.predict(llzo_features.head(6), interval=[0.8, 0.99])
    assert {"set_80", "set_size_80", "set_99", "calibrated_proba_0", "calibrated_proba_1", "in_domain"} <= set(out.columns)
    assert (out["set_size_99"] >= out["set_size_80"]).all() and out["interval_calibrated"].all()
    assert all(set(s.split("|")) <= {"0", "1"} for s in out["set_80"])


def test_prediction_sets_cover_on_shared_classification_data(llzo_features, llzo):
    """LAC sets from out-of-fold probabilities cover about the nominal share of held-out rows."""
    from sklearn.ensemble import RandomForestClassifier

    X = llzo_features.select_dtypes("number").fillna(0.0)
    y = llzo["good_cond"].astype(str)
    proba = cross_val_predict(RandomForestClassifier(n_estimators=100, random_state=0), X, y, cv=KFold(5, shuffle=True, random_state=1), method="predict_proba")
    oof = pd.DataFrame({"y_true": y, **{f"proba_{c}": proba[:, j] for j, c in enumerate(["0", "1"])}})
    coverages = []
    for half in (0, 1):  # calibrate on one half, test on the other
        cal_idx = np.arange(len(y)) % 2 == half
        cal = ClassificationCalibrator.from_oof(oof[cal_idx], ["0", "1"])
        sets, ok, _ = cal.sets(proba[~cal_idx], 0.9)
        coverages.append(np.mean([t in s for t, s in zip(y[~cal_idx], sets, strict=True)]))
        assert ok.all()
        calibrated = cal.calibrated_proba(proba[~cal_idx])
        np.testing.assert_allclose(calibrated.sum(axis=1), 1.0)
    assert 0.8 <= np.mean(coverages) <= 1.0, coverages


def test_domain_flags_ranges_categories_and_distance(llzo_features):
    roles = {c: ("numeric" if pd.api.types.is_numeric_dtype(llzo_features[c]) else "categorical") for c in llzo_features.columns}
    train, held = llzo_features.iloc[:140], llzo_features.iloc[140:]
    domain = ApplicabilityDomain.fit(train, roles)
    assert domain.check(train)["in_domain"].all()  # each training row is its own nearest neighbour
    assert domain.check(held)["in_domain"].mean() > 0.5
    odd = train.iloc[[0, 1]].copy()
    numeric = next(c for c, r in roles.items() if r == "numeric")
    categorical = next(c for c, r in roles.items() if r == "categorical")
    odd.loc[odd.index[0], numeric] = domain.numeric[numeric]["max"] + 10 * domain.numeric[numeric]["std"]
    odd.loc[odd.index[1], categorical] = "Unobtainium"
    flags = domain.check(odd)
    assert not flags["in_domain"].any()
    assert "above the training range" in flags["domain_reason"].iloc[0] and "nearest training row" in flags["domain_reason"].iloc[0]
    assert "never seen in training" in flags["domain_reason"].iloc[1]
    again = ApplicabilityDomain.from_dict(json.loads(json.dumps(domain.to_dict())))
    pd.testing.assert_frame_equal(again.check(odd), flags, atol=1e-5)


def test_domain_knows_elements_of_compositions():
    X = pd.DataFrame({"formula": ["LiFePO4", "LiMnPO4", "LiCoO2", "NaFePO4"] * 5, "t": np.arange(20.0)})
    domain = ApplicabilityDomain.fit(X, {"formula": "composition", "t": "numeric"})
    flags = domain.check(pd.DataFrame({"formula": ["LiFePO4", "LiNiPO4", "Xx2"], "t": [3.0, 3.0, 3.0]}))
    assert flags["in_domain"].tolist() == [True, False, False]
    assert "Ni" in flags["domain_reason"].iloc[1] and "does not parse" in flags["domain_reason"].iloc[2]


@pytest.mark.parametrize("ensemble", [True, False], ids=["ensemble", "single"])
def test_refit_stores_oof_and_domain_and_predict_uses_them(lce_study, kim_ce, tmp_path, ensemble):
    X, y = kim_ce
    fitted = refit(lce_study, X, y, ensemble=ensemble)
    assert fitted.spec["version"] == 2 and fitted.spec["calibration"]["source"] in {"trials", "recomputed"}
    assert len(fitted.oof) == len(y) and {"y_true", "prediction", "fold"} <= set(fitted.oof.columns)
    np.testing.assert_allclose(fitted.oof["y_true"], y)
    paths = fitted.save(tmp_path)
    assert {"oof", "domain"} <= set(paths)
    loaded = load_fitted(tmp_path)
    out = loaded.predict(X.iloc[::15], interval=[0.8, 0.95], bounds=(None, float(y.quantile(0.5))))
    assert {"lower_80", "upper_80", "lower_95", "upper_95", "in_domain", "out_of_range", "clipped", "note"} <= set(out.columns)
    assert (out["lower_95"] <= out["lower_80"] + 1e-12).all() and (out["upper_80"] <= out["upper_95"] + 1e-12).all()
    assert (out["lower_80"] <= out["prediction"]).all() and (out["prediction"] <= out["upper_80"]).all()
    assert out["in_domain"].all() and out["interval_calibrated"].all()
    assert (out["prediction"] <= y.quantile(0.5)).all() and out["clipped"].any()
    assert out.loc[out["clipped"], "note"].str.contains("clipped to the declared bound upper").all()
    # Without a level: the bare columns, as before.
    assert list(loaded.predict(X.head(3)).columns) == ["prediction", "std"]


def test_far_predictions_are_flagged(kim_ce):
    X, y = kim_ce
    fitted = refit(RIDGE, X, y, task="regression")
    wild = X.head(2).copy()
    wild.iloc[:, 0] = wild.iloc[:, 0] * 1e4  # extrapolating a linear model far outside the data
    out = fitted.predict(wild, interval=0.9)
    assert out["out_of_range"].all() and not out["in_domain"].any()
    assert out["note"].str.contains("far outside the observed targets").all()


def test_model_saved_before_calibration_still_predicts(lce_study, kim_ce, tmp_path):
    X, y = kim_ce
    refit(lce_study, X, y).save(tmp_path)
    spec = json.loads((tmp_path / "pipeline.json").read_text())
    for key in ("calibration", "domain", "target_range"):
        spec.pop(key)
    (tmp_path / "pipeline.json").write_text(json.dumps({**spec, "version": 1}))
    (tmp_path / "oof.csv").unlink()
    (tmp_path / "domain.json").unlink()
    old = load_fitted(tmp_path)
    assert old.oof is None and old.domain is None
    out = old.predict(X.head(4), interval=0.9)
    assert out["prediction"].notna().all() and not out["interval_calibrated"].any()
    assert out["note"].str.contains("run `planner run` again").all()


def test_ridge_gets_intervals_too(kim_ce):
    """A model without a spread of its own still gets calibrated intervals (plain residuals)."""
    X, y = kim_ce
    fitted = refit(RIDGE, X, y, task="regression")
    assert fitted.spec["calibration"]["source"] == "recomputed"
    out = fitted.predict(X.head(5), interval=0.9)
    assert out["std"].isna().all() and out["interval_calibrated"].all()
    width = (out["upper"] - out["lower"]).to_numpy()
    assert np.allclose(width, width[0]) and (width > 0).all()


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["kim_ce", "llzo"])
def test_90_percent_intervals_cover_held_out_rows(request, dataset):
    """Nested: outer folds never seen by the refit or its calibration; 90 % intervals cover 80-100 %
    of held-out rows on average, where the model's own ``± 1.645 std`` covers far less."""
    if dataset == "kim_ce":
        X, y = request.getfixturevalue("kim_ce")
    else:
        frame = request.getfixturevalue("llzo")
        X, y = frame.drop(columns=["source", "conductivity", "log_cond", "good_cond"]), frame["log_cond"]
    params = {"imputer": "median", "encoder": "onehot", "fusion": "single", "model": "rf", "model.rf.n_estimators": 50}
    coverage, naive = [], []
    for train, test in KFold(5, shuffle=True, random_state=18012019).split(X):
        fitted = refit(params, X.iloc[train].reset_index(drop=True), y.iloc[train].reset_index(drop=True), task="regression", seed=0)
        out = fitted.predict(X.iloc[test], interval=0.9)
        yt = y.iloc[test].to_numpy()
        coverage.append(np.mean((yt >= out["lower"]) & (yt <= out["upper"])))
        naive.append(np.mean(np.abs(yt - out["prediction"]) <= 1.645 * out["std"]))
    assert 0.8 <= np.mean(coverage) <= 1.0 and min(coverage) >= 0.65, coverage
    assert np.mean(naive) < np.mean(coverage), (naive, coverage)


def test_declared_bounds_travel_with_the_saved_model(kim_ce, tmp_path):
    X, y = kim_ce
    cap = float(y.median())
    refit(RIDGE, X, y, task="regression", bounds=(None, cap)).save(tmp_path)
    loaded = load_fitted(tmp_path)
    assert loaded.bounds == (None, cap)
    assert (loaded.predict(X)["prediction"] <= cap).all()  # the bare columns are clipped too
    out = loaded.predict(X, interval=0.9)
    assert (out["prediction"] <= cap).all() and (out["upper"] <= cap).all() and out["clipped"].any()


def test_rows_outside_the_domain_get_the_out_of_domain_quantile():
    rng = np.random.default_rng(1)
    inside = np.r_[np.ones(200, bool), np.zeros(60, bool)]
    y = np.where(inside, rng.normal(0, 1, 260), rng.normal(0, 5, 260))  # out of domain: 5x the error
    cal = RegressionCalibrator.from_oof(pd.DataFrame({"y_true": y, "prediction": 0.0, "in_domain": inside}))
    lo, hi, _, notes = cal.intervals(np.zeros(2), None, 0.9, in_domain=np.array([True, False]))
    assert (hi - lo)[1] > 2.5 * (hi - lo)[0] and "outside the applicability domain use the quantile" in notes[0]
    few = RegressionCalibrator.from_oof(pd.DataFrame({"y_true": y[:215], "prediction": 0.0, "in_domain": inside[:215]}))
    lo, hi, _, notes = few.intervals(np.zeros(2), None, 0.9, in_domain=np.array([True, False]))
    assert (hi - lo)[1] == pytest.approx((hi - lo)[0]) and "not widened" in notes[0]


def test_a_model_whose_calibration_did_not_fit_still_flags_its_domain(lce_study, kim_ce, tmp_path, monkeypatch):
    from planner.automl import _final, fit_final

    def no_copy(study):  # the calibration step cannot run (the same path as a calibration past the deadline)
        raise RuntimeError("study copy refused")

    monkeypatch.setattr(_final, "_snapshot", no_copy)
    X, y = kim_ce
    fitted = fit_final(lce_study, X, y, ensemble=False, timeout_s=600.0)
    assert fitted.oof is None and fitted.spec["calibration"]["source"] is None and "study copy refused" in fitted.spec["calibration"]["note"]
    fitted.save(tmp_path)
    loaded = load_fitted(tmp_path)
    assert loaded.domain is not None
    wild = X.head(3).copy()
    wild.iloc[0, 0] = X.iloc[:, 0].max() + 50 * X.iloc[:, 0].std()
    out = loaded.predict(wild, interval=0.9)
    assert out["in_domain"].tolist() == [False, True, True] and not out["interval_calibrated"].any()
    assert X.columns[0] in out["domain_reason"].iloc[0]
