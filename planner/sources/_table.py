"""Reading and stacking data sources: each file's column mapping and units applied, nothing merged.

:class:`SourceTable` is one input table (a label, the data, its renames and units);
:func:`combine_sources` renames, converts units and stacks the sources, keeping every row
(named ``"<label>:<line>"``), which is the table the quality report looks at.
:func:`merge_sources` (in :mod:`planner.sources._merge`) starts with the same step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from planner.chem._units import convert_units
from planner.exceptions import DataValidationError, SpecError
from planner.sources._log import CleaningLog
from planner.validation import format_columns, format_values, numeric_column

__all__ = ["ADDED", "ORIGIN", "RANK", "SourceTable", "combine", "combine_sources", "normalize_sources"]

#: Bookkeeping columns of a stacked table: the row's name, its source's rank, whether the
#: source column was added by the merge (not read from the file).
ORIGIN = "__planner_origin__"
RANK = "__planner_rank__"
ADDED = "__planner_label_added__"


@dataclass(frozen=True, eq=False)
class SourceTable:
    """One input table of a campaign: a label, the data, and how its columns map to the campaign's.

    Attributes:
        label: Source name used in the merged table and in the log (e.g. ``"lab_2024"``).
        frame: The table as read.
        rename: ``{column in this file: campaign column}``.
        units: ``{campaign column: unit of this file's values}`` in pint syntax (``"mS/cm"``,
            ``"degC"``); converted to the campaign's unit for that column in :func:`merge_sources`.
        path: Where the table came from (for messages).
    """

    label: str
    frame: pd.DataFrame
    rename: Mapping[str, str] = field(default_factory=dict)
    units: Mapping[str, str] = field(default_factory=dict)
    path: str | None = None

    @classmethod
    def from_path(
        cls,
        path: str | Path,
        *,
        label: str | None = None,
        rename: Mapping[str, str] | None = None,
        units: Mapping[str, str] | None = None,
        delimiter: str | None = None,
    ) -> SourceTable:
        """Read a delimited file with :func:`planner.io.read_table`; the label defaults to the file stem.

        The table's index is the line number in the file, so the merge log names rows as
        ``"<label>:<line>"``. Blank rows the reader skipped are recorded in the merge log.
        """
        from planner.io import read_table

        frame, info = read_table(path, delimiter=delimiter, what=f"data source {label or Path(path).stem!r}")
        frame.attrs["n_blank_rows"] = info.n_empty_rows_dropped
        return cls(
            label=label or Path(path).stem,
            frame=frame,
            rename=dict(rename or {}),
            units=dict(units or {}),
            path=str(path),
        )

    @property
    def where(self) -> str:
        return f"source {self.label!r}" + (f" ({self.path})" if self.path else "")


def normalize_sources(sources: Any) -> list[SourceTable]:
    if isinstance(sources, pd.DataFrame):
        return [SourceTable(label="data", frame=sources)]
    if isinstance(sources, SourceTable):
        return [sources]
    if isinstance(sources, Mapping):
        items = list(sources.items())
    else:
        items = list(sources)
    out: list[SourceTable] = []
    for item in items:
        if isinstance(item, SourceTable):
            out.append(item)
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], pd.DataFrame):
            out.append(SourceTable(label=str(item[0]), frame=item[1]))
        else:
            raise SpecError(
                "merge_sources: each source must be a SourceTable, a (label, DataFrame) pair, or a "
                f"{{label: DataFrame}} mapping entry; got {type(item).__name__}."
            )
    if not out:
        raise SpecError("merge_sources: no sources given; pass at least one (label, DataFrame).")
    labels = [s.label for s in out]
    dupes = sorted({label for label in labels if labels.count(label) > 1})
    if dupes:
        raise SpecError(f"merge_sources: source labels must be unique; {format_values(dupes)} repeat. Rename them.")
    return out


def combine_sources(
    sources: Any,
    *,
    units: Mapping[str, str] | None = None,
    source_column: str = "source",
) -> tuple[pd.DataFrame, CleaningLog]:
    """Rename columns, convert units and stack the sources, without merging anything.

    This is the table the quality report should look at: every input row is still there, so
    disagreements between sources are visible. :func:`merge_sources` starts with the same step.

    Args:
        sources: As for :func:`merge_sources`.
        units: ``{column: campaign unit}``; see :func:`merge_sources`.
        source_column: Filled with each source's label unless the source already has it.

    Returns:
        ``(combined, log)``: the stacked table indexed by ``"<label>:<row label>"`` (a single
        DataFrame keeps its own index), and a :class:`CleaningLog` of renames and conversions.
    """
    log = CleaningLog()
    combined = combine(sources, units=units, source_column=source_column, log=log)
    combined.index = pd.Index(combined[ORIGIN].to_numpy(), name="row")
    return combined.drop(columns=[ORIGIN, RANK, ADDED]), log


def combine(sources: Any, *, units: Mapping[str, str] | None, source_column: str, log: CleaningLog) -> pd.DataFrame:
    single = isinstance(sources, pd.DataFrame)
    items = normalize_sources(sources)
    canonical_units = dict(units or {})
    for column, unit in canonical_units.items():
        convert_units([1.0], unit, unit, where="units", column=column)  # refuse unknown units early
    frames = [
        _prepare_source(src, rank, canonical_units, source_column, log, single=single) for rank, src in enumerate(items)
    ]
    _record_partial_columns(frames, items, log)
    return pd.concat(frames, ignore_index=True, sort=False)


def _prepare_source(
    src: SourceTable,
    rank: int,
    canonical_units: dict[str, str],
    source_column: str,
    log: CleaningLog,
    *,
    single: bool = False,
) -> pd.DataFrame:
    if not isinstance(src.frame, pd.DataFrame):
        raise SpecError(f"merge_sources: {src.where}: expected a DataFrame, got {type(src.frame).__name__}.")
    frame = src.frame.copy()
    if frame.attrs.get("n_blank_rows"):
        log.add(
            "read",
            "dropped_blank_rows",
            "completely empty rows in the file",
            n=frame.attrs["n_blank_rows"],
            source=src.label,
        )
    if src.rename:
        missing = [c for c in src.rename if c not in frame.columns]
        if missing:
            raise DataValidationError(
                f"merge_sources: {src.where}: columns {format_columns(missing)} in the column mapping are not in "
                f"the table; available: {format_columns(frame.columns)}. Fix the mapping."
            )
        frame = frame.rename(columns=dict(src.rename))
        log.add(
            "mapping",
            "renamed_columns",
            "column mapping of the source",
            columns=src.rename.values(),
            source=src.label,
            mapping=dict(src.rename),
        )
    dupes = sorted({str(c) for c in frame.columns if list(frame.columns).count(c) > 1})
    if dupes:
        raise DataValidationError(
            f"merge_sources: {src.where}: column name(s) {format_values(dupes)} occur more than once after renaming. "
            "Map each file column to a different campaign column."
        )
    for column, unit in dict(src.units).items():
        if column not in frame.columns:
            raise DataValidationError(
                f"merge_sources: {src.where}: a unit is declared for column {column!r}, which is not in the table "
                f"(after renaming); available: {format_columns(frame.columns)}."
            )
        target = canonical_units.setdefault(column, unit)
        if target != unit:
            numeric = _numeric_or_raise(frame, column, src.where)
            frame[column] = convert_units(numeric, unit, target, where=f"merge_sources: {src.where}", column=column)
            log.add(
                "mapping",
                "converted_units",
                f"converted {unit} to {target}",
                columns=[column],
                source=src.label,
                from_unit=unit,
                to_unit=target,
                n_values=int(numeric.notna().sum()),
            )
    # A lone DataFrame keeps its own row labels (e.g. already "<label>:<line>" from combine_sources).
    frame[ORIGIN] = [str(idx) if single else f"{src.label}:{idx}" for idx in frame.index]
    frame[RANK] = rank
    frame[ADDED] = source_column not in frame.columns
    if source_column not in frame.columns:
        frame[source_column] = src.label
    return frame.reset_index(drop=True)


def _numeric_or_raise(frame: pd.DataFrame, column: str, where: str) -> pd.Series:
    return numeric_column(frame, column, where=f"merge_sources: {where}")


def _record_partial_columns(frames: list[pd.DataFrame], items: list[SourceTable], log: CleaningLog) -> None:
    if len(frames) < 2:
        return
    all_cols = set().union(*(set(f.columns) for f in frames))
    for col in sorted(str(c) for c in all_cols):
        absent = [s.label for s, f in zip(items, frames, strict=True) if col not in f.columns]
        if absent:
            log.add(
                "merge",
                "column_missing_in_source",
                "the column is not in every source; rows from these sources have it empty",
                columns=[col],
                sources=absent,
            )
