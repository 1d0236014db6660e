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

and returns the merged table plus a :class:`~planner.sources.MergeLog` naming every input
row that was merged or dropped and why.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from planner.exceptions import DataQualityWarning, SpecError
from planner.sources._entities import UnionFind, composition_keys, condition_clusters, condition_tolerances
from planner.sources._log import MergeLog
from planner.sources._table import ADDED, ORIGIN, RANK, combine
from planner.validation import check_choice, format_columns, numeric_column, require_columns

__all__ = ["MERGE_STRATEGIES", "merge_sources"]

MERGE_STRATEGIES = ("mean", "median", "trust", "drop")


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
    combined = combine(sources, units=units, source_column=source_column, log=log)
    n_input = len(combined)

    identity = keys + ([composition_column] if composition_column else []) + conditions
    require_columns(combined, identity, role="key/composition/condition", where="merge_sources")

    tolerances = condition_tolerances(condition_tolerance, conditions, combined)
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
                rows=combined.loc[list(errors), ORIGIN],
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
    merged = merged.drop(columns=[ORIGIN, RANK, ADDED]).reset_index(drop=True)
    log.n_input_rows = n_input
    log.n_output_rows = len(merged)
    log.groups = group_table
    return merged, log


def _value_columns(
    value_columns: Sequence[str] | None,
    frame: pd.DataFrame,
    identity: list[str],
    ignored: list[str],
    source_column: str,
    count_column: str | None,
) -> list[str]:
    skip = set(identity) | set(ignored) | {source_column, ORIGIN, RANK, ADDED}
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
    compare = [c for c in frame.columns if c not in set(ignored) | {ORIGIN, RANK, ADDED}]
    if frame[ADDED].any():
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
            f"identical in every compared column to {frame.at[same[0], ORIGIN]}; kept that row",
            rows=frame.loc[same, ORIGIN],
            columns=compare,
            kept=frame.at[same[0], ORIGIN],
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
    uf = UnionFind(len(frame))
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
                        rows=work.loc[members, ORIGIN],
                        columns=keys,
                        id=ids,
                        compositions=list(work.loc[members, composition_column]),
                    )
                    continue
            for cluster in condition_clusters(work, members, conditions, tolerances):
                uf.union_all(cluster)
    if comp is not None:
        has_comp = comp.notna().to_numpy()
        for _, idx in pd.Series(np.flatnonzero(has_comp)).groupby(comp.to_numpy()[has_comp], sort=False):
            members = idx.to_numpy()
            if len(members) < 2:
                continue
            for cluster in condition_clusters(work, members, conditions, tolerances):
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
    other_cols = [c for c in work.columns if c not in set(values) | {ORIGIN, RANK, ADDED, source_column}]
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
                sub[RANK].iloc[i],
                i,
            ),
        )
        sub = sub.iloc[prio]
        origins = list(sub[ORIGIN])
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
        row[ORIGIN] = origins[0]
        row[RANK] = 0
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
