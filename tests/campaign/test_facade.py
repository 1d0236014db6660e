"""The Campaign facade: a whole campaign through the Python API, no command line.

Real components throughout: the CSV on disk, the Optuna storage, the AutoML refit, the BoTorch
suggestions and the HTML report.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

import planner.layout as layout
from planner.campaign import BacktestRun, Campaign, SuggestionBatch, TrialEvent
from planner.exceptions import CampaignError, SpecError
from planner.spec import CampaignSpec, DataSource, DataSpec, DesignSpace, InputSpec, TargetSpec


def yield_of(x1, x2):
    """The lab's truth: a smooth optimum at (0.3, 0.6)."""
    return 10.0 - 20.0 * (np.asarray(x1) - 0.3) ** 2 - 15.0 * (np.asarray(x2) - 0.6) ** 2


@pytest.fixture
def small_campaign(tmp_path) -> Campaign:
    rng = np.random.default_rng(0)
    x1, x2 = rng.uniform(0, 1, 24), rng.uniform(0, 1, 24)
    frame = pd.DataFrame({"sample": [f"A{i:02d}" for i in range(24)], "x1": x1.round(4), "x2": x2.round(4),
                          "yield": (yield_of(x1, x2) + rng.normal(0, 0.05, 24)).round(4)})
    frame.to_csv(tmp_path / "runs.csv", index=False)
    spec = CampaignSpec(
        name="facade",
        data=DataSpec(sources=[DataSource(path=str(tmp_path / "runs.csv"), label="runs")], id_column="sample"),
        inputs=[InputSpec(name="x1"), InputSpec(name="x2")],
        targets=[TargetSpec(name="yield", direction="max")],
        design_space=DesignSpace(ranges={"x1": (0.0, 1.0), "x2": (0.0, 1.0)}),
        search_space="fast",
        seed=0,
    )
    return Campaign.create(tmp_path / "camp", spec)


def _written(directory) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


def _documented_patterns() -> list[re.Pattern]:
    """The file paths planner.layout's docstring says a campaign writes, as patterns."""
    patterns = []
    for line in layout.__doc__.splitlines():
        match = re.match(r"^    (\S+(?:, \S+)?)\s{2,}", line)
        if not match:
            continue
        head = match.group(1)
        base = head.split(", ")[0].rsplit("/", 1)[0] + "/" if ", " in head else ""
        for i, name in enumerate(head.split(", ")):
            path = name if i == 0 else base + name
            path = re.sub(r"<[^>]+>", "[^/]+", re.escape(path).replace(r"\<", "<").replace(r"\>", ">"))
            path = path.replace("NNN", r"\d{3}").replace("NN", r"\d{2}")
            patterns.append(re.compile(path + (".*" if path.endswith("/") else "$")))
    return patterns


@pytest.mark.slow
def test_a_whole_campaign_through_the_python_api(small_campaign):
    campaign = small_campaign
    quality = campaign.assess_quality()
    assert quality.to_dict() and (campaign.directory / layout.QUALITY_DIR / "quality_report.json").is_file()

    events: list[TrialEvent] = []
    studies = campaign.search(n_trials=4, on_trial=events.append)
    assert set(studies) == {"yield"} and len(studies["yield"].trials) >= 4
    assert [e.number for e in events] == sorted(e.number for e in events) and {e.target for e in events} == {"yield"}
    done = [e for e in events if e.state == "complete"]
    assert done and all(e.pipeline and e.best_value is not None for e in done)
    board = campaign.leaderboard("yield", top=3)
    assert 1 <= len(board) <= 3 and (board["trial"].isin([e.number for e in done])).all()
    assert set(campaign.baselines("yield")["baseline"]) >= {"dummy"} or not campaign.baselines("yield").empty
    info = campaign.model_info("yield")
    assert info is not None and info["pipeline"]
    assert json.loads((layout.model_dir(campaign.directory, "yield") / layout.MODEL_SPEC_FILE).read_text()) == info

    new = pd.DataFrame({"x1": [0.3, 0.9], "x2": [0.6, 0.1]})
    predicted = campaign.predict(new)
    assert list(predicted["x1"]) == [0.3, 0.9]
    assert (predicted["yield_lower"] <= predicted["yield_prediction"]).all()
    assert (predicted["yield_prediction"] <= predicted["yield_upper"]).all()
    # the optimum beats a far corner, as the truth says
    assert predicted["yield_prediction"].iloc[0] > predicted["yield_prediction"].iloc[1]

    batch = campaign.suggest(3)
    assert isinstance(batch, SuggestionBatch) and batch.round == 1 and len(batch.table) == 3
    table, metadata = batch
    assert metadata["strategy_used"] and (table[["x1", "x2"]].stack().between(0, 1)).all()
    assert layout.suggestion_metadata_path(campaign.directory, 1).is_file()
    assert len(campaign.suggestion_log(pending_only=True)) == 3

    measured = table[["x1", "x2"]].assign(sample=[f"B{i}" for i in range(3)], **{"yield": yield_of(table["x1"], table["x2"])})
    measured["suggestion_id"] = table["_suggestion_id"].to_numpy()
    observed = campaign.observe(measured, source="lab")
    assert (observed.n_added, observed.n_suggestions_fulfilled) == (3, 3)
    assert campaign.suggestion_log(pending_only=True).empty
    status = campaign.status()
    assert status.n_observed == 3 and status.n_suggestions_pending == 0
    assert status.models[0]["stale"]  # three labelled rows arrived after the refit

    report = campaign.report(allow_recompute=False)
    assert report.html_path == campaign.directory / layout.REPORTS_DIR / layout.REPORT_HTML_FILE
    assert report.html_path.is_file() and report.markdown_path.is_file() and report.n_figures > 0

    # every file the walk wrote is one planner.layout's docstring lists
    patterns = _documented_patterns()
    undocumented = [f for f in _written(campaign.directory) if not any(p.match(f) for p in patterns)]
    assert not undocumented, f"written but not in planner.layout's docstring: {undocumented}"


def test_layout_docstring_patterns_can_fail():
    """The docstring check above is not vacuous: it rejects a file the layout does not name."""
    patterns = _documented_patterns()
    assert any(p.match("models/yield/pipeline.json") for p in patterns)
    assert any(p.match("suggestions/round_001.json") for p in patterns)
    assert not any(p.match("models/yield/notes.txt") for p in patterns)
    assert not any(p.match("stray.csv") for p in patterns)


def test_facade_refuses_what_it_cannot_do_before_a_search(small_campaign):
    campaign = small_campaign
    with pytest.raises(CampaignError, match="no AutoML trials for target 'yield' yet"):
        campaign.leaderboard("yield")
    assert campaign.model_info("yield") is None
    with pytest.raises(CampaignError, match="no saved model for target 'yield'"):
        campaign.predict(pd.DataFrame({"x1": [0.1], "x2": [0.2]}))
    with pytest.raises(SpecError, match="executor must be local or ray"):
        campaign.search(n_trials=1, executor="slurm")


@pytest.mark.slow
def test_backtest_through_the_facade(small_campaign):
    run = small_campaign.backtest(["random", "greedy@rf"], n_seeds=2, n_initial=3, budget=6)
    assert isinstance(run, BacktestRun)
    result, directory = run
    assert directory.parent == small_campaign.directory / layout.BACKTESTS_DIR
    assert (directory / "summary.csv").is_file() and set(result.summary["arm"]) == {"random", "greedy@rf"}
