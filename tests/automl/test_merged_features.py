"""Features of separate branches working together: molecule blocks beside composition
representations in one search, and a timed final refit that keeps the calibration data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from planner.automl import fit_final, load_fitted, run_search
from planner.automl._space import load_search_space

SOLVENTS = ["CCO", "CC(=O)OC", "O=C1OCCO1", "COC(=O)OC", "CC#N", "CS(C)=O"]
FORMULAS = ["LiCl", "NaCl", "KCl", "LiBr", "NaBr", "KBr", "LiI", "NaI"]


def _table(n: int = 48, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "salt": rng.choice(FORMULAS, n),
        "solvent": rng.choice(SOLVENTS, n),
        "temperature": rng.uniform(250, 350, n),
    })
    y = 0.01 * X["temperature"].to_numpy() + X["salt"].str.startswith("Li").to_numpy() * 1.0 + rng.normal(scale=0.05, size=n)
    return X, y


def test_molecules_and_representations_are_both_searched(tmp_path, storage_url):
    pytest.importorskip("rdkit")
    pytest.importorskip("pymatgen.core")
    space_file = tmp_path / "both.yaml"
    space_file.write_text(
        "version: 1\nname: both\ncv: {n_splits: 3, n_repeats: 1}\n"
        "molecules: [onehot, descriptors]\n"
        "representations: {composition: [fractions, magpie]}\n"
        "steps: {imputer: [median], scaler: [standard]}\n"
        "fusion: {single: {models: [ridge]}}\n",
        encoding="utf-8",
    )
    space = load_search_space(space_file)
    X, y = _table()
    roles = {"salt": "composition", "solvent": "smiles", "temperature": "numeric"}
    study = run_search(X, y, task="regression", search_space=space, storage_url=storage_url, study_name="both", n_trials=4, column_roles=roles, seed=0)
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert done, [t.user_attrs.get("failure_reason") for t in study.trials]
    for t in done:
        params = t.user_attrs["params"]
        assert params["representation.salt"] in ("fractions", "magpie")
        assert params["molecules.solvent"] in ("onehot", "descriptors")
        assert "salt" in t.user_attrs["pipeline"] and "solvent:" in t.user_attrs["pipeline"]


@pytest.mark.parametrize("timeout_s", [None, 60.0], ids=["in-process", "deadline-process"])
def test_fit_final_keeps_oof_predictions_domain_groups_and_bounds(timeout_s, tmp_path, storage_url):
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.uniform(0, 1, 60), "b": rng.uniform(0, 1, 60)})
    y = 2 * X["a"].to_numpy() + rng.normal(scale=0.05, size=60)
    groups = np.repeat(np.arange(12), 5)
    study = run_search(X, y, task="regression", search_space="fast", storage_url=storage_url, study_name="final", n_trials=3, groups=groups, seed=0)
    fitted = fit_final(study, X, y, timeout_s=timeout_s, groups=groups, bounds=(0.0, None), ensemble=False)
    assert fitted.oof is not None and len(fitted.oof) == 60
    assert "group" in fitted.oof.columns and set(fitted.oof["group"].astype(str)) == {str(g) for g in range(12)}
    assert fitted.domain is not None
    assert fitted.spec["calibration"]["source"] in ("trials", "recomputed")
    assert fitted.spec["target_bounds"] == [0.0, None]
    assert fitted.spec["final"]["trial"] is not None
    fitted.save(tmp_path / "model")
    loaded = load_fitted(tmp_path / "model")
    pred = loaded.predict(X.head(5), interval=0.9)
    assert {"lower", "upper"} <= set(pred.columns) and pred["interval_calibrated"].all()
