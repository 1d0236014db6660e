"""QualitySpec: frozen, validated at construction, every bad key or value named with the fix."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest

from planner.exceptions import SpecError
from planner.quality import QualitySpec, assess


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        pytest.param({"tagret_columns": ["y"]}, r"unknown quality setting\(s\) 'tagret_columns' \(did you mean 'target_columns'\?\)", id="typo"),
        pytest.param({"colour": "red"}, r"unknown quality setting\(s\) 'colour'\. Known settings: ", id="unknown"),
        pytest.param({"id_column": 3}, r"id_column must be a column name \(text\) or None, got 3", id="id-not-text"),
        pytest.param({"target_columns": {"y": 1}}, r"target_columns must be a list of column names", id="targets-mapping"),
        pytest.param({"condition_columns": ["T", 5]}, r"condition_columns must list column names \(text\), got 5", id="condition-not-text"),
        pytest.param({"missing_threshold": 1.5}, r"missing_threshold must be a share between 0 and 1, got 1\.5", id="missing-share"),
        pytest.param({"row_missing_threshold": "half"}, r"row_missing_threshold must be a number, got 'half'", id="row-missing-text"),
        pytest.param({"outlier_method": "lof"}, r"outlier_method='lof' is not supported\. Choose one of", id="outlier-method"),
        pytest.param({"outlier_threshold": 0}, r"outlier_threshold must be > 0, got 0", id="outlier-threshold"),
        pytest.param({"task": "ranking"}, r"task='ranking' is not supported", id="task"),
        pytest.param({"max_age_days": -1}, r"max_age_days must be > 0, got -1", id="max-age"),
        pytest.param({"max_issues_per_check": 0}, r"max_issues_per_check must be a whole number >= 1, got 0", id="max-issues"),
        pytest.param({"explore": "yes"}, r"explore must be true or false, got 'yes'", id="explore-bool"),
        pytest.param({"bounds": {"y": 5}}, r"bounds\['y'\] must be a \(lower, upper\) pair, got 5", id="bounds-pair"),
        pytest.param({"bounds": {"y": (10, 1)}}, r"bounds\['y'\] has lower 10 > upper 1; swap them", id="bounds-order"),
        pytest.param({"bounds": {"y": ("low", 1)}}, r"bounds\['y'\] lower must be a number, got 'low'", id="bounds-text"),
        pytest.param({"units": {"y": 3}}, r"units values must be non-empty text like", id="units"),
        pytest.param({"rules": ["y > 0"]}, r"rules must be a mapping like", id="rules-list"),
        pytest.param({"allowed_values": {"c": "abc"}}, r"allowed_values\['c'\] must be a list of levels, got 'abc'", id="levels-text"),
        pytest.param({"fraction_groups": {"f": ["a"]}}, r"fraction group 'f': needs at least two columns", id="fraction-one-column"),
        pytest.param({"fraction_groups": [{"cols": ["a", "b"]}]}, r"fraction_groups entries need 'name' and 'columns'", id="fraction-keys"),
        pytest.param({"fraction_tolerance": -0.1}, r"fraction_tolerance must be >= 0, got -0\.1", id="fraction-tolerance"),
        pytest.param({"condition_tolerance": {"T": 1}}, r"condition_tolerance names 'T', which are not condition_columns", id="tolerance-not-condition"),
        pytest.param({"consistency_tolerance": -1}, r"consistency_tolerance must be >= 0, got -1", id="consistency-tolerance"),
        pytest.param({"reference_date": "yesterday-ish"}, r"reference_date 'yesterday-ish' is not a date; write it as YYYY-MM-DD", id="date"),
    ],
)
def test_bad_settings_name_the_key(settings, match):
    with pytest.raises(SpecError, match=match):
        QualitySpec.from_dict(settings)
    # assess's keywords build the same spec, so they fail the same way, before any data is read
    with pytest.raises(SpecError, match=match):
        assess(pd.DataFrame({"y": [1.0, 2.0]}), **settings)


def test_spec_is_frozen_and_its_mappings_read_only():
    spec = QualitySpec(target_columns=["y"], bounds={"y": (0, None)}, units={"y": "S/cm"})
    assert spec.target_columns == ("y",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.strict = True  # type: ignore[misc]
    with pytest.raises(TypeError):
        spec.bounds["y"] = (1, 2)  # type: ignore[index]
    stricter = spec.replace(strict=True, target_columns="y")
    assert stricter.strict and not spec.strict and stricter.target_columns == ("y",)
    with pytest.raises(SpecError, match="missing_threshold must be a share between 0 and 1"):
        spec.replace(missing_threshold=2)


def test_round_trip_through_json():
    spec = QualitySpec(
        id_column="id",
        target_columns=["y"],
        condition_columns=["T"],
        condition_tolerance={"T": 2.5},
        bounds={"y": (0, 1)},
        allowed_values={"salt": ["LiPF6", "LiFSI"]},
        fraction_groups={"solvent": ["EC", "DMC"]},
        rules={"positive": "y > 0"},
        reference_date="2024-05-01",
        max_age_days=30,
        outlier_method=None,
    )
    again = QualitySpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec and hash(again) == hash(spec)
    assert spec != spec.replace(max_age_days=31)
    assert list(again.fraction_groups[0].columns) == ["EC", "DMC"]


def test_assess_with_a_spec_equals_assess_with_keywords():
    frame = pd.DataFrame({"id": ["a", "b", "c", "c"], "x": [1.0, 2.0, 3.0, 3.0], "y": [0.5, 1.5, -1.0, -1.0]})
    settings = {"id_column": "id", "target_columns": ["y"], "bounds": {"y": (0, None)}, "explore": False}
    by_spec = assess(frame, QualitySpec(**settings), dataset_name="t").to_dict()
    by_keywords = assess(frame, dataset_name="t", **settings).to_dict()
    by_spec["created"] = by_keywords["created"] = ""
    assert by_spec == by_keywords
    assert by_spec["status"] == "fail"
    # keywords next to a spec change that spec
    relaxed = assess(frame, QualitySpec(**settings), bounds={}, dataset_name="t")
    assert relaxed.check("bounds").status == "skipped"
    with pytest.raises(SpecError, match="assess: spec must be a QualitySpec, got dict"):
        assess(frame, settings)  # type: ignore[arg-type]
