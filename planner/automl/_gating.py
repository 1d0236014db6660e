"""Size-aware gating: which components a search offers at a given number of rows.

Components whose cost explodes with n are left out above a row limit, with the reason
recorded on the study (``study_info(study)["gated"]``), so a large table never spends its
budget on an exact GP or a sequential feature selection. The defaults of the
representation choice live here too (a search-space file may override them).
"""

from __future__ import annotations

from typing import Any

__all__ = ["SIZE_LIMITS", "ALTERNATIVES", "DEFAULT_REPRESENTATIONS", "size_gate", "ungated", "alternatives"]

#: Representations offered for a role when the file lists none.
DEFAULT_REPRESENTATIONS = {"composition": ("magpie+fractions", "magpie", "fractions", "orbital", "magpie+orbital")}
#: Components whose cost explodes with the number of rows, the rows above which they are
#: not offered, and why (recorded on the study). Exact GPs are O(n^3) in time and O(n^2) in
#: memory; kernel ridge too; SVMs between O(n^2) and O(n^3); sequential feature selection
#: and RFECV refit a model per feature per fold; MICE and KNN imputation grow with n^2 or
#: n x features x iterations; stacking refits every base learner per inner fold.
SIZE_LIMITS: dict[tuple[str, str], tuple[int, str]] = {
    ("model", "gp"): (3_000, "an exact Gaussian process costs O(n^3) time and O(n^2) memory"),
    ("model", "kernel_ridge"): (5_000, "kernel ridge solves an n x n system (O(n^3))"),
    ("model", "svr"): (10_000, "kernel SVMs cost O(n^2) to O(n^3)"),
    ("model", "svc"): (10_000, "kernel SVMs cost O(n^2) to O(n^3)"),
    ("model", "knn"): (50_000, "k-nearest-neighbour prediction scans every training row"),
    ("model", "mlp"): (50_000, "the MLP trains for many epochs on one core"),
    ("model", "gb"): (50_000, "scikit-learn's exact gradient boosting is slow on many rows (use hgb or lgbm)"),
    ("selector", "sfs"): (2_000, "sequential feature selection refits a model per feature per inner fold"),
    ("selector", "rfecv"): (5_000, "RFECV refits a model per feature per inner fold"),
    ("imputer", "knn"): (20_000, "KNN imputation compares every row with every training row"),
    ("imputer", "iterative"): (20_000, "MICE refits one model per column per iteration"),
    ("fusion", "stacking"): (30_000, "stacking refits every base learner per inner fold"),
    ("fusion", "boosting"): (50_000, "AdaBoost fits its base learners one after another"),
}


#: Size-aware stand-ins (planner.automl._scalable) offered in place of a gated model, only
#: where the gate removes it, with their own parameter ranges (ParamSpec fields). Linear
#: in n: Nystroem RBF features (n_components landmarks) + ridge / linear SVR / logistic
#: regression, or the exact GP on a seeded random subset of n_subset rows.
_NYSTROEM = {
    "n_components": {"kind": "int", "low": 100, "high": 1000, "log": True, "default": 300},
    "gamma": {"kind": "float", "low": 0.1, "high": 10.0, "log": True, "default": 1.0},
}
ALTERNATIVES: dict[tuple[str, str], tuple[str, dict[str, dict[str, Any]]]] = {
    ("model", "gp"): (
        "subset_gp",
        {"n_subset": {"kind": "int", "low": 250, "high": 2_000, "log": True, "default": 800}, "nu": {"kind": "categorical", "choices": (2.5, 1.5, 0.5)}},
    ),
    ("model", "kernel_ridge"): ("nystroem_ridge", {**_NYSTROEM, "alpha": {"kind": "float", "low": 1e-4, "high": 1e2, "log": True, "default": 0.1}}),
    ("model", "svr"): (
        "nystroem_svr",
        {
            **_NYSTROEM,
            "C": {"kind": "float", "low": 1e-2, "high": 1e3, "log": True, "default": 1.0},
            "epsilon": {"kind": "float", "low": 1e-3, "high": 1.0, "log": True, "default": 0.1},
        },
    ),
    ("model", "svc"): ("nystroem_logistic", {**_NYSTROEM, "C": {"kind": "float", "low": 1e-2, "high": 1e3, "log": True, "default": 1.0}}),
}


def size_gate(step: str, name: str, n_samples: int | None) -> str | None:
    """Why ``step``/``name`` is not offered at ``n_samples`` rows (``None``: it is)."""
    if n_samples is None or (step, name) not in SIZE_LIMITS:
        return None
    limit, why = SIZE_LIMITS[(step, name)]
    if n_samples <= limit:
        return None
    instead = f"; searched as {ALTERNATIVES[(step, name)][0]} instead" if (step, name) in ALTERNATIVES else ""
    return f"not offered above {limit} rows ({n_samples} here): {why}{instead}"


def ungated(choices: list[Any], n_samples: int | None) -> list[Any]:
    """The choices that suit the data size; all of them when every one is gated (the space asked for them)."""
    kept = [c for c in choices if size_gate(c.step, c.name, n_samples) is None]
    return kept or choices


def alternatives(choices: list[Any], n_samples: int | None) -> list[tuple[int, str, dict[str, dict[str, Any]]]]:
    """``(position, name, parameter ranges)`` of the stand-ins for the gated ``choices``.

    Empty whenever nothing is gated (small tables search exactly as before); a stand-in the
    choices already list, or one already proposed, is not repeated.
    """
    listed = {c.name for c in choices}
    out: list[tuple[int, str, dict[str, dict[str, Any]]]] = []
    for i, c in enumerate(choices):
        alt = ALTERNATIVES.get((c.step, c.name))
        if alt and size_gate(c.step, c.name, n_samples) is not None and alt[0] not in listed:
            listed.add(alt[0])
            out.append((i, alt[0], alt[1]))
    return out
