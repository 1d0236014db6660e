from __future__ import annotations

import pandas as pd
import pytest

from planner.campaign import Campaign
from planner.exceptions import CampaignError, DataValidationError


def suggestions(rows):
    frame = pd.DataFrame(rows)
    frame["lce_mean"] = 2.0
    frame["lce_std"] = 0.3
    frame["reason"] = "high predicted value"
    return frame


def test_pending_until_observed_by_near_match(campaign: Campaign):
    with campaign.store.lock():
        logged = campaign.suggestions.append(
            suggestions([{"ec_frac": 0.35, "salt": "LiFSI", "temp_c": 30.0}, {"ec_frac": 0.6, "salt": "LiPF6", "temp_c": 50.0}]),
            strategy="qlognei",
            model="gp",
        )
    assert list(logged["_suggestion_id"]) == ["S0001", "S0002"]
    assert campaign.status().n_suggestions_pending == 2
    # The lab made 0.351 instead of 0.35 (within 0.5 % of the design range): that fulfils S0001.
    report = campaign.observe(pd.DataFrame([{"sample_id": "N1", "ec_frac": 0.351, "salt": "LiFSI", "temp_c": 30, "lce": 2.2}]))
    assert report.n_suggestions_fulfilled == 1
    log = campaign.suggestions.read().set_index("_suggestion_id")
    assert log.loc["S0001", "_status"] == "observed" and log.loc["S0002", "_status"] == "pending"
    assert log.loc["S0001", "_observed_obs_id"] == 1
    # A different salt does not fulfil S0002 even at the same numbers.
    campaign.observe(pd.DataFrame([{"sample_id": "N2", "ec_frac": 0.6, "salt": "LiTFSI", "temp_c": 50, "lce": 1.0}]))
    assert campaign.status().n_suggestions_pending == 1


def test_explicit_suggestion_id_links(campaign: Campaign):
    with campaign.store.lock():
        campaign.suggestions.append(suggestions([{"ec_frac": 0.2, "salt": "LiFSI", "temp_c": 70.0}]), strategy="ucb", model="gp")
    obs = pd.DataFrame([{"sample_id": "N9", "ec_frac": 0.3, "salt": "LiPF6", "temp_c": 20, "lce": 1.7, "suggestion_id": "S0001"}])
    # An id the campaign never issued, or one not pending, would link nothing: refused, nothing stored.
    n_before = len(campaign.observations())
    with pytest.raises(DataValidationError, match=r"line 2: suggestion_id 'S0009' is not a suggestion of this campaign"):
        campaign.observe(obs.assign(suggestion_id="S0009"))
    assert len(campaign.observations()) == n_before
    # The lab's explicit id wins over the inputs, and a mismatch is said.
    with pytest.warns(UserWarning, match=r"1 row\(s\) name a suggestion made at other inputs \(line 2: ec_frac 0.3 where "
                      r"S0001 has 0.2, salt 'LiPF6' where S0001 has 'LiFSI'"):
        report = campaign.observe(obs)
    assert report.n_added == 1 and report.n_suggestions_fulfilled == 1
    again = obs.assign(sample_id="N10", lce=1.8)
    with pytest.raises(DataValidationError, match=r"suggestion_id 'S0001' is already observed; a suggestion is observed once"):
        campaign.observe(again)
    assert len(campaign.observations()) == n_before + 1
    assert campaign.observe(again.assign(suggestion_id="")).n_added == 1  # an empty cell: a new experiment
    assert "suggestion_id" not in campaign.observations().columns
    with pytest.raises(CampaignError, match=r"only pending suggestions can be cancelled; S0001 \(observed\)"):
        campaign.cancel(["S0001"])  # already observed
