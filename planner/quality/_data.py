"""The table under assessment, with the spec's roles resolved, and what every check shares.

:class:`QualityData` checks that the columns the :class:`~planner.quality.QualitySpec` names
exist, works out the feature columns, and computes the row groups that describe one entity
once (for the consistency and uniqueness checks). :func:`finding` and :func:`skipped` build a
check's :class:`~planner.quality.QualityCheck`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from planner.exceptions import DataValidationError, SpecError
from planner.quality._report import QualityCheck, json_value
from planner.quality._spec import QualitySpec
from planner.sources._entities import composition_keys, condition_clusters, condition_tolerances
from planner.validation import format_columns, format_values, require_columns

__all__ = ["Entities", "QualityData", "as_numeric", "finding", "numeric_share", "rule_check", "skipped"]


class QualityData:
    """The frame to assess and its columns by role, resolved against a :class:`QualitySpec`.

    Args:
        frame: The table; a duplicated index is replaced by a fresh one (rows are named by label).
        spec: What to check.
        dataset_name: Name used in messages.

    Raises:
        DataValidationError: ``frame`` is not a DataFrame, or a column the spec names is missing.
    """

    def __init__(self, frame: pd.DataFrame, spec: QualitySpec, *, dataset_name: str = "data") -> None:
        if not isinstance(frame, pd.DataFrame):
            raise DataValidationError(f"assess: expected a pandas DataFrame, got {type(frame).__name__}.")
        if not isinstance(spec, QualitySpec):
            raise SpecError(f"assess: spec must be a QualitySpec, got {type(spec).__name__}.")
        where = dataset_name
        if frame.index.has_duplicates:
            frame = frame.reset_index(drop=True)
        self.frame = frame
        self.spec = spec
        self.where = where
        self.id_column = spec.id_column
        self.max_issues = spec.max_issues_per_check
        self.targets = require_columns(frame, list(spec.target_columns), role="target", where=where)
        for name, col in (
            ("id", spec.id_column),
            ("group", spec.group_column),
            ("composition", spec.composition_column),
            ("source", spec.source_column),
            ("date", spec.date_column),
        ):
            if col is not None:
                require_columns(frame, [col], role=name, where=where)
        self.conditions = require_columns(frame, list(spec.condition_columns), role="condition", where=where)
        self.ignored = require_columns(frame, list(spec.ignore_in_duplicates), role="ignored", where=where)
        self.meta = frozenset(c for c in (spec.id_column, spec.source_column, spec.date_column) if c is not None)
        if spec.feature_columns is None:
            self.features = [
                c for c in frame.columns if c not in self.meta and c not in set(self.targets) and c not in set(self.ignored)
            ]
        else:
            self.features = require_columns(frame, list(spec.feature_columns), role="feature", where=where)

    def issue(self, row: Any, column: str | None = None, value: Any = None, detail: str = "") -> dict[str, Any]:
        """One offending row (or cell) as the report stores it."""
        ident = None
        if self.id_column is not None:
            ident = self.frame.at[row, self.id_column]
            ident = None if pd.isna(ident) else ident
        # Plain Python values: they print as 922, not np.int64(922), and go straight to JSON.
        return {
            "row": json_value(row),
            "id": json_value(ident),
            "column": column,
            "value": json_value(value),
            "detail": detail,
        }

    def limit(self, issues: list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
        return tuple(issues[: self.max_issues])

    @cached_property
    def numeric_columns(self) -> tuple[list[str], list[str]]:
        """Columns that must hold numbers: ``(declared, inferred)`` (see :func:`numeric_expected`)."""
        spec = self.spec
        return numeric_expected(self.frame, self.targets, spec.bounds, spec.non_negative_columns, spec.fraction_groups)

    @cached_property
    def dates(self) -> pd.Series | None:
        """The date column parsed (unparseable values ``NaT``, time zones dropped), or None."""
        if self.spec.date_column is None:
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dates = pd.to_datetime(self.frame[self.spec.date_column], errors="coerce", utc=False, format="mixed")
        if getattr(dates.dt, "tz", None) is not None:
            dates = dates.dt.tz_convert(None)
        return dates

    @cached_property
    def now(self) -> pd.Timestamp:
        """"Now" for the timeliness checks: the spec's reference date, or today."""
        reference = self.spec.reference_date
        return pd.Timestamp(reference) if reference is not None else pd.Timestamp.now().normalize()

    @cached_property
    def entity(self) -> Entities:
        """Row groups describing the same entity under the same conditions."""
        spec = self.spec
        return entity_keys(
            self.frame,
            spec.group_column,
            spec.composition_column,
            self.features,
            self.conditions,
            spec.condition_tolerance,
            self.targets,
        )


def finding(
    characteristic: str,
    name: str,
    description: str,
    *,
    n_checked: int,
    n_failed: int,
    ok: str,
    bad: str,
    severity: str = "fail",
    columns: Sequence[str] = (),
    issues: Sequence[Mapping[str, Any]] = (),
) -> QualityCheck:
    status = "pass" if n_failed == 0 else severity
    return QualityCheck(
        characteristic=characteristic,
        name=name,
        description=description,
        status=status,
        n_checked=int(n_checked),
        n_failed=int(n_failed),
        message=ok if n_failed == 0 else bad,
        columns=tuple(str(c) for c in columns),
        issues=tuple(issues),
    )


def skipped(characteristic: str, name: str, description: str, reason: str) -> QualityCheck:
    return QualityCheck(characteristic, name, description, "skipped", 0, 0, reason)


def numeric_expected(
    frame: pd.DataFrame,
    targets: list[str],
    bounds: Mapping[str, Any] | None,
    non_negative: Sequence[str],
    fraction_groups: Any,
) -> tuple[list[str], list[str]]:
    """Columns that must hold numbers: ``(declared, inferred)``.

    Declared: bounded, non-negative and fraction columns, and targets that are mostly numeric.
    Inferred: other columns whose values are at least 80 % numbers (text there is suspicious).
    """
    from planner.chem import as_fraction_groups

    declared = set(bounds or {}) | set(non_negative)
    for group in as_fraction_groups(fraction_groups):
        declared |= set(group.columns)
    declared |= {t for t in targets if numeric_share(frame[t]) >= 0.5}
    declared_cols = [c for c in frame.columns if c in declared]
    inferred_cols = [c for c in frame.columns if c not in declared and numeric_share(frame[c]) >= 0.8]
    return declared_cols, inferred_cols


def numeric_share(series: pd.Series) -> float:
    present = series.dropna()
    if present.empty:
        return 0.0
    if pd.api.types.is_numeric_dtype(series):
        return 1.0
    return float(pd.to_numeric(present, errors="coerce").notna().mean())


def as_numeric(series: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(series):
        return series.astype(float)
    if pd.api.types.is_numeric_dtype(series):
        return series.astype(float)
    return pd.to_numeric(series, errors="coerce")


@dataclass
class Entities:
    """Row groups that describe the same entity (and the same conditions)."""

    label: str  # how entities were defined, for messages
    groups: list[pd.Index]  # groups of >= 2 row labels
    keys: pd.Series | None  # per-row entity key (without conditions), or None


def entity_keys(
    frame: pd.DataFrame,
    group_column: str | None,
    composition_column: str | None,
    features: list[str],
    conditions: list[str],
    tolerance: Any,
    targets: list[str],
) -> Entities:
    if group_column is not None and group_column != composition_column:
        keys = frame[group_column].astype(object).where(frame[group_column].notna(), None)
        label = f"same {group_column!r}"
    elif composition_column is not None:
        keys, _ = composition_keys(frame[composition_column])
        label = f"same normalized {composition_column!r}"
    else:
        inputs = [c for c in features if c not in conditions]
        if not inputs:
            return Entities("no inputs", [], None)
        keys = frame[inputs].astype(str).agg("\x1f".join, axis=1)
        label = "identical inputs"
    if conditions:
        label += " and " + ("conditions " if len(conditions) > 1 else "condition ") + format_columns(conditions)
    tol = condition_tolerances(tolerance, conditions, frame) if conditions else {}
    work = frame.reset_index(drop=True)
    key_values = pd.Series(keys.to_numpy(), dtype=object)
    groups: list[pd.Index] = []
    present = key_values.notna().to_numpy()
    for _, idx in pd.Series(np.flatnonzero(present)).groupby(key_values[present].to_numpy(), sort=False):
        members = idx.to_numpy()
        if len(members) < 2:
            continue
        for cluster in condition_clusters(work, members, conditions, tol):
            if len(cluster) >= 2:
                groups.append(frame.index[np.sort(cluster)])
    return Entities(label, groups, pd.Series(keys.to_numpy(), index=frame.index, dtype=object))


_NAME = re.compile(r"`([^`]+)`|\b([A-Za-z_][A-Za-z0-9_]*)\b")


def rule_check(ctx: QualityData, rules: Mapping[str, str], characteristic: str, name: str, where: str) -> QualityCheck:
    desc = (
        "user-declared rules hold on every row"
        if characteristic == "validity"
        else "declared relations between columns hold"
    )
    if not rules:
        return skipped(characteristic, name, desc, "no rules declared")
    issues = []
    n_checked = 0
    broken: list[str] = []
    for rule_name, expression in rules.items():
        referenced = [m.group(1) or m.group(2) for m in _NAME.finditer(expression)]
        referenced = [c for c in dict.fromkeys(referenced) if c in ctx.frame.columns]
        if not referenced:
            raise SpecError(
                f"assess: rule {rule_name!r} ({expression!r}) names no column of {where}; columns: "
                f"{format_columns(ctx.frame.columns)}. Quote names with spaces in backticks."
            )
        data = ctx.frame.copy()
        for col in referenced:
            if numeric_share(data[col]) >= 0.8:
                data[col] = as_numeric(data[col])
        try:
            with np.errstate(all="ignore"):
                result = data.eval(expression)
        except Exception as err:  # pandas raises many error types for bad expressions
            raise SpecError(
                f"assess: rule {rule_name!r} could not be evaluated: {expression!r}: {err}. Write it as a "
                "pandas expression, e.g. 'conductivity >= 0' or 'abs(a + b - 1) < 0.01'."
            ) from err
        if (
            not isinstance(result, pd.Series)
            or len(result) != len(data)
            or not (pd.api.types.is_bool_dtype(result) or result.dropna().isin([True, False]).all())
        ):
            raise SpecError(
                f"assess: rule {rule_name!r} ({expression!r}) must give true/false per row, e.g. 'a + b <= 1'."
            )
        checkable = data[referenced].notna().all(axis=1)
        ok = result.astype("boolean").fillna(False).astype(bool)
        failing = checkable & ~ok
        n_checked += int(checkable.sum())
        if failing.any():
            broken.append(rule_name)
        for row in data.index[failing]:
            values = {c: ctx.frame.at[row, c] for c in referenced}
            issues.append(
                ctx.issue(row, ";".join(referenced), json_value(values), f"breaks rule {rule_name!r}: {expression}")
            )
    return finding(
        characteristic,
        name,
        desc,
        n_checked=n_checked,
        n_failed=len(issues),
        ok=f"{len(rules)} rule(s) hold on every checkable row",
        bad=f"{len(issues)} row(s) break rule(s) {format_values(broken)}",
        columns=list(rules),
        issues=ctx.limit(issues),
    )
