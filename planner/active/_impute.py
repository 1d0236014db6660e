"""Missing inputs of the observations, imputed for the surrogate as the AutoML pipelines do.

The AutoML pipelines fill numeric inputs with the training fold's median (optionally with a
0/1 missing-value indicator) and categorical inputs with the most frequent level. The
surrogate does the same, fitted on the observations of the call: a row with an unmeasured
relative density or no recorded dopant still informs the model instead of being dropped.
An indicator feature ``missing:<column>`` is added for a column missing in at least
``INDICATOR_MIN_ROWS`` observations (and present in as many), so that the model can tell the
imputed rows apart; candidates are complete, so their indicators are 0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from planner.active._encoding import InputEncoder
from planner.exceptions import DataValidationError

__all__ = ["Imputation", "ImputingEncoder", "fit_imputation", "empty_cells_vs_pool_levels", "INDICATOR_MIN_ROWS"]

#: Level names that say "nothing here"; an empty cell in the observations may mean one of them.
_ABSENT_LEVELS = frozenset({"none", "-", "--", "no", "undoped", "no dopant", "absent", "nothing", "empty", "blank", "n/a"})

#: Fewest missing (and fewest present) observations of a column for its indicator feature.
INDICATOR_MIN_ROWS = 2


@dataclass(frozen=True)
class Imputation:
    """Fill values learned from the observations.

    Attributes:
        fills: Input column -> the value that replaces a missing one (median or most frequent).
        counts: Input column -> how many observations missed it.
        indicators: Columns that get a 0/1 ``missing:<column>`` feature.
    """

    fills: dict[str, Any]
    counts: dict[str, int]
    indicators: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.fills)

    def fill(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with its missing inputs replaced (a copy when anything changes)."""
        cols = [c for c in self.fills if c in frame.columns and frame[c].isna().any()]
        if not cols:
            return frame
        return frame.fillna({c: self.fills[c] for c in cols})

    def flags(self, frame: pd.DataFrame) -> np.ndarray:
        """The indicator features of ``frame``, ``n x len(indicators)``."""
        if not self.indicators:
            return np.zeros((len(frame), 0))
        return frame[list(self.indicators)].isna().to_numpy(dtype=float)

    def describe(self) -> str:
        """One line for the notes."""
        parts = [
            f"{c} ({self.counts[c]} row(s), filled with {_fmt(self.fills[c])})" for c in self.fills
        ]
        text = "missing inputs imputed for the surrogate as the AutoML pipelines do (numeric: the observations' median; categorical: the most frequent level): " + "; ".join(parts)
        if self.indicators:
            text += f"; missing-value indicator feature(s) for {list(self.indicators)}"
        return text


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, (float, np.floating)) else repr(value)


def fit_imputation(X: pd.DataFrame, inputs: Sequence[str], categorical: Sequence[str]) -> Imputation:
    """Learn the fill values of the inputs missing in some observations ``X``.

    Raises:
        DataValidationError: An input is missing in every observation (nothing to impute from).
    """
    fills: dict[str, Any] = {}
    counts: dict[str, int] = {}
    indicators = []
    if not len(X):
        return Imputation({}, {}, ())
    for c in inputs:
        missing = X[c].isna()
        n_missing = int(missing.sum())
        if not n_missing:
            continue
        if n_missing == len(X):
            raise DataValidationError(
                f"observed_X: input column {c!r} is missing in all {len(X)} observations, so it cannot be imputed; "
                f"fill in its values (or write the level, e.g. 'none', for a categorical input), or leave {c!r} "
                "out of the design's inputs"
            )
        present = X.loc[~missing, c]
        if c in categorical:
            counts_by_level = present.astype(object).value_counts(sort=False)
            top = counts_by_level.max()
            fills[c] = sorted((v for v, k in counts_by_level.items() if k == top), key=str)[0]
        else:
            fills[c] = float(np.median(present.to_numpy(dtype=float)))
        counts[c] = n_missing
        if n_missing >= INDICATOR_MIN_ROWS and len(X) - n_missing >= INDICATOR_MIN_ROWS:
            indicators.append(c)
    return Imputation(fills, counts, tuple(indicators))


def empty_cells_vs_pool_levels(imputation: Imputation, X: pd.DataFrame, pool: pd.DataFrame | None) -> list[str]:
    """Warnings for categorical inputs that observations leave empty while the pool writes a
    level of absence (``none``, ``undoped``, ``-``, ...) that no observation has (LLZO writes
    "no dopant" as an empty cell; a pool may write ``none``). planner does not equate the two -
    that is a rule about what the user meant - but says so, because the pool's rows with that
    level then look unlike every measured row."""
    if pool is None:
        return []
    out = []
    for c, fill in imputation.fills.items():
        if c not in pool.columns or isinstance(fill, (float, np.floating)):
            continue
        seen = set(X[c].dropna().astype(str))
        # Only levels that spell an absence: a pool's new dopants are normal in active learning.
        unseen = sorted(
            v for v in {str(v) for v in pool[c].dropna().unique()} - seen if v.strip().lower() in _ABSENT_LEVELS
        )
        if unseen:
            shown = unseen[:5] + (["..."] if len(unseen) > 5 else [])
            out.append(
                f"observed_X: input {c!r} is empty in {imputation.counts[c]} observation(s) (imputed as {fill!r} for "
                f"the surrogate) while the pool's level(s) {shown} occur in no observation; if an empty cell means "
                f"one of these levels (e.g. 'none'), write that level in the observations"
            )
    return out


@dataclass(frozen=True)
class ImputingEncoder(InputEncoder):
    """An :class:`InputEncoder` that fills missing inputs first and appends indicator features.

    Attributes:
        imputation: The fill values and indicator columns.
        n_indicators: Indicator features at the end of the encoding.
    """

    imputation: Imputation = Imputation({}, {}, ())
    n_indicators: int = 0

    @classmethod
    def wrap(cls, base: InputEncoder, imputation: Imputation) -> InputEncoder:
        """``base`` extended by ``imputation`` (``base`` itself when nothing is imputed)."""
        if not imputation:
            return base
        k = len(imputation.indicators)
        fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(InputEncoder)}
        fields["feature_names"] = tuple(base.feature_names) + tuple(f"missing:{c}" for c in imputation.indicators)
        fields["lower"] = np.concatenate([base.lower, np.zeros(k)])
        fields["upper"] = np.concatenate([base.upper, np.ones(k)])
        return cls(**fields, imputation=imputation, n_indicators=k)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        base = super().transform(self.imputation.fill(frame))
        return np.hstack([base, self.imputation.flags(frame)]) if self.n_indicators else base

    def encode_pool(self, design: Any) -> np.ndarray | None:
        """The base encoding of the pool plus zero indicators (candidates miss no input)."""
        base = super().encode_pool(design)
        if base is None or not self.n_indicators:
            return base
        return np.hstack([base, np.zeros((len(base), self.n_indicators))])

    def decode(self, arr: np.ndarray) -> pd.DataFrame:
        arr = np.atleast_2d(arr)
        return super().decode(arr[:, : arr.shape[1] - self.n_indicators])
