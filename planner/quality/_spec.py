"""What the quality report checks: a frozen, validated :class:`QualitySpec`.

The spec names the roles of columns (id, targets, composition, conditions, date ...), the
domain rules (bounds, units, allowed levels, fraction groups, rules) and the thresholds of the
checks. It is validated when it is made, so a typo in a key or a nonsensical value is a
:class:`~planner.exceptions.SpecError` naming the key and the fix, before any data is read.
Whether the named columns exist is checked against the table by :func:`~planner.quality.assess`.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from planner.exceptions import SpecError
from planner.validation import check_choice, format_values

__all__ = ["QUALITY_TASKS", "QualitySpec"]

QUALITY_TASKS = ("auto", "regression", "classification")
_OWNER = "QualitySpec"


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class QualitySpec:
    """The settings of one quality assessment (every field optional).

    Sequences are stored as tuples and mappings as read-only mappings; change a spec with
    :meth:`replace`, which validates again.

    Attributes:
        id_column: Column identifying a record; ids are named next to row labels in the report.
        target_columns: Measured outputs (checked for missing values, agreement, outliers).
        feature_columns: Inputs; ``None``: every column that is not an id, target, source or date.
        group_column: Column whose equal values mean "the same entity" (material, cell). If it
            is also the ``composition_column``, formulas are compared after normalization.
        composition_column: Formula column: parsed (validity) and normalized for entity matching.
        condition_columns: Measurement conditions (e.g. temperature) that must also match for
            two rows to describe the same measurement.
        condition_tolerance: Largest difference still the same condition (number >= 0, or
            ``{condition column: number}``).
        source_column: Column naming each row's source (file label or DOI).
        bounds: ``{column: (lower, upper)}``; ``None`` for an open side.
        units: ``{column: unit}`` declared units; each should be a unit pint understands (a
            unit it does not is reported by the ``units`` check, not raised).
        non_negative_columns: Columns that cannot be negative (conductivity, capacity).
        allowed_values: ``{column: [levels]}`` for categorical columns.
        fraction_groups: ``{name: [columns]}``, fraction-group objects, or dicts with ``name``,
            ``columns`` (and ``total``, ``tolerance``): columns that must sum to 1 (or ``total``).
        fraction_tolerance: Overrides each fraction group's tolerance.
        missing_as_zero: In fraction groups, empty cells mean 0.
        rules: ``{name: expression}`` validity rules evaluated with ``DataFrame.eval``, true for
            a valid row, e.g. ``{"conductivity below 1 S/cm": "conductivity < 1"}``. Rows where a
            referenced column is empty are not checked.
        consistency_rules: Same, for relations between columns, e.g.
            ``{"log matches": "abs(log_target - log10(target)) < 1e-3"}``.
        consistency_tolerance: Largest spread of a target within one entity that counts as
            agreement (number or per target); default ``None``: any difference is listed as a
            warning. With a tolerance, larger spreads fail.
        date_column: Column with measurement dates (enables timeliness checks).
        reference_date: "Now" for timeliness (default: today).
        max_age_days: Dates older than this (before ``reference_date``) are flagged as stale.
        missing_threshold: A column missing more than this share of values fails completeness.
        row_missing_threshold: Rows missing more than this share of their inputs are listed.
        outlier_method: Method for the outlier listing (``None`` to skip); one of the outlier
            detector's methods.
        outlier_threshold: Threshold for that method (default: the method's).
        ignore_in_duplicates: Columns left out of exact-duplicate detection (e.g. a row number).
        explore: Add the exploration tables (correlations, mutual information, PCA).
        task: ``"regression"``, ``"classification"`` or ``"auto"``, for mutual information.
        max_issues_per_check: Cap on offending rows stored per check (counts stay exact).
        strict: :func:`~planner.quality.assess` raises
            :class:`~planner.exceptions.DataValidationError` if any check fails.

    Raises:
        SpecError: A field of the wrong type or out of range, named with the fix.
    """

    id_column: str | None = None
    target_columns: Sequence[str] = ()
    feature_columns: Sequence[str] | None = None
    group_column: str | None = None
    composition_column: str | None = None
    condition_columns: Sequence[str] = ()
    condition_tolerance: float | Mapping[str, float] | None = None
    source_column: str | None = None
    bounds: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)
    units: Mapping[str, str] = field(default_factory=dict)
    non_negative_columns: Sequence[str] = ()
    allowed_values: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    fraction_groups: Any = ()
    fraction_tolerance: float | None = None
    missing_as_zero: bool = False
    rules: Mapping[str, str] = field(default_factory=dict)
    consistency_rules: Mapping[str, str] = field(default_factory=dict)
    consistency_tolerance: float | Mapping[str, float] | None = None
    date_column: str | None = None
    reference_date: Any = None
    max_age_days: float | None = None
    missing_threshold: float = 0.5
    row_missing_threshold: float = 0.5
    outlier_method: str | None = "robust_zscore"
    outlier_threshold: float | None = None
    ignore_in_duplicates: Sequence[str] = ()
    explore: bool = True
    task: str = "auto"
    max_issues_per_check: int = 1000
    strict: bool = False

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for name in ("id_column", "group_column", "composition_column", "source_column", "date_column"):
            _column(self, name)
        for name in ("target_columns", "condition_columns", "non_negative_columns", "ignore_in_duplicates"):
            set_(self, name, _columns(getattr(self, name), name))
        if self.feature_columns is not None:
            set_(self, "feature_columns", _columns(self.feature_columns, "feature_columns"))
        set_(self, "condition_tolerance", _tolerance(self.condition_tolerance, "condition_tolerance"))
        if isinstance(self.condition_tolerance, Mapping):
            unknown = [c for c in self.condition_tolerance if c not in self.condition_columns]
            if unknown:
                raise SpecError(
                    f"{_OWNER}: condition_tolerance names {format_values(unknown)}, which are not condition_columns "
                    f"({format_values(self.condition_columns)}); add them to condition_columns or remove them."
                )
        set_(self, "consistency_tolerance", _tolerance(self.consistency_tolerance, "consistency_tolerance"))
        set_(self, "bounds", _bounds(self.bounds))
        set_(self, "units", _text_mapping(self.units, "units", example="{'conductivity': 'S/cm'}"))
        set_(self, "allowed_values", _levels(self.allowed_values))
        set_(self, "fraction_groups", _fraction_groups(self.fraction_groups))
        set_(self, "fraction_tolerance", _number(self.fraction_tolerance, "fraction_tolerance", minimum=0.0))
        set_(self, "rules", _text_mapping(self.rules, "rules", example="{'positive': 'conductivity > 0'}"))
        set_(
            self,
            "consistency_rules",
            _text_mapping(self.consistency_rules, "consistency_rules", example="{'sum': 'abs(a + b - 1) < 0.01'}"),
        )
        set_(self, "reference_date", _date(self.reference_date))
        set_(self, "max_age_days", _number(self.max_age_days, "max_age_days", minimum=0.0, strict=True))
        for name in ("missing_threshold", "row_missing_threshold"):
            value = _number(getattr(self, name), name, minimum=0.0)
            if value is None or float(value) > 1:
                raise SpecError(f"{_OWNER}: {name} must be a share between 0 and 1, got {getattr(self, name)!r}.")
            set_(self, name, value)
        if self.outlier_method is not None:
            from planner.steps import OUTLIER_METHODS

            check_choice(self.outlier_method, OUTLIER_METHODS, name="outlier_method", owner=_OWNER)
        set_(self, "outlier_threshold", _number(self.outlier_threshold, "outlier_threshold", minimum=0.0, strict=True))
        check_choice(self.task, QUALITY_TASKS, name="task", owner=_OWNER)
        for name in ("missing_as_zero", "explore", "strict"):
            if not isinstance(getattr(self, name), bool):
                raise SpecError(f"{_OWNER}: {name} must be true or false, got {getattr(self, name)!r}.")
        n = self.max_issues_per_check
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise SpecError(f"{_OWNER}: max_issues_per_check must be a whole number >= 1, got {n!r}.")

    def __hash__(self) -> int:
        # The generated hash would fail on the read-only mappings; hash their JSON form instead.
        return hash(json.dumps(self.to_dict(), sort_keys=True, default=str))

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = _OWNER) -> QualitySpec:
        """Build a spec from keywords (e.g. a parsed YAML section); unknown keys are refused.

        Raises:
            SpecError: A key that is not a field (with the closest field named), or a bad value.
        """
        if not isinstance(data, Mapping):
            raise SpecError(f"{where}: expected a mapping of quality settings, got {type(data).__name__}.")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = [str(k) for k in data if k not in names]
        if unknown:
            hints = []
            for key in unknown:
                close = difflib.get_close_matches(key, names, n=1)
                hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise SpecError(
                f"{where}: unknown quality setting(s) {', '.join(hints)}. Known settings: {format_values(names)}."
            )
        return cls(**dict(data))

    def replace(self, **changes: Any) -> QualitySpec:
        """A copy with ``changes`` applied (validated like a new spec)."""
        return type(self).from_dict({**self.to_dict(raw=True), **changes})

    def to_dict(self, *, raw: bool = False) -> dict[str, Any]:
        """Every field as plain JSON-able values (``raw``: the stored values, unconverted)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if raw:
            return out
        for name, value in out.items():
            if isinstance(value, Mapping):
                out[name] = {k: list(v) if isinstance(v, tuple) else v for k, v in value.items()}
            elif isinstance(value, tuple):
                out[name] = list(value)
        out["fraction_groups"] = [
            {"name": g.name, "columns": list(g.columns), "total": g.total, "tolerance": g.tolerance}
            for g in self.fraction_groups
        ]
        if self.reference_date is not None:
            out["reference_date"] = self.reference_date.isoformat()
        return out


# -- validators ---------------------------------------------------------------------------------


def _column(spec: QualitySpec, name: str) -> None:
    value = getattr(spec, name)
    if value is not None and (not isinstance(value, str) or not value):
        raise SpecError(f"{_OWNER}: {name} must be a column name (text) or None, got {value!r}.")


def _columns(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Mapping) or not isinstance(value, Sequence | set | frozenset | pd.Index | np.ndarray):
        raise SpecError(f"{_OWNER}: {name} must be a list of column names, got {type(value).__name__} {value!r}.")
    items = list(value)
    bad = [v for v in items if not isinstance(v, str) or not v]
    if bad:
        raise SpecError(f"{_OWNER}: {name} must list column names (text), got {format_values(bad)}.")
    return tuple(items)


def _number(value: Any, name: str, *, minimum: float, strict: bool = False) -> Any:
    """``value`` itself (so messages print it as given), once it is a number in range."""
    if value is None:
        return None
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real) or math.isnan(float(value)):
        raise SpecError(f"{_OWNER}: {name} must be a number, got {value!r}.")
    if float(value) < minimum or (strict and float(value) == minimum):
        side = ">" if strict else ">="
        raise SpecError(f"{_OWNER}: {name} must be {side} {minimum:g}, got {value!r}.")
    return value


def _tolerance(value: Any, name: str) -> float | Mapping[str, float] | None:
    if isinstance(value, Mapping):
        return _frozen({str(k): _number(v, f"{name}[{k!r}]", minimum=0.0) for k, v in value.items()})
    return _number(value, name, minimum=0.0)


def _bounds(value: Any) -> Mapping[str, tuple[float | None, float | None]]:
    if value is None:
        return _frozen({})
    if not isinstance(value, Mapping):
        raise SpecError(f"{_OWNER}: bounds must be a mapping {{column: (lower, upper)}}, got {type(value).__name__}.")
    out = {}
    for col, pair in value.items():
        try:
            lower, upper = pair
        except (TypeError, ValueError) as err:
            raise SpecError(f"{_OWNER}: bounds[{col!r}] must be a (lower, upper) pair, got {pair!r}.") from err
        lower = _number(lower, f"bounds[{col!r}] lower", minimum=-math.inf)
        upper = _number(upper, f"bounds[{col!r}] upper", minimum=-math.inf)
        if lower is not None and upper is not None and lower > upper:
            raise SpecError(f"{_OWNER}: bounds[{col!r}] has lower {lower:g} > upper {upper:g}; swap them.")
        out[str(col)] = (lower, upper)
    return _frozen(out)


def _text_mapping(value: Any, name: str, *, example: str) -> Mapping[str, str]:
    if value is None:
        return _frozen({})
    if not isinstance(value, Mapping):
        raise SpecError(f"{_OWNER}: {name} must be a mapping like {example}, got {type(value).__name__}.")
    bad = {k: v for k, v in value.items() if not isinstance(v, str) or not v.strip()}
    if bad:
        raise SpecError(f"{_OWNER}: {name} values must be non-empty text like {example}; bad: {bad!r}.")
    return _frozen({str(k): v for k, v in value.items()})


def _levels(value: Any) -> Mapping[str, tuple[Any, ...]]:
    if value is None:
        return _frozen({})
    if not isinstance(value, Mapping):
        raise SpecError(
            f"{_OWNER}: allowed_values must be a mapping {{column: [levels]}}, got {type(value).__name__}."
        )
    out = {}
    for col, levels in value.items():
        if isinstance(levels, str | bytes) or not isinstance(levels, Sequence | set | frozenset | pd.Index | np.ndarray):
            raise SpecError(f"{_OWNER}: allowed_values[{col!r}] must be a list of levels, got {levels!r}.")
        out[str(col)] = tuple(levels)
    return _frozen(out)


def _fraction_groups(value: Any) -> tuple[Any, ...]:
    from planner.chem import FractionGroup, as_fraction_groups

    if value is None:
        return ()
    if not isinstance(value, Mapping) and isinstance(value, Sequence) and not isinstance(value, str):
        items = []
        for item in value:
            if isinstance(item, Mapping):
                unknown = sorted(set(item) - {"name", "columns", "total", "tolerance"})
                if unknown or "name" not in item or "columns" not in item:
                    raise SpecError(
                        f"{_OWNER}: fraction_groups entries need 'name' and 'columns' (optional 'total', "
                        f"'tolerance'); got keys {format_values(list(item))}."
                    )
                item = FractionGroup(
                    name=str(item["name"]),
                    columns=tuple(item["columns"]),
                    total=float(item.get("total", 1.0)),
                    tolerance=float(item.get("tolerance", 1e-3)),
                )
            items.append(item)
        value = items
    elif isinstance(value, str):
        raise SpecError(f"{_OWNER}: fraction_groups must be {{name: [columns]}} or a list of groups, got {value!r}.")
    return tuple(as_fraction_groups(value))


def _date(value: Any) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as err:
        raise SpecError(
            f"{_OWNER}: reference_date {value!r} is not a date; write it as YYYY-MM-DD."
        ) from err
    if stamp is pd.NaT:
        raise SpecError(f"{_OWNER}: reference_date {value!r} is not a date; write it as YYYY-MM-DD.")
    return stamp
