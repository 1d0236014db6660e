"""run_search on a real sqlite Optuna storage: resumable, seeded, failures recorded, grouped."""

from __future__ import annotations

import textwrap

import optuna
import pytest

from planner.automl import CVSpec, run_search, study_info
from planner.exceptions import DataValidationError, SpecError

STATES = optuna.trial.TrialState


@pytest.fixture
def kim_study(kim_ce, storage_url):
    X, y = kim_ce
    return run_search(X, y, task="regression", search_space="fast", storage_url=storage_url, study_name="lce", n_trials=4, seed=11)


def test_study_stores_every_fold_and_starts_with_the_defaults(kim_study, storage_url):
    study = optuna.load_study(study_name="lce", storage=storage_url)
    trials = study.get_trials()
    assert len(trials) == 4 and all(t.state == STATES.COMPLETE for t in trials)
    assert [t.user_attrs["source"] for t in trials[:2]] == ["default", "default"]
    assert trials[0].params["model"] == "ridge" and trials[1].params["model"] == "rf"
    for t in trials:
        assert len(t.user_attrs["fold_scores"]) == 3  # fast space: 3-fold, 1 repeat
        assert t.value == pytest.approx(sum(t.user_attrs["fold_scores"]) / 3)
        assert t.user_attrs["pipeline"] and t.user_attrs["params"]["fusion"] == t.params.get("fusion", "single")
    info = study_info(study)
    assert info["task"] == "regression" and info["metric"] == "mae" and info["cv"]["n_folds"] == 3
    assert study.direction == optuna.study.StudyDirection.MINIMIZE and study.metric_names == ["mae"]


def test_rerunning_continues_the_same_study(kim_ce, kim_study, storage_url):
    X, y = kim_ce
    study = run_search(X, y, task="regression", search_space="fast", storage_url=storage_url, study_name="lce", n_trials=2, seed=11)
    assert len(study.trials) == 6
    assert sum(t.user_attrs.get("source") == "default" for t in study.trials) == 2, "defaults are enqueued once"


def test_same_seed_reproduces_the_same_trials_even_when_resumed(kim_ce, tmp_path):
    X, y = kim_ce
    one = run_search(X, y, task="regression", search_space="fast", storage_url=f"sqlite:///{tmp_path / 'a.db'}", study_name="s", n_trials=4, seed=5)
    two_url = f"sqlite:///{tmp_path / 'b.db'}"
    run_search(X, y, task="regression", search_space="fast", storage_url=two_url, study_name="s", n_trials=3, seed=5)
    two = run_search(X, y, task="regression", search_space="fast", storage_url=two_url, study_name="s", n_trials=1, seed=5)
    assert [t.params for t in one.trials] == [t.params for t in two.trials]
    assert [t.value for t in one.trials] == pytest.approx([t.value for t in two.trials])


def test_failed_trial_is_recorded_with_its_reason_and_the_search_goes_on(kim_ce, storage_url, tmp_path):
    X, y = kim_ce
    space = tmp_path / "breaks.yaml"
    space.write_text(
        textwrap.dedent(
            """
            version: 1
            cv: {n_splits: 3, n_repeats: 1}
            fusion:
              single:
                models:
                  knn:
                    n_neighbors: {type: categorical, choices: [500, 5]}
            defaults:
              - {model.knn.n_neighbors: 500}
              - {model.knn.n_neighbors: 5}
            """
        )
    )
    study = run_search(X, y, task="regression", search_space=space, storage_url=storage_url, study_name="b", n_trials=2, seed=0)
    failed, ok = study.trials
    assert failed.state == STATES.FAIL and ok.state == STATES.COMPLETE
    assert failed.user_attrs["failure_reason"].startswith("ValueError: Expected n_neighbors <= n_samples")
    assert failed.user_attrs["status"] == "failed"


def test_grouped_search_records_grouping(liverpool_rt, storage_url):
    X = liverpool_rt[["family", "temperature"]]
    study = run_search(
        X, liverpool_rt["log_target"], task="regression", search_space="fast", storage_url=storage_url, study_name="g",
        n_trials=2, seed=0, groups=liverpool_rt["composition"], column_roles={"family": "categorical", "temperature": "numeric"},
    )
    info = study_info(study)
    assert info["cv"]["grouped"] is True and info["column_roles"] == {"family": "categorical", "temperature": "numeric"}
    assert any(t.state == STATES.COMPLETE for t in study.trials)


def test_classification_search_maximizes_roc_auc(llzo_features, llzo, storage_url):
    study = run_search(llzo_features, llzo["good_cond"], task="classification", search_space="fast", storage_url=storage_url, study_name="c", n_trials=2, seed=0)
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE and study_info(study)["metric"] == "roc_auc"
    assert study.trials[0].params["model"] == "logistic"
    assert 0.5 < study.best_value <= 1.0


def test_pruning_stops_a_hopeless_trial_on_fold_values(kim_ce, storage_url, tmp_path):
    X, y = kim_ce
    space = tmp_path / "knn.yaml"
    space.write_text(
        textwrap.dedent(
            """
            version: 1
            fusion:
              single:
                models:
                  knn:
                    n_neighbors: {type: int, low: 3, high: 110}
            defaults:
              - {model.knn.n_neighbors: 3}
              - {model.knn.n_neighbors: 4}
              - {model.knn.n_neighbors: 5}
              - {model.knn.n_neighbors: 6}
              - {model.knn.n_neighbors: 7}
              - {model.knn.n_neighbors: 110}
            """
        )
    )
    study = run_search(X, y, task="regression", search_space=space, storage_url=storage_url, study_name="p", n_trials=6, seed=2, cv_spec=CVSpec(n_splits=5, n_repeats=1))
    *good, hopeless = study.trials
    assert all(t.state == STATES.COMPLETE and sorted(t.intermediate_values) == [0, 1, 2, 3] for t in good)
    assert hopeless.params["model.knn.n_neighbors"] == 110
    assert hopeless.state == STATES.PRUNED and hopeless.user_attrs["status"] == "pruned"
    assert len(hopeless.user_attrs["fold_scores"]) == 2  # warm-up of 5 // 3 = 1 fold, pruned at the second


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"n_trials": 0}, "n_trials must be an integer >= 1, got 0; a budget of 0 runs nothing", id="zero-trials"),
        pytest.param({"n_trials": None, "timeout_s": 0}, "timeout_s must be a number of seconds > 0, got 0", id="zero-timeout"),
        pytest.param({"n_trials": None}, "the search needs a budget", id="no-budget"),
        pytest.param({"metric": "accuracy"}, "metric 'accuracy' is for classification", id="wrong-metric"),
        pytest.param({"task": "ranking"}, "task must be one of", id="bad-task"),
        pytest.param({"n_workers": 0}, "n_workers must be an integer >= 1", id="zero-workers"),
    ],
)
def test_bad_search_arguments(kim_ce, storage_url, kwargs, match):
    X, y = kim_ce
    args = dict(task="regression", search_space="fast", storage_url=storage_url, study_name="x", n_trials=1)
    with pytest.raises(SpecError, match=match):
        run_search(X, y, **{**args, **kwargs})


def test_one_valued_target_and_too_few_rows(kim_ce, storage_url):
    X, y = kim_ce
    args = dict(task="regression", search_space="fast", storage_url=storage_url, study_name="x", n_trials=1)
    with pytest.raises(DataValidationError, match=r"single unique value .* nothing to learn"):
        run_search(X, y * 0 + 1.0, **args)
    with pytest.raises(DataValidationError, match="at least 6 rows, got 4"):
        run_search(X.head(4), y.head(4), **args)


def test_resuming_with_another_metric_is_refused(kim_ce, kim_study, storage_url):
    X, y = kim_ce
    with pytest.raises(SpecError, match=r"started with metric 'mae', now 'rmse'.*start a new study"):
        run_search(X, y, task="regression", search_space="fast", storage_url=storage_url, study_name="lce", n_trials=1, seed=11, metric="rmse")


def test_callbacks_and_progress_bar_see_every_trial(kim_ce, storage_url, capsys):
    X, y = kim_ce
    seen = []
    study = run_search(
        X, y, task="regression", search_space="fast", storage_url=storage_url, study_name="cb", n_trials=2, seed=0,
        callbacks=[lambda study, trial: seen.append((trial.number, trial.state.name, trial.user_attrs["pipeline"]))], progress=True,
    )
    assert seen == [(0, "COMPLETE", "median-impute > standard-scale > ridge"), (1, "COMPLETE", "median-impute > standard-scale > rf")]
    assert "best mae=" in capsys.readouterr().err
    assert len(study.trials) == 2


def test_resuming_after_editing_the_space_file_is_refused(kim_ce, storage_url, tmp_path, repo_root):
    X, y = kim_ce
    space = tmp_path / "mine.yaml"
    space.write_text((repo_root / "search_spaces" / "fast.yaml").read_text())
    run_search(X, y, task="regression", search_space=space, storage_url=storage_url, study_name="e", n_trials=1)
    space.write_text(space.read_text().replace("high: 60, default: 30", "high: 90, default: 30"))
    with pytest.raises(SpecError, match=r"started with search space content .* start a new study"):
        run_search(X, y, task="regression", search_space=space, storage_url=storage_url, study_name="e", n_trials=1)


def test_timeout_only_budget_stops_asking(kim_ce, storage_url):
    X, y = kim_ce
    study = run_search(X, y, task="regression", search_space="fast", storage_url=storage_url, study_name="t", n_trials=None, timeout_s=6.0, seed=0)
    assert 1 <= len(study.trials) < 50
    assert study.trials[0].state == STATES.COMPLETE, "the cheapest default goes first and completes"


def test_a_budget_below_one_cheap_trial_is_refused_with_the_smallest_useful_one(kim_ce, storage_url):
    X, y = kim_ce
    with pytest.raises(SpecError, match=r"too small for one cheap trial.*smallest useful budget is 5 s"):
        run_search(X, y, task="regression", search_space="fast", storage_url=storage_url, study_name="t", n_trials=None, timeout_s=1.0, seed=0)


def test_an_interrupted_search_leaves_no_running_trial_and_resumes(kim_ce, storage_url):
    X, y = kim_ce

    def interrupt(study, trial):
        if trial.number == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_search(X, y, task="regression", search_space="fast", storage_url=storage_url, study_name="i", n_trials=4, seed=0, callbacks=[interrupt])
    study = optuna.load_study(study_name="i", storage=storage_url)
    assert [t.state for t in study.trials] == [STATES.COMPLETE, STATES.COMPLETE]
    study = run_search(X, y, task="regression", search_space="fast", storage_url=storage_url, study_name="i", n_trials=2, seed=0)
    assert len(study.trials) == 4 and STATES.RUNNING not in {t.state for t in study.trials}


def test_trials_left_running_by_a_killed_driver_are_closed_as_failed(kim_ce, storage_url):
    X, y = kim_ce
    study = run_search(X, y, task="regression", search_space="fast", storage_url=storage_url, study_name="k", n_trials=1, seed=0)
    orphan = study.ask()  # what a driver killed mid-trial leaves behind
    study = run_search(X, y, task="regression", search_space="fast", storage_url=storage_url, study_name="k", n_trials=1, seed=0)
    closed = study.trials[orphan.number]
    assert closed.state == STATES.FAIL and closed.user_attrs["failure_reason"].startswith("interrupted")
    assert len(study.trials) == 3


def test_same_seed_same_trials_in_another_process(kim_ce, tmp_path, datasets_dir):
    import subprocess
    import sys

    X, y = kim_ce
    here = run_search(X, y, task="regression", search_space="fast", storage_url=f"sqlite:///{tmp_path / 'here.db'}", study_name="s", n_trials=3, seed=9)
    code = (
        "import pandas as pd\nfrom planner.automl import run_search\n"
        f"d = {str(datasets_dir / 'kim2023_pnas_electrolyte_ce')!r}\n"
        "X = pd.read_csv(d + '/CE_X.csv'); y = pd.read_csv(d + '/CE_y.csv')['LCE']\n"
        f"run_search(X, y, task='regression', search_space='fast', storage_url='sqlite:///{tmp_path / 'there.db'}', study_name='s', n_trials=3, seed=9)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    there = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path / 'there.db'}")
    assert [t.params for t in there.trials] == [t.params for t in here.trials]
    for a, b in zip(there.trials, here.trials, strict=True):
        assert a.user_attrs["fold_scores"] == pytest.approx(b.user_attrs["fold_scores"])
