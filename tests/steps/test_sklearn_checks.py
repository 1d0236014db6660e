"""scikit-learn's estimator checks, clone and pickle for every array-in transformer of planner.quality.

The composition, relational and fraction-group steps take named columns or formula strings,
which these generic checks cannot generate; their clone/pickle/set_output behaviour is tested
in ``tests/features``.
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from planner.steps import (
    CategoricalEncoder,
    ColumnFilter,
    CorrelationFilter,
    FeatureScaler,
    Imputer,
    OutlierDetector,
    OutlierFilteredClassifier,
    OutlierFilteredRegressor,
    OutlierTransformer,
)

ESTIMATORS = [
    # contamination=0.1: the checks expect some outliers on well-separated blobs.
    *(OutlierDetector(method=m, contamination=0.1, random_state=0) for m in ("iqr", "zscore", "robust_zscore")),
    OutlierDetector(method="isolation_forest", contamination=0.1, n_estimators=10, random_state=0),
    *(OutlierTransformer(method="robust_zscore", action=a) for a in ("clip", "mask", "flag")),
    OutlierTransformer(method="iqr"),
    OutlierTransformer(method="isolation_forest", action="flag", n_estimators=10, random_state=0),
    OutlierFilteredRegressor(LinearRegression()),
    OutlierFilteredClassifier(LogisticRegression()),
    *(Imputer(strategy=s) for s in ("mean", "median", "most_frequent", "constant", "knn")),
    Imputer(strategy="iterative", n_estimators=5, max_iter=2, random_state=0, add_indicator=True),
    Imputer(strategy="iterative", estimator="lightgbm", n_estimators=5, max_iter=2, random_state=0),
    ColumnFilter(),
    CategoricalEncoder(),
    CategoricalEncoder(method="ordinal"),
    *(FeatureScaler(method=m) for m in ("standard", "robust", "minmax", "power", "quantile", "none")),
    CorrelationFilter(),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_clone_and_pickle_round_trip(estimator):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    X[::7, 1] = np.nan if estimator.__sklearn_tags__().input_tags.allow_nan else X[::7, 1]
    y = (
        X[:, 0] + rng.normal(0, 0.1, 40)
        if not isinstance(estimator, OutlierFilteredClassifier)
        else (X[:, 0] > 0).astype(int)
    )
    fitted = clone(estimator).fit(
        np.nan_to_num(X) if isinstance(estimator, (OutlierFilteredRegressor, OutlierFilteredClassifier)) else X, y
    )
    restored = pickle.loads(pickle.dumps(fitted))
    data = np.nan_to_num(X) if isinstance(estimator, (OutlierFilteredRegressor, OutlierFilteredClassifier)) else X
    method = "transform" if hasattr(fitted, "transform") else "predict"
    np.testing.assert_array_equal(getattr(restored, method)(data), getattr(fitted, method)(data))
    assert clone(estimator).get_params(deep=False).keys() == estimator.get_params(deep=False).keys()


def test_pandas_output_through_a_pipeline():
    frame = pd.DataFrame(
        {"a": [1.0, np.nan, 3.0, 4.0, 50.0], "b": [0.1, 0.2, np.nan, 0.4, 0.5], "kind": ["x", "y", "x", "y", "z"]}
    )
    pipe = make_pipeline(
        CategoricalEncoder(),
        Imputer(strategy="median", add_indicator=True),
        OutlierTransformer(method="iqr", action="clip"),
        FeatureScaler(),
        ColumnFilter(),
    ).set_output(transform="pandas")
    out = pipe.fit_transform(frame)
    assert list(out.columns) == ["a", "b", "kind_x", "kind_y", "kind_z", "missingindicator_a", "missingindicator_b"]
    assert list(out.index) == list(frame.index)
