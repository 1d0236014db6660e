"""Imputation strategies and missingness filtering; imputation never sees the test fold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import ExtraTreesRegressor
from sklearn.model_selection import GroupKFold, KFold, cross_val_score
from sklearn.pipeline import make_pipeline

from planner.exceptions import DataQualityWarning, SpecError
from planner.steps import IMPUTE_STRATEGIES, ColumnFilter, Imputer

LLZO_FEATURES = ["li_sto", "la_sto", "zr_sto", "li_dop_sto", "la_dop_sto", "zr_dop_sto", "rel_dens_%"]


@pytest.fixture
def small() -> pd.DataFrame:
    return pd.DataFrame(
        {"a": [1.0, 2.0, np.nan, 4.0, 5.0], "b": [10.0, np.nan, 30.0, 40.0, 50.0], "c": [1.0, 1.0, 2.0, 2.0, np.nan]}
    )


def test_llzo_relative_density_has_63_missing(llzo):
    assert len(llzo) == 176
    assert int(llzo["rel_dens_%"].isna().sum()) == 63


@pytest.mark.parametrize("strategy", IMPUTE_STRATEGIES)
def test_every_strategy_fills_llzo_and_keeps_observed_values(llzo, strategy):
    X = llzo[LLZO_FEATURES]
    imputer = Imputer(strategy=strategy, random_state=0, n_estimators=10, max_iter=3).set_output(transform="pandas")
    out = imputer.fit_transform(X)
    assert out.shape == X.shape
    assert not out.isna().any().any()
    observed = X.notna()
    np.testing.assert_allclose(out.to_numpy()[observed.to_numpy()], X.to_numpy()[observed.to_numpy()])
    assert imputer.n_missing_[LLZO_FEATURES.index("rel_dens_%")] == 63


def test_mean_imputation_inside_cv_uses_only_the_training_fold(llzo):
    """The fill value in each fold equals the training fold's mean, never the full-data mean."""
    X = llzo[LLZO_FEATURES]
    groups = llzo["source"].fillna("unknown")
    col = LLZO_FEATURES.index("rel_dens_%")
    for train, test in GroupKFold(n_splits=5).split(X, groups=groups):
        imputer = Imputer(strategy="mean").fit(X.iloc[train])
        expected = X.iloc[train]["rel_dens_%"].mean()
        assert imputer.imputer_.statistics_[col] == pytest.approx(expected)
        # Filling the test fold changes nothing about what was learned from training.
        test_out = imputer.transform(X.iloc[test])
        missing = X.iloc[test]["rel_dens_%"].isna().to_numpy()
        assert np.allclose(test_out[missing, col], expected)


@pytest.mark.parametrize("strategy", ["knn", "iterative"])
def test_imputed_test_rows_do_not_depend_on_other_test_rows(llzo, strategy):
    """A test row's imputed value depends on the training fold and itself, not on its neighbours in the test fold."""
    X = llzo[LLZO_FEATURES].to_numpy()
    train, test = next(KFold(5, shuffle=True, random_state=0).split(X))
    imputer = Imputer(strategy=strategy, random_state=0, n_estimators=10, max_iter=3).fit(X[train])
    before = imputer.transform(X[test])
    scrambled = X[test].copy()
    scrambled[1:] = scrambled[1:] * 1000.0  # wildly change every other test row
    after = imputer.transform(scrambled)
    np.testing.assert_allclose(after[0], before[0])


def test_pipeline_with_imputer_cross_validates(llzo):
    X = llzo[LLZO_FEATURES]
    y = llzo["log_cond"]
    pipe = make_pipeline(
        Imputer(strategy="iterative", n_estimators=10, max_iter=3, random_state=0),
        ExtraTreesRegressor(n_estimators=20, random_state=0),
    )
    scores = cross_val_score(pipe, X, y, cv=KFold(3, shuffle=True, random_state=0), scoring="r2")
    assert np.isfinite(scores).all()


def test_add_indicator_appends_missingness_columns(small):
    out = Imputer(strategy="median", add_indicator=True).set_output(transform="pandas").fit_transform(small)
    assert list(out.columns) == ["a", "b", "c", "missingindicator_a", "missingindicator_b", "missingindicator_c"]
    assert out["missingindicator_a"].tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]


def test_knn_imputation_is_scale_aware():
    # Column b is 1000x larger; unscaled it would decide the neighbours alone.
    X = pd.DataFrame(
        {"a": [0.0, 0.1, 1.0, 1.1, np.nan], "b": [0.0, 1000.0, 0.0, 1000.0, 990.0], "c": [0.0, 0.0, 1.0, 1.0, 1.0]}
    )
    scaled = Imputer(strategy="knn", n_neighbors=1).fit_transform(X)
    assert scaled[4, 0] == pytest.approx(1.1)


def test_lightgbm_mice_forest(llzo):
    X = llzo[LLZO_FEATURES]
    out = Imputer(
        strategy="iterative", estimator="lightgbm", n_estimators=20, max_iter=2, random_state=0
    ).fit_transform(X)
    assert not np.isnan(out).any()


def test_all_missing_training_column_is_dropped_with_a_warning(small):
    X = small.assign(empty=np.nan)
    imputer = Imputer().set_output(transform="pandas")
    with pytest.warns(DataQualityWarning, match="'empty' have no values in the training data"):
        out = imputer.fit_transform(X)
    assert "empty" not in out.columns
    assert imputer.dropped_columns_ == {"empty": "every value is missing in the training data, so it cannot be imputed"}


@pytest.mark.parametrize(
    ("params", "match"),
    [
        pytest.param({"strategy": "mice"}, "strategy='mice' is not supported", id="strategy"),
        pytest.param(
            {"estimator": "xgboost", "strategy": "iterative"}, "estimator='xgboost' is not supported", id="estimator"
        ),
        pytest.param({"n_neighbors": 0}, "n_neighbors must be a positive integer", id="neighbors"),
    ],
)
def test_invalid_parameters(small, params, match):
    with pytest.raises(SpecError, match=match):
        Imputer(**params).fit(small)


def test_column_filter_records_reasons(llzo):
    X = llzo[LLZO_FEATURES + ["la_dopant"]].assign(const=1.0)
    filt = ColumnFilter(max_missing_fraction=0.5).fit(X)
    assert filt.dropped_columns_["const"].startswith("constant")
    assert "85% of values are missing" in filt.dropped_columns_["la_dopant"]
    out = filt.transform(X)
    assert isinstance(out, pd.DataFrame)
    assert "rel_dens_%" in out.columns and "la_dopant" not in out.columns
    assert out["li_sto"].dtype == X["li_sto"].dtype


def test_column_filter_all_missing_always_dropped():
    X = pd.DataFrame({"a": [1.0, 2.0], "b": [np.nan, np.nan]})
    filt = ColumnFilter(max_missing_fraction=None, drop_constant=False).fit(X)
    assert filt.dropped_columns_ == {"b": "every value is missing"}


def test_column_filter_rejects_bad_threshold():
    with pytest.raises(SpecError, match="max_missing_fraction must be a number between 0 and 1"):
        ColumnFilter(max_missing_fraction=5).fit(np.zeros((3, 2)))
