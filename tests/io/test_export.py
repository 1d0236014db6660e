"""Exports meant for spreadsheets cannot carry formulas; stored state stays faithful."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from planner.cli import main
from planner.io import spreadsheet_safe, write_export_csv

RISKY = ["=1+2", "+HYPERLINK(\"http://x\")", "@SUM(A1:A9)", "-cmd|' /C calc'!A0", "\tTAB", "\rCR"]


def test_text_cells_are_defused_and_numbers_kept(tmp_path):
    frame = pd.DataFrame({"name": RISKY + ["LiPF6", None], "value": [-1.5, 2.0, -3.0, 4.0, 5.0, 6.0, -7.0, 8.0],
                          "=col": ["a"] * 8})
    safe = spreadsheet_safe(frame)
    assert safe["name"].tolist()[:6] == ["'" + v for v in RISKY]
    assert safe["name"].iloc[6] == "LiPF6" and pd.isna(safe["name"].iloc[7])
    assert safe["value"].tolist() == frame["value"].tolist()  # negative numbers stay numbers
    assert list(safe.columns) == ["name", "value", "'=col"]
    assert frame["name"].iloc[0] == "=1+2"  # the input is not modified
    write_export_csv(tmp_path / "out.csv", frame)
    text = (tmp_path / "out.csv").read_text()
    assert "'=1+2" in text and "\n=1+2" not in text and ",-1.5," in text


@pytest.mark.slow
def test_predict_and_suggest_exports_through_the_cli(tmp_path, capsys):
    rng = np.random.default_rng(1)
    n = 30
    frame = pd.DataFrame({"sample_id": ["=1+2", "@SUM(A1)"] + [f"s{i}" for i in range(n - 2)],
                          "x1": rng.uniform(0, 1, n), "salt": rng.choice(["+HYPERLINK(1)", "LiFSI"], n)})
    frame["y"] = frame["x1"] * 2 + (frame["salt"] == "LiFSI") + rng.normal(0, 0.05, n)
    frame.to_csv(tmp_path / "data.csv", index=False)
    pool = pd.DataFrame({"x1": rng.uniform(0, 1, 20), "salt": rng.choice(["+HYPERLINK(1)", "LiFSI"], 20)})
    pool.to_csv(tmp_path / "pool.csv", index=False)
    camp = tmp_path / "camp"

    def cli(*args):
        code = main([str(a) for a in args])
        _, err = capsys.readouterr()
        assert code == 0, err

    cli("init", camp, "--data", tmp_path / "data.csv", "--target", "y:max", "--id", "sample_id")
    (camp / "campaign.yaml").write_text((camp / "campaign.yaml").read_text().replace("  pool: null", f"  pool: {tmp_path / 'pool.csv'}"))
    cli("run", camp, "--trials", "2", "--single")
    cli("predict", camp, tmp_path / "data.csv", "--out", tmp_path / "pred.csv")
    cli("suggest", camp, "-n", "3", "--out", tmp_path / "sugg.csv")
    pred = pd.read_csv(tmp_path / "pred.csv", keep_default_na=False)
    assert "'=1+2" in pred["sample_id"].tolist() or "'=1+2" in pred.to_csv()
    assert not pred.astype(str).apply(lambda col: col.str.match(r"^[=+@\t\r]")).any().any()
    sugg = pd.read_csv(tmp_path / "sugg.csv", keep_default_na=False)
    assert not sugg.astype(str).apply(lambda col: col.str.match(r"^[=+@\t\r]")).any().any()
    # The suggestion log inside the campaign keeps the real level, unprefixed.
    log = pd.read_csv(camp / "suggestions.csv")
    assert set(log["salt"]) <= {"+HYPERLINK(1)", "LiFSI"}
