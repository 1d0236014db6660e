"""Applicability domain: is a row to predict like the rows the model was trained on?

One mechanism, used by ``predict`` (every prediction carries the flag) and by suggestions.
A row is *outside the domain* when any of these holds:

- a numeric input lies outside the training range ``[min, max]`` of its column;
- a categorical input takes a value never seen in training, or a composition contains an
  element no training composition had;
- its distance to the nearest training row exceeds the threshold: the
  :data:`NN_QUANTILE` quantile of the training rows' own nearest-neighbour distances
  (each row against the others).

Distances are Euclidean over numeric inputs standardised by their training mean and std,
categorical inputs one-hot (a different category adds 1 to the squared distance) and
compositions as atomic fractions. The learned state is plain JSON (ranges, categories,
scales, a reference sample of at most :data:`MAX_REFERENCE_ROWS` training rows).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ApplicabilityDomain", "NN_QUANTILE", "MAX_REFERENCE_ROWS", "DOMAIN_VERSION"]

DOMAIN_TYPE = "planner.automl.applicability_domain"
DOMAIN_VERSION = 1
NN_QUANTILE = 0.99
MAX_REFERENCE_ROWS = 2000


def _symbols(zs: list[int]) -> list[str]:
    try:
        from pymatgen.core.periodic_table import Element

        return [Element.from_Z(int(z)).symbol for z in zs]
    except Exception:  # noqa: BLE001 - names are for messages only
        return [f"Z={z}" for z in zs]


def _fractions(values: pd.Series) -> list[dict[int, float] | None]:
    from planner.chem import parse_formulas

    parsed, _ = parse_formulas(values.reset_index(drop=True), on_error="ignore")
    out: list[dict[int, float] | None] = []
    for item in parsed:
        if item is None:
            out.append(None)
            continue
        zs, amounts = item
        total = float(sum(amounts)) or 1.0
        frac: dict[int, float] = {}
        for z, a in zip(zs, amounts, strict=True):
            frac[int(z)] = frac.get(int(z), 0.0) + float(a) / total
        out.append(frac)
    return out


@dataclass(frozen=True)
class ApplicabilityDomain:
    """The training data's extent, fitted by :meth:`fit`, applied by :meth:`check`.

    Attributes:
        numeric: ``{column: {"min", "max", "mean", "std"}}``.
        categorical: ``{column: [seen values]}``.
        composition: ``{column: [atomic numbers seen]}``.
        reference: Encoded reference rows (a sample of the training rows), `r x e`.
        threshold: Nearest-neighbour distance above which a row is "far".
        n_train: Training rows.
    """

    numeric: dict[str, dict[str, float]]
    categorical: dict[str, list[str]]
    composition: dict[str, list[int]]
    reference: np.ndarray
    threshold: float
    n_train: int
    nn_quantile: float = NN_QUANTILE

    # fitting -----------------------------------------------------------------------
    @classmethod
    def fit(cls, X: pd.DataFrame, column_roles: Mapping[str, str], *, seed: int = 0) -> ApplicabilityDomain:
        """Learn ranges, categories and the distance threshold from training inputs ``X``."""
        numeric: dict[str, dict[str, float]] = {}
        categorical: dict[str, list[str]] = {}
        composition: dict[str, list[int]] = {}
        for col, role in column_roles.items():
            if col not in X.columns:
                continue
            if role == "numeric":
                v = pd.to_numeric(X[col], errors="coerce").astype(float)
                if v.notna().any():
                    std = float(v.std(ddof=0)) if v.notna().sum() > 1 else 0.0
                    numeric[col] = {"min": float(v.min()), "max": float(v.max()), "mean": float(v.mean()), "std": std if std > 0 else 1.0}
            elif role == "categorical":
                categorical[col] = sorted({str(x) for x in X[col].dropna()})
            elif role == "composition":
                fr = _fractions(X[col])
                composition[col] = sorted({z for f in fr if f for z in f})
        domain = cls(numeric=numeric, categorical=categorical, composition=composition, reference=np.zeros((0, 0)), threshold=np.inf, n_train=len(X))
        E = domain._encode(X)
        rng = np.random.default_rng(seed)
        if len(E) > MAX_REFERENCE_ROWS:
            E = E[np.sort(rng.choice(len(E), MAX_REFERENCE_ROWS, replace=False))]
        threshold = np.inf
        if len(E) >= 3 and E.shape[1]:
            d = _nn_distances(E, E, exclude_self=True)
            threshold = float(np.quantile(d, NN_QUANTILE))
        return cls(numeric=numeric, categorical=categorical, composition=composition, reference=E, threshold=threshold, n_train=len(X))

    def _encode(self, X: pd.DataFrame) -> np.ndarray:
        """`m x e`: standardised numeric, one-hot categorical (/sqrt 2), atomic fractions."""
        blocks = []
        n = len(X)
        for col, st in self.numeric.items():
            v = pd.to_numeric(X[col], errors="coerce").astype(float).to_numpy() if col in X else np.full(n, np.nan)
            z = (v - st["mean"]) / st["std"]
            blocks.append(np.where(np.isfinite(z), z, 0.0)[:, None])
        for col, seen in self.categorical.items():
            vals = X[col].astype(object).where(X[col].notna(), None).to_numpy() if col in X else np.full(n, None)
            onehot = np.zeros((n, len(seen)))
            index = {s: j for j, s in enumerate(seen)}
            for i, v in enumerate(vals):
                j = index.get(str(v)) if v is not None else None
                if j is not None:
                    onehot[i, j] = 1.0
            blocks.append(onehot / np.sqrt(2.0))
        for col, zs in self.composition.items():
            fr = _fractions(X[col]) if col in X else [None] * n
            M = np.zeros((n, len(zs)))
            index = {z: j for j, z in enumerate(zs)}
            for i, f in enumerate(fr):
                for z, a in (f or {}).items():
                    if z in index:
                        M[i, index[z]] = a
            blocks.append(M)
        return np.hstack(blocks) if blocks else np.zeros((n, 0))

    # applying ----------------------------------------------------------------------
    def check(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per row of ``X``: ``in_domain`` (bool), ``domain_reason`` (empty when inside) and
        ``nn_distance`` (distance to the nearest training row over the threshold; > 1 is far)."""
        n = len(X)
        reasons: list[list[str]] = [[] for _ in range(n)]
        for col, st in self.numeric.items():
            if col not in X:
                continue
            v = pd.to_numeric(X[col], errors="coerce").astype(float).to_numpy()
            for i in np.flatnonzero(v < st["min"]):
                reasons[i].append(f"{col}={v[i]:.4g} below the training range [{st['min']:.4g}, {st['max']:.4g}]")
            for i in np.flatnonzero(v > st["max"]):
                reasons[i].append(f"{col}={v[i]:.4g} above the training range [{st['min']:.4g}, {st['max']:.4g}]")
        for col, seen in self.categorical.items():
            if col not in X:
                continue
            known = set(seen)
            for i, v in enumerate(X[col].to_numpy(dtype=object)):
                if v is not None and not (isinstance(v, float) and np.isnan(v)) and str(v) not in known:
                    reasons[i].append(f"{col}={v!s} never seen in training")
        for col, zs in self.composition.items():
            if col not in X:
                continue
            known_z = set(zs)
            for i, f in enumerate(_fractions(X[col])):
                if f is None:
                    reasons[i].append(f"{col}: composition does not parse")
                    continue
                new = sorted(z for z in f if z not in known_z)
                if new:
                    reasons[i].append(f"{col}: element(s) {', '.join(_symbols(new))} in no training composition")
        rel = np.full(n, np.nan)
        if n and len(self.reference) and self.reference.shape[1] and np.isfinite(self.threshold):
            d = _nn_distances(self._encode(X), self.reference, exclude_self=False)
            rel = d / self.threshold if self.threshold > 0 else np.where(d > 0, np.inf, 0.0)
            for i in np.flatnonzero(rel > 1.0):
                reasons[i].append(
                    f"nearest training row at {d[i]:.3g}, beyond the {self.nn_quantile:.0%} quantile of training "
                    f"nearest-neighbour distances ({self.threshold:.3g})"
                )
        return pd.DataFrame(
            {"in_domain": [not r for r in reasons], "domain_reason": ["; ".join(r) for r in reasons], "nn_distance": rel},
            index=X.index,
        )

    # serialisation -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "type": DOMAIN_TYPE,
            "version": DOMAIN_VERSION,
            "numeric": self.numeric,
            "categorical": self.categorical,
            "composition": {k: [int(z) for z in v] for k, v in self.composition.items()},
            "threshold": self.threshold if np.isfinite(self.threshold) else None,
            "nn_quantile": self.nn_quantile,
            "n_train": self.n_train,
            "reference": np.round(self.reference, 6).tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ApplicabilityDomain:
        from planner.exceptions import SpecError

        if data.get("type") != DOMAIN_TYPE or data.get("version") != DOMAIN_VERSION:
            raise SpecError(f"applicability domain type/version {data.get('type')!r}/{data.get('version')!r} is not {DOMAIN_TYPE!r}/{DOMAIN_VERSION}")
        ref = np.asarray(data.get("reference") or [], dtype=float)
        return cls(
            numeric={k: dict(v) for k, v in data["numeric"].items()},
            categorical={k: list(v) for k, v in data["categorical"].items()},
            composition={k: [int(z) for z in v] for k, v in data["composition"].items()},
            reference=ref.reshape(len(ref), -1) if ref.size else np.zeros((0, 0)),
            threshold=float(data["threshold"]) if data.get("threshold") is not None else np.inf,
            n_train=int(data["n_train"]),
            nn_quantile=float(data.get("nn_quantile", NN_QUANTILE)),
        )


def _nn_distances(A: np.ndarray, B: np.ndarray, *, exclude_self: bool, chunk: int = 512) -> np.ndarray:
    """Distance from each row of ``A`` to its nearest row of ``B`` (``A is B``: the others)."""
    out = np.empty(len(A))
    b2 = (B**2).sum(axis=1)
    for start in range(0, len(A), chunk):
        a = A[start : start + chunk]
        d2 = (a**2).sum(axis=1)[:, None] + b2[None, :] - 2 * a @ B.T
        if exclude_self:
            idx = np.arange(start, start + len(a))
            d2[np.arange(len(a)), idx] = np.inf
        out[start : start + len(a)] = np.sqrt(np.clip(d2.min(axis=1), 0.0, None))
    return out
