"""Balanced accuracy as the objective: the Bayes-optimal decision (class probability over the
class's training share) in the trials' scores, the ensemble selection and the saved model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from planner.automl import fit_final, load_fitted, refit, run_search
from planner.automl._metrics import balanced_decision, decide, decision_spec, get_metric, score_all


def test_balanced_decision_divides_by_the_training_prior():
    proba = np.array([[0.8, 0.2], [0.95, 0.05], [0.3, 0.7]])
    labels = balanced_decision(proba, np.array(["a", "b"]), np.array([0.9, 0.1]))
    # 0.2 / 0.1 = 2 > 0.8 / 0.9: a minority class with twice its prior wins; 0.05 / 0.1 < 0.95 / 0.9 does not
    assert list(labels) == ["b", "a", "b"]
    # a class absent from training is never predicted, however probable
    assert list(balanced_decision(np.array([[0.1, 0.9]]), np.array([0, 1]), np.array([1.0, 0.0]))) == [0]


def test_metric_is_known_and_scored_like_scikit_learn():
    metric = get_metric("balanced_accuracy", "classification")
    assert metric.direction == "maximize"
    y_true, y_pred = np.array([0, 0, 0, 1, 1]), np.array([0, 0, 1, 1, 0])
    assert score_all("classification", y_true, y_pred, None)["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y_true, y_pred))
    # other objectives keep the most probable class; balanced accuracy stores the priors it divides by
    assert decision_spec("roc_auc", y_true, [0, 1]) is None
    spec = decision_spec("balanced_accuracy", y_true, np.array([0, 1]))
    assert spec["rule"] == "balanced" and spec["prior"] == pytest.approx([0.6, 0.4]) and spec["classes"] == [0, 1]
    proba = np.array([[0.55, 0.45]])
    assert decide("accuracy", np.array([0]), proba, np.array([0, 1]), y_true)[0] == 0
    assert decide("balanced_accuracy", np.array([0]), proba, np.array([0, 1]), y_true)[0] == 1


def _imbalanced(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """One class in eight, overlapping: the most probable class is almost always the majority."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.125).astype(int)
    X = rng.normal(size=(n, 4))
    X[:, 0] += 1.2 * y
    X[:, 1] += 0.8 * y
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(4)]), y


@pytest.mark.slow
def test_search_and_saved_model_use_the_balanced_decision(tmp_path):
    X, y = _imbalanced(600, 0)
    X_new, y_new = _imbalanced(2000, 1)
    study = run_search(
        X, y, task="classification", search_space="fast", storage_url=f"sqlite:///{tmp_path / 'optuna.db'}",
        study_name="ba", n_trials=6, seed=0, metric="balanced_accuracy",
    )
    done = [t for t in study.trials if t.value is not None]
    assert done and all(0.5 <= t.value <= 1.0 for t in done)
    fitted = fit_final(study, X, y)
    rule = fitted.spec["decision"]
    assert rule["rule"] == "balanced" and rule["prior"] == pytest.approx([np.mean(y == 0), np.mean(y == 1)])
    out = fitted.predict(X_new)
    proba = out[["proba_0", "proba_1"]].to_numpy()
    assert np.array_equal(out["prediction"].to_numpy(), balanced_decision(proba, np.array([0, 1]), np.array(rule["prior"])))
    argmax = np.argmax(proba, axis=1)
    # the decision is what buys balanced accuracy on new rows (plain argmax rarely names the minority)
    assert skm.balanced_accuracy_score(y_new, out["prediction"]) > skm.balanced_accuracy_score(y_new, argmax) + 0.05
    # the stored out-of-fold labels (report, prediction sets) follow the same rule
    oof = fitted.oof
    assert oof is not None
    assert np.array_equal(oof["prediction"].to_numpy(), balanced_decision(oof[["proba_0", "proba_1"]].to_numpy(float), np.array([0, 1], dtype=object), np.array(rule["prior"])))
    assert (oof["prediction"] == 1).mean() > 0.2 > (y == 1).mean() - 0.1
    # refit() of the study keeps the same rule, out-of-fold labels included
    again = refit(study, X, y, ensemble=False)
    assert again.spec["decision"]["rule"] == "balanced" and again.spec["decision"]["prior"] == pytest.approx(rule["prior"])
    P = again.oof[["proba_0", "proba_1"]].to_numpy(float)
    assert np.array_equal(again.oof["prediction"].to_numpy(), balanced_decision(P, np.array([0, 1], dtype=object), np.array(rule["prior"])))
    fitted.save(tmp_path / "model")
    again = load_fitted(tmp_path / "model").predict(X_new.head(50))
    assert np.array_equal(again["prediction"].to_numpy(), out["prediction"].to_numpy()[:50])


@pytest.mark.slow
def test_other_objectives_keep_the_most_probable_class(tmp_path):
    X, y = _imbalanced(300, 2)
    study = run_search(
        X, y, task="classification", search_space="fast", storage_url=f"sqlite:///{tmp_path / 'optuna.db'}",
        study_name="auc", n_trials=3, seed=0,
    )
    fitted = fit_final(study, X, y)
    assert "decision" not in fitted.spec
    out = fitted.predict(X.head(100))
    assert np.array_equal(out["prediction"].to_numpy(), np.argmax(out[["proba_0", "proba_1"]].to_numpy(), axis=1))
