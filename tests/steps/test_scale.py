"""Scaling of numeric columns: every method keeps shape and gaps; bad input is named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from planner.exceptions import DataQualityWarning, DataValidationError, SpecError
from planner.steps import SCALING_METHODS, FeatureScaler


@pytest.mark.parametrize("method", SCALING_METHODS)
def test_scalers_keep_shape_and_missing_values(method):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.lognormal(size=30), "b": rng.normal(size=30)})
    X.iloc[3, 0] = np.nan
    out = FeatureScaler(method=method).set_output(transform="pandas").fit_transform(X)
    assert list(out.columns) == ["a", "b"]
    assert np.isnan(out.iloc[3, 0]) and out.drop(index=3).notna().all().all()


def test_standard_is_zscore():
    X = np.array([[1.0], [2.0], [3.0]])
    out = FeatureScaler().fit_transform(X)
    np.testing.assert_allclose(out[:, 0], (X[:, 0] - 2.0) / X[:, 0].std())


def test_quantile_caps_quantiles_at_row_count():
    out = FeatureScaler(method="quantile", quantile_output="uniform").fit(np.arange(10.0).reshape(-1, 1))
    assert out.scaler_.n_quantiles == 10


def test_power_transform_makes_skewed_column_symmetric():
    from scipy.stats import skew

    x = np.random.default_rng(0).lognormal(sigma=1.0, size=500).reshape(-1, 1)
    out = FeatureScaler(method="power").fit_transform(x)
    assert abs(skew(out[:, 0])) < 0.2 < abs(skew(x[:, 0]))


def test_box_cox_needs_positive_values():
    with pytest.raises(DataValidationError, match="box-cox' needs strictly positive values"):
        FeatureScaler(method="power", power_method="box-cox").fit(np.array([[0.0], [1.0], [2.0]]))


def test_scaler_refuses_text_columns(mixed):
    with pytest.raises(DataValidationError, match="'family', 'sintered'.*not numeric|'family'.*not numeric"):
        FeatureScaler().fit(mixed)


def test_unknown_scaling_method():
    with pytest.raises(SpecError, match="method='log' is not supported"):
        FeatureScaler(method="log").fit(np.zeros((3, 1)))


@pytest.mark.parametrize("method", SCALING_METHODS)
def test_constant_and_empty_training_columns_do_not_crash(method):
    X = np.c_[np.ones(10), np.arange(10.0), np.full(10, np.nan)]
    step = FeatureScaler(method=method)
    with pytest.warns(DataQualityWarning, match="'x2' have no values in the training data"):
        out = step.fit_transform(X)
    assert out.shape == X.shape and np.isnan(out[:, 2]).all() and np.isfinite(out[:, :2]).all()
    np.testing.assert_allclose(step.inverse_transform(out)[:, 1], X[:, 1], atol=1e-9)
