"""The report builds from a frozen record gathered once, and reads backtests in the one spelling
`planner backtest` writes (planner.active.BacktestResult.to_dir)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from planner.campaign import Campaign
from planner.exceptions import DataValidationError
from planner.layout import BACKTESTS_DIR
from planner.report import ReportInputs, build_report, gather_inputs, write_report
from planner.report._sources import runs_curves

#: What a hand-made curves table of an early report fixture looked like (never written by planner).
OLD_SPELLING = pd.DataFrame({"strategy": ["random"] * 3, "seed": [0] * 3, "n_experiments": [1, 2, 3], "best_so_far": [1.0, 2.0, 2.0], "top_pct": [0.0, 50.0, 50.0]})


def _runs(n: int = 4) -> pd.DataFrame:
    """A runs.csv as BacktestResult.to_dir writes it (arm, seed, i, row, target, best_so_far, top_<f>_found, is_initial)."""
    return pd.DataFrame(
        {
            "arm": ["random"] * n + ["greedy@rf"] * n,
            "seed": [0] * (2 * n),
            "i": list(range(1, n + 1)) * 2,
            "row": list(range(2 * n)),
            "LCE": [1.0, 3.0, 2.0, 4.0] * 2,
            "best_so_far": [1.0, 3.0, 3.0, 4.0] * 2,
            "top_0.05_found": [0.0, 0.5, 0.5, 1.0] * 2,
            "top_0.01_found": [0.0, 0.0, 0.0, 1.0] * 2,
            "is_initial": [True, False, False, False] * 2,
        }
    )


def test_runs_csv_is_read_in_the_writers_spelling():
    curves = runs_curves(_runs())
    assert list(curves.columns) == ["strategy", "seed", "n", "best_so_far", "top_pct"]
    assert curves.attrs["top_label"] == "top_0.05_found"  # the first top set, as written
    assert curves["top_pct"].tolist() == _runs()["top_0.05_found"].tolist()


@pytest.mark.parametrize(
    ("drop", "named"),
    [
        (["arm"], "'arm'"),
        (["i"], "'i'"),
        (["best_so_far", "top_0.05_found", "top_0.01_found"], "best_so_far or top_<fraction>_found"),
    ],
)
def test_another_spelling_is_refused_naming_the_column(drop, named):
    with pytest.raises(DataValidationError, match=rf"runs.csv lacks column\(s\) \[.*{named.replace('<', '.').replace('>', '.')}.*\].*rerun `planner backtest`"):
        runs_curves(_runs().drop(columns=drop))


def test_the_old_hand_made_spelling_is_refused():
    with pytest.raises(DataValidationError, match=r"lacks column\(s\) \['arm', 'i'\]"):
        runs_curves(OLD_SPELLING)


def test_report_names_a_backtest_run_it_cannot_read(bare_campaign: Path, tmp_path: Path):
    root = bare_campaign / BACKTESTS_DIR
    (root / "hand-made").mkdir(parents=True)
    OLD_SPELLING.to_csv(root / "hand-made" / "curves.csv", index=False)
    (root / "renamed").mkdir()
    _runs().rename(columns={"arm": "strategy"}).to_csv(root / "renamed" / "runs.csv", index=False)
    (root / "good").mkdir()
    _runs().to_csv(root / "good" / "runs.csv", index=False)
    result = build_report(Campaign.load(bare_campaign), out=tmp_path / "r.html", allow_recompute=False)
    backtests = [m for m in result.missing if m.startswith("Backtests:")]
    assert any("hand-made/ has no runs.csv" in m for m in backtests), backtests
    assert any("renamed/runs.csv lacks column(s) ['arm']" in m for m in backtests), backtests
    assert not any("good" in m for m in backtests), backtests
    assert result.n_figures == 2  # the readable run: Top% and best so far
    # the missing lines are the sections' own texts, as the page shows them (HTML-escaped there)
    text = result.html_path.read_text(encoding="utf-8")
    assert "renamed/runs.csv lacks column(s) [&#x27;arm&#x27;]" in text


def test_write_report_builds_from_the_gathered_record_alone(bare_campaign: Path, tmp_path: Path):
    inputs = gather_inputs(Campaign.load(bare_campaign))
    assert isinstance(inputs, ReportInputs)
    with pytest.raises(dataclasses.FrozenInstanceError):
        inputs.spec = None  # type: ignore[misc]
    assert inputs.paths.directory == bare_campaign and inputs.paths.reports_dir == bare_campaign / "reports"
    assert [t.name for t in inputs.targets] == ["LCE"] and inputs.targets[0].model_dir == bare_campaign / "models" / "LCE"
    assert len(inputs.labelled) == 60
    # the record is all it needs: the campaign directory may even be gone
    moved = tmp_path / "moved"
    bare_campaign.rename(moved)
    result = write_report(inputs, tmp_path / "out" / "r.html")
    assert result.html_path.is_file() and result.markdown_path.read_text(encoding="utf-8").startswith("# Campaign report: campaign")
    assert any("no AutoML search has run yet" in m for m in result.missing)
    # the same campaign, loaded from where it is now, gives the same record but for the paths
    again = gather_inputs(Campaign.load(moved))
    assert again.paths.directory == moved and again.spec == inputs.spec
