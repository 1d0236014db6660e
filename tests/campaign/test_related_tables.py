"""Cells -> cycles: featuretools aggregates of a child table become training features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from planner.campaign import Campaign
from planner.cli import main
from planner.spec import CampaignSpec, DataSource, DataSpec, InputSpec, RelatedTable, TargetSpec


@pytest.fixture
def cells_campaign(tmp_path):
    rng = np.random.default_rng(0)
    n_cells = 40
    fade = rng.uniform(2e-4, 2e-3, n_cells)  # capacity fade per cycle, hidden from the main table
    cells = pd.DataFrame(
        {
            "cell_id": [f"C{i:02d}" for i in range(n_cells)],
            "electrolyte": rng.choice(["LP30", "LP57", "FEC-rich"], n_cells),
            "loading_mg_cm2": rng.uniform(8, 20, n_cells).round(2),
            # cycle life to 80 % capacity follows from the fade rate (+ noise)
            "cycle_life": np.round(0.2 / fade * rng.normal(1, 0.05, n_cells)),
        }
    )
    cycles = []
    for cell, rate in zip(cells["cell_id"], fade):
        n = np.arange(1, 151)
        capacity = 1.1 * (1 - rate * n) + rng.normal(0, 0.002, n.size)
        cycles.append(pd.DataFrame({"cell": cell, "cycle": n, "capacity_ah": capacity, "temp_c": 25 + rng.normal(0, 0.5, n.size)}))
    cells.to_csv(tmp_path / "cells.csv", index=False)
    pd.concat(cycles).to_csv(tmp_path / "cycles.csv", index=False)
    spec = CampaignSpec(
        name="cells",
        data=DataSpec(
            sources=[DataSource(path=str(tmp_path / "cells.csv"))],
            id_column="cell_id",
            related=[
                RelatedTable(
                    path=str(tmp_path / "cycles.csv"),
                    name="cycles",
                    child_key="cell",
                    time_column="cycle",
                    value_columns=["capacity_ah"],
                    aggregations=["mean", "min", "trend"],
                    windows=[100],
                )
            ],
        ),
        inputs=[InputSpec(name="electrolyte", role="categorical"), InputSpec(name="loading_mg_cm2")],
        targets=[TargetSpec(name="cycle_life", direction="max")],
        search_space="fast",
    )
    return Campaign.create(tmp_path / "camp", spec), fade


def test_child_aggregates_are_features(cells_campaign):
    campaign, fade = cells_campaign
    data = campaign.training_data("cycle_life")
    trend = next(c for c in data.X.columns if c.startswith("TREND(") and "first100" in c)
    assert data.column_roles[trend] == "numeric"
    # The first-100-cycle capacity trend is -1.1 x the hidden fade rate, cell by cell.
    np.testing.assert_allclose(data.X[trend].to_numpy(), -1.1 * fade, rtol=0.05)
    assert {"electrolyte", "loading_mg_cm2"} <= set(data.X.columns)


def test_search_uses_the_child_features(cells_campaign, capsys):
    campaign, _ = cells_campaign
    assert main(["run", str(campaign.directory), "--trials", "2"]) == 0
    assert "refit on all rows" in capsys.readouterr().out


def test_child_keys_that_never_match(cells_campaign, tmp_path):
    campaign, _ = cells_campaign
    path = tmp_path / "cycles.csv"
    frame = pd.read_csv(path)
    frame["cell"] = "X" + frame["cell"]
    frame.to_csv(path, index=False)
    with pytest.raises(Exception, match="match"):
        campaign.training_data("cycle_life")
