"""Formula parsing, clean-up and the canonical key (planner.chem)."""

from __future__ import annotations

import pandas as pd
import pytest

from planner.chem import FormulaError, clean_formula, normalize_formula, parse_formula, parse_formulas
from planner.exceptions import DataValidationError, PlannerError


def test_normalize_formula_groups_spellings():
    same = ["Li7La3Zr2O12", "Li14La6Zr4O24", '"Li7La3Zr2O12 "', "Li7 La3 Zr2 O12", "La3Li7Zr2O12"]
    assert len({normalize_formula(f) for f in same}) == 1
    assert normalize_formula("(Li2S)0.7(P2S5)0.3") == normalize_formula("Li7P3S11")
    assert clean_formula('"(Li2S)0.5 (P2S5)0.5"') == "(Li2S)0.5(P2S5)0.5"
    assert parse_formula("Li1.3Al0.3Ti1.7(PO4)3") == pytest.approx(
        {"Li": 1.3, "Al": 0.3, "Ti": 1.7, "P": 3.0, "O": 12.0}
    )


@pytest.mark.parametrize(
    ("formula", "match"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("LiPF6 EC", "not an element symbol", id="dummy"),
        pytest.param(3.0, "expected a formula string", id="number"),
        pytest.param("Li-1O", "cannot parse", id="negative"),
    ],
)
def test_parse_errors(formula, match):
    with pytest.raises(FormulaError, match=match):
        parse_formula(formula)


def test_formula_error_is_a_planner_value_error():
    assert issubclass(FormulaError, PlannerError) and issubclass(FormulaError, ValueError)


def test_parse_formulas_collects_every_bad_row_with_its_label():
    series = pd.Series(["LiCoO2", "Li2O+", "LiCoO2", None], index=[10, 11, 12, 13])
    parsed, errors = parse_formulas(series, on_error="ignore")
    assert parsed[0] == parsed[2] and parsed[0] is not None
    assert parsed[1] is None and parsed[3] is None
    assert list(errors) == [11, 13]
    with pytest.raises(DataValidationError, match="lab.csv: 2 formula\\(s\\) in column 'comp' could not be parsed"):
        parse_formulas(series, where="lab.csv", column="comp")


def test_every_liverpool_composition_parses_and_spellings_collapse(datasets_dir):
    table = pd.read_csv(datasets_dir / "liverpool_li_ion_conductivity" / "LiIonDatabase.csv", encoding="utf-8-sig")
    parsed, errors = parse_formulas(table["composition"], on_error="ignore")
    assert not errors and len(parsed) == 820
    keys = {normalize_formula(f) for f in table["composition"]}
    assert len(keys) <= table["composition"].nunique()
