"""A record of what data-cleaning steps did: which rows, which columns, why.

Every step that changes a dataset before modelling (merging sources, removing duplicates,
dropping sparse rows or columns, converting units) appends a :class:`CleaningAction` to a
:class:`CleaningLog`. The quality report prints the log, and it is saved beside the report as
CSV and JSON, so nothing changes silently.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["CleaningAction", "CleaningLog", "MergeLog"]


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (pd.Timestamp, pd.Timedelta)):
        return str(value)
    if value is pd.NA or value is pd.NaT:
        return None
    return value


@dataclass(frozen=True)
class CleaningAction:
    """One thing a cleaning step did.

    Attributes:
        step: The step that acted: ``"read"``, ``"mapping"``, ``"deduplicate"``, ``"merge"``,
            ``"clean"``.
        action: What it did, e.g. ``"removed_exact_duplicate"``, ``"merged_group"``,
            ``"dropped_group"``, ``"attribute_conflict"``, ``"converted_units"``,
            ``"dropped_row"``, ``"dropped_column"``.
        reason: Why, in words a scientist can check.
        rows: The affected rows as ``"<source>:<row label>"`` strings (input rows, before merging).
        columns: The affected columns.
        details: Values involved (e.g. the conflicting values and the result).
    """

    step: str
    action: str
    reason: str
    rows: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rows"] = list(self.rows)
        data["columns"] = list(self.columns)
        data["details"] = _jsonable(dict(self.details))
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CleaningAction:
        return cls(
            step=str(data["step"]),
            action=str(data["action"]),
            reason=str(data["reason"]),
            rows=tuple(data.get("rows", ())),
            columns=tuple(data.get("columns", ())),
            details=dict(data.get("details", {})),
        )


class CleaningLog:
    """An ordered list of :class:`CleaningAction` with counting, table and JSON views."""

    def __init__(self, actions: Iterable[CleaningAction] = ()) -> None:
        self.actions: list[CleaningAction] = list(actions)

    def add(
        self,
        step: str,
        action: str,
        reason: str,
        *,
        rows: Iterable[Any] = (),
        columns: Iterable[Any] = (),
        **details: Any,
    ) -> CleaningAction:
        record = CleaningAction(
            step=step,
            action=action,
            reason=reason,
            rows=tuple(str(r) for r in rows),
            columns=tuple(str(c) for c in columns),
            details=details,
        )
        self.actions.append(record)
        return record

    def extend(self, other: Iterable[CleaningAction]) -> None:
        self.actions.extend(other)

    def __iter__(self) -> Iterator[CleaningAction]:
        return iter(self.actions)

    def __len__(self) -> int:
        return len(self.actions)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.actions)} actions: {dict(self.counts())})"

    def counts(self) -> Counter[str]:
        """Number of actions of each kind."""
        return Counter(a.action for a in self.actions)

    def filter(self, action: str) -> list[CleaningAction]:
        return [a for a in self.actions if a.action == action]

    def to_frame(self) -> pd.DataFrame:
        """One row per action; rows/columns joined with ``;``, details as JSON text."""
        records = [
            {
                "step": a.step,
                "action": a.action,
                "reason": a.reason,
                "n_rows": len(a.rows),
                "rows": ";".join(a.rows),
                "columns": ";".join(a.columns),
                "details": json.dumps(_jsonable(dict(a.details)), sort_keys=True, default=str),
            }
            for a in self.actions
        ]
        return pd.DataFrame(records, columns=["step", "action", "reason", "n_rows", "rows", "columns", "details"])

    def to_dict(self) -> dict[str, Any]:
        return {"type": type(self).__name__, "actions": [a.to_dict() for a in self.actions]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CleaningLog:
        return cls(CleaningAction.from_dict(a) for a in data.get("actions", ()))

    def summary_lines(self) -> list[str]:
        """Short human-readable lines, one per kind of action."""
        lines = []
        for action, n in sorted(self.counts().items()):
            # Rows that no longer exist (blank lines dropped while reading) are counted, not listed.
            rows = sum(len(a.rows) or int(a.details.get("n", 0) or 0) for a in self.filter(action))
            lines.append(f"{action}: {n} action(s) touching {rows} row(s)")
        return lines


class MergeLog(CleaningLog):
    """The :class:`CleaningLog` of :func:`~planner.sources.merge_sources`, with merge counters.

    Attributes:
        n_input_rows: Rows across all sources before anything was removed.
        n_output_rows: Rows in the merged table.
        groups: One row per group of input rows found to describe the same entity, with
            ``group``, ``n_rows``, ``resolution`` (``merged`` / ``dropped`` / ``id_conflict``)
            and ``rows``.
    """

    def __init__(
        self,
        actions: Iterable[CleaningAction] = (),
        *,
        n_input_rows: int = 0,
        n_output_rows: int = 0,
        groups: pd.DataFrame | None = None,
    ) -> None:
        super().__init__(actions)
        self.n_input_rows = n_input_rows
        self.n_output_rows = n_output_rows
        self.groups = groups if groups is not None else pd.DataFrame(columns=["group", "n_rows", "resolution", "rows"])

    @property
    def n_exact_duplicates(self) -> int:
        """Rows removed because another row was identical in every compared column."""
        return sum(len(a.rows) - 1 for a in self.filter("removed_exact_duplicate"))

    @property
    def n_groups_merged(self) -> int:
        return len(self.filter("merged_group"))

    @property
    def n_rows_merged(self) -> int:
        """Input rows that were combined into merged rows."""
        return sum(len(a.rows) for a in self.filter("merged_group"))

    @property
    def n_groups_dropped(self) -> int:
        return len(self.filter("dropped_group"))

    @property
    def n_rows_dropped(self) -> int:
        return sum(len(a.rows) for a in self.filter("dropped_group"))

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data.update(
            n_input_rows=self.n_input_rows,
            n_output_rows=self.n_output_rows,
            n_exact_duplicates=self.n_exact_duplicates,
            n_groups_merged=self.n_groups_merged,
            n_groups_dropped=self.n_groups_dropped,
        )
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MergeLog:
        return cls(
            (CleaningAction.from_dict(a) for a in data.get("actions", ())),
            n_input_rows=int(data.get("n_input_rows", 0)),
            n_output_rows=int(data.get("n_output_rows", 0)),
        )

    def summary_lines(self) -> list[str]:
        head = [
            f"{self.n_input_rows} input rows -> {self.n_output_rows} rows",
            f"exact duplicates removed: {self.n_exact_duplicates}",
            f"groups merged: {self.n_groups_merged} ({self.n_rows_merged} rows)",
            f"groups dropped for disagreeing values: {self.n_groups_dropped} ({self.n_rows_dropped} rows)",
        ]
        conflicts = len(self.filter("attribute_conflict"))
        if conflicts:
            head.append(f"attribute conflicts kept from the preferred row: {conflicts}")
        id_conflicts = len(self.filter("id_conflict"))
        if id_conflicts:
            head.append(f"ids shared by different compositions (not merged): {id_conflicts}")
        return head
