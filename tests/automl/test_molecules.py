"""Molecule columns in the AutoML engine: roles, the representation choice, pipelines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from planner.automl import load_search_space
from planner.automl._build import build_pipeline, describe_pipeline
from planner.automl._data import prepare_data
from planner.automl._molecules import molecule_blocks
from planner.automl._space import SpaceContext
from planner.automl._space_types import DefaultPicker as _DefaultPicker
from planner.exceptions import SpecError

SOLVENTS = ["COCCOC", "C1COCCO1", "CC#N", "CN(C)C=O", "CS(C)=O", "CCOC(C)=O", "C1CCOC1"]
ROLES = {"s1": "mixture:solvent:f1", "f1": "fraction", "s2": "mixture:solvent:f2", "f2": "fraction", "t": "numeric"}


def table():
    rng = np.random.default_rng(0)
    rows = [(a, f, b, round(1 - f, 6), t) for a in SOLVENTS for b in SOLVENTS if a < b for f in (0.25, 0.5, 0.75) for t in (20.0,)]
    frame = pd.DataFrame(rows, columns=["s1", "f1", "s2", "f2", "t"])
    frame["t"] = rng.uniform(10, 40, len(frame))
    y = frame["f1"] * frame["s1"].str.len() + frame["f2"] * frame["s2"].str.len() + 0.01 * frame["t"]
    return frame, y.to_numpy()


def test_blocks_from_roles():
    assert molecule_blocks(ROLES) == {"solvent": (["s1", "s2"], ["f1", "f2"])}
    assert molecule_blocks({"a": "smiles", "b": "numeric"}) == {"a": (["a"], None)}
    with pytest.raises(SpecError, match="must be in the table with role 'fraction'"):
        molecule_blocks({"s1": "mixture:g:f1", "f1": "numeric"})


def test_prepare_data_keeps_molecule_columns():
    X, y = table()
    data = prepare_data(X, y, task="regression", column_roles=ROLES)
    assert data.column_roles == ROLES and list(data.X.columns) == list(X.columns)
    with pytest.raises(SpecError, match="unknown role"):
        prepare_data(X, y, task="regression", column_roles={**ROLES, "t": "smile"})


def test_representation_is_a_search_choice_per_block():
    space = load_search_space("small_data")
    ctx = SpaceContext(task="regression", n_samples=60, n_features=5, has_missing=False, has_categorical=False, molecule_blocks=(("solvent", ("descriptors", "morgan", "onehot")),))
    picker = _DefaultPicker({"molecules.solvent": "morgan"})
    params = space.suggest(picker, ctx)
    assert params["molecules.solvent"] == "morgan"
    assert space.default_trials(ctx)[0]["molecules.solvent"] == "descriptors"
    assert describe_pipeline(params).summary.startswith("solvent:morgan")
    data = dict(space.to_dict(), molecules=["fingerprints"])
    with pytest.raises(SpecError, match="key 'molecules'"):
        type(space).from_dict(data)


@pytest.mark.parametrize("representation", ["descriptors", "morgan", "onehot"])
def test_pipeline_is_order_invariant_and_predicts_new_molecules(representation):
    X, y = table()
    params = {"imputer": "median", "scaler": "standard", "fusion": "single", "model": "ridge", "molecules.solvent": representation}
    pipe = build_pipeline(params, task="regression", column_roles=ROLES, seed=0).fit(X, y)
    swapped = X.rename(columns={"s1": "s2", "s2": "s1", "f1": "f2", "f2": "f1"})
    np.testing.assert_allclose(pipe.predict(X), pipe.predict(swapped[X.columns]), rtol=1e-8)
    new = pd.DataFrame({"s1": ["O=S1(=O)CCCC1"], "f1": [0.5], "s2": ["COCCOCCOC"], "f2": [0.5], "t": [25.0]})
    assert np.isfinite(pipe.predict(new)).all()


@pytest.mark.slow
def test_search_on_molecules(tmp_path):
    from planner.automl import run_search

    X, y = table()
    study = run_search(X, y, task="regression", search_space="fast", n_trials=4, seed=0, column_roles=ROLES, storage_url=f"sqlite:///{tmp_path / 's.db'}", study_name="mol")
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert done and all("molecules.solvent" in t.user_attrs.get("params", t.params) for t in done)
