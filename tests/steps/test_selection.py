"""The selectors the search builds: the one CorrelationFilter (the search's algorithm), L1Selector, PLSTransformer.

The CorrelationFilter was two classes with two algorithms (the search's greedy left-to-right filter
and a caret-style one in the quality package); the search's algorithm was kept so search results
do not move. ``_search_filter_support`` below is a verbatim copy of the search's filter as it was
before the unification (planner/automl/_transformers.py at cbf9cfa), the reference the unified
class must reproduce column for column on the real tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline

from planner.exceptions import SpecError
from planner.quality import correlation_matrix
from planner.steps import CorrelationFilter, Imputer, L1Selector, PLSTransformer

KIM_FEATURES = ["FC", "OC", "FO", "InOr", "F", "sF", "aF", "O", "sO", "aO", "C", "sC", "aC"]
THRESHOLDS = [0.8, 0.85, 0.9, 0.95, 0.98, 0.99]


def _search_filter_support(X: np.ndarray, method: str, threshold: float) -> np.ndarray:
    """The search's CorrelationFilter.fit before the unification (reference implementation)."""
    data = np.asarray(X, dtype=float)
    if method == "spearman":
        from scipy.stats import rankdata

        data = np.apply_along_axis(rankdata, 0, data)
    n_features = data.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(data, rowvar=False) if n_features > 1 else np.ones((1, 1))
    corr = np.nan_to_num(np.abs(np.atleast_2d(corr)), nan=0.0)
    keep: list[int] = []
    for j in range(n_features):
        if all(corr[j, k] <= threshold for k in keep):
            keep.append(j)
    mask = np.zeros(n_features, dtype=bool)
    mask[keep] = True
    return mask


def _llzo_numeric(llzo: pd.DataFrame) -> pd.DataFrame:
    return llzo.drop(columns=["conductivity", "log_cond", "good_cond"]).select_dtypes("number")


@pytest.mark.parametrize("method", ["pearson", "spearman"])
@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_unified_filter_keeps_the_search_filters_columns_on_kim(kim, method, threshold):
    X = kim[KIM_FEATURES]
    step = CorrelationFilter(method=method, threshold=threshold).fit(X)
    np.testing.assert_array_equal(step.support_, _search_filter_support(X.to_numpy(), method, threshold))


@pytest.mark.parametrize("method", ["pearson", "spearman"])
@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_unified_filter_keeps_the_search_filters_columns_on_llzo(llzo, method, threshold):
    X = _llzo_numeric(llzo)
    assert X.isna().any().any(), "LLZO's relative density has gaps; the raw table exercises the NaN path"
    for table in (X, Imputer(strategy="median").set_output(transform="pandas").fit_transform(X)):
        step = CorrelationFilter(method=method, threshold=threshold).fit(table)
        np.testing.assert_array_equal(step.support_, _search_filter_support(table.to_numpy(), method, threshold))


def test_some_thresholds_drop_columns_so_the_parity_tests_can_fail(kim, llzo):
    """The parity tests compare something: on both tables some settings drop columns, and not all."""
    for X in (kim[KIM_FEATURES], _llzo_numeric(llzo)):
        kept = [CorrelationFilter(threshold=t).fit(X).support_.sum() for t in THRESHOLDS]
        assert min(kept) < X.shape[1]
        assert max(kept) > 1


def test_correlation_filter_drops_one_of_each_redundant_pair(kim):
    step = CorrelationFilter(threshold=0.95).set_output(transform="pandas").fit(kim[KIM_FEATURES])
    out = step.transform(kim[KIM_FEATURES])
    assert len(step.dropped_columns_) >= 1
    assert set(step.dropped_columns_) == set(KIM_FEATURES) - set(out.columns)
    kept = correlation_matrix(out).abs().to_numpy()
    np.fill_diagonal(kept, 0.0)
    assert np.nanmax(kept) <= 0.95
    assert list(out.columns) == list(step.get_feature_names_out())


def test_correlation_filter_names_what_each_dropped_column_duplicates():
    rng = np.random.default_rng(0)
    a = rng.normal(size=50)
    frame = pd.DataFrame({"a": a, "b": rng.normal(size=50), "a_again": 2 * a + 1e-3 * rng.normal(size=50)})
    step = CorrelationFilter(threshold=0.9).fit(frame)
    assert list(step.get_feature_names_out()) == ["a", "b"]
    assert list(step.dropped_columns_) == ["a_again"]
    assert "with 'a'" in step.dropped_columns_["a_again"]


def test_a_column_with_gaps_is_kept_and_gaps_pass_through():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [1.0, 2.0, np.nan, 4.0]})
    step = CorrelationFilter(threshold=0.9).fit(frame)
    assert step.support_.tolist() == [True, True]
    assert np.isnan(step.transform(frame)[2, 1])


@pytest.mark.parametrize(
    ("params", "match"),
    [({"threshold": 1.5}, r"threshold must be in \(0, 1\]"), ({"threshold": 0}, r"threshold must be in \(0, 1\]"), ({"method": "kendall"}, "method")],
)
def test_correlation_filter_parameters_validated(params, match):
    with pytest.raises(SpecError, match=match):
        CorrelationFilter(**params).fit(np.zeros((4, 2)))


def test_l1_selector_keeps_the_informative_columns_and_always_one():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 6))
    y = 3 * X[:, 0] - 2 * X[:, 3] + rng.normal(0, 0.1, 80)
    assert L1Selector(alpha=0.05).fit(X, y).get_support(indices=True).tolist() == [0, 3]
    assert L1Selector(alpha=1e3).fit(X, y).get_support().sum() == 1


def test_pls_transformer_clamps_components_to_the_fold_and_needs_y():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 3))
    y = X[:, 0]
    assert make_pipeline(PLSTransformer(n_components=10)).fit_transform(X, y).shape == (5, 3)
    with pytest.raises(ValueError, match="needs y"):
        PLSTransformer().fit(X)
