"""`planner suggestions`: list, filter and withdraw suggestions; withdrawn ones are kept, never deleted."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from planner.campaign import Campaign
from planner.cli import main
from planner.exceptions import CampaignError
from planner.spec import CampaignSpec, DesignSpace, InputSpec, TargetSpec


@pytest.fixture
def camp(tmp_path):
    spec = CampaignSpec(
        name="cancel",
        data={"id_column": "sample_id"},
        inputs=[InputSpec(name="x1"), InputSpec(name="salt", role="categorical")],
        targets=[TargetSpec(name="y", direction="max")],
        design_space=DesignSpace(ranges={"x1": (0.0, 1.0)}, choices={"salt": ["LiPF6", "LiFSI"]}),
    )
    campaign = Campaign.create(tmp_path / "camp", spec)
    campaign.observe(pd.DataFrame({"sample_id": ["a", "b"], "x1": [0.1, 0.9], "salt": ["LiPF6", "LiFSI"], "y": [1.0, 2.0]}))
    with campaign.store.lock():
        campaign.suggestions.append(pd.DataFrame({"x1": [0.2, 0.4, 0.6, 0.8], "salt": ["LiPF6", "LiFSI", "LiPF6", "LiFSI"]}),
                                    strategy="qlognei", model="gp")
    # S0001 is measured and linked.
    campaign.observe(pd.DataFrame({"suggestion_id": ["S0001"], "sample_id": ["c"], "x1": [0.2], "salt": ["LiPF6"], "y": [1.5]}))
    return campaign


def cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_list_filter_and_json(camp, capsys):
    code, out, _ = cli(capsys, "suggestions", camp.directory)
    assert code == 0 and "3 pending, 1 observed" in out and "S0004" in out
    code, out, _ = cli(capsys, "suggestions", camp.directory, "--pending", "--json")
    records = json.loads(out)
    assert code == 0 and [r["suggestion_id"] for r in records] == ["S0002", "S0003", "S0004"]
    assert {r["status"] for r in records} == {"pending"} and records[0]["x1"] == pytest.approx(0.4)


def test_cancel_is_recorded_and_not_pending(camp, capsys):
    code, out, _ = cli(capsys, "suggestions", camp.directory, "--cancel", "S0003", "--reason", "furnace down")
    assert code == 0 and "cancelled 1 suggestion(s): S0003" in out
    log = Campaign.load(camp.directory).suggestion_log()
    row = log.set_index("_suggestion_id").loc["S0003"]
    assert row["_status"] == "cancelled" and row["_cancel_reason"] == "furnace down" and row["_cancelled_at"]
    assert len(log) == 4  # never deleted
    assert list(Campaign.load(camp.directory).suggestions.pending()["_suggestion_id"]) == ["S0002", "S0004"]
    code, out, _ = cli(capsys, "suggestions", camp.directory, "--cancel-all", "--json")
    assert code == 0 and json.loads(out) == {"cancelled": ["S0002", "S0004"]}
    assert Campaign.load(camp.directory).suggestion_log(pending_only=True).empty


@pytest.mark.parametrize(
    ("ids", "match"),
    [
        pytest.param(["S0099"], r"no suggestion with id 'S0099'\. Pending ids: S0002, S0003, S0004", id="unknown"),
        pytest.param(["S0002", "S0001"], r"only pending suggestions can be cancelled; S0001 \(observed\)", id="observed"),
    ],
)
def test_bad_cancel_changes_nothing(camp, capsys, ids, match):
    before = camp.suggestions.path.read_bytes()
    with pytest.raises(CampaignError, match=match):
        camp.cancel(ids)
    args = [a for i in ids for a in ("--cancel", i)]
    code, _, err = cli(capsys, "suggestions", camp.directory, *args)
    assert code == 2 and err.startswith("error: ") and "Traceback" not in err
    assert camp.suggestions.path.read_bytes() == before


def test_a_second_cancel_without_a_reason_warns_nothing(camp, capsys):
    """The cancel columns are all empty after a cancel without a reason and read back as numbers;
    the next cancel wrote text into them with a pandas FutureWarning on screen."""
    import warnings

    assert camp.cancel(["S0002"]) == ["S0002"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert camp.cancel(["S0003"], reason="") == ["S0003"]
        assert camp.cancel(["S0004"], reason="no furnace") == ["S0004"]
    log = Campaign.load(camp.directory).suggestion_log().set_index("_suggestion_id")
    assert log.loc["S0004", "_cancel_reason"] == "no furnace" and (log.loc[["S0002", "S0003", "S0004"], "_status"] == "cancelled").all()
