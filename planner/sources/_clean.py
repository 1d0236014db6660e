"""Dataset-level cleaning that is safe before cross-validation, with every change recorded.

Only steps that do not learn from other rows' values belong here (removing exact duplicates,
rows without a target, rows or columns that are mostly empty). Everything that learns from the
data — imputation, scaling, outlier fences, column filtering by training statistics — is a
transformer fitted inside each fold instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from planner.exceptions import SpecError
from planner.sources._log import CleaningLog
from planner.validation import check_fraction, require_columns

__all__ = ["clean_dataset"]


def clean_dataset(
    frame: pd.DataFrame,
    *,
    target_columns: Sequence[str] = (),
    drop_exact_duplicates: bool = True,
    ignore_in_duplicates: Sequence[str] = (),
    drop_missing_target: bool = True,
    max_row_missing: float | None = None,
    max_column_missing: float | None = None,
    protected_columns: Sequence[str] = (),
    where: str = "data",
) -> tuple[pd.DataFrame, CleaningLog]:
    """Remove rows and columns that cannot be used, recording which and why.

    Args:
        frame: The table (after merging).
        target_columns: Targets; rows missing all of them are dropped if ``drop_missing_target``.
        drop_exact_duplicates: Drop rows identical to an earlier row (in all columns except
            ``ignore_in_duplicates``).
        ignore_in_duplicates: Columns left out of the duplicate test (e.g. a running row id).
        drop_missing_target: Drop rows without any target value (they cannot train a model;
            they may still be candidates for suggestions, which the design space handles).
        max_row_missing: Drop rows whose share of missing values (over non-target columns) is
            above this; ``None`` keeps all.
        max_column_missing: Drop columns whose share of missing values is above this;
            ``None`` keeps all. Targets and ``protected_columns`` are never dropped.
        protected_columns: Columns never dropped (ids, groups, compositions).
        where: Dataset name for messages.

    Returns:
        ``(cleaned, log)``; the cleaned table keeps the original row labels.
    """
    check_fraction(max_row_missing, name="max_row_missing", owner="clean_dataset")
    check_fraction(max_column_missing, name="max_column_missing", owner="clean_dataset")
    targets = require_columns(frame, list(target_columns), role="target", where=where)
    require_columns(frame, list(ignore_in_duplicates), role="ignored", where=where)
    protected = set(require_columns(frame, list(protected_columns), role="protected", where=where)) | set(targets)
    log = CleaningLog()
    out = frame

    if drop_exact_duplicates:
        compare = [c for c in out.columns if c not in set(ignore_in_duplicates)]
        if not compare:
            raise SpecError("clean_dataset: ignore_in_duplicates leaves no column to compare.")
        dup = out.duplicated(subset=compare, keep="first")
        if dup.any():
            first_of = out[compare].astype(str).agg("\x1f".join, axis=1)
            keep_label = {key: label for label, key in first_of[~dup].items()}
            for label in out.index[dup]:
                log.add(
                    "clean",
                    "removed_exact_duplicate",
                    f"identical to row {keep_label.get(first_of[label], '?')} in every compared column",
                    rows=[keep_label.get(first_of[label], "?"), label],
                )
            out = out.loc[~dup]

    if drop_missing_target and targets:
        missing = out[targets].isna().all(axis=1)
        if missing.any():
            log.add(
                "clean",
                "dropped_row",
                f"no value in the target column(s) {', '.join(map(repr, targets))}",
                rows=out.index[missing],
                columns=targets,
            )
            out = out.loc[~missing]

    if max_column_missing is not None:
        frac = out.isna().mean()
        drop = [c for c in out.columns if c not in protected and frac[c] > max_column_missing]
        for col in drop:
            log.add(
                "clean",
                "dropped_column",
                f"{frac[col]:.0%} of values missing (above max_column_missing={max_column_missing})",
                columns=[col],
                n_missing=int(out[col].isna().sum()),
            )
        out = out.drop(columns=drop)

    if max_row_missing is not None:
        cols = [c for c in out.columns if c not in set(targets)]
        if cols:
            frac = out[cols].isna().mean(axis=1)
            sparse = frac > max_row_missing
            if sparse.any():
                log.add(
                    "clean",
                    "dropped_row",
                    f"more than {max_row_missing:.0%} of the input values missing",
                    rows=out.index[sparse],
                    fractions=[round(float(v), 3) for v in frac[sparse]],
                )
                out = out.loc[~sparse]
    return out, log
