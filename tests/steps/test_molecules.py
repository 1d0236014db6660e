"""Molecule featurization: parsing, canonical spellings, descriptors, mixtures, pools."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import Pipeline

from planner.exceptions import DataValidationError, SpecError
from planner.steps._molecules import (
    DescriptorCleaner,
    MoleculeFeaturizer,
    canonical_smiles,
    is_smiles_column,
    mixture_grid,
    parse_smiles,
)

MIX = ["s1", "s2"]
FRAC = ["f1", "f2"]


def mixtures() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "s1": ["COCCOC", "C1COCCO1", "CC#N", "CN(C)C=O", "COCCOC"],
            "f1": [1.0, 0.3, 0.5, 0.8, 0.6],
            "s2": [None, "CC#N", "COCCOC", "CS(C)=O", "C1COCCO1"],
            "f2": [0.0, 0.7, 0.5, 0.2, 0.4],
        }
    )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param(["undoped", "sr", "ca", "ba"], False, id="llzo-dopant-labels"),
        pytest.param(["P -1", "P1", "Pnma", "Fm-3m", "P6_3/mmc"], False, id="space-groups"),
        pytest.param(["C", "CO", "N", "O"], False, id="element-like-tokens"),
        pytest.param(["LiPF6", "LiFSI", "LiTFSI"], False, id="salt-names"),
        pytest.param(["Li7La3Zr2O12", "LiCoO2", "LiFePO4"], False, id="formulas"),
        pytest.param(["COCCOC", "C1COCCO1", "CC#N", "CN(C)C=O"], True, id="solvents"),
        pytest.param(["CCO", "CCCO", "c1ccccc1", "not a molecule"], False, id="a-quarter-invalid"),
    ],
)
def test_smiles_column_is_decided_by_parsing(values, expected):
    assert is_smiles_column(values)[0] is expected


def test_spellings_of_one_molecule_merge():
    values = ["CS(C)=O", "CS(=O)C\u00a0\u00a0", " CS(C)=O", "[Li+].F[P-](F)(F)(F)(F)F", "F[P-](F)(F)(F)(F)F.[Li+]"]
    ok, info = is_smiles_column(values)
    assert ok and info["n_molecules"] == 2
    assert sorted(len(v) for v in info["merged"].values()) == [2, 3]
    assert canonical_smiles("CC(=O)N(C)C\u00a0") == canonical_smiles("CN(C)C(C)=O")


def test_invalid_smiles_gives_rdkits_reason():
    assert parse_smiles("C1CC") == (None, "SMILES parse error: unclosed ring for input: 'C1CC'")
    canon, reason = parse_smiles("C(C)(C)(C)(C)C")
    assert canon is None and "valence" in reason.lower()


@pytest.mark.parametrize("kind", ["descriptors", "compact", "morgan", "onehot"])
def test_mixture_features_do_not_depend_on_component_order(kind):
    frame = mixtures()
    swapped = frame.rename(columns={"s1": "s2", "s2": "s1", "f1": "f2", "f2": "f1"})
    featurizer = MoleculeFeaturizer(columns=MIX, fractions=FRAC, kind=kind).fit(frame)
    a, b = featurizer.transform(frame), featurizer.transform(swapped)
    assert a.shape[0] == 5 and a.shape[1] >= 5
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), equal_nan=True)
    # a 50:50 mixture sits halfway between its components
    pure = MoleculeFeaturizer(columns="s1", kind=kind).fit(frame)
    if kind != "onehot":
        both = pure.transform(pd.DataFrame({"s1": ["CC#N", "COCCOC"]})).to_numpy()
        np.testing.assert_allclose(a.iloc[2].to_numpy(), both.mean(axis=0), rtol=1e-9, equal_nan=True)


def test_unseen_molecules_get_descriptors_not_an_error():
    frame = mixtures()
    featurizer = MoleculeFeaturizer(columns=MIX, fractions=FRAC, kind="compact").fit(frame)
    new = pd.DataFrame({"s1": ["C1CCOC1"], "f1": [0.5], "s2": ["O=S1(=O)CCCC1"], "f2": [0.5]})
    out = featurizer.transform(new)
    assert np.isfinite(out.to_numpy()).all()


def test_invalid_value_is_nan_or_a_named_error():
    frame = mixtures()
    frame.loc[3, "s2"] = "C1CC"
    out = MoleculeFeaturizer(columns=MIX, fractions=FRAC, kind="compact").fit(frame).transform(frame)
    assert out.iloc[3].isna().all() and out.drop(index=3).notna().all().all()
    strict = MoleculeFeaturizer(columns=MIX, fractions=FRAC, kind="compact", on_error="raise").fit(mixtures())
    with pytest.raises(DataValidationError, match=r"column 's2', row 3: 'C1CC' is not a valid SMILES \(SMILES parse error: unclosed ring"):
        strict.transform(frame)


def test_featurizer_contract():
    with pytest.raises(SpecError, match="fractions"):
        MoleculeFeaturizer(columns=MIX).fit(mixtures())
    with pytest.raises(SpecError, match="kind must be one of"):
        MoleculeFeaturizer(columns="s1", kind="maccs").fit(mixtures())
    featurizer = MoleculeFeaturizer(columns=MIX, fractions=FRAC, kind="morgan", n_bits=64)
    assert clone(featurizer).get_params() == featurizer.get_params()
    assert len(featurizer.fit(mixtures()).get_feature_names_out()) == 64


def test_cleaner_learns_only_from_its_fit_rows():
    X = pd.DataFrame({"a": [1.0, 2, 3, 4], "const": [5.0] * 4, "dup": [2.0, 4, 6, 8], "gappy": [np.nan, np.nan, 1, np.nan], "b": [1.0, 0, 1, 0]})
    cleaner = DescriptorCleaner().fit(X)
    assert list(cleaner.get_feature_names_out()) == ["a", "b"]
    out = cleaner.transform(pd.DataFrame({"a": [np.nan], "const": [1.0], "dup": [0.0], "gappy": [0.0], "b": [np.inf]}))
    assert out.to_numpy().tolist() == [[2.5, 0.5]]  # medians of the fit rows


def test_descriptor_pipeline_cross_validates():
    from sklearn.ensemble import RandomForestRegressor

    rng = np.random.default_rng(0)
    solvents = ["COCCOC", "C1COCCO1", "CC#N", "CN(C)C=O", "CS(C)=O", "CCOC(C)=O", "C1CCOC1"]
    rows = [(a, f, b, 1 - f) for a in solvents for b in solvents if a < b for f in (0.25, 0.5, 0.75)]
    frame = pd.DataFrame(rows, columns=["s1", "f1", "s2", "f2"])
    y = rng.normal(size=len(frame))
    pipe = Pipeline([("f", MoleculeFeaturizer(columns=MIX, fractions=FRAC)), ("c", DescriptorCleaner()), ("m", RandomForestRegressor(n_estimators=10, random_state=0))])
    scores = cross_val_score(pipe, frame, y, cv=KFold(3, shuffle=True, random_state=0))
    assert np.isfinite(scores).all()


def test_mixture_grid_respects_the_constraint_and_skips_bad_molecules():
    pool, problems = mixture_grid(
        {"DME": "COCCOC", "THF": "C1CCOC1", "bad": "C1CC", "ACN": "CC#N"},
        smiles_columns=MIX, fraction_columns=FRAC, step=0.25, name_columns=["n1", "n2"],
    )
    assert len(problems) == 1 and "'bad'" in problems[0] and "unclosed ring" in problems[0]
    assert len(pool) == 3 + 3 * 3  # 3 pure + 3 pairs x (0.25, 0.5, 0.75)
    np.testing.assert_allclose(pool[FRAC].sum(axis=1), 1.0)
    pairs = {frozenset(r) for r in pool[["s1", "s2"]].dropna().itertuples(index=False)}
    assert len(pairs) == 3  # no row that only reorders another
    with pytest.raises(SpecError, match="whole number"):
        mixture_grid(["CCO"], smiles_columns=MIX, fraction_columns=FRAC, step=0.3)


def test_molecules_cached_once(monkeypatch):
    from planner.steps import _molecules

    _molecules.clear_molecule_cache()
    calls = []
    featurizer = MoleculeFeaturizer(columns=MIX, fractions=FRAC, kind="compact").fit(mixtures())
    featurizer.transform(mixtures())
    n_cached = len(_molecules._CACHE)
    assert n_cached == 5  # five distinct molecules, each computed once
    monkeypatch.setattr(_molecules, "_descriptor_names", lambda kind: calls.append(kind) or ())
    featurizer.transform(mixtures())  # served from the cache: no descriptor is recomputed
    assert calls == [] and len(_molecules._CACHE) == n_cached


def test_fingerprint_importance_is_grouped_per_molecule_block():
    from planner.steps._molecules import group_molecule_importance

    importance = pd.Series({"solvent:morgan1": 0.1, "mol_solvent__solvent:morgan5": 0.2, "solvent:MolLogP": 0.4, "t": 0.05})
    grouped = group_molecule_importance(importance)
    assert grouped.to_dict() == pytest.approx({"solvent:MolLogP": 0.4, "solvent: Morgan fingerprint (2 bits)": 0.3, "t": 0.05})
    assert group_molecule_importance(pd.Series({"t": 1.0})) is None
