"""The data-quality report record: what a scientist reads before trusting any model.

:func:`~planner.quality.assess` checks a table against the six characteristics of high-quality data and
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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.exceptions import DataValidationError, SpecError
from planner.io import atomic_write_text
from planner.sources._log import CleaningAction, CleaningLog
from planner.validation import plain

__all__ = ["CHARACTERISTICS", "QualityCheck", "QualityReport", "json_value"]

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
            "issues": [json_value(dict(i)) for i in self.issues],
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


def json_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    value = plain(value)
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
            "settings": json_value(self.settings),
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
