"""The report's first box: pending batch, model verdicts, Pareto-optimal designs with their inputs."""

from __future__ import annotations

import pandas as pd

from planner.campaign import Campaign
from planner.report import build_report
from planner.spec import CampaignSpec, InputSpec, TargetSpec


def test_pareto_designs_are_listed_with_their_inputs(tmp_path):
    spec = CampaignSpec(
        name="two",
        data={"id_column": "cell"},
        inputs=[InputSpec(name="thickness_um"), InputSpec(name="porosity")],
        targets=[TargetSpec(name="energy", direction="max"), TargetSpec(name="heat", direction="min")],
    )
    camp = Campaign.create(tmp_path / "c", spec)
    camp.observe(pd.DataFrame({
        "cell": ["A", "B", "C", "D"], "thickness_um": [50, 100, 150, 120], "porosity": [0.3, 0.3, 0.3, 0.4],
        "energy": [300.0, 400.0, 480.0, 390.0], "heat": [4.0, 9.0, 20.0, 12.0],
    }))
    html = build_report(Campaign.load(tmp_path / "c"), max_shap_samples=10).html_path.read_text()
    first = html.split("<h2>2.", 1)[0]
    assert "Pareto-optimal designs measured so far" in first
    # A, B and C trade energy for heat; D is beaten by B on both.
    for cell in ("<td>A</td>", "<td>B</td>", "<td>C</td>"):
        assert cell in first
    assert "<td>D</td>" not in first and "thickness_um" in first
    assert "No suggestion is pending" in first and "no AutoML search yet" in first
