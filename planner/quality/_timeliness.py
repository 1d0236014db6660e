"""Timeliness checks (with a date column): unparseable, future and stale dates, the time span."""

from __future__ import annotations

import pandas as pd

from planner.quality._data import QualityData, finding, skipped
from planner.quality._report import QualityCheck
from planner.quality._spec import QualitySpec

__all__ = ["check_date_coverage", "check_date_format", "check_future_dates", "check_stale_dates"]


def check_date_format(ctx: QualityData, spec: QualitySpec) -> QualityCheck:
    """Dates that do not parse; without a date column, the one skipped ``dates`` check."""
    date_column = spec.date_column
    if date_column is None:
        return skipped(
            "timeliness",
            "dates",
            "measurement dates are valid, not in the future, recent enough",
            "no date column declared; add one (role: date) to track when values were measured",
        )
    series, dates = ctx.frame[date_column], ctx.dates
    bad = series.notna() & dates.isna()
    issues = [ctx.issue(r, date_column, series[r], "not a date") for r in series.index[bad]]
    return finding(
        "timeliness", "date_format", "dates parse",
        n_checked=int(series.notna().sum()), n_failed=len(issues),
        ok=f"all {int(series.notna().sum())} dates parse",
        bad=f"{len(issues)} value(s) in {date_column!r} are not dates; use ISO format YYYY-MM-DD",
        columns=[date_column], issues=ctx.limit(issues),
    )  # fmt: skip


def check_future_dates(ctx: QualityData, spec: QualitySpec) -> QualityCheck | None:
    """Measurements dated after the reference date (None without a date column)."""
    date_column, dates, now = spec.date_column, ctx.dates, ctx.now
    if date_column is None:
        return None
    future = dates > now
    f_issues = [ctx.issue(r, date_column, str(dates[r].date()), f"after {now.date()}") for r in dates.index[future]]
    return finding(
        "timeliness", "future_dates", "no measurement is dated in the future",
        n_checked=int(dates.notna().sum()), n_failed=len(f_issues),
        ok="no future dates", bad=f"{len(f_issues)} date(s) lie in the future; check day/month order",
        columns=[date_column], issues=ctx.limit(f_issues),
    )  # fmt: skip


def check_stale_dates(ctx: QualityData, spec: QualitySpec) -> QualityCheck | None:
    """Measurements older than ``max_age_days`` (None without a date column or an age limit)."""
    date_column, max_age_days, dates, now = spec.date_column, spec.max_age_days, ctx.dates, ctx.now
    if date_column is None or max_age_days is None:
        return None
    stale = dates < now - pd.Timedelta(days=float(max_age_days))
    s_issues = [
        ctx.issue(r, date_column, str(dates[r].date()), f"older than {max_age_days:g} days")
        for r in dates.index[stale]
    ]
    return finding(
        "timeliness", "stale", f"measurements are at most {max_age_days:g} days old",
        n_checked=int(dates.notna().sum()), n_failed=len(s_issues),
        ok=f"all dated rows within {max_age_days:g} days",
        bad=f"{len(s_issues)} measurement(s) older than {max_age_days:g} days; re-measure or down-weight them",
        severity="warn", columns=[date_column], issues=ctx.limit(s_issues),
    )  # fmt: skip


def check_date_coverage(ctx: QualityData, spec: QualitySpec) -> QualityCheck | None:
    """Rows without a date, and the span of the dated ones (None without a date column)."""
    date_column = spec.date_column
    if date_column is None:
        return None
    series = ctx.frame[date_column]
    valid = ctx.dates.dropna()
    span = f"{valid.min().date()} to {valid.max().date()}" if len(valid) else "no valid dates"
    missing = int(series.isna().sum())
    return finding(
        "timeliness", "date_coverage", "every row is dated",
        n_checked=len(series), n_failed=missing,
        ok=f"all rows dated, {span}", bad=f"{missing} row(s) undated; dated rows span {span}",
        severity="warn", columns=[date_column],
        issues=ctx.limit([ctx.issue(r, date_column, None, "no date") for r in series.index[series.isna()]]),
    )  # fmt: skip
