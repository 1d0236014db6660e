"""Categorical encoding (unknown categories at predict time)."""

from __future__ import annotations

import pandas as pd
import pytest

from planner.exceptions import DataQualityWarning, DataValidationError
from planner.steps import CategoricalEncoder


def test_onehot_passes_numbers_and_encodes_text(mixed):
    enc = CategoricalEncoder().set_output(transform="pandas").fit(mixed)
    out = enc.transform(mixed)
    assert enc.numeric_columns_ == ["temperature"]
    assert enc.categorical_columns_ == ["family", "sintered"]
    assert list(out.columns) == [
        "temperature",
        "family_Garnet",
        "family_NASICON",
        "family_nan",
        "sintered_False",
        "sintered_True",
    ]
    assert out["family_Garnet"].tolist() == [1.0, 0.0, 1.0, 0.0]


def test_onehot_unknown_category_is_all_zero_with_warning(mixed):
    enc = CategoricalEncoder().fit(mixed)
    new = mixed.iloc[:1].assign(family="Perovskite")
    with pytest.warns(
        DataQualityWarning, match="column 'family' has 1 value\\(s\\) not seen in training \\('Perovskite'\\)"
    ):
        out = enc.transform(new)
    names = list(enc.get_feature_names_out())
    family_cols = [names.index(n) for n in names if n.startswith("family_")]
    assert out[0, family_cols].tolist() == [0.0, 0.0, 0.0]


def test_ordinal_unknown_gets_unknown_value(mixed):
    enc = CategoricalEncoder(method="ordinal", columns=["family"], categories={"family": ["NASICON", "Garnet"]})
    enc.fit(mixed.drop(columns="sintered"))
    with pytest.warns(DataQualityWarning, match="encoded as code -1"):
        out = enc.transform(pd.DataFrame({"temperature": [1.0, 2.0], "family": ["Garnet", "Perovskite"]}))
    assert out[:, 1].tolist() == [1.0, -1.0]


def test_handle_unknown_error_names_the_fix(mixed):
    enc = CategoricalEncoder(handle_unknown="error").fit(mixed)
    with pytest.raises(DataValidationError, match="handle_unknown='ignore'"):
        enc.transform(mixed.assign(family="Perovskite"))


def test_text_column_not_listed_is_an_error(mixed):
    with pytest.raises(DataValidationError, match="column 'family' holds text"):
        CategoricalEncoder(columns=["sintered"]).fit(mixed)


def test_min_frequency_groups_rare_levels():
    X = pd.DataFrame({"f": ["a"] * 5 + ["b"] * 5 + ["c"]})
    out = CategoricalEncoder(min_frequency=2).set_output(transform="pandas").fit_transform(X)
    assert list(out.columns) == ["f_a", "f_b", "f_infrequent_sklearn"]
