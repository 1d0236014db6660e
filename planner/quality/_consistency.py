"""Consistency checks: one entity, one set of values; one id, one material; relations hold."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from planner.quality._data import QualityData, as_numeric, finding, rule_check, skipped
from planner.quality._report import QualityCheck
from planner.quality._spec import QualitySpec
from planner.sources._entities import composition_keys
from planner.validation import format_columns

__all__ = ["check_attribute_agreement", "check_entity_agreement", "check_id_reuse", "check_relations"]


def check_entity_agreement(ctx: QualityData, spec: QualitySpec) -> QualityCheck:
    """Rows describing the same entity that report different target values."""
    entity, targets = ctx.entity, ctx.targets
    source_column, tolerance = spec.source_column, spec.consistency_tolerance
    desc = "rows describing the same entity report the same target values"
    if not targets:
        return skipped("consistency", "entity_agreement", desc, "no target columns declared")
    if not entity.groups:
        return finding(
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
            values = as_numeric(ctx.frame.loc[rows, target]).dropna()
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
    return finding(
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


def check_attribute_agreement(ctx: QualityData, spec: QualitySpec) -> QualityCheck:
    """One entity labelled differently in a descriptive (text) column."""
    entity, frame, features, conditions = ctx.entity, ctx.frame, ctx.features, ctx.conditions
    composition_column, group_column = spec.composition_column, spec.group_column
    desc = "descriptive attributes (text columns) of one entity agree"
    if entity.keys is None or (group_column is None and composition_column is None):
        return skipped("consistency", "attribute_agreement", desc, "no entity column (group or composition) declared")
    attrs = [
        c
        for c in features
        if c not in conditions
        and c not in (composition_column, group_column)
        and not pd.api.types.is_numeric_dtype(frame[c])
    ]
    if not attrs:
        return skipped("consistency", "attribute_agreement", desc, "no text attribute columns")
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
    return finding(
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


def check_id_reuse(ctx: QualityData, spec: QualitySpec) -> QualityCheck:
    """One id used for different compositions (or groups)."""
    id_column, composition_column, group_column = spec.id_column, spec.composition_column, spec.group_column
    desc = "one id always means the same material"
    entity_col = composition_column or group_column
    if id_column is None or entity_col is None:
        return skipped("consistency", "id_reuse", desc, "needs an id column and a composition or group column")
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
    return finding(
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


def check_relations(ctx: QualityData, spec: QualitySpec) -> QualityCheck:
    """Rows breaking a declared relation between columns (``consistency_rules``)."""
    return rule_check(ctx, spec.consistency_rules, "consistency", "relations", ctx.where)
