"""build_report on real campaigns: every section from stored state, missing parts said plainly."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from planner.campaign import Campaign
from planner.exceptions import CampaignNotFoundError, SpecError
from planner.report import build_report

SECTION_TITLES = [
    "What to do next",
    "Campaign summary",
    "Data quality",
    "Leaderboard",
    "Best pipeline",
    "Search",
    "Interpretation",
    "Uncertainty",
    "Active learning",
    "Backtests",
    "Glossary",
]


def _state(directory: Path) -> dict[str, tuple[int, int]]:
    """Size and mtime of every file, to prove the report writes nothing but reports/."""
    return {str(p.relative_to(directory)): (p.stat().st_size, p.stat().st_mtime_ns) for p in directory.rglob("*") if p.is_file() and "reports" not in p.parts}


@pytest.mark.slow
def test_full_campaign_report(kim_campaign: Path, artifacts_dir: Path) -> None:
    before = _state(kim_campaign)
    result = build_report(Campaign.load(kim_campaign))
    assert _state(kim_campaign) == before, "the report must not change the campaign's state"
    assert result.html_path == kim_campaign / "reports" / "report.html"
    assert result.markdown_path == kim_campaign / "reports" / "summary.md"
    text = result.html_path.read_text(encoding="utf-8")
    for i, title in enumerate(SECTION_TITLES, 1):
        assert f"<h2>{i}. {title}</h2>" in text
    # self-contained: plotly.js inline, no script or stylesheet fetched from anywhere
    assert not re.search(r"<script[^>]+src=", text)
    assert not re.search(r"<link[^>]+href=\"?https?:", text)
    assert text.count('class="plotly-graph-div"') == result.n_figures
    # leaderboard 2, best pipeline 2, search 4 (history, importances, selection methods, features kept),
    # interpretation 3, uncertainty 1, active learning 1, backtests 2 (Top% and best so far)
    assert result.n_figures == 15
    # nothing is missing: trials store the features their selection step kept
    assert result.missing == (), result.missing
    assert "LinearExplainer" in text or "TreeExplainer" in text or "permutation explainer" in text
    assert "out-of-fold predictions of the saved model, stored with it at refit" in text
    # calibrated intervals, checked cross-conformally, with a plain verdict per level
    assert "cross-conformally" in text
    assert "Round 1: 5 suggestions" in text
    # the run planner.active.backtest wrote: its own summary (AF) and EF tables, no recomputation
    assert "Run planner-backtest" in text and "Summary per arm (final Top%, AF, first hits)" in text and "EF per arm" in text
    assert "EF (from curves" not in text
    md = result.markdown_path.read_text(encoding="utf-8")
    assert md.startswith("# Campaign report: campaign")
    assert "**Leaderboard LCE**" in md and "Data quality" in md and "5 suggestions in 1 round(s)" in md
    assert re.search(r"\*\*Calibrated intervals LCE\*\* .*90%: (holds|OFF: too narrow|off: wider than needed)", md)
    assert {"read campaign", "total", "section interpretation"} <= set(result.timings)
    shutil.copy(result.html_path, artifacts_dir / "kim_report.html")


@pytest.mark.slow
def test_report_to_custom_path_keeps_the_campaign_untouched(kim_campaign: Path, tmp_path: Path) -> None:
    before = _state(kim_campaign)
    result = build_report(Campaign.load(kim_campaign), out=tmp_path / "out" / "lab.html", allow_recompute=False)
    assert result.html_path == tmp_path / "out" / "lab.html"
    assert result.markdown_path == tmp_path / "out" / "lab.md"
    assert _state(kim_campaign) == before
    # the saved model stores its out-of-fold predictions: nothing needs recomputing
    assert not any("out-of-fold" in m for m in result.missing), result.missing


@pytest.mark.slow
def test_classification_report(llzo_campaign: Path, artifacts_dir: Path) -> None:
    result = build_report(Campaign.load(llzo_campaign))
    text = result.html_path.read_text(encoding="utf-8")
    assert "Confusion matrix (out-of-fold)" in text and "ROC (out-of-fold)" in text
    assert "Probability calibration" in text
    assert "Calibrated prediction sets" in result.markdown_path.read_text(encoding="utf-8").replace("*", "")
    assert "recalibrated, cross-fitted" in text
    assert any("No experiments have been added in the campaign yet" in m for m in result.missing)
    shutil.copy(result.html_path, artifacts_dir / "llzo_report.html")


@pytest.mark.slow
def test_multi_objective_report_without_search(redox_campaign: Path, artifacts_dir: Path) -> None:
    result = build_report(Campaign.load(redox_campaign))
    text = result.html_path.read_text(encoding="utf-8")
    assert "Pareto front" in text and "Target ered" in text and "Target gsol" in text
    assert result.n_figures == 1  # the Pareto front; nothing else is stored
    assert any("no AutoML search has run yet" in m for m in result.missing)
    shutil.copy(result.html_path, artifacts_dir / "redox_report.html")


def test_bare_campaign_says_what_is_missing(bare_campaign: Path) -> None:
    result = build_report(Campaign.load(bare_campaign))
    text = result.html_path.read_text(encoding="utf-8")
    assert result.n_figures == 0
    joined = "\n".join(result.missing)
    for expected in (
        "no data-quality report is stored",
        "no AutoML search has run yet",
        "no refit pipeline is stored",
        "No experiments have been added",
        "no backtest has been run",
    ):
        assert expected in joined, expected
    assert "optuna.db" not in {p.name for p in bare_campaign.iterdir()}, "reading must not create an empty study database"
    assert "<h2>10. Backtests</h2>" in text and "<h2>11. Glossary</h2>" in text
    assert "No suggestion is pending: run `planner suggest DIR -n 5`" in text


def test_not_a_campaign(tmp_path: Path) -> None:
    with pytest.raises(CampaignNotFoundError, match="no campaign at"):
        Campaign.load(tmp_path)


def test_a_path_is_loaded_by_the_caller(bare_campaign: Path) -> None:
    """The report never loads a campaign itself (planner.report does not import the campaign package)."""
    with pytest.raises(SpecError, match=r"pass Campaign\.load\("):
        build_report(bare_campaign)


def test_out_must_be_html(bare_campaign: Path, tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"--out must name an \.html file"):
        build_report(Campaign.load(bare_campaign), out=tmp_path / "report.pdf")
