"""Search-space files: the bundled ones load, broken ones fail with file, key, value and fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import optuna
import pytest

from planner.automl import SearchSpace, bundled_search_spaces, load_search_space
from planner.automl._space import SpaceContext
from planner.exceptions import SpecError

CTX = SpaceContext(task="regression", n_samples=150, n_features=13, has_missing=True, has_categorical=True)


@pytest.mark.parametrize("name", ["default", "small_data", "fast"])
def test_bundled_spaces_load_for_both_tasks(name, repo_root):
    assert bundled_search_spaces()[name] == repo_root / "search_spaces" / f"{name}.yaml"
    space = load_search_space(name)
    assert space.name == name
    for task in ("regression", "classification"):
        space.check_task(task)
        ctx = SpaceContext(task=task, n_samples=150, n_features=13, n_classes=2)
        defaults = space.default_trials(ctx)
        assert defaults, f"{name} has no default trial for {task}"
        assert defaults[0]["fusion"] == "single"


def test_space_round_trips_through_dict_and_keeps_fingerprint():
    space = load_search_space("default")
    again = SearchSpace.from_dict(space.to_dict(), source="copy")
    assert again.fingerprint == space.fingerprint
    assert again.steps == space.steps and again.fusion == space.fusion


def test_suggest_offers_every_fusion_kind_and_conditional_params():
    space = load_search_space("default")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    kinds, params_seen = set(), set()
    for _ in range(60):
        trial = study.ask()
        params = space.suggest(trial, CTX)
        kinds.add(params["fusion"])
        params_seen.update(params)
        # only the chosen model's parameters are present
        if params["fusion"] == "single":
            assert all(not k.startswith("model.") or k.startswith(f"model.{params['model']}.") for k in params)
        study.tell(trial, 0.0)
    assert kinds == {"single", "bagging", "boosting", "stacking", "voting"}
    assert "stacking.bases" in params_seen and "stacking.meta" in params_seen


def test_stacking_bases_are_distinct_sets_of_two_to_four():
    space = load_search_space("default")
    stacking = next(f for f in space.fusion if f.kind == "stacking")
    combos = stacking.combos("regression")
    assert all(2 <= len(c.split("+")) <= 4 and len(set(c.split("+"))) == len(c.split("+")) for c in combos)
    assert not any("logistic" in c for c in combos)  # classification-only learners are left out


def test_data_size_dependent_bounds_follow_the_data():
    space = load_search_space("default")
    knn = next(f for f in space.fusion if f.kind == "single").bases
    spec = dict(next(c for c in knn if c.name == "knn").params)["n_neighbors"]
    assert spec.bounds(SpaceContext(task="regression", n_samples=40, n_features=5)) == (1, 8)
    assert spec.bounds(SpaceContext(task="regression", n_samples=4000, n_features=5)) == (1, 30)
    # tiny data: the range collapses instead of inverting
    assert spec.bounds(SpaceContext(task="regression", n_samples=3, n_features=5)) == (1, 1)


def test_no_missing_values_fixes_the_imputer_and_no_categoricals_skip_the_encoder():
    space = load_search_space("default")
    ctx = SpaceContext(task="regression", n_samples=150, n_features=13, has_missing=False, has_categorical=False)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(10):
        trial = study.ask()
        params = space.suggest(trial, ctx)
        assert params["imputer"] == "median" and "encoder" not in params
        assert "imputer" not in trial.params
        study.tell(trial, 0.0)


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(textwrap.dedent(body))
    return path


VALID = """
version: 1
steps:
  scaler:
    standard: {}
fusion:
  single:
    models:
      ridge:
        alpha: {type: float, low: 0.01, high: 10, log: true}
"""


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        pytest.param("ridge:", "ridgge:", r"fusion\.single\.models\.ridgge.*unknown model component 'ridgge'.*known model components", id="unknown-component"),
        pytest.param("alpha:", "alpah:", r"fusion\.single\.models\.ridge\.alpah.*unknown parameter 'alpah'.*use one of: \['alpha'\]", id="unknown-parameter"),
        pytest.param("    standard: {}\n", "", r"steps\.scaler.*empty choice list.*Fix: list at least one", id="empty-choice-list"),
        pytest.param("type: float", "type: double", r"ridge\.alpha\.type.*'double'", id="bad-type"),
        pytest.param("low: 0.01, high: 10", "low: 10, high: 0.01", r"ridge\.alpha.*low 10 is above high 0\.01.*swap", id="inverted-bounds"),
        pytest.param("low: 0.01", "low: 0", r"ridge\.alpha\.low.*log-scale range needs low > 0", id="log-at-zero"),
        pytest.param("high: 10", "high: 'n_rows // 2'", r"ridge\.alpha\.high.*bad value 'n_rows // 2'.*unknown name 'n_rows'", id="bad-expression"),
        pytest.param("version: 1", "version: 7", r"key 'version'.*unsupported version 7", id="bad-version"),
        pytest.param("steps:", "stepz:", r"key 'stepz'.*unknown top-level key", id="unknown-top-key"),
        pytest.param("  scaler:", "  scalar:", r"steps\.scalar.*unknown step", id="unknown-step"),
        pytest.param("single:", "singel:", r"fusion\.singel.*unknown fusion kind", id="unknown-fusion"),
    ],
)
def test_broken_space_file_names_file_key_value_and_fix(tmp_path, old, new, match):
    assert old in VALID
    path = _write(tmp_path, VALID.replace(old, new, 1))
    with pytest.raises(SpecError, match=match) as info:
        load_search_space(path)
    assert str(path) in str(info.value)


def test_empty_categorical_choices_and_bad_default_are_refused(tmp_path):
    path = _write(tmp_path, VALID.replace("alpha: {type: float, low: 0.01, high: 10, log: true}", "alpha: {type: categorical, choices: []}"))
    with pytest.raises(SpecError, match=r"ridge\.alpha\.choices.*empty or missing choice list"):
        load_search_space(path)
    path = _write(tmp_path, VALID + "defaults:\n  - {fusion: single, model: lasso}\n")
    with pytest.raises(SpecError, match=r"defaults\[0\]\.model.*'lasso' is not offered"):
        load_search_space(path)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(SpecError, match="neither a bundled name"):
        load_search_space(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nsteps: [\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_search_space(bad)


def test_space_without_a_model_for_the_task_is_refused(tmp_path):
    space = load_search_space(_write(tmp_path, VALID))
    space.check_task("regression")
    with pytest.raises(SpecError, match=r"key 'fusion': no model in this space serves task 'classification'"):
        space.check_task("classification")
