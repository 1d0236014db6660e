"""The data-quality report: six characteristics on real and constructed data, text/CSV/JSON."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymatgen.core import Composition

from planner.exceptions import DataValidationError, PlannerError, SpecError
from planner.quality import CHARACTERISTICS, QualityReport, assess
from planner.sources import merge_sources


@pytest.fixture(scope="module")
def liverpool_report(liverpool):
    _, log = merge_sources(
        liverpool, composition_column="composition", condition_columns=["temperature"], value_columns=["log_target", "target"],
        ignore_in_duplicates=["ID"], strategy="median",
    )  # fmt: skip
    return assess(
        liverpool,
        id_column="ID",
        target_columns=["log_target"],
        composition_column="composition",
        group_column="composition",
        condition_columns=["temperature"],
        source_column="source",
        bounds={"temperature": (-273.15, 1500)},
        units={"temperature": "degC", "target": "S/cm"},
        non_negative_columns=["target"],
        consistency_rules={"log_target is log10(target)": "abs(log_target - log10(target)) < 1e-3"},
        ignore_in_duplicates=["ID"],
        logs=[log],
        dataset_name="LiIonDatabase.csv",
    )


def test_report_covers_the_six_characteristics(liverpool_report):
    assert {c.characteristic for c in liverpool_report.checks} == set(CHARACTERISTICS)
    text = liverpool_report.to_text()
    for heading in CHARACTERISTICS:
        assert heading.upper() in text
    assert "CLEANING ACTIONS" in text and "groups merged: 23" in text


def test_liverpool_duplicate_entities_match_groupby(liverpool, liverpool_report):
    key = liverpool["composition"].map(
        lambda s: Composition(s.strip().strip('"').replace(" ", "")).fractional_composition.formula
    )
    sizes = liverpool.assign(key=key).groupby(["key", "temperature"]).size()
    check = liverpool_report.check("duplicate_entities")
    assert check.n_failed == int((sizes > 1).sum())
    assert len(check.issues) == int(sizes[sizes > 1].sum())
    assert check.status == "warn"


def test_liverpool_id_922_is_reused(liverpool_report):
    check = liverpool_report.check("id_reuse")
    assert check.status == "fail" and check.n_failed == 1
    assert {i["id"] for i in check.issues} == {922}


def test_liverpool_log_relation_rows_match_numpy(liverpool, liverpool_report):
    expected = liverpool.index[np.abs(liverpool["log_target"] - np.log10(liverpool["target"])) >= 1e-3]
    check = liverpool_report.check("relations")
    assert sorted(i["row"] for i in check.issues) == list(expected)
    assert check.status == "fail"


def test_liverpool_formulas_and_bounds_pass(liverpool_report):
    assert liverpool_report.check("formulas").status == "pass"
    assert liverpool_report.check("bounds").status == "pass"
    assert liverpool_report.check("units").status == "pass"
    assert liverpool_report.check("dates").status == "skipped"


def test_entity_agreement_counts_cross_source_disagreements(liverpool_report):
    check = liverpool_report.check("entity_agreement")
    assert check.n_checked == 23
    assert 0 < check.n_failed <= 23
    assert "across sources" in check.message


def test_llzo_completeness(llzo):
    report = assess(
        llzo,
        target_columns=["log_cond", "good_cond"],
        allowed_values={"good_cond": [0, 1]},
        bounds={"rel_dens_%": (0, 100)},
        explore=False,
    )
    check = report.check("column_missingness")
    rel = next(i for i in check.issues if i["column"] == "rel_dens_%")
    assert rel["value"] == 63
    assert report.check("allowed_values").status == "pass"
    assert report.check("target_missing").status == "pass"


@pytest.fixture
def messy() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["a", "b", "c", "d", "e", "e"],
            "composition": ["LiCoO2", "Li2O+", "LiFePO4", "Li3PS4", "LiF", "LiF"],
            "x1": [0.5, 0.6, 0.2, -0.3, 0.5, 0.5],
            "x2": [0.5, 0.4, 0.7, 1.3, 0.5, 0.5],
            "sigma": ["1e-3", "2e-3", "5 mS/cm", "-1e-4", "3e-3", "3e-3"],
            "temp": [25, 25, 2000, 30, 25, 25],
            "date": ["2024-01-05", "2024-02-30", "2099-01-01", "2001-06-01", "2024-03-01", "2024-03-01"],
            "empty": [np.nan] * 6,
            "lab": ["A"] * 6,
        }
    )


def test_constructed_problems_are_all_found(messy):
    report = assess(
        messy,
        id_column="id",
        target_columns=["sigma"],
        composition_column="composition",
        bounds={"temp": (-50, 1000)},
        non_negative_columns=["sigma"],
        fraction_groups={"mix": ["x1", "x2"]},
        fraction_tolerance=0.01,
        rules={"temp is Celsius": "temp < 500"},
        date_column="date",
        reference_date="2025-01-01",
        max_age_days=3650,
        explore=False,
    )
    status = {c.name: c.status for c in report.checks}
    rows = {c.name: sorted({i["row"] for i in c.issues if i["row"] is not None}) for c in report.checks}
    assert status["non_numeric"] == "fail" and rows["non_numeric"] == [2]
    assert status["bounds"] == "fail" and rows["bounds"] == [2]
    assert status["non_negative"] == "fail" and rows["non_negative"] == [3]
    assert status["fraction_groups"] == "fail" and rows["fraction_groups"] == [2, 3]
    details = {i["row"]: i["detail"] for i in report.check("fraction_groups").issues}
    assert "sums to 0.9" in details[2] and "negative fraction in 'x1'" in details[3]
    assert status["formulas"] == "fail" and rows["formulas"] == [1]
    assert status["rules"] == "fail" and rows["rules"] == [2]
    assert status["date_format"] == "fail" and rows["date_format"] == [1]
    assert status["future_dates"] == "fail" and rows["future_dates"] == [2]
    assert status["stale"] == "warn" and rows["stale"] == [3]
    assert status["exact_duplicates"] == "warn" and rows["exact_duplicates"] == [4, 5]
    assert status["duplicate_ids"] == "fail"
    assert status["uninformative_columns"] == "fail"
    uninformative = {i["column"]: i["detail"] for i in report.check("uninformative_columns").issues}
    assert uninformative == {"empty": "every value missing", "lab": "constant column"}
    assert report.status == "fail" and report.has_failures
    assert report.characteristic_status("timeliness") == "fail"
    formula_issue = report.check("formulas").issues[0]
    assert formula_issue["value"] == "Li2O+" and "invalid formula" in formula_issue["detail"]


def test_strict_mode_raises_naming_the_failed_checks(messy):
    with pytest.raises(DataValidationError, match="non_numeric"):
        assess(messy, target_columns=["sigma"], explore=False, strict=True)


def test_save_writes_csv_json_text_and_round_trips(liverpool_report, tmp_path):
    paths = liverpool_report.save(tmp_path / "quality")
    for kind in ("json", "text", "summary", "issues", "actions"):
        assert paths[kind].is_file()
    summary = pd.read_csv(paths["summary"])
    assert len(summary) == len(liverpool_report.checks)
    issues = pd.read_csv(paths["issues"])
    assert set(issues["characteristic"]) <= set(CHARACTERISTICS)
    data = json.loads(paths["json"].read_text())
    assert data["version"] == 1 and list(data["characteristics"]) == list(CHARACTERISTICS)
    restored = QualityReport.load(tmp_path / "quality")
    pd.testing.assert_frame_equal(restored.summary(), liverpool_report.summary())
    assert len(restored.actions) == len(liverpool_report.actions)
    assert (tmp_path / "quality" / "exploration" / "correlation_spearman.csv").is_file()


def test_load_errors(tmp_path):
    with pytest.raises(DataValidationError, match="no saved quality report"):
        QualityReport.load(tmp_path)
    (tmp_path / "quality_report.json").write_text("{not json")
    with pytest.raises(DataValidationError, match="not valid JSON"):
        QualityReport.load(tmp_path)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        pytest.param(
            {"target_columns": ["nope"]}, DataValidationError, "target column\\(s\\) 'nope' not found", id="target"
        ),
        pytest.param({"date_column": "when"}, DataValidationError, "date column\\(s\\) 'when' not found", id="date"),
        pytest.param({"rules": {"r": "zzz > 1"}}, SpecError, "names no column", id="rule-no-col"),
        pytest.param({"rules": {"r": "x >"}}, SpecError, "could not be evaluated", id="rule-syntax"),
        pytest.param({"bounds": {"x": 5}}, SpecError, "must be a \\(lower, upper\\) pair", id="bounds"),
        pytest.param({"outlier_method": "lof"}, SpecError, "outlier_method='lof' is not supported", id="outliers"),
    ],
)
def test_argument_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        assess(pd.DataFrame({"x": [1.0, 2.0]}), explore=False, **kwargs)


def test_bad_units_are_reported_not_raised():
    report = assess(pd.DataFrame({"x": [1.0, 2.0]}), units={"x": "furlongs/blah", "y": "K"}, explore=False)
    check = report.check("units")
    assert check.status == "fail" and {i["column"] for i in check.issues} == {"x", "y"}


cells = st.one_of(
    st.none(), st.floats(allow_nan=True, allow_infinity=False, width=32), st.text(max_size=4), st.integers(-5, 5)
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(cells, cells, st.one_of(st.none(), st.floats(-1, 1))), min_size=1, max_size=12))
def test_any_small_table_gives_a_report_not_a_crash(rows):
    frame = pd.DataFrame(rows, columns=["a", "b", "y"])
    try:
        report = assess(
            frame, target_columns=["y"], fraction_groups={"g": ["a", "b"]}, non_negative_columns=["y"], explore=True
        )
    except PlannerError:
        return  # a clear, planner-made error is an acceptable answer to garbage
    assert QualityReport.from_dict(json.loads(json.dumps(report.to_dict(), default=str))).summary().shape[0] == len(
        report.checks
    )
    assert report.to_text()


def test_report_on_combined_sources_shows_cross_source_disagreement():
    from planner.sources import SourceTable, combine_sources

    a = pd.DataFrame({"composition": ["Li7La3Zr2O12", "LiCoO2"], "log_sigma": [-3.3, -9.0]})
    b = pd.DataFrame({"formula": ["Li14La6Zr4O24"], "log_sigma": [-5.8]})
    sources = [SourceTable("paper_a", a), SourceTable("paper_b", b, rename={"formula": "composition"})]
    combined, combine_log = combine_sources(sources)
    merged, merge_log = merge_sources(sources, composition_column="composition", strategy="drop", max_spread=1.0)
    report = assess(combined, target_columns=["log_sigma"], composition_column="composition", source_column="source",
                    consistency_tolerance=1.0, logs=[merge_log], explore=False)  # fmt: skip
    check = report.check("entity_agreement")
    assert check.status == "fail" and "1 of them across sources" in check.message
    assert {i["row"] for i in check.issues} == {"paper_a:0", "paper_b:0"}
    assert len(merged) == 1 and merge_log.n_groups_dropped == 1
    assert "groups dropped for disagreeing values: 1 (2 rows)" in report.to_text()


def test_isolation_forest_lists_unusual_rows(kim):
    report = assess(kim, target_columns=["LCE"], outlier_method="isolation_forest", explore=False)
    check = report.check("outliers")
    assert check.status == "warn" and 0 < check.n_failed < 50
    assert all(i["column"] is None and "isolation-forest score" in i["detail"] for i in check.issues)


def test_text_in_an_undeclared_mostly_numeric_column_is_a_warning():
    frame = pd.DataFrame({"x": ["1", "2", "3", "4", "5", "n/a?"], "y": [1.0, 2, 3, 4, 5, 6]})
    report = assess(frame, target_columns=["y"], explore=False)
    assert report.check("non_numeric").status == "warn"
    assert report.check("non_numeric").issues[0]["row"] == 5


def test_rules_must_be_true_or_false():
    with pytest.raises(SpecError, match="must give true/false per row"):
        assess(pd.DataFrame({"a": [1.0, 2.0]}), rules={"sum": "a + 1"}, explore=False)
