"""Cross-validation splits that can be trusted on small data.

Repeated K-fold by default, stratified for classification, grouped when the campaign
has a group column. K and the number of repeats adapt to the data; every adaptation
is returned as a note (and warned), never made silently.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from planner.exceptions import DataValidationError, PlannerWarning, SpecError

__all__ = ["CVSpec", "Splits", "make_splits", "MIN_ROWS"]

#: Below this many rows no cross-validated score means anything: a clear error.
MIN_ROWS = 6

Splits = list[tuple[np.ndarray, np.ndarray]]
#: Above this many groups, grouped folds come from :func:`_many_group_folds` (linear time);
#: scikit-learn's shuffled GroupKFold took 146 s for 70,000 groups on one core.
FAST_GROUPS = 5_000


def _many_group_folds(groups: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Grouped K folds in O(n): groups in a seeded random order, cut into k runs of about n/k rows."""
    _, inverse, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    order = np.random.default_rng(seed).permutation(len(sizes))
    start = np.empty(len(sizes))
    start[order] = np.concatenate([[0], np.cumsum(sizes[order])[:-1]])
    fold_of_group = np.minimum((start * k // len(groups)).astype(int), k - 1)
    fold = fold_of_group[inverse]
    idx = np.arange(len(groups))
    return [(idx[fold != f], idx[fold == f]) for f in range(k)]


@dataclass(frozen=True)
class CVSpec:
    """How a trial is cross-validated.

    Attributes:
        n_splits: Folds per repeat (K); ``None`` takes the search space's value, else 5.
        n_repeats: Repeats with fresh shuffles; ``None`` takes the space's value;
            ``"auto"`` adapts to n (3 below 100 rows, 2 below 500, else 1).
        stratify: Stratify classification folds (ignored for regression).
    """

    n_splits: int | None = None
    n_repeats: int | str | None = None
    stratify: bool = True

    def __post_init__(self) -> None:
        if self.n_splits is not None and (isinstance(self.n_splits, bool) or not isinstance(self.n_splits, int) or self.n_splits < 2):
            raise SpecError(f"CVSpec.n_splits must be an integer >= 2, got {self.n_splits!r}; use e.g. 5")
        if self.n_repeats is not None and self.n_repeats != "auto" and (
            isinstance(self.n_repeats, bool) or not isinstance(self.n_repeats, int) or self.n_repeats < 1
        ):
            raise SpecError(f"CVSpec.n_repeats must be an integer >= 1 or 'auto', got {self.n_repeats!r}")

    def with_defaults(self, defaults: dict[str, object]) -> CVSpec:
        """Fill unset fields from a search space's ``cv`` section."""
        return CVSpec(
            n_splits=self.n_splits if self.n_splits is not None else _as_int_or_none(defaults.get("n_splits")),
            n_repeats=self.n_repeats if self.n_repeats is not None else defaults.get("n_repeats"),  # type: ignore[arg-type]
            stratify=self.stratify,
        )

    def to_dict(self) -> dict[str, object]:
        return {"n_splits": self.n_splits, "n_repeats": self.n_repeats, "stratify": self.stratify}


def _as_int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _auto_repeats(n: int) -> int:
    return 3 if n < 100 else 2 if n < 500 else 1


def make_splits(
    y: Sequence | np.ndarray,
    *,
    task: str,
    cv_spec: CVSpec | None = None,
    groups: Sequence | np.ndarray | None = None,
    seed: int = 0,
) -> tuple[Splits, list[str]]:
    """Deterministic train/test index splits for ``y``.

    Args:
        y: Target, `n`.
        task: ``"regression"`` or ``"classification"``.
        cv_spec: K and repeats; unset fields become K = 5 and ``"auto"`` repeats.
        groups: Group label per row (`n`); rows of one group never straddle train and test.
        seed: Shuffling seed; repeat ``r`` uses ``seed + r``.

    Returns:
        The splits (repeat-major), and notes on every adaptation made (K lowered...).

    Raises:
        DataValidationError: Fewer than :data:`MIN_ROWS` rows, fewer than 2 groups, or a
            class with a single member.
    """
    from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

    spec = cv_spec or CVSpec()
    y = np.asarray(y)
    n = len(y)
    notes: list[str] = []
    if n < MIN_ROWS:
        raise DataValidationError(
            f"cross-validation needs at least {MIN_ROWS} rows, got {n}; add measurements before searching pipelines"
        )
    k = spec.n_splits or 5
    n_repeats = spec.n_repeats if isinstance(spec.n_repeats, int) else _auto_repeats(n)

    def lower_k(limit: int, why: str) -> None:
        nonlocal k
        if limit < k:
            notes.append(f"K lowered from {k} to {limit}: {why}")
            k = limit

    stratified = task == "classification" and spec.stratify
    if task == "classification":
        labels, counts = np.unique(y, return_counts=True)
        if counts.min() < 2:
            rare = [str(v) for v, c in zip(labels, counts, strict=True) if c < 2]
            raise DataValidationError(
                f"classification needs at least 2 rows per class for cross-validation; class(es) {rare} have 1; "
                "merge rare classes, drop those rows, or measure more of them"
            )
        if stratified:
            lower_k(int(counts.min()), f"the smallest class has {counts.min()} rows")
    if groups is not None:
        groups = np.asarray(groups)
        if len(groups) != n:
            raise DataValidationError(f"groups has {len(groups)} entries but the target has {n}; give one group per row")
        n_groups = len(np.unique(groups))
        if n_groups < 2:
            raise DataValidationError(f"grouped cross-validation needs at least 2 groups, got {n_groups}; check the group column")
        lower_k(n_groups, f"only {n_groups} groups")
    lower_k(max(2, n // 2), f"only {n} rows (each test fold keeps at least 2)")

    splits: Splits = []
    for r in range(n_repeats):
        rs = seed + r
        if groups is not None and not stratified and n_groups > FAST_GROUPS:
            it = _many_group_folds(groups, k, rs)
        elif groups is not None:
            splitter = StratifiedGroupKFold(k, shuffle=True, random_state=rs) if stratified else GroupKFold(k, shuffle=True, random_state=rs)
            it = splitter.split(np.zeros(n), y, groups)
        elif stratified:
            it = StratifiedKFold(k, shuffle=True, random_state=rs).split(np.zeros(n), y)
        else:
            it = KFold(k, shuffle=True, random_state=rs).split(np.zeros(n))
        splits.extend((np.asarray(tr), np.asarray(te)) for tr, te in it)
    for note in notes:
        warnings.warn(note, PlannerWarning, stacklevel=2)
    return splits, notes
