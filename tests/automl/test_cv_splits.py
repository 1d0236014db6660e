"""CV splits: repeated, stratified, grouped, adapted to small data with notes, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from planner.automl import CVSpec, make_splits
from planner.exceptions import DataValidationError, PlannerWarning, SpecError


def test_repeated_kfold_covers_every_row_once_per_repeat(kim_ce):
    _, y = kim_ce
    splits, notes = make_splits(y, task="regression", cv_spec=CVSpec(n_splits=5, n_repeats=2), seed=3)
    assert len(splits) == 10 and not notes
    for r in range(2):
        tests = np.concatenate([te for _, te in splits[5 * r : 5 * r + 5]])
        assert sorted(tests) == list(range(len(y)))
    assert not np.array_equal(splits[0][1], splits[5][1]), "repeats must reshuffle"
    again, _ = make_splits(y, task="regression", cv_spec=CVSpec(n_splits=5, n_repeats=2), seed=3)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(splits, again, strict=True))


def test_auto_repeats_adapt_to_n(kim_ce):
    _, y = kim_ce
    splits, _ = make_splits(y, task="regression", cv_spec=CVSpec(n_splits=5, n_repeats="auto"))
    assert len(splits) == 10  # 150 rows: 2 repeats
    splits, _ = make_splits(y[:60], task="regression", cv_spec=CVSpec(n_splits=5, n_repeats="auto"))
    assert len(splits) == 15  # under 100 rows: 3 repeats


def test_classification_folds_are_stratified(llzo):
    y = llzo["good_cond"].to_numpy()
    splits, _ = make_splits(y, task="classification", cv_spec=CVSpec(n_splits=5, n_repeats=1))
    for _, test in splits:
        assert abs(y[test].mean() - y.mean()) < 0.06


def test_grouped_folds_never_split_a_composition(liverpool_rt):
    groups = liverpool_rt["composition"].to_numpy()
    splits, _ = make_splits(liverpool_rt["log_target"], task="regression", cv_spec=CVSpec(n_splits=5, n_repeats=2), groups=groups)
    assert len(splits) == 10
    for train, test in splits:
        assert not set(groups[train]) & set(groups[test])


def test_fewer_rows_than_folds_lowers_k_with_a_note(kim_ce):
    _, y = kim_ce
    with pytest.warns(PlannerWarning, match="K lowered from 5 to 4"):
        splits, notes = make_splits(y[:8], task="regression", cv_spec=CVSpec(n_splits=5, n_repeats=1))
    assert len(splits) == 4 and notes == ["K lowered from 5 to 4: only 8 rows (each test fold keeps at least 2)"]


def test_small_class_lowers_k_and_singleton_class_is_an_error():
    y = np.array(["a"] * 10 + ["b"] * 3)
    with pytest.warns(PlannerWarning, match="smallest class has 3 rows"):
        splits, _ = make_splits(y, task="classification", cv_spec=CVSpec(n_splits=5, n_repeats=1))
    assert len(splits) == 3
    with pytest.raises(DataValidationError, match=r"at least 2 rows per class.*\['c'\] have 1.*merge rare classes"):
        make_splits(np.append(y, "c"), task="classification")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        pytest.param({"y": np.arange(5.0)}, DataValidationError, "at least 6 rows, got 5", id="too-few-rows"),
        pytest.param({"y": np.arange(10.0), "groups": ["g"] * 10}, DataValidationError, "at least 2 groups, got 1", id="one-group"),
        pytest.param({"y": np.arange(10.0), "groups": ["g"] * 3}, DataValidationError, "groups has 3 entries", id="groups-length"),
    ],
)
def test_unusable_cv_inputs(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_splits(task="regression", **kwargs)


@pytest.mark.parametrize("bad", [pytest.param({"n_splits": 1}, id="k1"), pytest.param({"n_repeats": 0}, id="r0"), pytest.param({"n_repeats": "many"}, id="rstr")])
def test_bad_cv_spec(bad):
    with pytest.raises(SpecError, match="CVSpec"):
        CVSpec(**bad)


def test_many_groups_get_balanced_grouped_folds_fast():
    import time

    from planner.automl import make_splits

    rng = np.random.default_rng(0)
    groups = rng.integers(0, 40_000, size=60_000)
    started = time.perf_counter()
    splits, _ = make_splits(rng.normal(size=60_000), task="regression", groups=groups, seed=3)
    assert time.perf_counter() - started < 5.0
    assert len(splits) == 5
    sizes = [len(te) for _, te in splits]
    assert max(sizes) - min(sizes) < 0.02 * 60_000
    for train, test in splits:
        assert not set(groups[train]) & set(groups[test])
    assert np.array_equal(np.sort(np.concatenate([te for _, te in splits])), np.arange(60_000))
    again, _ = make_splits(rng.normal(size=60_000), task="regression", groups=groups, seed=3)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(splits, again, strict=True))
