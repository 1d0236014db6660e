"""The data-quality report: what a scientist reads before trusting any model.

:func:`assess` checks a table against the six characteristics of high-quality data and
returns a :class:`QualityReport` that prints as text and saves as CSV + JSON:

=============  ===============================================================================
accuracy       values are numbers where numbers are expected, within declared bounds, declared
               units are real units; statistical outliers are listed for checking
consistency    the same entity (id, or normalized composition + conditions) has the same value
               across rows and sources; one id means one composition; declared cross-column
               relations hold
validity       domain rules: fraction groups sum to their total, non-negative quantities,
               allowed category levels, parseable formulas, user rules
completeness   missing values per column and per row, missing targets, empty or constant columns
timeliness     (with a date column) unparseable, future and stale dates, the time span
uniqueness     exact duplicate rows, duplicate ids, repeated entities (replicates)
=============  ===============================================================================

Each check has a status — ``pass``, ``warn`` (look at it), ``fail`` (a rule is broken),
``skipped`` (not applicable, with the reason) — counts, and the offending rows. The report
also carries the cleaning log (what merging and cleaning did) and, optionally, the
exploration tables (correlations, rankings, PCA).
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.exceptions import DataValidationError, SpecError
from planner.io import atomic_write_text
from planner.validation import (
    check_choice,
    format_columns,
    format_values,
    require_columns,
)
from planner.quality._log import CleaningAction, CleaningLog

__all__ = ["CHARACTERISTICS", "QualityCheck", "QualityReport", "assess"]

REPORT_VERSION = 1
CHARACTERISTICS = ("accuracy", "consistency", "validity", "completeness", "timeliness", "uniqueness")
_DESCRIPTIONS = {
    "accuracy": "values are correct: numbers where numbers belong, within declared bounds and units",
    "consistency": "the same entity has the same values across rows and sources",
    "validity": "values obey the domain rules",
    "completeness": "the values needed are present",
    "timeliness": "measurements are dated, and recent enough",
    "uniqueness": "each record appears once",
}
_STATUS_ORDER = {"fail": 3, "warn": 2, "pass": 1, "skipped": 0}
_ISSUE_COLUMNS = ["characteristic", "check", "row", "id", "column", "value", "detail"]


@dataclass(frozen=True)
class QualityCheck:
    """One rule checked on the data.

    Attributes:
        characteristic: One of :data:`CHARACTERISTICS`.
        name: Short identifier, e.g. ``"bounds"``, ``"duplicate_entities"``.
        description: The rule, in words.
        status: ``"pass"``, ``"warn"``, ``"fail"`` or ``"skipped"``.
        n_checked: How many values/rows/groups were checked.
        n_failed: How many broke the rule.
        message: One line: what was found and what to do about it.
        columns: Columns involved.
        issues: The offending rows: dicts with ``row``, ``id``, ``column``, ``value``, ``detail``.
    """

    characteristic: str
    name: str
    description: str
    status: str
    n_checked: int
    n_failed: int
    message: str
    columns: tuple[str, ...] = ()
    issues: tuple[Mapping[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "characteristic": self.characteristic,
            "name": self.name,
            "description": self.description,
            "status": self.status,
            "n_checked": int(self.n_checked),
            "n_failed": int(self.n_failed),
            "message": self.message,
            "columns": list(self.columns),
            "issues": [_json_value(dict(i)) for i in self.issues],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QualityCheck:
        return cls(
            characteristic=data["characteristic"],
            name=data["name"],
            description=data["description"],
            status=data["status"],
            n_checked=int(data["n_checked"]),
            n_failed=int(data["n_failed"]),
            message=data["message"],
            columns=tuple(data.get("columns", ())),
            issues=tuple(dict(i) for i in data.get("issues", ())),
        )


def _json_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None if np.isnan(value) else str(value)
    if isinstance(value, (pd.Timestamp, _dt.date, _dt.datetime)):
        return str(value)
    if value is pd.NA or value is pd.NaT:
        return None
    return value


@dataclass
class QualityReport:
    """The result of :func:`assess`.

    Attributes:
        dataset: Name of the data assessed (file or campaign).
        n_rows, n_columns: Size of the table assessed.
        checks: Every :class:`QualityCheck`, grouped by characteristic in :data:`CHARACTERISTICS` order.
        actions: What cleaning steps did (merging, deduplication, drops), as a :class:`CleaningLog`.
        action_summary: One line per kind of action, from each log given to :func:`assess`.
        exploration: Correlations, rankings and PCA (:class:`~planner.quality.Exploration`), or None.
        settings: The arguments of :func:`assess`, for the record.
        created: ISO timestamp.
    """

    dataset: str
    n_rows: int
    n_columns: int
    checks: list[QualityCheck]
    actions: CleaningLog = field(default_factory=CleaningLog)
    action_summary: list[str] = field(default_factory=list)
    exploration: Any = None
    settings: dict[str, Any] = field(default_factory=dict)
    created: str = ""

    # -- views ---------------------------------------------------------------------------

    @property
    def status(self) -> str:
        """Worst status over all checks (``skipped`` never decides)."""
        worst = max((_STATUS_ORDER[c.status] for c in self.checks), default=1)
        return {3: "fail", 2: "warn", 1: "pass", 0: "pass"}[worst]

    @property
    def has_failures(self) -> bool:
        return any(c.status == "fail" for c in self.checks)

    def characteristic_status(self, characteristic: str) -> str:
        checks = [c for c in self.checks if c.characteristic == characteristic]
        if checks and all(c.status == "skipped" for c in checks):
            return "skipped"
        worst = max((_STATUS_ORDER[c.status] for c in checks), default=1)
        return {3: "fail", 2: "warn", 1: "pass", 0: "pass"}[worst]

    def check(self, name: str) -> QualityCheck:
        """The check called ``name`` (raises ``KeyError`` listing the names if absent)."""
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"no check named {name!r}; checks: {[c.name for c in self.checks]}")

    def summary(self) -> pd.DataFrame:
        """One row per check: characteristic, check, status, n_checked, n_failed, columns, message."""
        return pd.DataFrame(
            [
                {
                    "characteristic": c.characteristic,
                    "check": c.name,
                    "status": c.status,
                    "n_checked": c.n_checked,
                    "n_failed": c.n_failed,
                    "columns": ";".join(c.columns),
                    "message": c.message,
                }
                for c in self.checks
            ],
            columns=["characteristic", "check", "status", "n_checked", "n_failed", "columns", "message"],
        )

    def issues(self) -> pd.DataFrame:
        """One row per offending row/cell: characteristic, check, row, id, column, value, detail."""
        records = [
            {"characteristic": c.characteristic, "check": c.name, **{k: i.get(k) for k in _ISSUE_COLUMNS[2:]}}
            for c in self.checks
            for i in c.issues
        ]
        return pd.DataFrame(records, columns=_ISSUE_COLUMNS)

    # -- text ----------------------------------------------------------------------------

    def to_text(self, *, max_rows: int = 5) -> str:
        """The report as the CLI prints it: characteristics, checks, a few offending rows each."""
        counts = {s: sum(c.status == s for c in self.checks) for s in ("fail", "warn", "pass", "skipped")}
        lines = [
            f"Data-quality report: {self.dataset} ({self.n_rows} rows x {self.n_columns} columns)",
            f"Overall: {self.status.upper()}  ({counts['fail']} failed, {counts['warn']} warnings, "
            f"{counts['pass']} passed, {counts['skipped']} skipped)",
        ]
        for characteristic in CHARACTERISTICS:
            checks = [c for c in self.checks if c.characteristic == characteristic]
            lines.append("")
            lines.append(
                f"{characteristic.upper()} [{self.characteristic_status(characteristic).upper()}] - "
                f"{_DESCRIPTIONS[characteristic]}"
            )
            for c in checks:
                lines.append(f"  [{c.status}] {c.name}: {c.message}")
                for issue in c.issues[:max_rows] if c.status in ("fail", "warn") else ():
                    lines.append("        " + _issue_line(issue))
                if c.status in ("fail", "warn") and len(c.issues) > max_rows:
                    lines.append(f"        ... and {len(c.issues) - max_rows} more (see quality_issues.csv)")
        lines.append("")
        lines.append("CLEANING ACTIONS")
        summary = self.action_summary or (self.actions.summary_lines() if len(self.actions) else [])
        lines += [f"  {line}" for line in summary] or ["  none recorded"]
        if self.exploration is not None:
            text = self.exploration.to_text()
            if text:
                lines.append("")
                lines.append("EXPLORATION")
                lines += ["  " + line for line in text.splitlines()]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    # -- persistence ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": REPORT_VERSION,
            "type": "QualityReport",
            "dataset": self.dataset,
            "created": self.created,
            "n_rows": self.n_rows,
            "n_columns": self.n_columns,
            "status": self.status,
            "characteristics": {
                ch: {
                    "status": self.characteristic_status(ch),
                    "description": _DESCRIPTIONS[ch],
                    "checks": [c.to_dict() for c in self.checks if c.characteristic == ch],
                }
                for ch in CHARACTERISTICS
            },
            "actions": self.actions.to_dict(),
            "action_summary": list(self.action_summary),
            "settings": _json_value(self.settings),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QualityReport:
        """Rebuild a report saved with :meth:`to_dict` / :meth:`save` (exploration tables are not restored)."""
        version = data.get("version")
        if version != REPORT_VERSION:
            raise SpecError(f"quality report: version {version!r} is not supported (expected {REPORT_VERSION}).")
        checks = [QualityCheck.from_dict(c) for ch in CHARACTERISTICS for c in data["characteristics"][ch]["checks"]]
        return cls(
            dataset=data["dataset"],
            n_rows=int(data["n_rows"]),
            n_columns=int(data["n_columns"]),
            checks=checks,
            actions=CleaningLog(CleaningAction.from_dict(a) for a in data.get("actions", {}).get("actions", ())),
            action_summary=list(data.get("action_summary", [])),
            settings=dict(data.get("settings", {})),
            created=data.get("created", ""),
        )

    def save(self, directory: str | Path) -> dict[str, Path]:
        """Write the report into ``directory`` (created if needed), each file atomically.

        Files: ``quality_report.json`` (everything), ``quality_report.txt`` (the printed text),
        ``quality_summary.csv`` (one row per check), ``quality_issues.csv`` (offending rows),
        ``quality_actions.csv`` (cleaning log), and ``exploration/*.csv`` when present.

        Returns:
            ``{kind: path}`` of the files written.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = {
            "json": directory / "quality_report.json",
            "text": directory / "quality_report.txt",
            "summary": directory / "quality_summary.csv",
            "issues": directory / "quality_issues.csv",
            "actions": directory / "quality_actions.csv",
        }
        atomic_write_text(paths["json"], json.dumps(self.to_dict(), indent=2, default=str) + "\n")
        atomic_write_text(paths["text"], self.to_text(max_rows=20) + "\n")
        atomic_write_text(paths["summary"], self.summary().to_csv(index=False))
        atomic_write_text(paths["issues"], self.issues().to_csv(index=False))
        atomic_write_text(paths["actions"], self.actions.to_frame().to_csv(index=False))
        if self.exploration is not None:
            for path in self.exploration.save(directory / "exploration"):
                paths[f"exploration/{path.name}"] = path
        return paths

    @classmethod
    def load(cls, directory: str | Path) -> QualityReport:
        path = Path(directory) / "quality_report.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as err:
            raise DataValidationError(f"{path}: no saved quality report here; run `planner quality` first.") from err
        except json.JSONDecodeError as err:
            raise DataValidationError(
                f"{path}: not valid JSON ({err}); delete it and rerun `planner quality`."
            ) from err
        return cls.from_dict(data)

    def raise_for_failures(self) -> None:
        """Raise :class:`DataValidationError` listing failed checks (strict mode)."""
        failed = [c for c in self.checks if c.status == "fail"]
        if failed:
            lines = "\n  ".join(f"{c.characteristic}/{c.name}: {c.message}" for c in failed)
            raise DataValidationError(
                f"{self.dataset}: {len(failed)} data-quality check(s) failed:\n  {lines}\n"
                "Fix the data (the report lists the rows), or run in lenient mode to continue with warnings."
            )


def _issue_line(issue: Mapping[str, Any]) -> str:
    if issue.get("row") is None:
        return f"column {issue.get('column')}: {_short(issue.get('value'))} ({issue.get('detail')})"
    parts = [f"row {issue.get('row')}"]
    if issue.get("id") is not None:
        parts[0] += f" (id {issue.get('id')})"
    if issue.get("column"):
        parts.append(f"{issue.get('column')}={_short(issue.get('value'))}")
    if issue.get("detail"):
        parts.append(str(issue.get("detail")))
    return ": ".join(parts[:1]) + (" " + "; ".join(parts[1:]) if len(parts) > 1 else "")


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# =============================================================================================
# assess


class _Context:
    """What every check needs: the frame, roles, and how to name rows."""

    def __init__(self, frame: pd.DataFrame, id_column: str | None, max_issues: int) -> None:
        self.frame = frame
        self.id_column = id_column
        self.max_issues = max_issues

    def issue(self, row: Any, column: str | None = None, value: Any = None, detail: str = "") -> dict[str, Any]:
        ident = None
        if self.id_column is not None:
            ident = self.frame.at[row, self.id_column]
            ident = None if pd.isna(ident) else ident
        # Plain Python values: they print as 922, not np.int64(922), and go straight to JSON.
        return {
            "row": _json_value(row),
            "id": _json_value(ident),
            "column": column,
            "value": _json_value(value),
            "detail": detail,
        }

    def limit(self, issues: list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
        return tuple(issues[: self.max_issues])


def _check(
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


def _skipped(characteristic: str, name: str, description: str, reason: str) -> QualityCheck:
    return QualityCheck(characteristic, name, description, "skipped", 0, 0, reason)


def assess(
    frame: pd.DataFrame,
    *,
    id_column: str | None = None,
    target_columns: Sequence[str] = (),
    feature_columns: Sequence[str] | None = None,
    group_column: str | None = None,
    composition_column: str | None = None,
    condition_columns: Sequence[str] = (),
    condition_tolerance: float | Mapping[str, float] | None = None,
    source_column: str | None = None,
    bounds: Mapping[str, tuple[float | None, float | None]] | None = None,
    units: Mapping[str, str] | None = None,
    non_negative_columns: Sequence[str] = (),
    allowed_values: Mapping[str, Sequence[Any]] | None = None,
    fraction_groups: Any = None,
    fraction_tolerance: float | None = None,
    missing_as_zero: bool = False,
    rules: Mapping[str, str] | None = None,
    consistency_rules: Mapping[str, str] | None = None,
    consistency_tolerance: float | Mapping[str, float] | None = None,
    date_column: str | None = None,
    reference_date: Any = None,
    max_age_days: float | None = None,
    missing_threshold: float = 0.5,
    row_missing_threshold: float = 0.5,
    outlier_method: str | None = "robust_zscore",
    outlier_threshold: float | None = None,
    ignore_in_duplicates: Sequence[str] = (),
    logs: Sequence[CleaningLog] = (),
    explore: bool = True,
    task: str = "auto",
    dataset_name: str = "data",
    max_issues_per_check: int = 1000,
    strict: bool = False,
) -> QualityReport:
    """Check a table against the six characteristics of high-quality data.

    Args:
        frame: The table to assess; for several sources, the stacked table from
            :func:`~planner.quality.combine_sources` (so disagreements are visible), with the
            merge's log in ``logs``.
        id_column: Column identifying a record; ids are named next to row labels in the report.
        target_columns: Measured outputs (checked for missing values, agreement, outliers).
        feature_columns: Inputs; default every column that is not an id, target, source or date.
        group_column: Column whose equal values mean "the same entity" (material, cell). If it
            is also the ``composition_column``, formulas are compared after normalization.
        composition_column: Formula column: parsed (validity) and normalized for entity matching.
        condition_columns: Measurement conditions (e.g. temperature) that must also match for
            two rows to describe the same measurement.
        condition_tolerance: Largest difference still the same condition (number or per column).
        source_column: Column naming each row's source (file label or DOI).
        bounds: ``{column: (lower, upper)}``; ``None`` for an open side.
        units: ``{column: unit}`` declared units; each must be a unit pint understands.
        non_negative_columns: Columns that cannot be negative (conductivity, capacity).
        allowed_values: ``{column: [levels]}`` for categorical columns.
        fraction_groups: ``{name: [columns]}`` or fraction-group objects that must sum to 1 (or
            their ``total``).
        fraction_tolerance: Overrides each fraction group's tolerance.
        missing_as_zero: In fraction groups, empty cells mean 0.
        rules: ``{name: expression}`` validity rules evaluated with ``DataFrame.eval``, true for
            a valid row, e.g. ``{"conductivity below 1 S/cm": "conductivity < 1"}``. Rows where a
            referenced column is empty are not checked.
        consistency_rules: Same, for relations between columns, e.g.
            ``{"log matches": "abs(log_target - log10(target)) < 1e-3"}``.
        consistency_tolerance: Largest spread of a target within one entity that counts as
            agreement (number or per target); default 0 (any difference is listed as a warning).
            With a tolerance, larger spreads fail.
        date_column: Column with measurement dates (enables timeliness checks).
        reference_date: "Now" for timeliness (default: today).
        max_age_days: Dates older than this (before ``reference_date``) are flagged as stale.
        missing_threshold: A column missing more than this share of values fails completeness.
        row_missing_threshold: Rows missing more than this share of their inputs are listed.
        outlier_method: Method for the outlier listing (``None`` to skip); see
            :class:`~planner.quality.OutlierDetector`.
        outlier_threshold: Threshold for that method (default: the method's).
        ignore_in_duplicates: Columns left out of exact-duplicate detection (e.g. a row number).
        logs: Cleaning logs (e.g. the :class:`~planner.quality.MergeLog`) to include.
        explore: Add the exploration tables (correlations, mutual information, PCA).
        task: ``"regression"``, ``"classification"`` or ``"auto"``, for mutual information.
        dataset_name: Name printed in the report and in messages.
        max_issues_per_check: Cap on offending rows stored per check (counts stay exact).
        strict: Raise :class:`~planner.exceptions.DataValidationError` if any check fails.

    Returns:
        A :class:`QualityReport`.

    Raises:
        DataValidationError: A named column is not in the table; or ``strict`` and a check failed.
        SpecError: Invalid arguments (bad unit names are reported, not raised).
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataValidationError(f"assess: expected a pandas DataFrame, got {type(frame).__name__}.")
    where = dataset_name
    if frame.index.has_duplicates:
        frame = frame.reset_index(drop=True)
    targets = require_columns(frame, list(target_columns), role="target", where=where)
    for name, col in (
        ("id", id_column),
        ("group", group_column),
        ("composition", composition_column),
        ("source", source_column),
        ("date", date_column),
    ):
        if col is not None:
            require_columns(frame, [col], role=name, where=where)
    conditions = require_columns(frame, list(condition_columns), role="condition", where=where)
    ignored = require_columns(frame, list(ignore_in_duplicates), role="ignored", where=where)
    meta = {c for c in (id_column, source_column, date_column) if c is not None}
    if feature_columns is None:
        features = [c for c in frame.columns if c not in meta and c not in set(targets) and c not in set(ignored)]
    else:
        features = require_columns(frame, list(feature_columns), role="feature", where=where)
    if outlier_method is not None:
        from planner.steps._outliers import OUTLIER_METHODS

        check_choice(outlier_method, OUTLIER_METHODS, name="outlier_method", owner="assess")
    ctx = _Context(frame, id_column, max_issues_per_check)

    checks: list[QualityCheck] = []
    declared_numeric, inferred_numeric = _numeric_expected(
        frame, targets, bounds, non_negative_columns, fraction_groups
    )
    # -- accuracy
    checks.append(_check_non_numeric(ctx, declared_numeric, inferred_numeric))
    checks.append(_check_bounds(ctx, bounds or {}, where))
    checks.append(_check_units(units or {}, frame))
    checks.append(_check_outliers(ctx, targets, features, outlier_method, outlier_threshold))
    # -- consistency
    entity = _entity_keys(frame, group_column, composition_column, features, conditions, condition_tolerance, targets)
    checks.append(_check_agreement(ctx, entity, targets, source_column, consistency_tolerance))
    checks.append(
        _check_attribute_agreement(ctx, entity, frame, features, conditions, composition_column, group_column)
    )
    checks.append(_check_id_reuse(ctx, id_column, composition_column, group_column))
    checks.append(_check_rules(ctx, consistency_rules or {}, "consistency", "relations", where))
    # -- validity
    checks.append(_check_fractions(ctx, fraction_groups, fraction_tolerance, missing_as_zero, where))
    checks.append(_check_non_negative(ctx, list(non_negative_columns), where))
    checks.append(_check_allowed(ctx, allowed_values or {}, where))
    checks.append(_check_formulas(ctx, composition_column))
    checks.append(_check_rules(ctx, rules or {}, "validity", "rules", where))
    # -- completeness
    checks += _check_completeness(ctx, targets, features, missing_threshold, row_missing_threshold, frozenset(meta))
    # -- timeliness
    checks += _check_timeliness(ctx, date_column, reference_date, max_age_days)
    # -- uniqueness
    checks.append(_check_exact_duplicates(ctx, ignored))
    checks.append(_check_duplicate_ids(ctx, id_column, conditions))
    checks.append(_check_duplicate_entities(ctx, entity))

    order = {ch: i for i, ch in enumerate(CHARACTERISTICS)}
    checks.sort(key=lambda c: order[c.characteristic])
    actions = CleaningLog()
    action_summary: list[str] = []
    for log in logs:
        if not isinstance(log, CleaningLog):
            raise SpecError(f"assess: logs must be CleaningLog/MergeLog objects, got {type(log).__name__}.")
        actions.extend(log)
        action_summary += log.summary_lines()
    exploration = None
    if explore:
        exploration = _explore(frame, targets, features, task)
    settings = {
        "id_column": id_column,
        "target_columns": targets,
        "feature_columns": features,
        "group_column": group_column,
        "composition_column": composition_column,
        "condition_columns": conditions,
        "condition_tolerance": condition_tolerance,
        "source_column": source_column,
        "bounds": {k: list(v) for k, v in (bounds or {}).items()},
        "units": dict(units or {}),
        "non_negative_columns": list(non_negative_columns),
        "allowed_values": {k: list(v) for k, v in (allowed_values or {}).items()},
        "rules": dict(rules or {}),
        "consistency_rules": dict(consistency_rules or {}),
        "consistency_tolerance": consistency_tolerance,
        "date_column": date_column,
        "max_age_days": max_age_days,
        "missing_threshold": missing_threshold,
        "row_missing_threshold": row_missing_threshold,
        "outlier_method": outlier_method,
        "outlier_threshold": outlier_threshold,
    }
    report = QualityReport(
        dataset=dataset_name,
        n_rows=len(frame),
        n_columns=frame.shape[1],
        checks=checks,
        actions=actions,
        action_summary=action_summary,
        exploration=exploration,
        settings=settings,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    )
    if strict:
        report.raise_for_failures()
    return report


# ---------------------------------------------------------------------------------------------
# helpers


def _numeric_expected(
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
    declared |= {t for t in targets if _numeric_share(frame[t]) >= 0.5}
    declared_cols = [c for c in frame.columns if c in declared]
    inferred_cols = [c for c in frame.columns if c not in declared and _numeric_share(frame[c]) >= 0.8]
    return declared_cols, inferred_cols


def _numeric_share(series: pd.Series) -> float:
    present = series.dropna()
    if present.empty:
        return 0.0
    if pd.api.types.is_numeric_dtype(series):
        return 1.0
    return float(pd.to_numeric(present, errors="coerce").notna().mean())


def _as_numeric(series: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(series):
        return series.astype(float)
    if pd.api.types.is_numeric_dtype(series):
        return series.astype(float)
    return pd.to_numeric(series, errors="coerce")


def _check_non_numeric(ctx: _Context, declared: list[str], inferred: list[str]) -> QualityCheck:
    issues = []
    bad_cols = []
    n_checked = 0
    is_declared_bad = False
    for col in declared + inferred:
        series = ctx.frame[col]
        n_checked += int(series.notna().sum())
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        bad = series.notna() & pd.to_numeric(series, errors="coerce").isna()
        if bad.any():
            bad_cols.append(col)
            is_declared_bad |= col in declared
            kind = "text in a numeric column" if col in declared else "text in a mostly numeric column"
            for row in series.index[bad]:
                issues.append(ctx.issue(row, col, series[row], kind))
    n_cols = len(declared) + len(inferred)
    return _check(
        "accuracy",
        "non_numeric",
        "numeric columns hold only numbers",
        n_checked=n_checked,
        n_failed=len(issues),
        ok=f"every value in the {n_cols} numeric column(s) is a number",
        bad=f"{len(issues)} text value(s) in numeric column(s) {format_columns(bad_cols)}; remove units/notes "
        "from the cells (declare units in the spec) or leave unknown values empty",
        # Text in a declared numeric column is an error; in an undeclared mostly-numeric one, a warning.
        severity="fail" if is_declared_bad else "warn",
        columns=bad_cols,
        issues=ctx.limit(issues),
    )


def _check_bounds(ctx: _Context, bounds: Mapping[str, Any], where: str) -> QualityCheck:
    desc = "values lie within the declared bounds"
    if not bounds:
        return _skipped("accuracy", "bounds", desc, "no bounds declared (declare lower/upper for targets and inputs)")
    require_columns(ctx.frame, list(bounds), role="bounded", where=where)
    issues = []
    n_checked = 0
    bad_cols = []
    for col, pair in bounds.items():
        try:
            lower, upper = pair
        except (TypeError, ValueError) as err:
            raise SpecError(f"assess: bounds[{col!r}] must be a (lower, upper) pair, got {pair!r}.") from err
        values = _as_numeric(ctx.frame[col])
        n_checked += int(values.notna().sum())
        low = values < lower if lower is not None else pd.Series(False, index=values.index)
        high = values > upper if upper is not None else pd.Series(False, index=values.index)
        for row in values.index[low | high]:
            side = f"below the lower bound {lower}" if low[row] else f"above the upper bound {upper}"
            issues.append(ctx.issue(row, col, values[row], side))
        if (low | high).any():
            bad_cols.append(col)
    return _check(
        "accuracy",
        "bounds",
        desc,
        n_checked=n_checked,
        n_failed=len(issues),
        ok=f"all values within bounds ({len(bounds)} column(s))",
        bad=f"{len(issues)} value(s) outside the declared bounds in {format_columns(bad_cols)}; check units and typos",
        columns=bad_cols,
        issues=ctx.limit(issues),
    )


def _check_units(units: Mapping[str, str], frame: pd.DataFrame) -> QualityCheck:
    desc = "declared units are real units (pint) and name existing columns"
    if not units:
        return _skipped("accuracy", "units", desc, "no units declared")
    from planner.quality._merge import _unit_registry

    registry = _unit_registry()
    issues = []
    for col, unit in units.items():
        if col not in frame.columns:
            issues.append({"row": None, "id": None, "column": col, "value": unit, "detail": "no such column"})
            continue
        try:
            registry.parse_units(unit)
        except Exception as err:  # pint raises several error types for bad unit strings
            issues.append({"row": None, "id": None, "column": col, "value": unit, "detail": f"not a unit: {err}"})
    return _check(
        "accuracy",
        "units",
        desc,
        n_checked=len(units),
        n_failed=len(issues),
        ok=f"{len(units)} declared unit(s) understood",
        bad=f"{len(issues)} declared unit(s) not understood or for missing columns; write units in pint syntax (e.g. 'mS/cm', 'degC')",
        columns=[i["column"] for i in issues],
        issues=issues,
    )


def _check_outliers(
    ctx: _Context, targets: list[str], features: list[str], method: str | None, threshold: float | None
) -> QualityCheck:
    desc = "values far from the bulk of their column (to verify, not necessarily wrong)"
    if method is None:
        return _skipped("accuracy", "outliers", desc, "outlier listing switched off")
    from planner.steps._outliers import OutlierDetector

    candidates = targets + [f for f in features if f not in targets]
    cols = [c for c in candidates if _numeric_share(ctx.frame[c]) >= 0.8]
    numeric = pd.DataFrame({c: _as_numeric(ctx.frame[c]) for c in cols}, index=ctx.frame.index)
    cols = [c for c in cols if numeric[c].notna().sum() >= 5 and numeric[c].nunique() >= 3]
    issues = []
    bad_cols: list[str] = []
    n_checked = 0
    skipped_note = ""
    if method == "isolation_forest":
        # Whole-row (multivariate) outliers: unusual combinations of values.
        desc = "rows whose combination of values is unusual (to verify, not necessarily wrong)"
        if cols and len(numeric) >= 8:
            det = OutlierDetector(method="isolation_forest", random_state=0).fit(numeric[cols].to_numpy())
            decision = det.decision_function(numeric[cols].to_numpy())
            n_checked = len(numeric)
            for row, d in zip(numeric.index[decision < 0], decision[decision < 0], strict=True):
                issues.append(
                    ctx.issue(row, None, None, f"isolation-forest score {d:.3f} < 0 over {len(cols)} columns")
                )
            bad_cols = cols if issues else []
        unit, name = "row(s)", "isolation-forest"
    else:
        spiky = []
        for col in cols:
            present = numeric[col].dropna()
            # A value shared by many rows at the end of the range (0 where a sample has no dopant)
            # is a state of its own: the robust scale of the whole column collapses and every doped
            # sample would look extreme. Outliers are then judged among the other values; a column
            # with too few of those, or a tie in the middle of its range, is not checked.
            shares = present.value_counts(normalize=True)
            mode, share = shares.index[0], float(shares.iloc[0])
            if share > 0.25 and mode in (present.min(), present.max()):
                present = present[present != mode]
                if len(present) < 5 or present.nunique() < 3:
                    spiky.append(col)
                    continue
            elif share > 0.5:
                spiky.append(col)
                continue
            n_checked += len(present)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                det = OutlierDetector(method=method, threshold=threshold).fit(present.to_numpy().reshape(-1, 1))
                score = det.cell_outlyingness(present.to_numpy().reshape(-1, 1))[:, 0]
            flagged = score > det.threshold_
            if flagged.any():
                bad_cols.append(col)
            for row, sc in zip(present.index[flagged], score[flagged], strict=True):
                issues.append(
                    ctx.issue(
                        row, col, ctx.frame.at[row, col], f"outlyingness {sc:.3g} > {det.threshold_:g} ({method})"
                    )
                )
        unit, name = "value(s)", method
        cols = [c for c in cols if c not in spiky]
        if spiky:
            skipped_note = (f"; not checked: {format_columns(spiky)}, where most values are equal (e.g. 0 for "
                            "'none') and too few others remain to judge")
    return _check(
        "accuracy",
        "outliers",
        desc,
        n_checked=n_checked,
        n_failed=len(issues),
        ok=f"no {name} outliers in {len(cols)} numeric column(s)" + skipped_note,
        bad=f"{len(issues)} {unit} in {format_columns(bad_cols)} are {name} outliers; verify them against the source"
        + skipped_note,
        severity="warn",
        columns=bad_cols,
        issues=ctx.limit(issues),
    )


# -- entities ----------------------------------------------------------------------------------


@dataclass
class _Entities:
    """Row groups that describe the same entity (and the same conditions)."""

    label: str  # how entities were defined, for messages
    groups: list[pd.Index]  # groups of >= 2 row labels
    keys: pd.Series | None  # per-row entity key (without conditions), or None


def _entity_keys(
    frame: pd.DataFrame,
    group_column: str | None,
    composition_column: str | None,
    features: list[str],
    conditions: list[str],
    tolerance: Any,
    targets: list[str],
) -> _Entities:
    from planner.quality._merge import _condition_clusters, _tolerances, composition_keys

    if group_column is not None and group_column != composition_column:
        keys = frame[group_column].astype(object).where(frame[group_column].notna(), None)
        label = f"same {group_column!r}"
    elif composition_column is not None:
        keys, _ = composition_keys(frame[composition_column])
        label = f"same normalized {composition_column!r}"
    else:
        inputs = [c for c in features if c not in conditions]
        if not inputs:
            return _Entities("no inputs", [], None)
        keys = frame[inputs].astype(str).agg("\x1f".join, axis=1)
        label = "identical inputs"
    if conditions:
        label += " and " + ("conditions " if len(conditions) > 1 else "condition ") + format_columns(conditions)
    tol = _tolerances(tolerance, conditions, frame) if conditions else {}
    work = frame.reset_index(drop=True)
    key_values = pd.Series(keys.to_numpy(), dtype=object)
    groups: list[pd.Index] = []
    present = key_values.notna().to_numpy()
    for _, idx in pd.Series(np.flatnonzero(present)).groupby(key_values[present].to_numpy(), sort=False):
        members = idx.to_numpy()
        if len(members) < 2:
            continue
        for cluster in _condition_clusters(work, members, conditions, tol):
            if len(cluster) >= 2:
                groups.append(frame.index[np.sort(cluster)])
    return _Entities(label, groups, pd.Series(keys.to_numpy(), index=frame.index, dtype=object))


def _check_agreement(
    ctx: _Context, entity: _Entities, targets: list[str], source_column: str | None, tolerance: Any
) -> QualityCheck:
    desc = "rows describing the same entity report the same target values"
    if not targets:
        return _skipped("consistency", "entity_agreement", desc, "no target columns declared")
    if not entity.groups:
        return _check(
            "consistency", "entity_agreement", desc, n_checked=0, n_failed=0,
            ok=f"no entity appears twice ({entity.label}), nothing to compare", bad="",
        )  # fmt: skip
    tol = tolerance if isinstance(tolerance, Mapping) else {t: (tolerance or 0.0) for t in targets}
    issues = []
    n_bad_groups = 0
    cross_source = 0
    for gid, rows in enumerate(entity.groups):
        group_bad = False
        for target in targets:
            values = _as_numeric(ctx.frame.loc[rows, target]).dropna()
            if len(values) < 2:
                continue
            spread = float(values.max() - values.min())
            if spread > float(tol.get(target, 0.0)) + 1e-12:
                group_bad = True
                sources = ""
                if source_column:
                    labels = ctx.frame.loc[rows, source_column].astype(str).unique()
                    sources = f"; {len(labels)} source(s)"
                for row in rows:
                    issues.append(
                        ctx.issue(
                            row,
                            target,
                            ctx.frame.at[row, target],
                            f"group {gid}: spread {spread:.4g} over {len(values)} rows{sources}",
                        )
                    )
        if group_bad:
            n_bad_groups += 1
            if source_column and ctx.frame.loc[rows, source_column].nunique() > 1:
                cross_source += 1
    severity = "fail" if tolerance is not None else "warn"
    fix = (
        "merge them (merge_sources with strategy mean/median/trust, or drop with max_spread) and keep "
        "the entity in one CV fold (group_column)"
    )
    return _check(
        "consistency",
        "entity_agreement",
        desc,
        n_checked=len(entity.groups),
        n_failed=n_bad_groups,
        ok=f"{len(entity.groups)} repeated entit(ies) ({entity.label}) agree on every target",
        bad=f"{n_bad_groups} of {len(entity.groups)} repeated entities ({entity.label}) disagree on a target"
        + (f", {cross_source} of them across sources" if source_column else "")
        + f"; {fix}",
        severity=severity,
        columns=targets,
        issues=ctx.limit(issues),
    )


def _check_attribute_agreement(
    ctx: _Context,
    entity: _Entities,
    frame: pd.DataFrame,
    features: list[str],
    conditions: list[str],
    composition_column: str | None,
    group_column: str | None,
) -> QualityCheck:
    desc = "descriptive attributes (text columns) of one entity agree"
    if entity.keys is None or (group_column is None and composition_column is None):
        return _skipped("consistency", "attribute_agreement", desc, "no entity column (group or composition) declared")
    attrs = [
        c
        for c in features
        if c not in conditions
        and c not in (composition_column, group_column)
        and not pd.api.types.is_numeric_dtype(frame[c])
    ]
    if not attrs:
        return _skipped("consistency", "attribute_agreement", desc, "no text attribute columns")
    issues = []
    n_groups = 0
    bad_groups = 0
    keys = entity.keys
    present = keys.notna()
    for key, rows in frame.index[present].to_series().groupby(keys[present].to_numpy(), sort=False):
        if len(rows) < 2:
            continue
        n_groups += 1
        bad = False
        for col in attrs:
            values = frame.loc[rows.index, col].dropna().astype(str)
            if values.nunique() > 1:
                bad = True
                counts = ", ".join(f"{v!r} x{int(n)}" for v, n in values.value_counts().items())
                for row in values.index:
                    issues.append(ctx.issue(row, col, frame.at[row, col], f"entity {key!r} is labelled {counts}"))
        bad_groups += bad
    return _check(
        "consistency",
        "attribute_agreement",
        desc,
        n_checked=n_groups,
        n_failed=bad_groups,
        ok=f"{n_groups} repeated entit(ies) agree on {format_columns(attrs)}",
        bad=f"{bad_groups} entit(ies) are labelled differently in {format_columns(sorted({i['column'] for i in issues}))}; "
        "harmonize the labels in the source files",
        severity="warn",
        columns=attrs,
        issues=ctx.limit(issues),
    )


def _check_id_reuse(
    ctx: _Context, id_column: str | None, composition_column: str | None, group_column: str | None
) -> QualityCheck:
    desc = "one id always means the same material"
    entity_col = composition_column or group_column
    if id_column is None or entity_col is None:
        return _skipped("consistency", "id_reuse", desc, "needs an id column and a composition or group column")
    from planner.quality._merge import composition_keys

    if composition_column:
        keys, _ = composition_keys(ctx.frame[composition_column])
    else:
        keys = ctx.frame[entity_col].astype(str)
    ids = ctx.frame[id_column]
    issues = []
    bad = 0
    n_ids = 0
    for ident, rows in ctx.frame.index[ids.notna()].to_series().groupby(ids[ids.notna()].to_numpy(), sort=False):
        n_ids += 1
        distinct = keys[rows.index].dropna().unique()
        if len(distinct) > 1:
            bad += 1
            for row in rows.index:
                issues.append(
                    ctx.issue(
                        row,
                        entity_col,
                        ctx.frame.at[row, entity_col],
                        f"id {ident!r} used for {len(distinct)} different entities",
                    )
                )
    return _check(
        "consistency",
        "id_reuse",
        desc,
        n_checked=n_ids,
        n_failed=bad,
        ok=f"each of {n_ids} id(s) refers to one {entity_col!r}",
        bad=f"{bad} id(s) are used for different {entity_col!r} values; give each material its own id",
        columns=[id_column, entity_col],
        issues=ctx.limit(issues),
    )


_NAME = re.compile(r"`([^`]+)`|\b([A-Za-z_][A-Za-z0-9_]*)\b")


def _check_rules(ctx: _Context, rules: Mapping[str, str], characteristic: str, name: str, where: str) -> QualityCheck:
    desc = (
        "user-declared rules hold on every row"
        if characteristic == "validity"
        else "declared relations between columns hold"
    )
    if not rules:
        return _skipped(characteristic, name, desc, "no rules declared")
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
            if _numeric_share(data[col]) >= 0.8:
                data[col] = _as_numeric(data[col])
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
                ctx.issue(row, ";".join(referenced), _json_value(values), f"breaks rule {rule_name!r}: {expression}")
            )
    return _check(
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


def _check_fractions(
    ctx: _Context, groups: Any, tolerance: float | None, missing_as_zero: bool, where: str
) -> QualityCheck:
    desc = "fraction groups are non-negative and sum to their total"
    from planner.chem import as_fraction_groups, check_fraction_groups

    parsed = as_fraction_groups(groups, tolerance=tolerance)
    if not parsed:
        return _skipped("validity", "fraction_groups", desc, "no fraction groups declared")
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
    return _check(
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


def _check_non_negative(ctx: _Context, columns: list[str], where: str) -> QualityCheck:
    desc = "quantities that cannot be negative are not"
    if not columns:
        return _skipped("validity", "non_negative", desc, "no non-negative columns declared")
    require_columns(ctx.frame, columns, role="non-negative", where=where)
    issues = []
    n_checked = 0
    for col in columns:
        values = _as_numeric(ctx.frame[col])
        n_checked += int(values.notna().sum())
        for row in values.index[values < 0]:
            issues.append(ctx.issue(row, col, values[row], "negative"))
    return _check(
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


def _check_allowed(ctx: _Context, allowed: Mapping[str, Sequence[Any]], where: str) -> QualityCheck:
    desc = "categorical columns use only the allowed levels"
    if not allowed:
        return _skipped("validity", "allowed_values", desc, "no allowed levels declared")
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
    return _check(
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


def _check_formulas(ctx: _Context, composition_column: str | None) -> QualityCheck:
    desc = "composition formulas parse into elements"
    if composition_column is None:
        return _skipped("validity", "formulas", desc, "no composition column declared")
    from planner.chem import parse_formulas

    series = ctx.frame[composition_column]
    present = series.dropna()
    _, errors = parse_formulas(present, on_error="ignore")
    issues = [
        ctx.issue(row, composition_column, series[row], reason.split(": ", 1)[-1]) for row, reason in errors.items()
    ]
    return _check(
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


def _check_completeness(
    ctx: _Context,
    targets: list[str],
    features: list[str],
    threshold: float,
    row_threshold: float,
    meta: frozenset[str] = frozenset(),
) -> list[QualityCheck]:
    frame = ctx.frame
    checks = []
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
    checks.append(
        _check(
            "completeness", "column_missingness", "missing values per column",
            n_checked=frame.shape[1], n_failed=len(missing_cols),
            ok="no missing values", bad=msg, severity=status_bad, columns=missing_cols, issues=issues,
        )  # fmt: skip
    )
    inputs = [c for c in features if c in frame.columns]
    if inputs:
        row_frac = frame[inputs].isna().mean(axis=1)
        sparse = row_frac[row_frac > row_threshold]
        row_issues = [ctx.issue(r, None, round(float(v), 3), f"{v:.0%} of inputs missing") for r, v in sparse.items()]
        checks.append(
            _check(
                "completeness", "row_missingness", f"rows missing more than {row_threshold:.0%} of their inputs",
                n_checked=len(frame), n_failed=len(sparse),
                ok=f"no row misses more than {row_threshold:.0%} of its inputs",
                bad=f"{len(sparse)} row(s) miss more than {row_threshold:.0%} of their inputs; consider dropping them",
                severity="warn", issues=ctx.limit(row_issues),
            )  # fmt: skip
        )
    if targets:
        no_target = frame[targets].isna().any(axis=1)
        t_issues = [
            ctx.issue(r, ";".join(t for t in targets if pd.isna(frame.at[r, t])), None, "target missing")
            for r in frame.index[no_target]
        ]
        checks.append(
            _check(
                "completeness", "target_missing", "every row has its target value(s)",
                n_checked=len(frame), n_failed=int(no_target.sum()),
                ok="every row has all targets",
                bad=f"{int(no_target.sum())} row(s) lack a target value; they cannot train the model (clean_dataset drops them)",
                severity="warn", columns=targets, issues=ctx.limit(t_issues),
            )  # fmt: skip
        )
    # A single source label or one id per row is bookkeeping, not an uninformative feature.
    modelled = [c for c in frame.columns if c not in meta]
    empty = [c for c in modelled if frame[c].isna().all()]
    constant = [c for c in modelled if c not in empty and frame[c].nunique(dropna=True) <= 1]
    e_issues = [{"row": None, "id": None, "column": c, "value": None, "detail": "every value missing"} for c in empty]
    e_issues += [
        {"row": None, "id": None, "column": c, "value": frame[c].dropna().iloc[0], "detail": "constant column"}
        for c in constant
    ]
    checks.append(
        _check(
            "completeness", "uninformative_columns", "columns that are entirely empty or constant carry no information",
            n_checked=len(modelled), n_failed=len(empty) + len(constant),
            ok="no empty or constant columns",
            bad=(f"empty: {format_columns(empty)}; " if empty else "") + (f"constant: {format_columns(constant)}; " if constant else "")
            + "they are dropped before modelling (ColumnFilter)",
            severity="fail" if empty else "warn", columns=empty + constant, issues=e_issues,
        )  # fmt: skip
    )
    return checks


def _check_timeliness(
    ctx: _Context, date_column: str | None, reference_date: Any, max_age_days: float | None
) -> list[QualityCheck]:
    if date_column is None:
        return [
            _skipped(
                "timeliness",
                "dates",
                "measurement dates are valid, not in the future, recent enough",
                "no date column declared; add one (role: date) to track when values were measured",
            )
        ]
    series = ctx.frame[date_column]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dates = pd.to_datetime(series, errors="coerce", utc=False, format="mixed")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_convert(None)
    now = pd.Timestamp(reference_date) if reference_date is not None else pd.Timestamp.now().normalize()
    bad = series.notna() & dates.isna()
    issues = [ctx.issue(r, date_column, series[r], "not a date") for r in series.index[bad]]
    checks = [
        _check(
            "timeliness", "date_format", "dates parse",
            n_checked=int(series.notna().sum()), n_failed=len(issues),
            ok=f"all {int(series.notna().sum())} dates parse",
            bad=f"{len(issues)} value(s) in {date_column!r} are not dates; use ISO format YYYY-MM-DD",
            columns=[date_column], issues=ctx.limit(issues),
        )  # fmt: skip
    ]
    future = dates > now
    f_issues = [ctx.issue(r, date_column, str(dates[r].date()), f"after {now.date()}") for r in dates.index[future]]
    checks.append(
        _check(
            "timeliness", "future_dates", "no measurement is dated in the future",
            n_checked=int(dates.notna().sum()), n_failed=len(f_issues),
            ok="no future dates", bad=f"{len(f_issues)} date(s) lie in the future; check day/month order",
            columns=[date_column], issues=ctx.limit(f_issues),
        )  # fmt: skip
    )
    if max_age_days is not None:
        stale = dates < now - pd.Timedelta(days=float(max_age_days))
        s_issues = [
            ctx.issue(r, date_column, str(dates[r].date()), f"older than {max_age_days:g} days")
            for r in dates.index[stale]
        ]
        checks.append(
            _check(
                "timeliness", "stale", f"measurements are at most {max_age_days:g} days old",
                n_checked=int(dates.notna().sum()), n_failed=len(s_issues),
                ok=f"all dated rows within {max_age_days:g} days",
                bad=f"{len(s_issues)} measurement(s) older than {max_age_days:g} days; re-measure or down-weight them",
                severity="warn", columns=[date_column], issues=ctx.limit(s_issues),
            )  # fmt: skip
        )
    valid = dates.dropna()
    span = f"{valid.min().date()} to {valid.max().date()}" if len(valid) else "no valid dates"
    missing = int(series.isna().sum())
    checks.append(
        _check(
            "timeliness", "date_coverage", "every row is dated",
            n_checked=len(series), n_failed=missing,
            ok=f"all rows dated, {span}", bad=f"{missing} row(s) undated; dated rows span {span}",
            severity="warn", columns=[date_column],
            issues=ctx.limit([ctx.issue(r, date_column, None, "no date") for r in series.index[series.isna()]]),
        )  # fmt: skip
    )
    return checks


def _check_exact_duplicates(ctx: _Context, ignored: list[str]) -> QualityCheck:
    desc = "no row is an exact copy of another"
    frame = ctx.frame
    compare = [c for c in frame.columns if c not in set(ignored)]
    dup = frame.duplicated(subset=compare, keep=False)
    issues = []
    n_groups = 0
    if dup.any():
        keys = frame.loc[dup, compare].astype(str).agg("\x1f".join, axis=1)
        for gid, (_, rows) in enumerate(keys.groupby(keys.to_numpy(), sort=False)):
            n_groups += 1
            for row in rows.index:
                issues.append(ctx.issue(row, None, None, f"duplicate group {gid} ({len(rows)} identical rows)"))
    n_extra = int(frame.duplicated(subset=compare, keep="first").sum())
    return _check(
        "uniqueness",
        "exact_duplicates",
        desc,
        n_checked=len(frame),
        n_failed=n_extra,
        ok="no exact duplicate rows",
        bad=f"{n_extra} row(s) repeat another row exactly ({n_groups} group(s)); merge_sources/clean_dataset remove them",
        severity="warn",
        issues=ctx.limit(issues),
    )


def _check_duplicate_ids(ctx: _Context, id_column: str | None, conditions: list[str]) -> QualityCheck:
    desc = "ids are unique (per measurement condition, if conditions are declared)"
    if id_column is None:
        return _skipped("uniqueness", "duplicate_ids", desc, "no id column declared")
    ids = ctx.frame[id_column]
    present = ids.notna()
    same = ctx.frame.duplicated(subset=[id_column] + conditions, keep=False) & present
    any_dup = ids.duplicated(keep=False) & present
    across = any_dup & ~same
    issues = [ctx.issue(r, id_column, ids[r], "id repeated under the same conditions") for r in ids.index[same]]
    issues += [ctx.issue(r, id_column, ids[r], "id repeated at different conditions") for r in ids.index[across]]
    n_same = int(ids[same].nunique())
    n_across = int(ids[across].nunique())
    n_ids = int(ids[present].nunique())
    if n_same:
        bad = f"{n_same} id(s) occur on more than one row under the same conditions; make ids unique"
    else:
        bad = (
            f"{n_across} id(s) occur on several rows at different {format_columns(conditions) if conditions else 'conditions'}; "
            "fine for a material id, wrong for a record id"
        )
    return _check(
        "uniqueness",
        "duplicate_ids",
        desc,
        n_checked=n_ids,
        n_failed=n_same or n_across,
        ok=f"all {n_ids} ids unique",
        bad=bad,
        severity="fail" if n_same else "warn",
        columns=[id_column],
        issues=ctx.limit(issues),
    )


def _check_duplicate_entities(ctx: _Context, entity: _Entities) -> QualityCheck:
    desc = "each entity is measured once per condition (repeats are replicates to merge or group)"
    if entity.keys is None:
        return _skipped(
            "uniqueness", "duplicate_entities", desc, "no entity definition (no group, composition or inputs)"
        )
    issues = []
    for gid, rows in enumerate(entity.groups):
        for row in rows:
            issues.append(ctx.issue(row, None, None, f"entity group {gid} ({len(rows)} rows, {entity.label})"))
    n_rows = sum(len(g) for g in entity.groups)
    return _check(
        "uniqueness",
        "duplicate_entities",
        desc,
        n_checked=len(ctx.frame),
        n_failed=len(entity.groups),
        ok=f"no entity repeated ({entity.label})",
        bad=f"{len(entity.groups)} entit(ies) appear on more than one row ({n_rows} rows; {entity.label}); "
        "merge the replicates (merge_sources) or keep each group in one CV fold",
        severity="warn",
        issues=ctx.limit(issues),
    )


def _explore(frame: pd.DataFrame, targets: list[str], features: list[str], task: str) -> Any:
    from planner.quality._explore import explore as run

    numeric_targets = [t for t in targets if _numeric_share(frame[t]) >= 0.8]
    data = frame.copy()
    for col in features + numeric_targets:
        if _numeric_share(data[col]) >= 0.8:
            data[col] = _as_numeric(data[col])
    numeric_features = [c for c in features if pd.api.types.is_numeric_dtype(data[c])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run(data, target_columns=numeric_targets, feature_columns=numeric_features, task=task)
