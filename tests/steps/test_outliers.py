"""Outlier detection: the four methods, the transformer actions, and drop-in-training-only."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.pipeline import make_pipeline

from planner.exceptions import DataQualityWarning, DataValidationError, SpecError
from planner.steps import (
    OutlierDetector,
    OutlierFilteredClassifier,
    OutlierFilteredRegressor,
    OutlierTransformer,
)


@pytest.fixture
def column() -> np.ndarray:
    values = np.array([10.0, 11, 12, 13, 14, 15, 16, 17, 18, 100.0])
    return values.reshape(-1, 1)


def test_iqr_fences_match_textbook_rule(column):
    det = OutlierDetector(method="iqr").fit(column)
    q1, q3 = np.percentile(column[:, 0], [25, 75])
    assert det.lower_[0] == pytest.approx(q1 - 1.5 * (q3 - q1))
    assert det.upper_[0] == pytest.approx(q3 + 1.5 * (q3 - q1))
    assert det.predict(column).tolist() == [1] * 9 + [-1]


def test_zscore_uses_mean_and_sample_std(column):
    det = OutlierDetector(method="zscore", threshold=2.0).fit(column)
    x = column[:, 0]
    z = np.abs(x - x.mean()) / x.std(ddof=1)
    np.testing.assert_allclose(det.cell_outlyingness(column)[:, 0], z)
    assert det.outlier_mask(column).tolist() == (z > 2.0).tolist()


def test_robust_zscore_is_iglewicz_hoaglin(column):
    det = OutlierDetector(method="robust_zscore").fit(column)
    x = column[:, 0]
    med = np.median(x)
    mad = np.median(np.abs(x - med))
    modified_z = 0.6745 * np.abs(x - med) / mad
    np.testing.assert_allclose(det.cell_outlyingness(column)[:, 0], modified_z)
    assert det.predict(column)[-1] == -1


def test_robust_zscore_falls_back_when_mad_is_zero():
    # Many tied values (MAD = 0) are common in small lab datasets; the fallback keeps ties as inliers.
    x = np.array([1.0] * 8 + [1.1, 5.0]).reshape(-1, 1)
    det = OutlierDetector(method="robust_zscore").fit(x)
    assert det.scale_[0] > 0
    assert det.predict(x).tolist() == [1] * 9 + [-1]


def test_constant_training_column_flags_any_other_value():
    det = OutlierDetector(method="iqr", min_unique=1).fit(np.ones((6, 1)))
    assert det.predict(np.array([[1.0], [1.5]])).tolist() == [1, -1]


def test_binary_columns_are_left_alone():
    # A rare 1 in a 0/1 indicator or one-hot column is information, not an outlier.
    x = np.array([[0.0, 1.0], [0.0, 2.0], [0.0, 3.0], [0.0, 4.0], [1.0, 5.0]])
    step = OutlierTransformer(method="iqr", action="clip").fit(x)
    assert step.detector_.skipped_columns_.tolist() == [0]
    np.testing.assert_array_equal(step.transform(x)[:, 0], x[:, 0])


def test_missing_values_are_never_outliers(column):
    x = column.copy()
    x[0, 0] = np.nan
    det = OutlierDetector(method="iqr").fit(x)
    assert det.predict(x)[0] == 1
    assert np.isnan(OutlierTransformer(action="clip").fit_transform(x)[0, 0])


def test_contamination_flags_that_share_of_training_rows():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    det = OutlierDetector(method="zscore", contamination=0.1).fit(x)
    assert det.n_outliers_ == 20


def test_isolation_forest_flags_the_planted_point():
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(size=(100, 2)), [[8.0, 8.0]]])
    det = OutlierDetector(method="isolation_forest", random_state=0).fit(x)
    assert det.predict(x)[-1] == -1


def test_transformer_clips_to_training_fences(column):
    step = OutlierTransformer(method="iqr", action="clip").fit(column)
    out = step.transform(np.array([[1000.0], [12.0], [-1000.0]]))
    assert out[:, 0].tolist() == [step.detector_.upper_[0], 12.0, step.detector_.lower_[0]]


def test_transformer_mask_sets_outliers_to_nan(column):
    out = OutlierTransformer(method="iqr", action="mask").fit_transform(column)
    assert np.isnan(out[-1, 0]) and not np.isnan(out[:-1]).any()


def test_transformer_flag_appends_indicator_and_keeps_rows(column):
    step = OutlierTransformer(method="iqr", action="flag").set_output(transform="pandas")
    out = step.fit_transform(pd.DataFrame({"x": column[:, 0]}))
    assert list(out.columns) == ["x", "is_outlier"]
    assert out["is_outlier"].tolist() == [0.0] * 9 + [1.0]
    assert len(out) == len(column)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        pytest.param({"method": "isolation_forest", "action": "clip"}, "per-column fences", id="forest-clip"),
        pytest.param({"method": "nope"}, "method='nope' is not supported", id="bad-method"),
        pytest.param({"action": "drop"}, "action='drop' is not supported", id="bad-action"),
        pytest.param({"threshold": -1}, "threshold must be a positive number", id="bad-threshold"),
        pytest.param(
            {"contamination": 0.9}, r"contamination must be 'auto' or a fraction in \(0, 0.5\]", id="bad-cont"
        ),
        pytest.param({"min_unique": 0}, "min_unique must be a positive integer", id="bad-min-unique"),
        pytest.param(
            {"method": "isolation_forest", "action": "flag", "threshold": 2.0}, "use contamination", id="forest-thr"
        ),
    ],
)
def test_invalid_parameters_raise_spec_error(column, params, match):
    with pytest.raises(SpecError, match=match):
        OutlierTransformer(**params).fit(column)


def test_filtered_regressor_drops_training_outliers_only():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(60, 1))
    y = 2 * X[:, 0] + rng.normal(0, 0.01, 60)
    y[5] = 50.0  # a typo in the training target
    model = OutlierFilteredRegressor(LinearRegression(), on="target").fit(X, y)
    assert model.n_outliers_ == 1 and not model.inlier_mask_[5]
    assert model.estimator_.coef_[0] == pytest.approx(2.0, abs=0.05)
    # Prediction keeps every row, even an extreme one.
    X_new = np.array([[0.5], [100.0]])
    assert model.predict(X_new).shape == (2,)


def test_filtered_regressor_inside_cv_predicts_every_row():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(40, 2))
    y = X.sum(axis=1)
    y[::10] += 30
    pred = cross_val_predict(OutlierFilteredRegressor(LinearRegression()), X, y, cv=KFold(4))
    assert pred.shape == y.shape and np.isfinite(pred).all()


def test_filtered_regressor_subsets_sample_weight_and_keeps_dataframes():
    X = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) ** 2})
    y = np.arange(20.0)
    y[3] = 1e4
    model = OutlierFilteredRegressor(make_pipeline(LinearRegression()))
    model.fit(X, y, linearregression__sample_weight=np.ones(20))
    assert model.n_outliers_ == 1
    assert list(model.feature_names_in_) == ["a", "b"]


def test_filtered_regressor_refuses_to_drop_most_rows():
    X = np.arange(10.0).reshape(-1, 1)
    y = np.arange(10.0) ** 2
    detector = OutlierDetector(method="zscore", contamination=0.5)
    with pytest.warns(DataQualityWarning, match="no rows were dropped"):
        model = OutlierFilteredRegressor(LinearRegression(), detector=detector, min_keep_fraction=0.9).fit(X, y)
    assert model.filter_skipped_ and model.n_outliers_ == 0


def test_filtered_classifier_on_features():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 2))
    X[0] = [40, 40]
    y = (X[:, 0] > 0).astype(int)
    model = OutlierFilteredClassifier(LogisticRegression()).fit(X, y)
    assert not model.inlier_mask_[0]
    assert model.predict_proba(X).shape == (80, 2)
    assert list(model.classes_) == [0, 1]


def test_filtered_classifier_refuses_target_outliers():
    with pytest.raises(SpecError, match="not possible for class labels"):
        OutlierFilteredClassifier(LogisticRegression(), on="target").fit(np.zeros((4, 1)), [0, 1, 0, 1])


def test_feature_outliers_need_numbers():
    X = np.array([["a", 1], ["b", 2], ["c", 3]], dtype=object)
    with pytest.raises(DataValidationError, match="needs numeric features"):
        OutlierFilteredRegressor(LinearRegression(), on="features").fit(X, [1.0, 2.0, 3.0])


def test_target_outliers_on_real_conductivities(liverpool):
    """IQR on log10 conductivity of Liverpool flags the very poor conductors, and only a few."""
    y = liverpool["log_target"].to_numpy().reshape(-1, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        det = OutlierDetector(method="iqr").fit(y)
    flagged = y[det.outlier_mask(y), 0]
    q1, q3 = np.percentile(y, [25, 75])
    expected = ((y[:, 0] < q1 - 1.5 * (q3 - q1)) | (y[:, 0] > q3 + 1.5 * (q3 - q1))).sum()
    assert len(flagged) == expected > 0
    assert len(flagged) < 0.1 * len(y)
