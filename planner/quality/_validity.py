"""Validity checks: domain rules (fraction groups, non-negative quantities, allowed levels,
parseable formulas, user rules)."""

from __future__ import annotations

from typing import Any

import numpy as np

from planner.quality._data import QualityData, as_numeric, finding, rule_check, skipped
from planner.quality._report import QualityCheck
from planner.quality._spec import QualitySpec
from planner.validation import format_columns, format_values, require_columns

__all__ = [
    "check_allowed_values",
    "check_formulas",
    "check_fraction_groups",
    "check_non_negative",
    "check_rules",
]


def check_fraction_groups(ctx: QualityData, spec: QualitySpec) -> QualityCheck:
    """Fraction groups that are negative or do not sum to their total."""
    groups, tolerance, missing_as_zero, where = (
        spec.fraction_groups, spec.fraction_tolerance, spec.missing_as_zero, ctx.where
    )
    desc = "fraction groups are non-negative and sum to their total"
    from planner.chem import as_fraction_groups, check_fraction_groups

    parsed = as_fraction_groups(groups, tolerance=tolerance)
    if not parsed:
        return skipped("validity", "fraction_groups", desc, "no fraction groups declared")
    violations = check_fraction_groups(ctx.frame, parsed, missing_as_zero=missing_as_zero, where=where)
    issues = [
        ctx.issue(
            v.row,
            ";".join(next(g.columns for g in parsed if g.name == v.group)),
            v.sum,
            f"group {v.group!r}: {v.detail}",
        )
        for v in violations.itertuples()
    ]
    return finding(
        "validity",
        "fraction_groups",
        desc,
        n_checked=len(ctx.frame) * len(parsed),
        n_failed=len(issues),
        ok=f"{len(parsed)} fraction group(s) valid on every row",
        bad=f"{len(issues)} row(s) break fraction groups {format_values(sorted(set(violations['group'])))}; fix the "
        "fractions or renormalize (FractionGroupValidator(action='normalize'))",
        columns=[c for g in parsed for c in g.columns],
        issues=ctx.limit(issues),
    )


def check_non_negative(ctx: QualityData, spec: QualitySpec) -> QualityCheck:
    """Negative values in columns declared non-negative."""
    columns, where = list(spec.non_negative_columns), ctx.where
    desc = "quantities that cannot be negative are not"
    if not columns:
        return skipped("validity", "non_negative", desc, "no non-negative columns declared")
    require_columns(ctx.frame, columns, role="non-negative", where=where)
    issues = []
    n_checked = 0
    for col in columns:
        values = as_numeric(ctx.frame[col])
        n_checked += int(values.notna().sum())
        for row in values.index[values < 0]:
            issues.append(ctx.issue(row, col, values[row], "negative"))
    return finding(
        "validity",
        "non_negative",
        desc,
        n_checked=n_checked,
        n_failed=len(issues),
        ok=f"no negative values in {format_columns(columns)}",
        bad=f"{len(issues)} negative value(s) in {format_columns(sorted({i['column'] for i in issues}))}",
        columns=columns,
        issues=ctx.limit(issues),
    )


def check_allowed_values(ctx: QualityData, spec: QualitySpec) -> QualityCheck:
    """Categorical values outside the allowed levels."""
    allowed, where = spec.allowed_values, ctx.where
    desc = "categorical columns use only the allowed levels"
    if not allowed:
        return skipped("validity", "allowed_values", desc, "no allowed levels declared")
    require_columns(ctx.frame, list(allowed), role="categorical", where=where)
    issues = []
    n_checked = 0
    for col, levels in allowed.items():
        known = {_level(v) for v in levels}
        series = ctx.frame[col]
        present = series.dropna()
        n_checked += len(present)
        for row, value in present.items():
            if _level(value) not in known:
                issues.append(ctx.issue(row, col, value, f"not one of {format_values(sorted(known))}"))
    return finding(
        "validity",
        "allowed_values",
        desc,
        n_checked=n_checked,
        n_failed=len(issues),
        ok=f"{len(allowed)} categorical column(s) use only allowed levels",
        bad=f"{len(issues)} value(s) outside the allowed levels; fix spelling or extend the allowed list",
        columns=list(allowed),
        issues=ctx.limit(issues),
    )


def _level(value: Any) -> str:
    """Category level as text; ``1``, ``1.0`` and ``"1"`` are the same level."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, float, np.integer, np.floating)) and float(value).is_integer():
        return str(int(value))
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def check_formulas(ctx: QualityData, spec: QualitySpec) -> QualityCheck:
    """Composition formulas that do not parse."""
    composition_column = spec.composition_column
    desc = "composition formulas parse into elements"
    if composition_column is None:
        return skipped("validity", "formulas", desc, "no composition column declared")
    from planner.chem import parse_formulas

    series = ctx.frame[composition_column]
    present = series.dropna()
    _, errors = parse_formulas(present, on_error="ignore")
    issues = [
        ctx.issue(row, composition_column, series[row], reason.split(": ", 1)[-1]) for row, reason in errors.items()
    ]
    return finding(
        "validity",
        "formulas",
        desc,
        n_checked=len(present),
        n_failed=len(issues),
        ok=f"all {len(present)} formulas in {composition_column!r} parse",
        bad=f"{len(issues)} formula(s) in {composition_column!r} do not parse; fix them (e.g. 'Li7La3Zr2O12')",
        columns=[composition_column],
        issues=ctx.limit(issues),
    )


def check_rules(ctx: QualityData, spec: QualitySpec) -> QualityCheck:
    """Rows breaking a user-declared validity rule (``rules``)."""
    return rule_check(ctx, spec.rules, "validity", "rules", ctx.where)
