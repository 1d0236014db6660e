"""Composition representations: a search choice per column, computed once per dataset, cached."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pandas as pd
import pytest

from planner.automl import evaluate_pipeline, load_search_space
from planner.automl._data import prepare_data
from planner.automl._representations import (
    check_representation,
    load_cache,
    precompute,
    representation_names,
    save_cache,
)
from planner.automl._rowfeatures import RowFeaturizer
from planner.automl._space import SearchSpace, SpaceContext
from planner.exceptions import SpecError


def test_the_composition_families_are_registered():
    assert {"fractions", "magpie", "orbital"} <= set(representation_names("composition"))
    assert check_representation("composition", "magpie+fractions") == ("magpie", "fractions")
    with pytest.raises(SpecError, match=r"unknown representation 'morgan' for composition columns; use one of"):
        check_representation("composition", "morgan")


def test_fractions_orbital_and_magpie_values():
    X = pd.DataFrame({"f": ["NaCl", "Fe2O3", "Li7La3Zr2O12"]})
    frac = RowFeaturizer(column="f", representation="fractions").fit_transform(X)
    assert frac.shape == (3, 103) and np.allclose(frac.sum(axis=1), 1.0)
    assert frac.loc[1, "frac_Fe"] == pytest.approx(0.4) and frac.loc[1, "frac_O"] == pytest.approx(0.6)
    orb = RowFeaturizer(column="f", representation="orbital").fit_transform(X)
    assert orb.shape == (3, 16)
    assert orb.loc[0, "stoich_n_elements"] == 2 and orb.loc[0, "stoich_2_norm"] == pytest.approx(math.sqrt(0.5))
    # Na: 3s1, Cl: 3s2 3p5 -> mean s = 1.5, mean p = 2.5 electrons
    assert orb.loc[0, "orbital_avg_s_valence"] == pytest.approx(1.5) and orb.loc[0, "orbital_frac_p_valence"] == pytest.approx(2.5 / 4.0)
    assert 0 < orb.loc[0, "ion_avg_ionic_char"] < orb.loc[0, "ion_max_ionic_char"] < 1
    both = RowFeaturizer(column="f", representation="magpie+fractions").fit(X)
    assert len(both.get_feature_names_out()) == 132 + 103


def test_representations_are_computed_once_and_cached_on_disk(tmp_path):
    from planner.automl import _representations as reps

    values = ["CuZn", "Cu3Sn", "Al2O3", "CuZn"]
    precompute(values, "composition", ["orbital"])
    save_cache(tmp_path, values, "composition", ["orbital"])
    saved = sorted(tmp_path.glob("composition-orbital-*.npz"))
    assert len(saved) == 1
    before = {v: reps._TABLES[("composition", "orbital")][v].copy() for v in set(values)}
    for v in set(values):
        del reps._TABLES[("composition", "orbital")][v]
    assert load_cache(tmp_path, values, "composition", ["orbital", "magpie"]) == ["orbital"]
    for v, row in before.items():
        assert np.array_equal(reps._TABLES[("composition", "orbital")][v], row)


def test_a_formula_that_does_not_parse_is_named_and_the_other_rows_go_on():
    rng = np.random.default_rng(0)
    formulas = ["NaCl", "KCl", "LiF", "MgO", "CaO", "Xx2O", "Fe2O3", "Al2O3", "SiO2", "TiO2"] * 3
    X = pd.DataFrame({"comp": formulas, "t": rng.normal(size=len(formulas))})
    y = rng.normal(size=len(formulas))
    data = prepare_data(X, y, task="regression", column_roles={"comp": "composition", "t": "numeric"})
    bad = [n for n in data.notes if "row 5" in n]
    assert bad and "'Xx2O'" in bad[0] and "the other rows go on" in bad[0]
    result = evaluate_pipeline({"imputer": "median", "fusion": "single", "model": "ridge", "representation.comp": "magpie+orbital"}, data.X, data.y, task="regression", column_roles=data.column_roles)
    assert result.status == "complete"


def test_the_representation_is_a_search_choice_per_composition_column():
    space = load_search_space("default")
    ctx = SpaceContext(task="regression", n_samples=300, n_features=2, composition_columns=("a", "b"))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(25):
        trial = study.ask()
        params = space.suggest(trial, ctx)
        seen.add(params["representation.a"])
        assert params["representation.b"] in space.representation_choices("composition")
        study.tell(trial, 0.0)
    assert {"fractions", "magpie", "magpie+fractions", "orbital"} <= seen
    assert all(p["representation.a"] == "magpie+fractions" for p in space.default_trials(ctx))


def test_a_space_file_may_restrict_the_representations():
    data = load_search_space("fast").to_dict()
    space = SearchSpace.from_dict({**data, "representations": {"composition": ["fractions"]}}, "x.yaml")
    assert space.representation_choices("composition") == ("fractions",)
    with pytest.raises(SpecError, match=r"x.yaml: key 'representations.composition'.*unknown representation 'smiles2vec'"):
        SearchSpace.from_dict({**data, "representations": {"composition": ["smiles2vec"]}}, "x.yaml")


def test_a_search_computes_representations_once_and_saves_them_with_the_campaign(tmp_path):
    from planner.automl import run_search, study_info

    rng = np.random.default_rng(1)
    elements = ["Li", "Na", "K", "Mg", "Ca", "Al", "Si", "Fe", "Cu", "Zn"]
    formulas = [f"{a}{rng.integers(1, 4)}{b}{rng.integers(1, 4)}O{rng.integers(1, 5)}" for a, b in zip(rng.choice(elements, 80), rng.choice(elements, 80), strict=True)]
    X = pd.DataFrame({"comp": formulas})
    y = rng.normal(size=len(formulas))
    cache = tmp_path / "features"
    study = run_search(X, y, task="regression", search_space="fast", storage_url=f"sqlite:///{tmp_path / 'o.db'}", study_name="c", n_trials=3, seed=0, column_roles={"comp": "composition"}, feature_cache=cache)
    assert sorted(p.name.split("-")[1] for p in cache.glob("composition-*.npz")) == ["fractions", "magpie", "orbital"]
    assert study_info(study)["column_roles"] == {"comp": "composition"}
    assert all("representation.comp" in t.user_attrs["params"] for t in study.trials if t.state.is_finished())
    assert load_cache(cache, formulas, "composition", ["magpie", "fractions", "orbital"]) == ["magpie", "fractions", "orbital"]


@pytest.mark.parametrize("formula", ["Fe2O3", "Pt1 C1", "Li0.5CoO2", "CH3COOH", "Li7La3Zr2O12", "Na.5Cl.5", "Al"])
def test_the_fast_formula_path_agrees_with_pymatgen(formula):
    from planner.automl._representations import _parse_simple
    from planner.chem import parse_formulas

    fast = _parse_simple(formula)
    slow = parse_formulas([formula])[0][0]
    assert fast is not None and dict(zip(*fast, strict=True)) == pytest.approx(dict(zip(*slow, strict=True)))


@pytest.mark.parametrize("formula", ["(Li2S)0.5(P2S5)0.5", "Xx2O", "li2O", "Fe2+", "", "O-2"])
def test_other_formulas_go_to_pymatgen(formula):
    from planner.automl._representations import _parse_simple

    assert _parse_simple(formula) is None
