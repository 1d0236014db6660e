"""The benchmark harness adds methods to a record (``--merge``) and copies them between records
(``--combine``) without rerunning the others; AutoGluon runs only from its own environment."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

AG_PYTHON = Path("/tmp/venv-ag/bin/python")


def _harness(repo_root):
    spec = importlib.util.spec_from_file_location("matbench_protocol", repo_root / "benchmarks" / "automl" / "matbench_protocol.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def tiny_csv(tmp_path) -> Path:
    rng = np.random.default_rng(3)
    x1, x2 = rng.normal(size=60), rng.normal(size=60)
    frame = pd.DataFrame({"id": range(60), "x1": x1, "x2": x2, "kind": rng.choice(["a", "b"], size=60)})
    frame["y"] = 2 * x1 - x2 + (frame["kind"] == "a") + rng.normal(scale=0.1, size=60)
    path = tmp_path / "tiny.csv"
    frame.to_csv(path, index=False)
    return path


def _run(harness, csv, out, *extra):
    return harness.main(["--csv", str(csv), "--target", "y", "--drop", "id", "--out", str(out), *extra])


def _record(out, name="tiny"):
    return json.loads((out / f"{name}.json").read_text())


def test_merge_reruns_only_the_named_methods_and_keeps_the_rest(repo_root, tiny_csv, tmp_path):
    harness, out = _harness(repo_root), tmp_path / "results"
    assert _run(harness, tiny_csv, out, "--methods", "rf", "--budget-s", "5") == 0
    before = _record(out)
    assert [f["fold"] for f in before["folds"]] == [0, 1, 2, 3, 4] and "merged" not in before

    # a second seed for the forest on folds 1 and 3 only: those entries change, the others stay byte for byte
    assert _run(harness, tiny_csv, out, "--methods", "rf", "--budget-s", "5", "--folds", "1,3", "--seed", "7", "--merge") == 0
    after = _record(out)
    assert after["methods"] == ["rf"] and after["folds_run"] == [0, 1, 2, 3, 4]
    for b, a in zip(before["folds"], after["folds"]):
        assert (a["rf"] == b["rf"]) is (a["fold"] not in (1, 3))
    assert [m["how"] for m in after["merged"]] == ["merge"] and "--merge" in after["merged"][0]["command"]
    assert after["summary"]["rf_mae"]["mean"] == pytest.approx(np.mean([f["rf"]["mae"] for f in after["folds"]]))
    assert "- merge of rf (" in (out / "RESULTS.md").read_text()


def test_merge_refuses_another_budget_or_a_missing_record(repo_root, tiny_csv, tmp_path):
    harness, out = _harness(repo_root), tmp_path / "results"
    with pytest.raises(SystemExit, match="does not exist; run without --merge first"):
        _run(harness, tiny_csv, out, "--methods", "rf", "--merge")
    assert _run(harness, tiny_csv, out, "--methods", "rf", "--budget-s", "5", "--folds", "0") == 0
    with pytest.raises(SystemExit, match=r"budget_s_per_fold: 5.0 in .*tiny.json but 6.0 in this run"):
        _run(harness, tiny_csv, out, "--methods", "rf", "--budget-s", "6", "--merge")
    with pytest.raises(SystemExit) as err:  # argparse: --merge without --methods
        _run(harness, tiny_csv, out, "--budget-s", "5", "--merge")
    assert err.value.code == 2


def test_combine_copies_another_records_methods(repo_root, tiny_csv, tmp_path):
    harness, out = _harness(repo_root), tmp_path / "results"
    assert _run(harness, tiny_csv, out, "--methods", "rf", "--budget-s", "5", "--folds", "0,1,2") == 0
    assert _run(harness, tiny_csv, out, "--methods", "rf", "--budget-s", "5", "--folds", "2,4", "--seed", "5", "--name", "other") == 0
    base, other = _record(out), _record(out, "other")

    with pytest.raises(SystemExit, match="both hold rf; name the methods to copy"):
        harness.main(["--name", "tiny", "--combine", str(out / "other.json"), "--out", str(out)])
    assert _record(out) == base  # refused: nothing written

    assert harness.main(["--name", "tiny", "--combine", str(out / "other.json"), "--methods", "rf", "--out", str(out)]) == 0
    combined = _record(out)
    assert combined["folds_run"] == [0, 1, 2, 4]
    by_fold = {f["fold"]: f for f in combined["folds"]}
    assert by_fold[0]["rf"] == base["folds"][0]["rf"] and by_fold[1]["rf"] == base["folds"][1]["rf"]
    assert by_fold[2]["rf"] == other["folds"][0]["rf"] and by_fold[4]["rf"] == other["folds"][1]["rf"]
    assert combined["merged"][-1]["how"] == "combine" and combined["merged"][-1]["source"].endswith("other.json")

    assert _run(harness, tiny_csv, out, "--methods", "rf", "--budget-s", "9", "--folds", "0", "--name", "slow") == 0
    with pytest.raises(SystemExit, match="budget_s_per_fold: 5.0 in tiny but 9.0 in"):
        harness.main(["--name", "tiny", "--combine", str(out / "slow.json"), "--out", str(out)])
    with pytest.raises(SystemExit, match="no record"):
        harness.main(["--name", "tiny", "--combine", str(out / "absent.json"), "--out", str(out)])


def test_ratios_and_seconds_for_every_anchor(repo_root):
    """summarize() and the report name the folds where planner loses to each anchor."""
    harness = _harness(repo_root)
    folds = [
        {"fold": 0, "n_train": 8, "n_test": 2, "planner": {"mae": 1.0, "seconds": 59.0, "n_trials": 3}, "ag_medium": {"mae": 2.0, "seconds": 11.0}},
        {"fold": 1, "n_train": 8, "n_test": 2, "planner": {"mae": 3.0, "seconds": 58.0, "n_trials": 4}, "ag_medium": {"mae": 2.0, "seconds": 12.5}},
    ]
    record = {"task": "regression", "methods": ["planner", "ag_medium"], "folds": folds, "budget_s_per_fold": 60.0}
    ratio = harness.summarize(record)["mae_ratio_planner_over_ag_medium"]
    assert ratio["per_fold"] == [0.5, 1.5] and ratio["folds"] == [0, 1] and ratio["of_means"] == pytest.approx(1.0)


def test_autogluon_methods_need_their_environment(repo_root, tiny_csv, tmp_path):
    harness = _harness(repo_root)
    with pytest.raises(SystemExit) as err:
        _run(harness, tiny_csv, tmp_path, "--methods", "rf,ag_medium", "--ag-python", str(tmp_path / "no-python"))
    assert err.value.code == 2 and not (tmp_path / "tiny.json").exists()


def test_a_failing_autogluon_fold_is_recorded_and_the_run_goes_on(repo_root, tiny_csv, tmp_path):
    """The project's own Python has no AutoGluon: each fold records the runner's error, rf keeps its scores."""
    harness, out = _harness(repo_root), tmp_path / "results"
    assert _run(harness, tiny_csv, out, "--methods", "rf,ag_medium", "--budget-s", "5", "--folds", "0", "--ag-python", sys.executable) == 0
    fold = _record(out)["folds"][0]
    assert "mae" in fold["rf"] and "No module named 'autogluon'" in fold["ag_medium"]["error"]
    assert "AutoGluon (medium_quality) failed with exit code 1" in (out / "RESULTS.md").read_text()


@pytest.mark.slow
@pytest.mark.skipif(not AG_PYTHON.is_file(), reason="AutoGluon's benchmark environment (/tmp/venv-ag, README.md) is not built here")
def test_autogluon_anchor_runs_in_its_environment(repo_root, tiny_csv, tmp_path):
    harness, out = _harness(repo_root), tmp_path / "results"
    assert _run(harness, tiny_csv, out, "--methods", "rf", "--budget-s", "10", "--folds", "0") == 0
    assert _run(harness, tiny_csv, out, "--methods", "ag_medium", "--budget-s", "10", "--folds", "0", "--merge", "--ag-python", str(AG_PYTHON)) == 0
    fold = _record(out)["folds"][0]
    ag = fold["ag_medium"]
    assert ag["presets"] == "medium_quality" and ag["autogluon_version"] == "1.6.3" and ag["n_models"] >= 1
    assert np.isfinite(ag["mae"]) and ag["mae"] < np.std(pd.read_csv(tiny_csv)["y"])  # better than the mean
    assert "seconds used per outer fold by ag_medium (budget 10.0 s)" in (out / "RESULTS.md").read_text()
