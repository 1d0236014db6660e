"""The MinMax kernel on fraction-weighted Morgan counts: values, a real GP fit, a suggest call."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from planner.active import PoolDesign, suggest
from planner.active._molecular_kernel import MinMaxKernel, fingerprint_columns, fit_molecular_gp
from planner.campaign._molecules import CampaignMoleculeFeaturizer
from planner.exceptions import SpecError

SOLVENTS = ["COCCOC", "C1COCCO1", "CC#N", "CN(C)C=O", "CS(C)=O", "CCOC(C)=O", "CC1COC(=O)O1", "CCO", "CCCCO", "c1ccccc1"]


def _featurizer(kind: str = "morgan", gp_kernel: str | None = "minmax") -> CampaignMoleculeFeaturizer:
    return CampaignMoleculeFeaturizer(numeric=["f1", "f2"], smiles=["s1", "s2"], categorical=[], mixtures=[("solvent", ["s1", "s2"], ["f1", "f2"])], kind=kind, gp_kernel=gp_kernel)


def _mixtures(solvents: list[str]) -> pd.DataFrame:
    rows = []
    for i, a in enumerate(solvents):
        rows.append({"s1": a, "f1": 1.0, "s2": "", "f2": 0.0})
        for b in solvents[i + 1 :]:
            for f in (0.25, 0.5, 0.75):
                rows.append({"s1": a, "f1": f, "s2": b, "f2": 1 - f})
    return pd.DataFrame(rows)


def _truth(frame: pd.DataFrame) -> np.ndarray:
    """A smooth function of the mixture: fraction-weighted heteroatom count, with a synergy."""
    hetero = {s: sum(ch in "ONS" for ch in s) for s in SOLVENTS}
    hetero[""] = 0
    a = frame["s1"].map(hetero).to_numpy(float)
    b = frame["s2"].map(hetero).to_numpy(float)
    f = frame["f1"].to_numpy(float)
    return f * a + (1 - f) * b + 0.5 * f * (1 - f) * (a == b + 1)


def test_minmax_kernel_matches_the_definition_and_is_one_on_the_diagonal():
    rng = np.random.default_rng(0)
    x1 = torch.as_tensor(rng.poisson(1.0, (6, 40)).astype(float), dtype=torch.float64)
    x2 = torch.as_tensor(rng.poisson(1.0, (4, 40)).astype(float), dtype=torch.float64)
    k = MinMaxKernel()
    K = k(x1, x2).to_dense()
    brute = torch.minimum(x1[:, None], x2[None]).sum(-1) / torch.maximum(x1[:, None], x2[None]).sum(-1)
    assert torch.allclose(K, brute)
    assert torch.allclose(k(x1, x1, diag=True), torch.ones(6, dtype=torch.float64))
    assert torch.allclose(k(x1, x1).to_dense(), k(x1, x1).to_dense().T)
    assert torch.linalg.eigvalsh(k(x1, x1).to_dense()).min() > -1e-9  # positive semi-definite
    # scale-free: doubling every count changes nothing
    assert torch.allclose(k(2 * x1, 2 * x2).to_dense(), K)


def test_the_mixture_fingerprint_is_the_same_in_either_order():
    frame = pd.DataFrame({"s1": ["CCO", "CC#N"], "f1": [0.3, 0.7], "s2": ["CC#N", "CCO"], "f2": [0.7, 0.3]})
    feats = _featurizer().fit(frame)
    X = feats.transform(frame)
    fp = fingerprint_columns(list(X.columns))
    assert len(fp) == 1024 and np.allclose(X.iloc[0], X.iloc[1])
    K = MinMaxKernel()(torch.as_tensor(X.to_numpy()[:, fp]))
    assert torch.allclose(K.to_dense(), torch.ones(2, 2, dtype=torch.float64))


@pytest.mark.slow
@pytest.mark.parametrize("kernel", ["minmax", "minmax+matern"])
def test_a_real_gp_fit_with_the_molecular_kernel_predicts_held_out_mixtures(kernel):
    frame = _mixtures(SOLVENTS)
    y = _truth(frame)
    kind = "morgan" if kernel == "minmax" else "morgan+compact+onehot"
    feats = _featurizer(kind, kernel).fit(frame)
    X = feats.transform(frame).to_numpy(float)
    names = list(feats.transform(frame.iloc[:2]).columns)
    rng = np.random.default_rng(1)
    train = rng.choice(len(frame), 60, replace=False)
    test = np.setdiff1d(np.arange(len(frame)), train)
    surrogate = fit_molecular_gp(X[train], y[train, None], X.min(0), np.maximum(X.max(0), X.min(0) + 1), names, kernel=kernel)
    assert kernel in surrogate.name
    from planner.active._surrogates import Points

    mean, var = surrogate.moments(Points(frame.iloc[test], X[test]))
    mean, var = np.asarray(mean).ravel(), np.asarray(var).ravel()
    assert np.isfinite(mean).all() and (var > 0).all()
    mae = np.abs(mean - y[test]).mean()
    assert mae < 0.5 * np.abs(y[train].mean() - y[test]).mean()  # far better than the mean
    # the kernel's scale was fitted (not left at its initial value)
    scale = surrogate.model.covar_module.outputscale if kernel == "minmax" else surrogate.model.covar_module.kernels[0].outputscale
    assert not torch.allclose(scale, torch.tensor(1.0, dtype=torch.float64))


def test_a_gp_without_fingerprints_is_refused_clearly():
    with pytest.raises(SpecError, match="Morgan fingerprint"):
        fit_molecular_gp(np.random.default_rng(0).random((6, 3)), np.arange(6.0)[:, None], np.zeros(3), np.ones(3), ["a", "b", "c"])


@pytest.mark.slow
def test_suggest_on_a_tiny_molecule_pool_uses_the_molecular_kernel_and_proposes_new_solvents():
    measured = _mixtures(SOLVENTS[:5])
    pool = _mixtures(SOLVENTS)
    key = pool.astype(str).agg("|".join, axis=1)
    pool = pool[~key.isin(set(measured.astype(str).agg("|".join, axis=1)))].reset_index(drop=True)
    y = pd.DataFrame({"y": _truth(measured)})
    result = suggest(measured, y, design=PoolDesign(pool, categorical=["s1", "s2"]), targets=[("y", "max")], n=3, featurizer=_featurizer(), seed=0)
    assert "minmax" in result.metadata["model"]
    assert len(result.table) == 3
    new = set(SOLVENTS[5:])
    chosen = result.table[["s1", "s2"]].to_numpy().ravel()
    assert any(s in new for s in chosen)  # only unmeasured solvents' mixtures are in the pool
    # and the default featurizer (no kernel) still fits the default GP
    plain = suggest(measured, y, design=PoolDesign(pool, categorical=["s1", "s2"]), targets=[("y", "max")], n=3, featurizer=_featurizer("compact+onehot", None), seed=0)
    assert "Matern" in plain.metadata["model"]


@pytest.mark.slow
def test_other_numeric_inputs_enter_the_minmax_gp_through_a_product():
    """A condition beside the mixture (a temperature) is not ignored by the fingerprint kernel."""
    frame = _mixtures(SOLVENTS)
    rng = np.random.default_rng(2)
    frame["T"] = rng.uniform(0, 1, len(frame))
    y = _truth(frame) + 3.0 * frame["T"].to_numpy()
    feats = CampaignMoleculeFeaturizer(numeric=["f1", "f2", "T"], smiles=["s1", "s2"], categorical=[], mixtures=[("solvent", ["s1", "s2"], ["f1", "f2"])], kind="morgan", gp_kernel="minmax").fit(frame)
    table = feats.transform(frame)
    assert list(table.columns[:1]) == ["T"]
    X = table.to_numpy(float)
    train = rng.choice(len(frame), 80, replace=False)
    test = np.setdiff1d(np.arange(len(frame)), train)
    surrogate = fit_molecular_gp(X[train], y[train, None], X.min(0), np.maximum(X.max(0), X.min(0) + 1), list(table.columns), kernel="minmax")
    from planner.active._surrogates import Points

    mean, _ = surrogate.moments(Points(frame.iloc[test], X[test]))
    mae = np.abs(np.asarray(mean).ravel() - y[test]).mean()
    assert mae < 0.3 * np.abs(y[train].mean() - y[test]).mean()
