"""Accuracy checks: numbers where numbers belong, within bounds and real units; outliers listed."""

from __future__ import annotations

import warnings

import pandas as pd

from planner.chem._units import unit_registry
from planner.quality._data import QualityData, as_numeric, finding, numeric_share, skipped
from planner.quality._report import QualityCheck
from planner.quality._spec import QualitySpec
from planner.validation import format_columns, require_columns

__all__ = ["check_bounds", "check_non_numeric", "check_outliers", "check_units"]


def check_non_numeric(ctx: QualityData, spec: QualitySpec) -> QualityCheck:
    """Text in columns that must hold numbers (declared ones fail, mostly numeric ones warn)."""
    declared, inferred = ctx.numeric_columns
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
    return finding(
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


def check_bounds(ctx: QualityData, spec: QualitySpec) -> QualityCheck:
    """Values outside the declared ``(lower, upper)`` bounds."""
    bounds, where = spec.bounds, ctx.where
    desc = "values lie within the declared bounds"
    if not bounds:
        return skipped("accuracy", "bounds", desc, "no bounds declared (declare lower/upper for targets and inputs)")
    require_columns(ctx.frame, list(bounds), role="bounded", where=where)
    issues = []
    n_checked = 0
    bad_cols = []
    for col, pair in bounds.items():
        lower, upper = pair  # a pair: QualitySpec checked it
        values = as_numeric(ctx.frame[col])
        n_checked += int(values.notna().sum())
        low = values < lower if lower is not None else pd.Series(False, index=values.index)
        high = values > upper if upper is not None else pd.Series(False, index=values.index)
        for row in values.index[low | high]:
            side = f"below the lower bound {lower}" if low[row] else f"above the upper bound {upper}"
            issues.append(ctx.issue(row, col, values[row], side))
        if (low | high).any():
            bad_cols.append(col)
    return finding(
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


def check_units(ctx: QualityData, spec: QualitySpec) -> QualityCheck:
    """Declared units pint does not understand, or declared for columns that do not exist."""
    units, frame = spec.units, ctx.frame
    desc = "declared units are real units (pint) and name existing columns"
    if not units:
        return skipped("accuracy", "units", desc, "no units declared")
    registry = unit_registry()
    issues = []
    for col, unit in units.items():
        if col not in frame.columns:
            issues.append({"row": None, "id": None, "column": col, "value": unit, "detail": "no such column"})
            continue
        try:
            registry.parse_units(unit)
        except Exception as err:  # pint raises several error types for bad unit strings
            issues.append({"row": None, "id": None, "column": col, "value": unit, "detail": f"not a unit: {err}"})
    return finding(
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


def check_outliers(ctx: QualityData, spec: QualitySpec) -> QualityCheck:
    """Values far from the bulk of their column (a warning: to verify, not necessarily wrong)."""
    targets, features = ctx.targets, ctx.features
    method, threshold = spec.outlier_method, spec.outlier_threshold
    desc = "values far from the bulk of their column (to verify, not necessarily wrong)"
    if method is None:
        return skipped("accuracy", "outliers", desc, "outlier listing switched off")
    from planner.steps import OutlierDetector

    candidates = targets + [f for f in features if f not in targets]
    cols = [c for c in candidates if numeric_share(ctx.frame[c]) >= 0.8]
    numeric = pd.DataFrame({c: as_numeric(ctx.frame[c]) for c in cols}, index=ctx.frame.index)
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
    return finding(
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
