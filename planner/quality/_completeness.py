"""Completeness checks: missing values per column and per row, missing targets, empty or
constant columns."""

from __future__ import annotations

import pandas as pd

from planner.quality._data import QualityData, finding
from planner.quality._report import QualityCheck
from planner.quality._spec import QualitySpec
from planner.validation import format_columns

__all__ = [
    "check_column_missingness",
    "check_row_missingness",
    "check_target_missing",
    "check_uninformative_columns",
]


def check_column_missingness(ctx: QualityData, spec: QualitySpec) -> QualityCheck:
    """Columns with missing values; those missing more than ``missing_threshold`` fail. Targets
    are left to ``target_missing`` (they are not imputed; a campaign's unmeasured rows lack them)."""
    frame, threshold = ctx.frame, spec.missing_threshold
    frame = frame[[c for c in frame.columns if c not in ctx.targets]]
    frac = frame.isna().mean()
    counts = frame.isna().sum()
    missing_cols = [c for c in frame.columns if counts[c] > 0]
    over = [c for c in frame.columns if frac[c] > threshold]
    issues = [
        {"row": None, "id": None, "column": c, "value": int(counts[c]), "detail": f"{frac[c]:.1%} missing"}
        for c in sorted(missing_cols, key=lambda c: -frac[c])
    ]
    status_bad = "fail" if over else "warn"
    msg = (
        f"{len(missing_cols)} column(s) have missing values"
        + (f"; {format_columns(over)} miss more than {threshold:.0%} (drop them or collect data)" if over else "")
        + "; the imputation step fills the rest inside each CV fold"
    )
    return finding(
        "completeness", "column_missingness", "missing values per column",
        n_checked=frame.shape[1], n_failed=len(missing_cols),
        ok="no missing values", bad=msg, severity=status_bad, columns=missing_cols, issues=issues,
    )  # fmt: skip


def check_row_missingness(ctx: QualityData, spec: QualitySpec) -> QualityCheck | None:
    """Rows missing more than ``row_missing_threshold`` of their inputs (None without inputs)."""
    frame, row_threshold = ctx.frame, spec.row_missing_threshold
    inputs = [c for c in ctx.features if c in frame.columns]
    if not inputs:
        return None
    row_frac = frame[inputs].isna().mean(axis=1)
    sparse = row_frac[row_frac > row_threshold]
    row_issues = [ctx.issue(r, None, round(float(v), 3), f"{v:.0%} of inputs missing") for r, v in sparse.items()]
    return finding(
        "completeness", "row_missingness", f"rows missing more than {row_threshold:.0%} of their inputs",
        n_checked=len(frame), n_failed=len(sparse),
        ok=f"no row misses more than {row_threshold:.0%} of its inputs",
        bad=f"{len(sparse)} row(s) miss more than {row_threshold:.0%} of their inputs; consider dropping them",
        severity="warn", issues=ctx.limit(row_issues),
    )  # fmt: skip


def check_target_missing(ctx: QualityData, spec: QualitySpec) -> QualityCheck | None:
    """Rows without a target value (None without targets)."""
    frame, targets = ctx.frame, ctx.targets
    if not targets:
        return None
    no_target = frame[targets].isna().any(axis=1)
    t_issues = [
        ctx.issue(r, ";".join(t for t in targets if pd.isna(frame.at[r, t])), None, "target missing")
        for r in frame.index[no_target]
    ]
    return finding(
        "completeness", "target_missing", "every row has its target value(s)",
        n_checked=len(frame), n_failed=int(no_target.sum()),
        ok="every row has all targets",
        bad=f"{int(no_target.sum())} row(s) lack a target value; they cannot train the model (clean_dataset drops them)",
        severity="warn", columns=targets, issues=ctx.limit(t_issues),
    )  # fmt: skip


def check_uninformative_columns(ctx: QualityData, spec: QualitySpec) -> QualityCheck:
    """Columns entirely empty (fail) or constant (warn); id, source and date columns excepted."""
    frame = ctx.frame
    # A single source label or one id per row is bookkeeping, not an uninformative feature.
    modelled = [c for c in frame.columns if c not in ctx.meta]
    empty = [c for c in modelled if frame[c].isna().all() and c not in ctx.targets]  # an empty target: target_missing
    constant = [c for c in modelled if c not in empty and frame[c].nunique(dropna=True) == 1]
    e_issues = [{"row": None, "id": None, "column": c, "value": None, "detail": "every value missing"} for c in empty]
    e_issues += [
        {"row": None, "id": None, "column": c, "value": frame[c].dropna().iloc[0], "detail": "constant column"}
        for c in constant
    ]
    return finding(
        "completeness", "uninformative_columns", "columns that are entirely empty or constant carry no information",
        n_checked=len(modelled), n_failed=len(empty) + len(constant),
        ok="no empty or constant columns",
        bad=(f"empty: {format_columns(empty)}; " if empty else "") + (f"constant: {format_columns(constant)}; " if constant else "")
        + "they are dropped before modelling (ColumnFilter)",
        severity="fail" if empty else "warn", columns=empty + constant, issues=e_issues,
    )  # fmt: skip
