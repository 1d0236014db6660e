"""--json for scripting: observe, suggest, predict and suggestions print machine-readable records;
`planner report` says what it is doing while it works."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from planner.cli import main


def cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out, err


@pytest.mark.slow
def test_json_everywhere_and_report_progress(tmp_path, capsys):
    rng = np.random.default_rng(0)
    n = 30
    frame = pd.DataFrame({"sample_id": [f"s{i}" for i in range(n)], "x1": rng.uniform(0, 1, n), "x2": rng.uniform(0, 1, n)})
    frame["y"] = frame["x1"] - frame["x2"] + rng.normal(0, 0.05, n)
    frame.iloc[:25].to_csv(tmp_path / "data.csv", index=False)
    frame.iloc[25:].to_csv(tmp_path / "new.csv", index=False)
    pd.DataFrame({"x1": rng.uniform(0, 1, 40), "x2": rng.uniform(0, 1, 40)}).to_csv(tmp_path / "pool.csv", index=False)
    camp = tmp_path / "camp"
    cli(capsys, "init", camp, "--data", tmp_path / "data.csv", "--target", "y:max", "--id", "sample_id")
    yaml_path = camp / "campaign.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("  pool: null", f"  pool: {tmp_path / 'pool.csv'}"))

    observed = json.loads(cli(capsys, "observe", camp, tmp_path / "new.csv", "--json")[0])
    assert observed["n_read"] == 5 and observed["n_added"] == 5 and observed["n_duplicates"] == 0

    cli(capsys, "run", camp, "--trials", "2", "--single")
    predicted = json.loads(cli(capsys, "predict", camp, tmp_path / "new.csv", "--json")[0])
    assert len(predicted) == 5 and all(isinstance(r["y_prediction"], float) for r in predicted)

    suggested = json.loads(cli(capsys, "suggest", camp, "-n", "3", "--json")[0])
    assert suggested["round"] == 1 and len(suggested["suggestions"]) == 3
    assert [s["suggestion_id"] for s in suggested["suggestions"]] == ["S0001", "S0002", "S0003"]
    assert {"y_mean", "y_std", "reason"} <= set(suggested["suggestions"][0])
    assert suggested["metadata"]["n_observations"] == 30

    listed = json.loads(cli(capsys, "suggestions", camp, "--pending", "--json")[0])
    assert [r["suggestion_id"] for r in listed] == ["S0001", "S0002", "S0003"]

    out, err = cli(capsys, "report", camp)
    steps = [line for line in err.splitlines() if line.startswith("report [")]
    assert len(steps) >= 5 and steps[0].startswith("report [1/") and "report.html" in out
    # The first box says what to measure next and whether the model can be trusted.
    html = (camp / "reports" / "report.html").read_text()
    first = html.split("<h2>2.", 1)[0]
    assert "<h2>1. What to do next</h2>" in first and "Pending batch: measure these next" in first
    assert "S0001" in first and "y gain vs best" in first and "P(y beats best)" in first
    assert "Can the models be trusted?" in first and "out-of-fold R²" in first
    assert "<h2>11. Glossary</h2>" in html
    assert "(measured value)" in html  # SHAP dependence in the campaign's own units, not scaled inputs
