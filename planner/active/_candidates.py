"""Candidate sets of the engine: what remains of a pool, feasible samples of a continuous
design (exact on simplices), the prefilter shortlist and space-filling picks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from planner.active._encoding import InputEncoder, row_keys
from planner.active._specs import ContinuousDesign, PoolDesign, level_text

__all__ = [
    "PoolCandidates",
    "exclude_rows",
    "sample_continuous",
    "torch_constraints",
    "polish",
    "shortlist",
    "space_filling",
]


class PoolCandidates:
    """The remaining candidates of a pool (measured and pending ones excluded), in chunks.

    The encoded pool is reused between calls on the same design
    (:meth:`~planner.active._encoding.InputEncoder.encode_pool`) where it can be.
    """

    def __init__(self, design: PoolDesign, encoder: InputEncoder, excluded_keys: pd.MultiIndex | None):
        self.design = design
        self.encoder = encoder
        self.frame = design.valid_candidates
        keep = np.ones(len(self.frame), dtype=bool)
        self.found: pd.MultiIndex | None = None
        if excluded_keys is not None and len(excluded_keys):
            keep, self.found = exclude_rows(self.frame, design, excluded_keys)
        self.positions = np.flatnonzero(keep)
        self.encoded = encoder.encode_pool(design)

    def __len__(self) -> int:
        return len(self.positions)

    def points(self, idx: np.ndarray) -> Any:
        from planner.active._surrogates import Points

        rows = self.positions[idx]
        frame = self.frame.iloc[rows]
        return Points(frame, self.encoded[rows] if self.encoded is not None else self.encoder.transform(frame))

    def chunks(self) -> Any:
        size = self.design.chunk_size
        for start in range(0, len(self.positions), size):
            idx = np.arange(start, min(start + size, len(self.positions)))
            yield idx, self.points(idx)


def exclude_rows(frame: pd.DataFrame, design: PoolDesign, keys: pd.MultiIndex) -> tuple[np.ndarray, pd.MultiIndex]:
    """Which rows of ``frame`` (the pool) remain once the rows whose :func:`row_keys` are in
    ``keys`` are taken out, and which of ``keys`` occur in the pool.

    The same as comparing every row's key, but only rows whose every input value occurs among
    the keys' values (a column at a time, numeric inputs first) are compared whole: on a large
    pool of measured numbers that is a handful of rows.
    """
    inputs, categorical = list(design.inputs), list(design.categorical)
    maybe = np.arange(len(frame))
    order = [c for c in inputs if c not in categorical] + [c for c in inputs if c in categorical]
    for c in order:
        if not len(maybe):
            break
        values = keys.get_level_values(inputs.index(c))
        column = frame[c].iloc[maybe]
        if c in categorical:
            mine = pd.Index(level_text(column))
        else:
            mine = pd.Index(np.round(column.to_numpy(dtype=float), 9) + 0.0)
        maybe = maybe[mine.isin(values)]
    keep = np.ones(len(frame), dtype=bool)
    if not len(maybe):
        return keep, keys[:0]
    candidate_keys = row_keys(frame.iloc[maybe], inputs, categorical)
    keep[maybe] = ~candidate_keys.isin(keys)
    return keep, keys[keys.isin(candidate_keys)]


def sample_continuous(design: ContinuousDesign, encoder: InputEncoder, n: int, seed: int) -> Any:
    """``n`` feasible points of a continuous design (hit-and-run on the constraint polytope)."""
    import torch
    from botorch.utils.sampling import get_polytope_samples

    from planner.active._surrogates import DTYPE, Points

    names = design.numeric
    lo = torch.tensor([design.bounds[c][0] for c in names], dtype=DTYPE)
    hi = torch.tensor([design.bounds[c][1] for c in names], dtype=DTYPE)
    X = _sample_simplices(design, n, seed)
    if X is None:
        eq, ineq = torch_constraints(design)
        if eq or ineq:
            X = get_polytope_samples(
                n,
                torch.stack([lo, hi]),
                inequality_constraints=ineq or None,
                equality_constraints=eq or None,
                seed=seed,
                n_burnin=200,
                n_thinning=max(2, len(names)),
            )
        else:
            sobol = torch.quasirandom.SobolEngine(len(names), scramble=True, seed=seed)
            X = lo + (hi - lo) * sobol.draw(n, dtype=DTYPE)
    numeric = polish(design, X.numpy())
    frame = pd.DataFrame(numeric, columns=list(names))
    rng = np.random.default_rng(seed)
    for name, levels in design.categorical.items():
        frame[name] = [levels[i] for i in rng.integers(0, len(levels), n)]
    frame = frame[list(design.inputs)]
    return Points(frame, encoder.transform(frame))


def _sample_simplices(design: ContinuousDesign, n: int, seed: int) -> Any:
    """Exact uniform samples (``n x d_num`` tensor) when every constraint says that a group of
    fractions with bounds ``(0, total)`` sums to ``total`` (Dirichlet draws); else ``None``."""
    import torch

    from planner.active._surrogates import DTYPE

    names = list(design.numeric)
    groups, grouped = [], set()
    for con in design.constraints:
        cols = list(con.coefficients)
        if (
            con.op != "=="
            or con.rhs <= 0
            or any(v != 1.0 for v in con.coefficients.values())
            or any(design.bounds[c] != (0.0, con.rhs) for c in cols)
            or grouped & set(cols)
        ):
            return None
        groups.append(([names.index(c) for c in cols], con.rhs))
        grouped |= set(cols)
    if not groups:
        return None
    rng = np.random.default_rng(seed)
    lo = np.array([design.bounds[c][0] for c in names])
    hi = np.array([design.bounds[c][1] for c in names])
    X = lo + (hi - lo) * rng.random((n, len(names)))
    for idx, total in groups:
        X[:, idx] = total * rng.dirichlet(np.ones(len(idx)), size=n)
    return torch.as_tensor(X, dtype=DTYPE)


def torch_constraints(design: ContinuousDesign) -> tuple[list, list]:
    """Constraints in BoTorch's form ``(indices, coefficients, rhs)``, inequalities as ``>=``."""
    import torch

    from planner.active._surrogates import DTYPE

    names = list(design.numeric)
    eq, ineq = [], []
    for con in design.constraints:
        idx = torch.tensor([names.index(c) for c in con.coefficients], dtype=torch.long)
        coef = torch.tensor(list(con.coefficients.values()), dtype=DTYPE)
        if con.op == "==":
            eq.append((idx, coef, con.rhs))
        elif con.op == ">=":
            ineq.append((idx, coef, con.rhs))
        else:
            ineq.append((idx, -coef, -con.rhs))
    return eq, ineq


def polish(design: ContinuousDesign, X: np.ndarray) -> np.ndarray:
    """Project numeric rows (``n x d_num``) onto the equality constraints and into the box,
    so that fractions sum to their total to machine precision."""
    a_eq, b_eq, _, _ = design.constraint_matrices()
    lo = np.array([b[0] for b in design.bounds.values()])
    hi = np.array([b[1] for b in design.bounds.values()])
    X = np.clip(np.asarray(X, dtype=float), lo, hi)
    if len(a_eq) == 0:
        return X
    for _ in range(20):
        r = X @ a_eq.T - b_eq
        if np.abs(r).max() <= 1e-13:
            break
        # Spread the residual over the coordinates that are not stuck at a bound.
        free = (X > lo + 1e-15) | (r[:, :1] < 0)
        free &= (X < hi - 1e-15) | (r[:, :1] > 0)
        for k in range(len(a_eq)):
            a = a_eq[k] * free
            norm = (a * a_eq[k]).sum(axis=1, keepdims=True)
            norm[norm == 0] = 1.0
            X = X - (r[:, k : k + 1] / norm) * a
        X = np.clip(X, lo, hi)
    return X


def shortlist(score: np.ndarray, std_score: np.ndarray | None, size: int) -> np.ndarray:
    """Top ``0.8 * size`` by ``score`` plus the most uncertain others, as positions."""
    n = len(score)
    if n <= size:
        return np.arange(n)
    n_main = max(1, int(0.8 * size)) if std_score is not None else size
    main = np.argpartition(-score, n_main - 1)[:n_main]
    if std_score is None:
        return np.sort(main)
    rest = std_score.copy()
    rest[main] = -np.inf
    extra = np.argpartition(-rest, size - n_main - 1)[: size - n_main]
    return np.sort(np.concatenate([main, extra]))


def space_filling(
    points: Any, anchors_unit: np.ndarray, encoder: InputEncoder, n: int, rng: np.random.Generator
) -> list[int]:
    """Greedy maximin: each pick is the candidate farthest from measured, pending and earlier picks."""
    U = encoder.unit(points.enc)
    dist = np.full(len(U), np.inf)
    for a in anchors_unit:
        dist = np.minimum(dist, np.linalg.norm(U - a, axis=1))
    chosen: list[int] = []
    for _ in range(n):
        if np.isinf(dist).all():
            i = int(rng.integers(len(U)))
        else:
            d = dist.copy()
            d[chosen] = -np.inf
            i = int(np.argmax(d))
        chosen.append(i)
        dist = np.minimum(dist, np.linalg.norm(U - U[i], axis=1))
        dist[i] = -np.inf
    return chosen
