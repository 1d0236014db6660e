"""Merging several data sources into one table, with every change recorded.

:func:`merge_sources` takes several tables (each with a source label and an optional column
mapping: renames and units), and

1. renames columns and converts declared units to the campaign's units with ``pint``;
2. removes exact duplicate rows (counted and logged);
3. finds rows that describe the same entity — the same id, or the same *normalized*
   composition (``Li7La3Zr2O12`` == ``Li14La6Zr4O24``) — measured under the same conditions
   (condition columns such as temperature, equal within a tolerance);
4. resolves each group's values by a strategy (``mean``, ``median``, ``trust`` order of
   sources, or ``drop`` when the values disagree by more than ``max_spread``);

and returns the merged table plus a :class:`~planner.quality.MergeLog` naming every input
row that was merged or dropped and why.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.exceptions import DataQualityWarning, DataValidationError, OptionalDependencyError, SpecError
from planner.validation import check_choice, format_columns, format_values, numeric_column, require_columns
from planner.quality._log import CleaningLog, MergeLog

__all__ = [
    "MERGE_STRATEGIES",
    "SourceTable",
    "combine_sources",
    "composition_keys",
    "convert_units",
    "merge_sources",
]

MERGE_STRATEGIES = ("mean", "median", "trust", "drop")
_ORIGIN = "__planner_origin__"
_RANK = "__planner_rank__"
_ADDED = "__planner_label_added__"


# --------------------------------------------------------------------------------------------
# Sources


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


# --------------------------------------------------------------------------------------------
# Units


@lru_cache(maxsize=1)
def _unit_registry() -> Any:
    try:
        import pint
    except ImportError as err:  # pragma: no cover - pint is a core dependency
        raise OptionalDependencyError("Unit conversion needs pint: pip install 'pint>=0.24'") from err
    registry = pint.UnitRegistry()
    registry.autoconvert_offset_to_baseunit = True
    return registry


def convert_units(values: Any, from_unit: str, to_unit: str, *, where: str = "data", column: str = "?") -> np.ndarray:
    """Convert numbers from ``from_unit`` to ``to_unit`` with pint (offset units such as degC work).

    Raises:
        SpecError: A unit pint does not know, or units of different dimensions.
    """
    import pint

    registry = _unit_registry()
    try:
        quantity = registry.Quantity(np.asarray(values, dtype=float), registry.parse_units(from_unit))
        return np.asarray(quantity.to(registry.parse_units(to_unit)).magnitude, dtype=float)
    except pint.UndefinedUnitError as err:
        raise SpecError(
            f"{where}: column {column!r}: unknown unit in {from_unit!r} -> {to_unit!r} ({err}). "
            "Write units in pint syntax, e.g. 'S/cm', 'mS/cm', 'degC', 'K', 'mAh/g', 'percent'."
        ) from err
    except pint.DimensionalityError as err:
        raise SpecError(
            f"{where}: column {column!r}: cannot convert {from_unit!r} to {to_unit!r}: they measure different "
            "things. Fix the unit declared for this column."
        ) from err
    except (ValueError, TypeError, AttributeError) as err:
        raise SpecError(f"{where}: column {column!r}: cannot convert {from_unit!r} to {to_unit!r}: {err}.") from err


# --------------------------------------------------------------------------------------------
# Entity keys


def composition_keys(formulas: pd.Series) -> tuple[pd.Series, dict[Any, str]]:
    """Normalized composition per row (see :func:`planner.chem.normalize_formula`).

    Unparseable formulas keep their cleaned text as the key (so identical strings still group)
    and are returned in the second item, ``{row label: reason}``.
    """
    from planner.chem import FormulaError, clean_formula, normalize_formula

    keys: dict[Any, Any] = {}
    errors: dict[Any, str] = {}
    cache: dict[str, Any] = {}
    for label, value in formulas.items():
        if not isinstance(value, str):
            keys[label] = np.nan
            if value is not None and not (isinstance(value, float) and np.isnan(value)):
                errors[label] = f"{value!r} is not a formula string"
            continue
        if value not in cache:
            try:
                cache[value] = (normalize_formula(value), None)
            except FormulaError as err:
                cache[value] = (clean_formula(value), str(err))
        key, problem = cache[value]
        keys[label] = key
        if problem:
            errors[label] = f"{value!r}: {problem}"
    return pd.Series(keys, index=formulas.index, dtype=object), errors


def _condition_clusters(
    frame: pd.DataFrame, rows: np.ndarray, columns: Sequence[str], tolerances: Mapping[str, float]
) -> list[np.ndarray]:
    """Split ``rows`` into groups with equal conditions; numeric ones within a tolerance.

    Numeric values are sorted and split where consecutive values differ by more than the
    tolerance (single linkage: a chain of values each within tolerance of the next is one
    group). Missing conditions only match missing conditions.
    """
    if not columns or len(rows) == 1:
        return [rows]
    col, rest = columns[0], columns[1:]
    values = frame[col].to_numpy()[rows]
    out: list[np.ndarray] = []
    missing = pd.isna(values)
    if missing.any():
        out += _condition_clusters(frame, rows[missing], rest, tolerances)
    present_rows = rows[~missing]
    present = values[~missing]
    if len(present_rows):
        if pd.api.types.is_numeric_dtype(frame[col]):
            order = np.argsort(present.astype(float), kind="stable")
            sorted_vals = present.astype(float)[order]
            breaks = np.flatnonzero(np.diff(sorted_vals) > tolerances.get(col, 0.0) + 1e-12) + 1
            for chunk in np.split(present_rows[order], breaks):
                out += _condition_clusters(frame, np.sort(chunk), rest, tolerances)
        else:
            for _, chunk in pd.Series(present_rows).groupby(pd.Series(present).astype(str).to_numpy(), sort=False):
                out += _condition_clusters(frame, chunk.to_numpy(), rest, tolerances)
    return out


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = np.arange(n)

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def union_all(self, members: np.ndarray) -> None:
        if len(members) < 2:
            return
        root = self.find(int(members[0]))
        for m in members[1:]:
            other = self.find(int(m))
            if other != root:
                self.parent[other] = root


# --------------------------------------------------------------------------------------------
# Merging


def _normalize_sources(sources: Any) -> list[SourceTable]:
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


def merge_sources(
    sources: Any,
    *,
    key: str | Sequence[str] | None = None,
    composition_column: str | None = None,
    condition_columns: Sequence[str] = (),
    condition_tolerance: float | Mapping[str, float] | None = None,
    value_columns: Sequence[str] | None = None,
    strategy: str = "mean",
    trust_order: Sequence[str] | None = None,
    max_spread: float | Mapping[str, float] | None = None,
    spread: str = "range",
    units: Mapping[str, str] | None = None,
    source_column: str = "source",
    count_column: str | None = "n_merged",
    composition_key_column: str | None = None,
    ignore_in_duplicates: Sequence[str] = (),
    drop_exact_duplicates: bool = True,
) -> tuple[pd.DataFrame, MergeLog]:
    """Merge several tables into one, resolving rows that describe the same entity.

    Args:
        sources: ``{label: DataFrame}``, a list of ``(label, DataFrame)`` pairs or of
            :class:`SourceTable` (which carry a column mapping), or a single DataFrame. Earlier
            sources are more trusted unless ``trust_order`` says otherwise.
        key: Id column(s): rows with the same id (and conditions) are the same entity.
        composition_column: Formula column: rows with the same normalized composition (and
            conditions) are the same entity. With ``key`` too, either match suffices, but an id
            shared by different compositions is not merged (logged as ``id_conflict``).
        condition_columns: Columns that must also match (e.g. ``["temperature"]``).
        condition_tolerance: Largest difference still counted as the same condition: one number
            for all numeric condition columns or ``{column: tolerance}``; default exact.
        value_columns: Numeric columns reconciled by ``strategy`` (the measured values,
            typically the targets). Default: every numeric column that is not a key,
            condition or ignored column, a boolean, or an integer column unique on at least
            95 % of rows (a record number); better to list them.
        strategy: ``"mean"``, ``"median"``, ``"trust"`` (the value from the most trusted source
            that has one) or ``"drop"`` (drop groups whose spread exceeds ``max_spread``, average
            the rest).
        trust_order: Source labels, most trusted first (values of ``source_column``).
        max_spread: Groups whose values in a value column spread more than this are dropped
            whole (with any strategy): one number for all value columns or ``{column: limit}``.
            For conductivities, merge on the log10 column so the limit is in decades.
        spread: ``"range"`` (max - min) or ``"relative"`` (range / |median|).
        units: ``{column: campaign unit}``; a source's ``units`` are converted to these. A
            column with a source unit but no campaign unit takes the first source's unit.
        source_column: Column holding each row's source label. If a source already has it
            (e.g. a DOI per row) its values are used; otherwise it is filled with the label.
            Merged rows list all their labels joined by ``"; "``.
        count_column: Name of an added column with how many input rows each output row
            combines (``None``: not added).
        composition_key_column: If given, add the normalized composition under this name
            (useful as the ``groups`` of a GroupKFold).
        ignore_in_duplicates: Columns left out when testing rows for exact duplicates and for
            attribute conflicts (e.g. a running row number).
        drop_exact_duplicates: Remove rows identical in every other column.

    Returns:
        ``(merged, log)``: the merged table (fresh index; original rows are named in the log
        as ``"<source label>:<row label>"``) and a :class:`MergeLog`.

    Raises:
        SpecError: Invalid arguments (unknown strategy, ``drop`` without ``max_spread``, bad units).
        DataValidationError: A named column is missing from a source, or a value column is not numeric.
    """
    check_choice(strategy, MERGE_STRATEGIES, name="strategy", owner="merge_sources")
    check_choice(spread, ("range", "relative"), name="spread", owner="merge_sources")
    if strategy == "drop" and max_spread is None:
        raise SpecError(
            "merge_sources: strategy='drop' needs max_spread (the largest disagreement tolerated), "
            "e.g. max_spread={'log_target': 0.5}."
        )
    if key is None and composition_column is None:
        raise SpecError(
            "merge_sources: say how rows of the same entity are recognised: key=<id column> and/or "
            "composition_column=<formula column>."
        )
    keys = [key] if isinstance(key, str) else list(key or [])
    conditions = list(condition_columns)
    log = MergeLog()
    combined = _combine(sources, units=units, source_column=source_column, log=log)
    n_input = len(combined)

    identity = keys + ([composition_column] if composition_column else []) + conditions
    require_columns(combined, identity, role="key/composition/condition", where="merge_sources")

    tolerances = _tolerances(condition_tolerance, conditions, combined)
    ignored = [c for c in ignore_in_duplicates if c in combined.columns]
    values = _value_columns(value_columns, combined, identity, ignored, source_column, count_column)
    thresholds = _thresholds(max_spread, values)

    if drop_exact_duplicates:
        combined = _drop_exact_duplicates(combined, ignored, source_column, log)

    comp_keys = None
    if composition_column:
        comp_keys, errors = composition_keys(combined[composition_column])
        if errors:
            log.add(
                "merge",
                "unparsed_composition",
                "formula could not be parsed; rows are matched on the exact (cleaned) text instead",
                rows=combined.loc[list(errors), _ORIGIN],
                columns=[composition_column],
                reasons=list(errors.values()),
            )
            warnings.warn(
                f"merge_sources: {len(errors)} formula(s) in {composition_column!r} could not be parsed and are "
                f"matched as plain text (first: {next(iter(errors.values()))}); see the merge log.",
                DataQualityWarning,
                stacklevel=2,
            )

    groups = _find_groups(combined, keys, composition_column, comp_keys, conditions, tolerances, log)
    merged, group_table = _resolve(
        combined,
        groups,
        values=values,
        strategy=strategy,
        trust_order=list(trust_order or []),
        thresholds=thresholds,
        spread=spread,
        source_column=source_column,
        identity=identity,
        # Record numbers differ between rows of one entity by construction: not a conflict.
        ignored=ignored + [c for c in combined.columns if c not in values and _looks_like_row_id(combined[c])],
        comp_keys=comp_keys,
        log=log,
    )
    if count_column:
        merged[count_column] = merged.pop("__n_merged__")
    else:
        merged = merged.drop(columns="__n_merged__")
    if composition_key_column and comp_keys is not None:
        merged[composition_key_column] = merged.pop("__comp_key__")
    else:
        merged = merged.drop(columns="__comp_key__", errors="ignore")
    merged = merged.drop(columns=[_ORIGIN, _RANK, _ADDED]).reset_index(drop=True)
    log.n_input_rows = n_input
    log.n_output_rows = len(merged)
    log.groups = group_table
    return merged, log


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
    combined = _combine(sources, units=units, source_column=source_column, log=log)
    combined.index = pd.Index(combined[_ORIGIN].to_numpy(), name="row")
    return combined.drop(columns=[_ORIGIN, _RANK, _ADDED]), log


def _combine(sources: Any, *, units: Mapping[str, str] | None, source_column: str, log: CleaningLog) -> pd.DataFrame:
    single = isinstance(sources, pd.DataFrame)
    items = _normalize_sources(sources)
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
    frame[_ORIGIN] = [str(idx) if single else f"{src.label}:{idx}" for idx in frame.index]
    frame[_RANK] = rank
    frame[_ADDED] = source_column not in frame.columns
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


def _tolerances(tol: Any, conditions: list[str], frame: pd.DataFrame) -> dict[str, float]:
    if tol is None:
        return {}
    if isinstance(tol, Mapping):
        unknown = [c for c in tol if c not in conditions]
        if unknown:
            raise SpecError(
                f"merge_sources: condition_tolerance names {format_columns(unknown)}, which are not "
                f"condition_columns ({format_columns(conditions)})."
            )
        out = {str(c): float(v) for c, v in tol.items()}
    else:
        out = {c: float(tol) for c in conditions if pd.api.types.is_numeric_dtype(frame[c])}
    bad = {c: v for c, v in out.items() if not v >= 0}
    if bad:
        raise SpecError(f"merge_sources: condition_tolerance must be >= 0, got {bad}.")
    return out


def _value_columns(
    value_columns: Sequence[str] | None,
    frame: pd.DataFrame,
    identity: list[str],
    ignored: list[str],
    source_column: str,
    count_column: str | None,
) -> list[str]:
    skip = set(identity) | set(ignored) | {source_column, _ORIGIN, _RANK, _ADDED}
    if count_column:
        skip.add(count_column)
    if value_columns is None:
        return [
            c
            for c in frame.columns
            if c not in skip
            and pd.api.types.is_numeric_dtype(frame[c])
            and not pd.api.types.is_bool_dtype(frame[c])
            and not _looks_like_row_id(frame[c])
        ]
    cols = require_columns(frame, value_columns, role="value", where="merge_sources")
    clash = [c for c in cols if c in skip]
    if clash:
        raise SpecError(
            f"merge_sources: {format_columns(clash)} cannot be both value columns and key/condition columns."
        )
    for c in cols:
        if not pd.api.types.is_numeric_dtype(frame[c]):
            frame[c] = numeric_column(frame, c, where="merge_sources")
    return cols


def _looks_like_row_id(series: pd.Series) -> bool:
    """An integer column with a different value on (almost) every row numbers records; it is not
    measured. "Almost": a record number with a typo (Liverpool's ID 922 appears twice) is still one."""
    return pd.api.types.is_integer_dtype(series) and len(series) > 1 and series.nunique() >= 0.95 * len(series)


def _thresholds(max_spread: Any, values: list[str]) -> dict[str, float]:
    if max_spread is None:
        return {}
    if isinstance(max_spread, Mapping):
        unknown = [c for c in max_spread if c not in values]
        if unknown:
            raise SpecError(
                f"merge_sources: max_spread names {format_columns(unknown)}, which are not value columns "
                f"({format_columns(values)}). Add them to value_columns."
            )
        out = {str(c): float(v) for c, v in max_spread.items()}
    else:
        out = {c: float(max_spread) for c in values}
    bad = {c: v for c, v in out.items() if not v >= 0}
    if bad:
        raise SpecError(f"merge_sources: max_spread must be >= 0, got {bad}.")
    return out


def _drop_exact_duplicates(frame: pd.DataFrame, ignored: list[str], source_column: str, log: MergeLog) -> pd.DataFrame:
    # A source label added by the merge is bookkeeping, not data: the same record in two files
    # is a duplicate. A source column that came with the data (e.g. a DOI per row) is compared.
    compare = [c for c in frame.columns if c not in set(ignored) | {_ORIGIN, _RANK, _ADDED}]
    if frame[_ADDED].any():
        compare.remove(source_column)
    hashed = pd.util.hash_pandas_object(frame[compare].astype(object).where(frame[compare].notna(), None), index=False)
    dup = hashed.duplicated(keep=False)
    if not dup.any():
        return frame
    drop = np.zeros(len(frame), dtype=bool)
    for _, rows in frame.index[dup].to_series().groupby(hashed[dup].to_numpy(), sort=False):
        rows = rows.to_numpy()
        # hash equality is checked by value too, to be certain
        first = frame.loc[rows[0], compare]
        same = [r for r in rows if frame.loc[r, compare].equals(first)]
        if len(same) < 2:
            continue
        log.add(
            "deduplicate",
            "removed_exact_duplicate",
            f"identical in every compared column to {frame.at[same[0], _ORIGIN]}; kept that row",
            rows=frame.loc[same, _ORIGIN],
            columns=compare,
            kept=frame.at[same[0], _ORIGIN],
        )
        drop[np.asarray(same[1:])] = True
    return frame.loc[~drop]


def _find_groups(
    frame: pd.DataFrame,
    keys: list[str],
    composition_column: str | None,
    comp_keys: pd.Series | None,
    conditions: list[str],
    tolerances: dict[str, float],
    log: MergeLog,
) -> list[np.ndarray]:
    uf = _UnionFind(len(frame))
    work = frame.reset_index(drop=True)
    comp = comp_keys.reset_index(drop=True) if comp_keys is not None else None
    if keys:
        id_frame = work[keys]
        has_id = id_frame.notna().all(axis=1).to_numpy()
        for _, idx in pd.Series(np.flatnonzero(has_id)).groupby(
            [id_frame[k].to_numpy()[has_id] for k in keys], sort=False
        ):
            members = idx.to_numpy()
            if len(members) < 2:
                continue
            if comp is not None:
                distinct = comp.iloc[members].dropna().unique()
                if len(distinct) > 1:
                    ids = id_frame.iloc[members[0]].to_dict()
                    log.add(
                        "merge",
                        "id_conflict",
                        "the same id is used for different compositions; rows not merged by id",
                        rows=work.loc[members, _ORIGIN],
                        columns=keys,
                        id=ids,
                        compositions=list(work.loc[members, composition_column]),
                    )
                    continue
            for cluster in _condition_clusters(work, members, conditions, tolerances):
                uf.union_all(cluster)
    if comp is not None:
        has_comp = comp.notna().to_numpy()
        for _, idx in pd.Series(np.flatnonzero(has_comp)).groupby(comp.to_numpy()[has_comp], sort=False):
            members = idx.to_numpy()
            if len(members) < 2:
                continue
            for cluster in _condition_clusters(work, members, conditions, tolerances):
                uf.union_all(cluster)
    roots = np.array([uf.find(i) for i in range(len(work))])
    order = pd.Series(np.arange(len(work))).groupby(roots, sort=False)
    return [g.to_numpy() for _, g in order]


def _resolve(
    frame: pd.DataFrame,
    groups: list[np.ndarray],
    *,
    values: list[str],
    strategy: str,
    trust_order: list[str],
    thresholds: dict[str, float],
    spread: str,
    source_column: str,
    identity: list[str],
    ignored: list[str],
    comp_keys: pd.Series | None,
    log: MergeLog,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    work = frame.reset_index(drop=True)
    comp = comp_keys.reset_index(drop=True) if comp_keys is not None else None
    trust_rank = {label: i for i, label in enumerate(trust_order)}
    other_cols = [c for c in work.columns if c not in set(values) | {_ORIGIN, _RANK, _ADDED, source_column}]
    attr_cols = [c for c in other_cols if c not in set(identity) | set(ignored)]
    out_rows: list[dict[str, Any]] = []
    group_records = []
    for gid, members in enumerate(groups):
        if len(members) == 1:
            row = work.iloc[members[0]].to_dict()
            row["__n_merged__"] = 1
            row["__comp_key__"] = comp.iloc[members[0]] if comp is not None else np.nan
            out_rows.append(row)
            continue
        sub = work.iloc[members]
        # Priority: trusted labels first (in trust_order), then source order, then row order.
        prio = sorted(
            range(len(members)),
            key=lambda i: (
                trust_rank.get(str(sub[source_column].iloc[i]), len(trust_rank)),
                sub[_RANK].iloc[i],
                i,
            ),
        )
        sub = sub.iloc[prio]
        origins = list(sub[_ORIGIN])
        spreads: dict[str, float] = {}
        exceeded: dict[str, dict[str, Any]] = {}
        for col in values:
            vals = sub[col].dropna().astype(float)
            if len(vals) < 2:
                continue
            rng = float(vals.max() - vals.min())
            s = rng if spread == "range" else rng / max(abs(float(vals.median())), 1e-300)
            spreads[col] = s
            if col in thresholds and s > thresholds[col]:
                exceeded[col] = {"values": vals.tolist(), "spread": s, "max_spread": thresholds[col]}
        if exceeded:
            log.add(
                "merge",
                "dropped_group",
                "the rows describe the same entity but disagree by more than max_spread in "
                + ", ".join(f"{c} ({d['spread']:.3g} > {d['max_spread']:.3g})" for c, d in exceeded.items()),
                rows=origins,
                columns=list(exceeded),
                conflicts=exceeded,
            )
            group_records.append(
                {"group": gid, "n_rows": len(members), "resolution": "dropped", "rows": ";".join(origins)}
            )
            continue
        row: dict[str, Any] = {}
        for col in other_cols:
            present = sub[col].dropna()
            row[col] = present.iloc[0] if len(present) else sub[col].iloc[0]
        for col in attr_cols:
            distinct = pd.unique(sub[col].dropna())
            if len(distinct) > 1:
                log.add(
                    "merge",
                    "attribute_conflict",
                    f"rows of one entity disagree on {col!r}; kept {row[col]!r} from {origins[0]} (the preferred row)",
                    rows=origins,
                    columns=[col],
                    values=list(sub[col]),
                    kept=row[col],
                )
        resolved: dict[str, Any] = {}
        for col in values:
            vals = sub[col].astype(float)
            if vals.notna().sum() == 0:
                row[col] = np.nan
            elif strategy == "median":
                row[col] = float(vals.median())
            elif strategy == "trust":
                row[col] = float(vals.dropna().iloc[0])
            else:  # mean, and drop for groups within max_spread
                row[col] = float(vals.mean())
            resolved[col] = {"values": vals.tolist(), "result": row[col]}
        labels = list(dict.fromkeys(str(v) for v in sub[source_column]))
        row[source_column] = "; ".join(labels)
        row["__n_merged__"] = len(members)
        row["__comp_key__"] = comp.iloc[members[0]] if comp is not None else np.nan
        row[_ORIGIN] = origins[0]
        row[_RANK] = 0
        out_rows.append(row)
        how = {"mean": "mean", "median": "median", "trust": "value of the most trusted source", "drop": "mean"}[
            strategy
        ]
        log.add(
            "merge",
            "merged_group",
            f"{len(members)} rows describe the same entity; values combined by {how}",
            rows=origins,
            columns=values,
            resolved=resolved,
            spread=spreads,
            identity={c: list(sub[c]) for c in identity},
        )
        group_records.append({"group": gid, "n_rows": len(members), "resolution": "merged", "rows": ";".join(origins)})
    columns = list(work.columns) + ["__n_merged__", "__comp_key__"]
    merged = pd.DataFrame(out_rows, columns=columns)
    for col in work.columns:
        if col in merged and pd.api.types.is_integer_dtype(work[col]) and merged[col].notna().all():
            merged[col] = merged[col].astype(work[col].dtype)
    group_table = pd.DataFrame(group_records, columns=["group", "n_rows", "resolution", "rows"])
    return merged, group_table
