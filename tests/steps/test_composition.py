"""Formula parsing and composition descriptors (element fractions, Magpie statistics)."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from planner.chem import clean_formula, parse_formula
from planner.exceptions import DataQualityWarning, DataValidationError, SpecError
from planner.steps import MAGPIE_PROPERTIES, ElementFractionFeaturizer, MagpieFeaturizer

LLZO = {"Li": 7, "La": 3, "Zr": 2, "O": 12}
Z = {"Li": 3, "O": 8, "Zr": 40, "La": 57}


def _table_value(prop: str, symbol: str) -> float:
    """Read matminer's shipped Magpie table directly: line Z holds element Z's value."""
    import matminer

    path = Path(matminer.__file__).parent / "utils" / "data_files" / "magpie_elementdata" / f"{prop}.table"
    return float(path.read_text().splitlines()[Z[symbol] - 1])


@pytest.mark.parametrize("prop", ["Number", "Electronegativity", "MeltingT", "CovalentRadius"])
def test_llzo_magpie_by_hand(prop):
    """Li7La3Zr2O12: each statistic computed by hand from the element table."""
    values = {el: _table_value(prop, el) for el in LLZO}
    total = sum(LLZO.values())
    w = {el: n / total for el, n in LLZO.items()}
    mean = sum(w[el] * values[el] for el in LLZO)
    expected = {
        "mean": mean,
        "avg_dev": sum(w[el] * abs(values[el] - mean) for el in LLZO),
        "minimum": min(values.values()),
        "maximum": max(values.values()),
        "range": max(values.values()) - min(values.values()),
        "mode": values["O"],  # oxygen has the largest fraction (12/24)
    }
    out = MagpieFeaturizer(properties=[prop]).fit_transform(pd.DataFrame({"composition": ["Li7La3Zr2O12"]}))
    for stat, value in expected.items():
        assert out[f"magpie_{stat}_{prop}"].iloc[0] == pytest.approx(value, rel=1e-12), stat
    if prop == "Number":
        assert expected["mean"] == pytest.approx((7 * 3 + 3 * 57 + 2 * 40 + 12 * 8) / 24)


def test_magpie_matches_matminer_on_liverpool(liverpool):
    from matminer.featurizers.composition import ElementProperty
    from pymatgen.core import Composition

    formulas = liverpool["composition"].drop_duplicates().iloc[:60]
    ours = MagpieFeaturizer().fit_transform(formulas.to_frame()).to_numpy()
    ep = ElementProperty.from_preset("magpie")
    theirs = np.array([ep.featurize(Composition(clean_formula(f))) for f in formulas])
    assert ours.shape == theirs.shape == (60, 22 * 6)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-9)


def test_mode_ties_take_the_smallest_value():
    out = MagpieFeaturizer(properties=["Number"], stats=["mode"]).fit_transform(pd.DataFrame({"composition": ["NaCl"]}))
    assert out.iloc[0, 0] == 11  # Na (11) and Cl (17) tie; matminer returns the minimum


def test_every_liverpool_formula_parses(liverpool):
    out = MagpieFeaturizer().fit_transform(liverpool[["composition"]])
    assert out.shape == (820, 132)
    assert np.isfinite(out.to_numpy()).all()


def test_passthrough_keeps_other_columns_and_index(liverpool):
    sample = liverpool[["composition", "temperature"]].iloc[5:10]
    step = MagpieFeaturizer(stats=["mean"]).fit(sample)
    out = step.transform(sample)
    assert list(out.columns[:1]) == ["temperature"] and out.shape == (5, 23)
    assert list(out.index) == list(sample.index)
    assert list(step.get_feature_names_out()) == list(out.columns)


def test_unparseable_formulas_name_rows_and_strings():
    frame = pd.DataFrame({"composition": ["LiCoO2", "Li2O+", "Xx2O", "li7la3zr2o12", None]})
    with pytest.raises(DataValidationError) as info:
        MagpieFeaturizer().fit(frame)
    text = str(info.value)
    assert "4 formula(s) in column 'composition' could not be parsed" in text
    assert "row 1: 'Li2O+'" in text
    assert "row 2: 'Xx2O': 'Xx' is not an element symbol" in text
    assert "row 3: 'li7la3zr2o12'" in text and "case-sensitive" in text
    assert "row 4: None: the formula is missing" in text


def test_on_error_nan_keeps_rows_with_a_warning():
    frame = pd.DataFrame({"composition": ["LiCoO2", "Li2O+"]})
    with pytest.warns(DataQualityWarning, match="1 formula\\(s\\) could not be parsed"):
        out = MagpieFeaturizer(on_error="nan").fit_transform(frame)
    assert out.iloc[0].notna().all() and out.iloc[1].isna().all()


def test_element_fractions_and_unseen_elements():
    train = pd.DataFrame({"composition": ["Li7La3Zr2O12", "LiCoO2"]})
    step = ElementFractionFeaturizer().fit(train)
    assert step.elements_ == ["Li", "O", "Co", "Zr", "La"]
    out = step.transform(train)
    assert out.loc[0, "frac_Li"] == pytest.approx(7 / 24)
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    with pytest.warns(DataQualityWarning, match="'P', 'Fe'.*'frac_other'"):
        new = step.transform(pd.DataFrame({"composition": ["LiFePO4"]}))
    assert new.loc[0, "frac_other"] == pytest.approx(2 / 7)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        pytest.param({"properties": ["NotAProperty"]}, "unknown elemental property 'NotAProperty'", id="unknown"),
        pytest.param({"properties": ["OxidationStates"]}, "no scalar values", id="non-scalar"),
        pytest.param({"stats": ["median"]}, "stats='median' is not supported", id="stat"),
        pytest.param({"properties": "deml"}, "use 'magpie' or a list", id="preset"),
    ],
)
def test_featurizer_parameter_errors(params, match):
    with pytest.raises(SpecError, match=match):
        MagpieFeaturizer(**params).fit(pd.DataFrame({"composition": ["LiF"]}))


def test_missing_composition_column_is_named():
    with pytest.raises(DataValidationError, match="composition column 'formula' not found.*'a', 'b'"):
        MagpieFeaturizer(composition_column="formula").fit(pd.DataFrame({"a": ["LiF"], "b": [1]}))


def test_clone_pickle_and_set_output(liverpool):
    sample = liverpool[["composition"]].iloc[:20]
    for step in (MagpieFeaturizer(stats=["mean", "range"]), ElementFractionFeaturizer()):
        fitted = clone(step).set_output(transform="pandas").fit(sample)
        restored = pickle.loads(pickle.dumps(fitted))
        pd.testing.assert_frame_equal(restored.transform(sample), fitted.transform(sample))
        assert clone(step).get_params() == step.get_params()


def test_works_on_a_series_and_an_array():
    step = MagpieFeaturizer(properties=["Number"], stats=["mean"])
    assert step.fit_transform(pd.Series(["LiF", "NaCl"])).shape == (2, 1)
    assert step.fit_transform(np.array([["LiF"], ["NaCl"]], dtype=object)).shape == (2, 1)


def test_magpie_default_names_22_properties():
    assert len(MAGPIE_PROPERTIES) == 22


def test_import_stays_light():
    code = (
        "import sys, planner.steps, planner.chem, planner.quality\n"
        "heavy = [m for m in ('pymatgen', 'matminer', 'featuretools', 'woodwork', 'pint', 'lightgbm') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_5000_compositions_take_seconds_not_minutes(liverpool):
    """Guard for the vectorized path (the benchmark in benchmarks/featurize measures it properly)."""
    import time

    from planner.chem._formula import _parse_cached

    rng = np.random.default_rng(0)
    bases = [parse_formula(f) for f in liverpool["composition"].unique()]
    formulas = []
    for i in range(5000):
        base = bases[i % len(bases)]
        formulas.append("".join(f"{el}{amt * rng.uniform(0.8, 1.2):.3f}" for el, amt in base.items()))
    _parse_cached.cache_clear()
    start = time.perf_counter()
    out = MagpieFeaturizer().fit_transform(pd.DataFrame({"composition": formulas}))
    elapsed = time.perf_counter() - start
    assert out.shape == (5000, 132) and np.isfinite(out.to_numpy()).all()
    assert elapsed < 10.0, f"5000 compositions took {elapsed:.1f} s"
