"""Relational features with featuretools: generated cells/cycles, the Liverpool table, key errors."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from scipy.stats import skew
from sklearn.base import clone

from planner.chem import normalize_formula
from planner.exceptions import DataQualityWarning, DataValidationError, SpecError
from planner.steps import RelationalFeaturizer, relational_features

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:woodwork")


@pytest.fixture(scope="module")
def cycle_features(cells_and_cycles) -> pd.DataFrame:
    cells, cycles = cells_and_cycles
    return relational_features(
        cells, cycles, parent_key="cell_id", time_column="cycle", child_name="cycles", windows=[100],
        value_columns=["capacity", "voltage"],
    )  # fmt: skip


def test_aggregates_match_pandas(cells_and_cycles, cycle_features):
    _, cycles = cells_and_cycles
    by = cycles.groupby("cell_id")["capacity"]
    np.testing.assert_allclose(cycle_features["MEAN(cycles.capacity)"], by.mean())
    np.testing.assert_allclose(cycle_features["STD(cycles.capacity)"], by.std())
    np.testing.assert_allclose(cycle_features["MIN(cycles.capacity)"], by.min())
    np.testing.assert_allclose(cycle_features["MAX(cycles.capacity)"], by.max())
    np.testing.assert_allclose(cycle_features["COUNT(cycles)"], by.size())
    np.testing.assert_allclose(
        cycle_features["SKEW(cycles.capacity)"], by.agg(lambda s: skew(s, bias=False)), rtol=1e-6
    )


def test_trend_is_the_fade_per_cycle(cells_and_cycles, cycle_features):
    cells, cycles = cells_and_cycles
    for cell in cells["cell_id"]:
        rows = cycles[cycles["cell_id"] == cell]
        slope = np.polyfit(rows["cycle"], rows["capacity"], 1)[0]
        assert cycle_features.loc[cell, "TREND(cycles.capacity, cycle)"] == pytest.approx(slope, rel=1e-9)
        assert slope == pytest.approx(-(cell + 1) * 5e-4, rel=0.05)


def test_first_100_cycles_window(cells_and_cycles, cycle_features):
    _, cycles = cells_and_cycles
    early = cycles[cycles["cycle"] <= 100]
    np.testing.assert_allclose(
        cycle_features["MEAN(cycles_first100.capacity)"], early.groupby("cell_id")["capacity"].mean()
    )
    assert (cycle_features["COUNT(cycles_first100)"] == 100).all()
    slope = np.polyfit(early[early.cell_id == 3]["cycle"], early[early.cell_id == 3]["capacity"], 1)[0]
    assert cycle_features.loc[3, "TREND(cycles_first100.capacity, cycle)"] == pytest.approx(slope)


def test_time_column_is_not_aggregated_as_a_value(cycle_features):
    assert not [c for c in cycle_features.columns if "cycles.cycle" in c or "TREND(cycles.cycle" in c]


def test_ids_are_not_guessed_as_dates(cells_and_cycles):
    """Integer ids stay ids (woodwork would otherwise infer types); string and int keys match."""
    cells, cycles = cells_and_cycles
    as_text = cells.assign(cell_id=cells["cell_id"].map(lambda i: f"{i}"))
    out = relational_features(as_text, cycles, parent_key="cell_id", time_column="cycle", aggregations=["count"])
    assert out["COUNT(records)"].tolist() == cycles.groupby("cell_id").size().tolist()


def test_transformer_fixes_features_at_fit_and_handles_new_rows(cells_and_cycles):
    cells, cycles = cells_and_cycles
    step = RelationalFeaturizer(child=cycles, parent_key="cell_id", time_column="cycle", child_name="cycles",
                                value_columns=["capacity"], windows=[50])  # fmt: skip
    step.fit(cells.iloc[:8])
    out = step.transform(cells.iloc[8:])
    assert list(out.columns) == list(step.get_feature_names_out())
    assert "cell_id" not in out.columns and "chemistry" in out.columns
    reference = relational_features(cells, cycles, parent_key="cell_id", time_column="cycle", child_name="cycles",
                                    value_columns=["capacity"], windows=[50])  # fmt: skip
    pd.testing.assert_frame_equal(out[step.feature_names_], reference.iloc[8:][step.feature_names_], check_dtype=False)
    restored = pickle.loads(pickle.dumps(step))
    pd.testing.assert_frame_equal(restored.transform(cells.iloc[8:]), out)
    assert clone(step).get_params()["parent_key"] == "cell_id"


def test_parent_without_records_gets_nan_and_a_warning(cells_and_cycles):
    cells, cycles = cells_and_cycles
    extra = pd.concat(
        [cells, pd.DataFrame({"cell_id": [99], "chemistry": ["LFP"], "c_rate": [1.0]})], ignore_index=True
    )
    with pytest.warns(DataQualityWarning, match="1 parent row key\\(s\\) have no child rows \\('99'\\)"):
        out = relational_features(
            extra, cycles, parent_key="cell_id", time_column="cycle", aggregations=["mean", "count"]
        )
    assert np.isnan(out.iloc[-1]["MEAN(records.capacity)"]) and out.iloc[-1]["COUNT(records)"] == 0


def test_orphan_child_rows_are_warned_about(cells_and_cycles):
    cells, cycles = cells_and_cycles
    with pytest.warns(DataQualityWarning, match="child row\\(s\\) have keys with no parent row"):
        relational_features(cells.iloc[:3], cycles, parent_key="cell_id", time_column="cycle", aggregations=["count"])


def test_keys_that_never_match_are_an_error(cells_and_cycles):
    cells, cycles = cells_and_cycles
    wrong = cycles.assign(cell_id="cell-" + cycles["cell_id"].astype(str))
    with pytest.raises(DataValidationError, match="no child key in 'cell_id' matches a parent key"):
        relational_features(cells, wrong, parent_key="cell_id", time_column="cycle")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        pytest.param({"time_column": None}, SpecError, "'trend' needs a time column", id="trend-no-time"),
        pytest.param({"aggregations": ["mean", "p90"]}, SpecError, "aggregations='p90' is not supported", id="agg"),
        pytest.param(
            {"child_key": "cell"}, DataValidationError, "child key column\\(s\\) 'cell' not found", id="child-key"
        ),
        pytest.param(
            {"parent_key": "cell"}, DataValidationError, "parent key column\\(s\\) 'cell' not found", id="parent-key"
        ),
        pytest.param({"windows": [0]}, SpecError, "windows must be positive integers", id="window"),
        pytest.param({"value_columns": ["chemistry_text"]}, DataValidationError, "not numeric", id="text-value"),
    ],
)
def test_argument_errors(cells_and_cycles, kwargs, error, match):
    cells, cycles = cells_and_cycles
    cycles = cycles.assign(chemistry_text="x")
    args = {"parent_key": "cell_id", "time_column": "cycle", **kwargs}
    with pytest.raises(error, match=match):
        relational_features(cells, cycles, **args)


def test_time_column_must_be_numbers_or_dates(cells_and_cycles):
    cells, cycles = cells_and_cycles
    with pytest.raises(DataValidationError, match="time column 'cycle' must be numbers"):
        relational_features(
            cells, cycles.assign(cycle="c" + cycles["cycle"].astype(str)), parent_key="cell_id", time_column="cycle"
        )


def test_datetime_time_index_uses_featuretools_trend(cells_and_cycles):
    cells, cycles = cells_and_cycles
    dated = cycles.assign(when=pd.Timestamp("2024-01-01") + pd.to_timedelta(cycles["cycle"], unit="D"))
    out = relational_features(cells, dated.drop(columns="cycle"), parent_key="cell_id", time_column="when",
                              value_columns=["capacity"], aggregations=["trend"])  # fmt: skip
    rows = cycles[cycles.cell_id == 0]
    assert out.loc[0, "TREND(records.capacity, when)"] == pytest.approx(
        np.polyfit(rows["cycle"], rows["capacity"], 1)[0], rel=1e-6
    )


def test_liverpool_conductivity_trend_over_temperature(liverpool):
    """Real child table: each composition (parent) with its measurements at several temperatures."""
    measurements = liverpool.assign(material=liverpool["composition"].map(normalize_formula))
    materials = pd.DataFrame({"material": measurements["material"].unique()})
    out = relational_features(
        materials, measurements, parent_key="material", time_column="temperature", value_columns=["log_target"],
        aggregations=["mean", "max", "trend", "count"], windows=[3], child_name="measurements",
    )  # fmt: skip
    assert len(out) == 455
    counts = measurements.groupby("material").size()
    np.testing.assert_array_equal(
        out["COUNT(measurements)"].to_numpy(), counts.reindex(materials["material"]).to_numpy()
    )
    multi = counts[counts >= 3].index[:25]
    for material in multi:
        rows = measurements[measurements["material"] == material]
        if rows["temperature"].nunique() < 2:
            continue
        slope = np.polyfit(rows["temperature"], rows["log_target"], 1)[0]
        got = out.loc[materials["material"] == material, "TREND(measurements.log_target, temperature)"].item()
        assert got == pytest.approx(slope, rel=1e-8)
    # Ionic conduction is thermally activated: conductivity rises with temperature for most materials.
    trends = out["TREND(measurements.log_target, temperature)"].dropna()
    assert (trends > 0).mean() > 0.8


def test_logical_types_are_declared_not_inferred(cells_and_cycles):
    from planner.steps._relational import _build_entityset, _key_text, _Plan

    cells, cycles = cells_and_cycles
    plan = _Plan(
        cycles, child_key="cell_id", time_column="cycle", value_columns=None, categorical_columns=(),
        aggregations=["mean"], windows=[], logical_types=None, child_name="cycles",
    )  # fmt: skip
    es = _build_entityset(plan, pd.Index(_key_text(cells["cell_id"])), _key_text(cycles["cell_id"]))
    types = {name: str(t) for name, t in es["cycles"].ww.logical_types.items()}
    assert types["cell_id"] == "Categorical"
    assert types["cycle"] == "Double" and types["capacity"] == "Double"
    assert es["cycles"].ww.time_index == "cycle"
