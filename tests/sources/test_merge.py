"""Multi-source merge: mapping, units, duplicate detection, conflict strategies, the log."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Composition

from planner.exceptions import DataQualityWarning, DataValidationError, SpecError
from planner.sources import MergeLog, SourceTable, combine_sources, convert_units, merge_sources


def _independent_key(formula: str) -> str:
    """Normalized composition computed without planner: strip quotes/spaces, pymatgen fractions."""
    cleaned = formula.strip().strip('"').replace(" ", "")
    return Composition(cleaned).fractional_composition.formula


@pytest.fixture(scope="module")
def liverpool_keys(liverpool) -> pd.Series:
    return liverpool["composition"].map(_independent_key)


def test_liverpool_duplicate_groups_match_pandas_groupby(liverpool, liverpool_keys):
    """Groups of rows with one composition and temperature: planner and a plain groupby agree."""
    sizes = liverpool.assign(key=liverpool_keys).groupby(["key", "temperature"]).size()
    expected_groups = int((sizes > 1).sum())
    expected_rows = int(sizes[sizes > 1].sum())
    merged, log = merge_sources(
        liverpool,
        composition_column="composition",
        condition_columns=["temperature"],
        value_columns=["log_target"],
        ignore_in_duplicates=["ID"],
    )
    assert log.n_groups_merged == expected_groups == 23
    assert log.n_rows_merged == expected_rows
    assert len(merged) == len(liverpool) - expected_rows + expected_groups
    assert log.n_exact_duplicates == 0
    # Normalization matters: the raw strings alone find fewer repeats.
    raw = liverpool.groupby(["composition", "temperature"]).size()
    assert int((raw > 1).sum()) < expected_groups


def test_liverpool_median_of_each_group(liverpool, liverpool_keys):
    merged, log = merge_sources(
        liverpool,
        composition_column="composition",
        condition_columns=["temperature"],
        value_columns=["log_target"],
        strategy="median",
        ignore_in_duplicates=["ID"],
        composition_key_column="key",
    )
    grouped = liverpool.assign(key=liverpool_keys).groupby(["key", "temperature"])["log_target"].median()
    for record in log.filter("merged_group"):
        rows = [int(r) for r in record.rows]
        expected = liverpool.loc[rows, "log_target"].median()
        assert record.details["resolved"]["log_target"]["result"] == pytest.approx(expected)
    assert len(grouped) == len(merged)
    assert merged["n_merged"].sum() == len(liverpool)


def test_temperature_tolerance_joins_24_85_and_25(liverpool):
    _, exact = merge_sources(
        liverpool,
        composition_column="composition",
        condition_columns=["temperature"],
        value_columns=["log_target"],
        ignore_in_duplicates=["ID"],
    )
    _, tolerant = merge_sources(
        liverpool, composition_column="composition", condition_columns=["temperature"], condition_tolerance={"temperature": 0.5},
        value_columns=["log_target"], ignore_in_duplicates=["ID"],
    )  # fmt: skip
    assert tolerant.n_groups_merged > exact.n_groups_merged
    temps = [set(r.details["identity"]["temperature"]) for r in tolerant.filter("merged_group")]
    assert {24.85, 25.0} in temps


def test_shared_id_with_different_compositions_is_not_merged(liverpool):
    _, log = merge_sources(
        liverpool,
        key="ID",
        composition_column="composition",
        condition_columns=["temperature"],
        value_columns=["log_target"],
    )
    conflicts = log.filter("id_conflict")
    assert len(conflicts) == 1
    assert conflicts[0].details["id"] == {"ID": 922}
    assert sorted(conflicts[0].details["compositions"]) == ["Li0.022 La0.118 Ti0.2 Al0.004 O0.631", "LiF"]


def test_drop_strategy_drops_disagreeing_groups(liverpool):
    _, log = merge_sources(
        liverpool, composition_column="composition", condition_columns=["temperature"], value_columns=["log_target"],
        strategy="drop", max_spread=1.0, ignore_in_duplicates=["ID"],
    )  # fmt: skip
    assert log.n_groups_dropped > 0
    for record in log.filter("dropped_group"):
        spread = record.details["conflicts"]["log_target"]["spread"]
        assert spread > 1.0
    for record in log.filter("merged_group"):
        assert record.details["spread"].get("log_target", 0.0) <= 1.0


def test_family_conflicts_are_recorded(liverpool):
    _, log = merge_sources(
        liverpool,
        composition_column="composition",
        condition_columns=["temperature"],
        value_columns=["log_target", "target"],
        ignore_in_duplicates=["ID"],
    )
    families = [r for r in log.filter("attribute_conflict") if r.columns == ("family",)]
    assert families, "Li4P2S6 is labelled Glass in one paper and Thio-LISICON in another"


@pytest.fixture
def two_labs() -> list[SourceTable]:
    lab_a = pd.DataFrame(
        {"material": ["Li7La3Zr2O12", "Li3PS4", "LiCoO2"], "T_C": [25.0, 25.0, 25.0], "sigma": [5e-4, 2e-4, 1e-9]}
    )
    lab_b = pd.DataFrame(
        {
            "formula": ["Li14La6Zr4O24", "Li3PS4", "Li3PS4", "LiFePO4"],
            "temperature": [298.15, 298.15, 298.15, 298.15],
            "conductivity": [0.7, 0.3, 0.3, 1e-6],  # mS/cm
        }
    )
    return [
        SourceTable("lab_a", lab_a, rename={"material": "composition", "T_C": "temperature", "sigma": "conductivity"},
                    units={"temperature": "degC", "conductivity": "S/cm"}),
        SourceTable("lab_b", lab_b, rename={"formula": "composition"}, units={"temperature": "K", "conductivity": "mS/cm"}),
    ]  # fmt: skip


def test_mapping_units_and_exact_duplicates(two_labs):
    merged, log = merge_sources(
        two_labs, composition_column="composition", condition_columns=["temperature"], condition_tolerance=0.01
    )
    assert log.n_input_rows == 7
    assert log.n_exact_duplicates == 1  # lab_b's repeated Li3PS4 row
    conversions = log.filter("converted_units")
    assert {(c.details["from_unit"], c.details["to_unit"]) for c in conversions} == {("K", "degC"), ("mS/cm", "S/cm")}
    llzo = merged[merged["composition"] == "Li7La3Zr2O12"].iloc[0]
    assert llzo["conductivity"] == pytest.approx((5e-4 + 7e-4) / 2)
    assert llzo["temperature"] == pytest.approx(25.0)
    assert llzo["source"] == "lab_a; lab_b"
    assert llzo["n_merged"] == 2
    assert len(merged) == 4  # LLZO, Li3PS4, LiCoO2, LiFePO4


def test_trust_order_takes_the_trusted_value(two_labs):
    merged, _ = merge_sources(
        two_labs,
        composition_column="composition",
        condition_columns=["temperature"],
        condition_tolerance=0.01,
        strategy="trust",
        trust_order=["lab_b", "lab_a"],
    )
    llzo = merged[merged["composition"] == "Li14La6Zr4O24"].iloc[0]  # lab_b row is preferred, its spelling kept
    assert llzo["conductivity"] == pytest.approx(7e-4)


def test_merge_log_names_input_rows(two_labs):
    _, log = merge_sources(
        two_labs, composition_column="composition", condition_columns=["temperature"], condition_tolerance=0.01
    )
    merged_rows = {r.rows for r in log.filter("merged_group")}
    assert ("lab_a:0", "lab_b:0") in merged_rows
    table = log.to_frame()
    assert {"step", "action", "reason", "rows", "columns", "details"} <= set(table.columns)
    restored = MergeLog.from_dict(log.to_dict())
    assert restored.n_exact_duplicates == log.n_exact_duplicates and len(restored) == len(log)


def test_combine_sources_keeps_every_row_and_names_them(two_labs):
    combined, log = combine_sources(two_labs)
    assert len(combined) == 7
    assert combined.index[0] == "lab_a:0" and combined.index[-1] == "lab_b:3"
    assert combined.loc["lab_b:0", "conductivity"] == pytest.approx(7e-4)
    assert combined.loc["lab_b:0", "temperature"] == pytest.approx(25.0)


def test_merging_a_split_file_equals_merging_the_whole(liverpool):
    """Split Liverpool into two 'labs', one reporting mS/cm and Kelvin; the merge is unchanged."""
    odd = liverpool["ID"] % 2 == 1
    lab_a = liverpool[odd]
    lab_b = liverpool[~odd].rename(columns={"target": "sigma_mS", "temperature": "T_K"})
    lab_b = lab_b.assign(sigma_mS=lab_b["sigma_mS"] * 1000, T_K=lab_b["T_K"] + 273.15)
    sources = [
        SourceTable("a", lab_a, units={"target": "S/cm", "temperature": "degC"}),
        SourceTable(
            "b",
            lab_b,
            rename={"sigma_mS": "target", "T_K": "temperature"},
            units={"target": "mS/cm", "temperature": "K"},
        ),
    ]
    kwargs = dict(composition_column="composition", condition_columns=["temperature"], condition_tolerance=1e-6,
                  value_columns=["log_target", "target"], ignore_in_duplicates=["ID"], source_column="doi")  # fmt: skip
    split, split_log = merge_sources(sources, **kwargs)
    whole, whole_log = merge_sources(liverpool, **kwargs)
    assert split_log.n_groups_merged == whole_log.n_groups_merged
    assert len(split) == len(whole)
    assert split["target"].sum() == pytest.approx(whole["target"].sum())


def test_convert_units_handles_offsets():
    np.testing.assert_allclose(convert_units([25.0, 0.0], "degC", "K"), [298.15, 273.15])
    np.testing.assert_allclose(convert_units([1.0], "mS/cm", "S/m"), [0.1])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        pytest.param({"strategy": "drop"}, SpecError, "strategy='drop' needs max_spread", id="drop-needs-spread"),
        pytest.param({"strategy": "vote"}, SpecError, "strategy='vote' is not supported", id="strategy"),
        pytest.param(
            {"composition_column": None}, SpecError, "say how rows of the same entity are recognised", id="no-key"
        ),
        pytest.param(
            {"condition_columns": ["pressure"]}, DataValidationError, "'pressure' not found", id="missing-col"
        ),
        pytest.param({"max_spread": {"nope": 1.0}}, SpecError, "max_spread names 'nope'", id="bad-spread-col"),
    ],
)
def test_argument_errors(two_labs, kwargs, error, match):
    args = {"composition_column": "composition", **kwargs}
    with pytest.raises(error, match=match):
        merge_sources(two_labs, **args)


def test_mapping_errors_name_the_source():
    frame = pd.DataFrame({"a": [1.0]})
    with pytest.raises(DataValidationError, match=r"source 'x'.*'b'.*not in the table"):
        merge_sources([SourceTable("x", frame, rename={"b": "c"})], key="a")
    with pytest.raises(SpecError, match="unknown unit"):
        merge_sources(
            [SourceTable("x", frame, units={"a": "S/cm"}), SourceTable("y", frame, units={"a": "furlongs/blah"})],
            key="a",
        )
    with pytest.raises(SpecError, match="measure different things"):
        merge_sources(
            [SourceTable("x", frame, units={"a": "S/cm"}), SourceTable("y", frame, units={"a": "K"})], key="a"
        )
    with pytest.raises(SpecError, match="source labels must be unique"):
        merge_sources([("x", frame), ("x", frame)], key="a")


def test_text_in_a_converted_column_names_the_row():
    frame = pd.DataFrame({"id": [1, 2], "sigma": ["1.0", "5 mS/cm"]})
    with pytest.raises(DataValidationError, match=r"row 1.*'5 mS/cm'"):
        merge_sources(
            [
                SourceTable("a", frame.iloc[:0].astype({"sigma": float}), units={"sigma": "S/cm"}),
                SourceTable("b", frame, units={"sigma": "mS/cm"}),
            ],
            key="id",
        )


def test_unparseable_formulas_are_matched_as_text_and_logged():
    frame = pd.DataFrame({"composition": ["Li2O+", "Li2O+", "LiF"], "y": [1.0, 3.0, 2.0]})
    with pytest.warns(DataQualityWarning, match="could not be parsed"):
        merged, log = merge_sources(frame, composition_column="composition")
    assert len(log.filter("unparsed_composition")) == 1
    assert len(merged) == 2 and merged.loc[merged["composition"] == "Li2O+", "y"].item() == 2.0


def test_sources_from_files_name_rows_by_line(tmp_path):
    (tmp_path / "lab_a.csv").write_text(
        "\ufeffformula,T (C),sigma\nLi7La3Zr2O12,25,5e-4\n,,\nLi3PS4,25,2e-4\n", encoding="utf-8"
    )
    (tmp_path / "lab_b.csv").write_text(
        "composition;temperature;conductivity\nLi14La6Zr4O24;298.15;0.7\n", encoding="utf-8"
    )
    sources = [
        SourceTable.from_path(tmp_path / "lab_a.csv", rename={"formula": "composition", "T (C)": "temperature", "sigma": "conductivity"},
                              units={"temperature": "degC", "conductivity": "S/cm"}),
        SourceTable.from_path(tmp_path / "lab_b.csv", units={"temperature": "K", "conductivity": "mS/cm"}),
    ]  # fmt: skip
    assert sources[0].label == "lab_a" and sources[0].frame.attrs["n_blank_rows"] == 1
    combined, _ = combine_sources(sources)
    assert list(combined.index) == ["lab_a:2", "lab_a:4", "lab_b:2"]  # file line numbers
    merged, log = merge_sources(
        sources, composition_column="composition", condition_columns=["temperature"], condition_tolerance=0.01
    )
    assert len(log.filter("dropped_blank_rows")) == 1
    assert log.filter("merged_group")[0].rows == ("lab_a:2", "lab_b:2")
    assert merged.loc[0, "conductivity"] == pytest.approx(6e-4)


def test_missing_source_file_is_a_clear_error(tmp_path):
    with pytest.raises(DataValidationError, match="not found"):
        SourceTable.from_path(tmp_path / "nope.csv")


def test_composition_keys_give_cv_groups(liverpool):
    from planner.sources import composition_keys

    keys, errors = composition_keys(liverpool["composition"])
    assert not errors
    assert keys.nunique() == 455 < liverpool["composition"].nunique() == 489
    llzo = liverpool.index[liverpool["composition"].str.strip() == "Li7La3Zr2O12"]
    assert keys[llzo].nunique() == 1


def test_default_value_columns_skip_row_numbers(liverpool):
    _, log = merge_sources(liverpool, composition_column="composition", condition_columns=["temperature"])
    record = log.filter("merged_group")[0]
    assert set(record.columns) == {"target", "log_target"}  # not the running ID
