"""Correlations, rankings and PCA (the CorrelationFilter step is tested in tests/steps/test_selection.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from planner.exceptions import DataValidationError
from planner.quality import (
    correlated_pairs,
    correlation_matrix,
    explore,
    mutual_information_ranking,
    pca_explained_variance,
    target_correlations,
    variance_ranking,
)

KIM_FEATURES = ["FC", "OC", "FO", "InOr", "F", "sF", "aF", "O", "sO", "aO", "C", "sC", "aC"]


def test_kim_has_150_rows_and_13_features(kim):
    assert kim.shape == (150, 15)
    assert list(kim.columns[1:14]) == KIM_FEATURES


def test_correlation_matrices_match_scipy(kim):
    pearson = correlation_matrix(kim, columns=KIM_FEATURES)
    spearman = correlation_matrix(kim, method="spearman", columns=KIM_FEATURES)
    assert pearson.shape == (13, 13)
    assert pearson.loc["FC", "F"] == pytest.approx(stats.pearsonr(kim["FC"], kim["F"]).statistic)
    assert spearman.loc["sO", "O"] == pytest.approx(stats.spearmanr(kim["sO"], kim["O"]).statistic)


def test_solvent_oxygen_is_the_strongest_rank_correlate_of_lce(kim):
    """Kim et al. highlight sO (solvent oxygen fraction); it leads the Spearman ranking, negatively."""
    table = target_correlations(kim, "LCE", columns=KIM_FEATURES)
    assert table.index[0] == "sO"
    assert table.loc["sO", "spearman"] < -0.6
    assert table.loc["sO", "spearman_p"] < 1e-10
    assert (table["n"] == 150).all()


def test_correlated_pairs_in_kim(kim):
    pairs = correlated_pairs(kim, threshold=0.95, columns=KIM_FEATURES)
    found = {frozenset((a, b)) for a, b in zip(pairs["a"], pairs["b"], strict=True)}
    assert frozenset(("FC", "F")) in found
    assert (pairs["r"].abs() >= 0.95).all()


def test_variance_ranking_marks_constant_columns():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [5.0, 5.0, 5.0], "c": [100.0, 300.0, 200.0]})
    table = variance_ranking(frame)
    assert table.loc["b", "is_constant"] and not table.loc["a", "is_constant"]
    assert table.loc["a", "normalized_variance"] == pytest.approx(table.loc["c", "normalized_variance"])


def test_mutual_information_finds_the_informative_feature():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"signal": rng.uniform(size=300), "noise": rng.uniform(size=300)})
    frame["y"] = np.sin(6 * frame["signal"]) + rng.normal(0, 0.05, 300)
    table = mutual_information_ranking(frame, "y")
    assert table.index[0] == "signal"


def test_mutual_information_classification_on_llzo(llzo):
    feats = ["li_sto", "la_sto", "zr_sto", "li_dop_sto", "la_dop_sto", "zr_dop_sto", "rel_dens_%"]
    table = mutual_information_ranking(llzo, "good_cond", columns=feats)
    assert set(table.index) == set(feats)
    assert table.loc["rel_dens_%", "n_filled"] == 63


def test_pca_explained_variance_sums_to_one(kim):
    table = pca_explained_variance(kim, columns=KIM_FEATURES)
    assert table["cumulative"].iloc[-1] == pytest.approx(1.0)
    assert table["explained_variance_ratio"].is_monotonic_decreasing
    # Correlated ratios: far fewer directions than columns carry 90% of the variance.
    assert int((table["cumulative"] < 0.9).sum()) + 1 < 13


def test_explore_bundles_everything(kim, tmp_path):
    result = explore(kim, target_columns=["LCE"], feature_columns=KIM_FEATURES)
    assert result.pearson.shape == (13, 13)
    assert "LCE" in result.target_correlations and "LCE" in result.mutual_information
    assert result.n_components_for(0.9) < 13
    assert "sO" in result.to_text()
    written = result.save(tmp_path)
    assert (tmp_path / "target_correlations_LCE.csv") in written


def test_non_numeric_feature_is_an_error(kim):
    with pytest.raises(DataValidationError, match="'Electrolyte'.*not numeric"):
        correlation_matrix(kim, columns=["Electrolyte", "FC"])
