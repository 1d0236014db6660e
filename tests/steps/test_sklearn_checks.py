"""scikit-learn's estimator checks over every step of :mod:`planner.steps` (one suite).

Two groups:

* ``ARRAY_STEPS`` take a numeric array (cleaning, selection, the label wrapper): every check of
  ``parametrize_with_checks`` runs on them, with no expected failures.
* ``TABLE_STEPS`` take named columns of formula strings, SMILES, fraction groups or a child
  table keyed by id (featurisers). The generic checks generate numeric arrays, which these
  steps reject by design (a formula featuriser given floats must raise), so the data checks do
  not apply; the checks that need no data (constructor, parameters, clone, repr, tags) run on
  them here, and their clone / pickle / ``set_output`` behaviour on real input is tested below
  and in their own test modules (``test_composition.py``, ``test_fractions.py``,
  ``test_relational.py``, ``test_molecules.py``).
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone, is_classifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils import estimator_checks
from sklearn.utils.estimator_checks import parametrize_with_checks

from planner.steps import (
    CategoricalEncoder,
    ColumnFilter,
    CorrelationFilter,
    DescriptorCleaner,
    ElementFractionFeaturizer,
    EncodedLabelClassifier,
    FeatureScaler,
    FractionGroupValidator,
    Imputer,
    L1Selector,
    MagpieFeaturizer,
    MoleculeFeaturizer,
    OutlierDetector,
    OutlierFilteredClassifier,
    OutlierFilteredRegressor,
    OutlierTransformer,
    PLSTransformer,
    RelationalFeaturizer,
)

ARRAY_STEPS = [
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
    CorrelationFilter(method="spearman", threshold=0.8),
    L1Selector(),
    L1Selector(classification=True, random_state=0),
    PLSTransformer(),
    EncodedLabelClassifier(estimator=LogisticRegression()),
]
ESTIMATORS = ARRAY_STEPS  # the clone/pickle round trip below covers the array steps

TABLE_STEPS = [
    ElementFractionFeaturizer(),
    MagpieFeaturizer(),
    FractionGroupValidator(groups={"solvent": ["ec", "dmc"]}),
    RelationalFeaturizer(),
    MoleculeFeaturizer(),
    DescriptorCleaner(),
]
#: The checks that need no data: constructor stores only, parameters, clone, repr, tags.
DATA_FREE_CHECKS = [
    "check_no_attributes_set_in_init",
    "check_parameters_default_constructible",
    "check_get_params_invariance",
    "check_set_params",
    "check_do_not_raise_errors_in_init_or_set_params",
    "check_estimator_cloneable",
    "check_estimator_repr",
    "check_estimator_tags_renamed",
    "check_valid_tag_types",
    "check_mixin_order",
]


def test_every_public_step_is_in_the_suite():
    """A step added to planner.steps without being checked here fails this test."""
    import inspect

    from sklearn.base import BaseEstimator

    import planner.steps as steps

    public = {name for name in steps.__all__ if inspect.isclass(getattr(steps, name)) and issubclass(getattr(steps, name), BaseEstimator)}
    checked = {type(e).__name__ for e in ARRAY_STEPS + TABLE_STEPS}
    assert public == checked


@pytest.mark.parametrize("check_name", DATA_FREE_CHECKS)
@pytest.mark.parametrize("estimator", TABLE_STEPS, ids=lambda e: type(e).__name__)
def test_table_steps_pass_the_checks_that_need_no_data(estimator, check_name):
    getattr(estimator_checks, check_name)(type(estimator).__name__, clone(estimator))


@parametrize_with_checks(ARRAY_STEPS)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_clone_and_pickle_round_trip(estimator):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    X[::7, 1] = np.nan if estimator.__sklearn_tags__().input_tags.allow_nan else X[::7, 1]
    classifies = is_classifier(estimator) or getattr(estimator, "classification", False)
    y = (X[:, 0] > 0).astype(int) if classifies else X[:, 0] + rng.normal(0, 0.1, 40)
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


def _table_inputs() -> list[tuple[object, pd.DataFrame]]:
    rng = np.random.default_rng(0)
    formulas = pd.DataFrame({"composition": ["Li7La3Zr2O12", "LiCoO2", "LiFePO4", "Li2S", "LiNi0.8Mn0.1Co0.1O2"]})
    fractions = pd.DataFrame({"ec": [0.3, 0.5, 0.7], "dmc": [0.7, 0.5, 0.3], "t": [25.0, 30.0, 35.0]})
    cells = pd.DataFrame({"id": [1, 2, 3], "chemistry": ["NMC", "LFP", "NMC"]})
    cycles = pd.DataFrame({"id": np.repeat([1, 2, 3], 5), "cycle": np.tile(np.arange(5), 3), "capacity": rng.normal(1.0, 0.01, 15)})
    molecules = pd.DataFrame({"smiles": ["CCO", "c1ccccc1", "O=C1OCCO1", "CCO"]})
    descriptors = pd.DataFrame(rng.normal(size=(12, 4)), columns=list("abcd"))
    return [
        (ElementFractionFeaturizer(), formulas),
        (MagpieFeaturizer(stats=("mean", "range")), formulas),
        (FractionGroupValidator(groups={"solvent": ["ec", "dmc"]}), fractions),
        (RelationalFeaturizer(child=cycles, parent_key="id", time_column="cycle", value_columns=["capacity"], aggregations=("mean", "trend")), cells),
        (MoleculeFeaturizer(kind="onehot"), molecules),
        (DescriptorCleaner(), descriptors),
    ]


@pytest.mark.parametrize("index", range(6), ids=[type(e).__name__ for e in TABLE_STEPS])
def test_table_steps_clone_pickle_and_give_frames(index):
    estimator, frame = _table_inputs()[index]
    fitted = clone(estimator).fit(frame)
    restored = pickle.loads(pickle.dumps(fitted))
    out = fitted.transform(frame)
    pd.testing.assert_frame_equal(pd.DataFrame(restored.transform(frame)), pd.DataFrame(out))
    assert list(fitted.set_output(transform="pandas").transform(frame).columns) == list(fitted.get_feature_names_out())
    assert len(out) == len(frame)
