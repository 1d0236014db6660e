"""Each registered check runs alone on a QualityData, finds what it is for, and agrees with assess."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import planner.quality as quality
from planner.quality import CHECKS, QualityCheck, QualityData, QualitySpec, assess

# (check, spec settings, table, the finding's name and status when run alone on that table)
BROKEN = [
    (quality._accuracy.check_non_numeric, {"target_columns": ["y"]}, {"y": [1, 2, "3 mS", 4]}, "non_numeric", "fail"),
    (quality._accuracy.check_bounds, {"bounds": {"y": (0, 10)}}, {"y": [1.0, 2.0, 30.0]}, "bounds", "fail"),
    (quality._accuracy.check_units, {"units": {"y": "notaunit"}}, {"y": [1.0, 2.0]}, "units", "fail"),
    (
        quality._accuracy.check_outliers,
        {"target_columns": ["y"]},
        {"y": [1.0, 1.1, 0.9, 1.05, 0.95, 1.02, 50.0]},
        "outliers",
        "warn",
    ),
    (
        quality._consistency.check_entity_agreement,
        {"group_column": "g", "target_columns": ["y"]},
        {"g": ["a", "a", "b"], "y": [1.0, 2.0, 3.0]},
        "entity_agreement",
        "warn",
    ),
    (
        quality._consistency.check_attribute_agreement,
        {"group_column": "g", "target_columns": ["y"]},
        {"g": ["a", "a", "b"], "lab": ["x", "z", "x"], "y": [1.0, 1.0, 2.0]},
        "attribute_agreement",
        "warn",
    ),
    (
        quality._consistency.check_id_reuse,
        {"id_column": "id", "group_column": "g"},
        {"id": ["1", "1", "2"], "g": ["a", "b", "c"]},
        "id_reuse",
        "fail",
    ),
    (quality._consistency.check_relations, {"consistency_rules": {"small": "y < 2"}}, {"y": [1.0, 3.0]}, "relations", "fail"),
    (
        quality._validity.check_fraction_groups,
        {"fraction_groups": {"f": ["a", "b"]}},
        {"a": [0.5, 0.2], "b": [0.5, 0.2]},
        "fraction_groups",
        "fail",
    ),
    (quality._validity.check_non_negative, {"non_negative_columns": ["y"]}, {"y": [1.0, -1.0]}, "non_negative", "fail"),
    (quality._validity.check_allowed_values, {"allowed_values": {"c": ["p"]}}, {"c": ["p", "q"]}, "allowed_values", "fail"),
    (quality._validity.check_formulas, {"composition_column": "comp"}, {"comp": ["Li2O", "Qq7"]}, "formulas", "fail"),
    (quality._validity.check_rules, {"rules": {"small": "y < 2"}}, {"y": [1.0, 3.0]}, "rules", "fail"),
    (quality._completeness.check_column_missingness, {}, {"y": [1.0, None, None]}, "column_missingness", "fail"),
    (
        quality._completeness.check_row_missingness,
        {"target_columns": ["y"]},
        {"a": [1.0, None], "b": [1.0, None], "y": [1.0, 2.0]},
        "row_missingness",
        "warn",
    ),
    (quality._completeness.check_target_missing, {"target_columns": ["y"]}, {"x": [1, 2], "y": [1.0, None]}, "target_missing", "warn"),
    (quality._completeness.check_uninformative_columns, {}, {"e": [None, None], "y": [1, 2]}, "uninformative_columns", "fail"),
    (quality._timeliness.check_date_format, {"date_column": "d"}, {"d": ["2020-01-01", "nope"]}, "date_format", "fail"),
    (
        quality._timeliness.check_future_dates,
        {"date_column": "d", "reference_date": "2024-01-01"},
        {"d": ["2020-01-01", "2030-01-01"]},
        "future_dates",
        "fail",
    ),
    (
        quality._timeliness.check_stale_dates,
        {"date_column": "d", "reference_date": "2024-01-01", "max_age_days": 365},
        {"d": ["2000-01-01", "2023-12-01"]},
        "stale",
        "warn",
    ),
    (quality._timeliness.check_date_coverage, {"date_column": "d"}, {"d": ["2020-01-01", None]}, "date_coverage", "warn"),
    (quality._uniqueness.check_exact_duplicates, {}, {"x": [1, 1], "y": [2, 2]}, "exact_duplicates", "warn"),
    (quality._uniqueness.check_duplicate_ids, {"id_column": "id"}, {"id": ["a", "a"], "y": [1, 2]}, "duplicate_ids", "fail"),
    (quality._uniqueness.check_duplicate_entities, {"group_column": "g"}, {"g": ["a", "a"], "y": [1, 1]}, "duplicate_entities", "warn"),
]


def test_every_registered_check_has_a_case():
    assert [case[0] for case in BROKEN] == list(CHECKS)


@pytest.mark.parametrize(("check", "settings", "table", "name", "status"), BROKEN, ids=[c[3] for c in BROKEN])
def test_each_check_runs_alone_and_finds_its_problem(check, settings, table, name, status):
    frame = pd.DataFrame(table)
    spec = QualitySpec(explore=False, **settings)
    found = check(QualityData(frame, spec), spec)
    assert isinstance(found, QualityCheck)
    assert (found.name, found.status) == (name, status), found.message
    assert found.n_failed >= 1 and found.issues
    # the same finding as in the full report
    assert assess(frame, spec).check(name) == found


def test_checks_pass_or_step_aside_on_clean_data():
    frame = pd.DataFrame({"id": ["a", "b", "c", "d", "e"], "x": [0.1, 0.4, 0.2, 0.8, 0.5], "y": [1.0, 2.0, 1.5, 0.5, 2.5]})
    spec = QualitySpec(id_column="id", target_columns=["y"], bounds={"y": (0, 3)}, explore=False)
    data = QualityData(frame, spec)
    findings = [check(data, spec) for check in CHECKS]
    statuses = {f.name: f.status for f in findings if f is not None}
    assert set(statuses.values()) <= {"pass", "skipped"}, statuses
    # without a date column the timeliness checks collapse into one skipped finding
    assert statuses["dates"] == "skipped" and "future_dates" not in statuses
    assert [c.name for c in assess(frame, spec).checks] == [f.name for f in findings if f is not None]


def test_issue_cap_keeps_counts_exact():
    frame = pd.DataFrame({"y": np.arange(50.0) - 25})
    spec = QualitySpec(non_negative_columns=["y"], max_issues_per_check=3, explore=False)
    found = quality._validity.check_non_negative(QualityData(frame, spec), spec)
    assert found.n_failed == 25 and len(found.issues) == 3


def _architecture():
    path = Path(__file__).resolve().parents[1] / "test_architecture.py"
    module_spec = importlib.util.spec_from_file_location("_planner_architecture", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def test_quality_sits_above_sources_features_and_chem():
    """One direction: quality may import sources, features and chem; none of them imports quality."""
    arch = _architecture()
    below = [m for m in arch.MODULES if m.split(".")[1:2] in (["sources"], ["features"], ["chem"], ["validation"])]
    offenders = [f"{m} imports {t}" for m in below for t in arch.imports_of(m) if t.startswith("planner.quality")]
    assert not offenders, offenders
    assert any(t.startswith("planner.sources") for t in arch.imports_of("planner.quality._data"))


def test_a_target_not_measured_yet_is_target_missing_not_an_empty_column():
    """A campaign's unmeasured rows lack the target: that is target_missing (a warning), not a
    column to drop (column_missingness / uninformative_columns failing on the target)."""
    frame = pd.DataFrame({"x": [0.1, 0.5, 0.9], "y": [None, None, None]})
    report = assess(frame, QualitySpec(explore=False, target_columns=["y"]))
    assert report.check("column_missingness").status == "pass"
    assert report.check("uninformative_columns").status == "pass"
    assert report.check("target_missing").status == "warn"
    constant = assess(frame.assign(y=2.0), QualitySpec(explore=False, target_columns=["y"]))
    assert constant.check("uninformative_columns").status == "warn" and "constant: 'y'" in constant.check("uninformative_columns").message
