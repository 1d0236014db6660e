"""Uniqueness checks: exact duplicate rows, duplicate ids, repeated entities (replicates)."""

from __future__ import annotations

from planner.quality._data import QualityData, finding, skipped
from planner.quality._report import QualityCheck
from planner.quality._spec import QualitySpec
from planner.validation import format_columns

__all__ = ["check_duplicate_entities", "check_duplicate_ids", "check_exact_duplicates"]


def check_exact_duplicates(ctx: QualityData, spec: QualitySpec) -> QualityCheck:
    """Rows that repeat another exactly (``ignore_in_duplicates`` left out of the comparison)."""
    ignored = ctx.ignored
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
    return finding(
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


def check_duplicate_ids(ctx: QualityData, spec: QualitySpec) -> QualityCheck:
    """Ids on several rows: under the same conditions (fail) or at different ones (warn)."""
    id_column, conditions = spec.id_column, ctx.conditions
    desc = "ids are unique (per measurement condition, if conditions are declared)"
    if id_column is None:
        return skipped("uniqueness", "duplicate_ids", desc, "no id column declared")
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
    return finding(
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


def check_duplicate_entities(ctx: QualityData, spec: QualitySpec) -> QualityCheck:
    """Entities measured on more than one row per condition (replicates to merge or group)."""
    entity = ctx.entity
    desc = "each entity is measured once per condition (repeats are replicates to merge or group)"
    if entity.keys is None:
        return skipped(
            "uniqueness", "duplicate_entities", desc, "no entity definition (no group, composition or inputs)"
        )
    issues = []
    for gid, rows in enumerate(entity.groups):
        for row in rows:
            issues.append(ctx.issue(row, None, None, f"entity group {gid} ({len(rows)} rows, {entity.label})"))
    n_rows = sum(len(g) for g in entity.groups)
    return finding(
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
