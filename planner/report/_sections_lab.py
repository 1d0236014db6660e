"""Sections 8 and 9: the campaign's experiments (active learning) and its backtests."""

from __future__ import annotations

import numpy as np
import pandas as pd

import planner.report._figures as F
from planner.report._context import Context
from planner.report._html import Section, details, grid, table
from planner.report._records import Missing
from planner.report._sources import suggestion_outcomes

# 8 ------------------------------------------------------------------------------------------


def active_learning(ctx: Context) -> Section:
    sec = Section("active", "Active learning")
    spec, inputs = ctx.spec, ctx.inputs
    observed = inputs.observations
    suggestions = ctx.suggestions
    if observed.empty and isinstance(suggestions, Missing):
        sec.missing(f"No experiments have been added in the campaign yet (observations.csv is empty) and {suggestions.reason[0].lower() + suggestions.reason[1:]}.")
        sec.markdown = ["- **Active learning**: no experiments or suggestions yet"]
        return sec
    linked = set()
    if isinstance(suggestions, pd.DataFrame) and "_observed_obs_id" in suggestions:
        linked = set(pd.to_numeric(suggestions["_observed_obs_id"], errors="coerce").dropna().astype(int))
    if spec.task == "regression" and not observed.empty:
        sources = inputs.sources
        figs = []
        for record in ctx.targets:
            parts = []
            if len(sources) and record.name in sources:
                # The literature / database rows are the starting point, not experiments in order:
                # one point at 0 carries their best value, the campaign's own experiments follow.
                v = pd.to_numeric(sources[record.name], errors="coerce").dropna()
                if len(v):
                    best_source = v.max() if record.direction == "max" else v.min()
                    parts.append(pd.DataFrame({"value": [best_source], "kind": f"best of the data sources ({len(v)} rows)",
                                               "label": ["before the campaign's experiments"]}))
            observed = observed.sort_values(["_observed_at", "_obs_id"], kind="mergesort") if "_observed_at" in observed else observed
            v = pd.to_numeric(observed[record.name], errors="coerce") if record.name in observed else pd.Series(np.nan, index=observed.index)
            ids = pd.to_numeric(observed["_obs_id"], errors="coerce")
            kinds = np.where(ids.isin(linked), "observed (suggested)", "observed (not from a suggestion)")
            parts.append(pd.DataFrame({"value": v, "kind": kinds, "label": "observation #" + ids.astype("Int64").astype(str) + ", batch " + observed["_batch"].astype(str)}))
            series = pd.concat(parts, ignore_index=True)
            series["n"] = np.arange(len(series)) + (0 if len(parts) > 1 else 1)
            series = series.dropna(subset=["value"])
            if len(series):
                figs.append(ctx.figures(F.best_so_far(series, quantity=record.name, unit=record.unit, direction=record.direction), height=400))
        sec.add(grid(figs))
        sec.note("The campaign's own experiments in the order they were observed (experiment 0: the best value of the data sources, where there are any); the line is the best value so far.")
    elif spec.task == "classification":
        sec.note("Best-so-far curves apply to regression targets; this is a classification campaign.")
    else:
        sec.missing("No experiments have been observed in the campaign yet (observations.csv is empty).")
    if isinstance(suggestions, Missing):
        sec.missing(suggestions.reason)
    else:
        _rounds(ctx, sec, suggestions, observed)
    if spec.task == "regression" and len(ctx.targets) >= 2:
        _pareto(ctx, sec, suggestions)
    return sec


def _rounds(ctx: Context, sec: Section, suggestions: pd.DataFrame, observed: pd.DataFrame) -> None:
    names = [t.name for t in ctx.targets]
    s = suggestion_outcomes(suggestions, observed, names)
    rows = []
    for rnd, part in s.groupby("_round", sort=True):
        status = part["_status"].value_counts()
        row = {
            "round": int(rnd),
            "suggested at": str(part["_suggested_at"].iloc[0]) if "_suggested_at" in part else "",
            "strategy": str(part["_strategy"].iloc[0]) if "_strategy" in part else "",
            "model": str(part["_model"].iloc[0]) if "_model" in part else "",
            "suggested": len(part),
            "observed": int(status.get("observed", 0)),
            "pending": int(status.get("pending", 0)),
            "cancelled": int(status.get("cancelled", 0)),
        }
        for t in ctx.targets:
            values = part[f"{t.name}_observed"].dropna()
            row[f"best {t.name} measured"] = (values.max() if t.direction == "max" else values.min()) if len(values) else np.nan
        rows.append(row)
    sec.heading("Suggestion rounds", 4)
    sec.add(table(pd.DataFrame(rows), sortable=True))
    inputs = [c for c in ctx.spec.input_names if c in s.columns]
    for rnd, part in s.groupby("_round", sort=True):
        cols = ["_suggestion_id", "_status", *inputs]
        for t in names:
            cols += [c for c in (f"{t}_mean", f"{t}_std", f"{t}_observed") if c in part]
        cols += [c for c in ("acquisition", "acquisition_value", "reason") if c in part]
        shown = part[[c for c in cols if c in part]].rename(columns={"_suggestion_id": "id", "_status": "status"})
        sec.add(details(f"Round {int(rnd)}: {len(part)} suggestions", table(shown, sortable=True)))
    total = s["_status"].value_counts()
    sec.markdown.append(f"- **Active learning**: {len(s)} suggestions in {s['_round'].nunique()} round(s); " + ", ".join(f"{n} {k}" for k, n in total.items()))


def _pareto(ctx: Context, sec: Section, suggestions: pd.DataFrame | Missing) -> None:
    from planner.active import pareto_front

    a, b = ctx.targets[0], ctx.targets[1]
    data = ctx.inputs.data
    both = data[[a.name, b.name]].apply(pd.to_numeric, errors="coerce").dropna()
    if len(both) < 2:
        sec.missing(f"The Pareto front needs rows with both {a.name} and {b.name} measured; {len(both)} have both.")
        return
    front = pareto_front(both, [(a.name, a.direction), (b.name, b.direction)])
    pending = pd.DataFrame()
    if isinstance(suggestions, pd.DataFrame) and {f"{a.name}_mean", f"{b.name}_mean"} <= set(suggestions.columns):
        pending = suggestions[suggestions["_status"] == "pending"]
    sec.heading("Pareto front", 4)
    if len(ctx.targets) > 2:
        sec.note(f"Shown for the first two targets ({a.name}, {b.name}) of {len(ctx.targets)}.")
    fig = F.pareto(both, front, pending, (a.name, a.unit, a.direction), (b.name, b.unit, b.direction))
    sec.add(grid([ctx.figures(fig, height=440)]))
    sec.note(f"{len(front)} of {len(both)} measured rows are non-dominated; diamonds are pending suggestions at their predicted means.")
    sec.markdown.append(f"- **Pareto front** ({a.name}, {b.name}): {len(front)} non-dominated of {len(both)} rows; {len(pending)} pending suggestions")


# 9 ------------------------------------------------------------------------------------------


def backtests(ctx: Context) -> Section:
    sec = Section("backtests", "Backtests")
    runs = ctx.backtests
    if isinstance(runs, Missing):
        sec.missing(runs.reason)
        sec.markdown = ["- **Backtests**: none run"]
        return sec
    for run in runs:
        sec.heading(f"Run {run.run_id}")
        curves = run.curves
        if isinstance(curves, Missing):
            sec.missing(curves.reason)
        else:
            strategies = sorted(map(str, curves["strategy"].unique()))
            colors = {s: ("#7f7f7f" if s == "random" else F.PALETTE[i % len(F.PALETTE)]) for i, s in enumerate(strategies)}
            figs = []
            if "top_pct" in curves:
                figs.append(ctx.figures(F.backtest_curves(curves, "top_pct", title=f"Top% found ({run.top_label})", y_label=f"share of the top set found ({_pct_unit(curves)})", colors=colors), height=400))
            if "best_so_far" in curves:
                figs.append(ctx.figures(F.backtest_curves(curves, "best_so_far", title="Best so far", y_label="best objective so far", colors=colors), height=400))
            sec.add(grid(figs))
            sec.note("Lines: median over seeds; bands: 25–75 % of seeds.")
        tables = list(run.tables)
        if not any(_is_factor_table(name) for name, _ in tables) and not isinstance(curves, Missing) and "top_pct" in curves:
            tables += _factors_from_curves(curves)
        for name, frame in tables:
            sec.heading(name, 4)
            sec.add(table(frame, sortable=True, digits=3))
            if name.startswith("AF (from curves") and frame.drop(columns="strategy").isna().any().any():
                sec.note("A blank AF: the random strategy (or this one) never reached that Top% within the simulated budget.")
        sec.markdown.append(f"- **Backtest {run.run_id}**: " + (", ".join(sorted(map(str, curves["strategy"].unique()))) if not isinstance(curves, Missing) else curves.reason))
    return sec


def _pct_unit(curves: pd.DataFrame) -> str:
    return "%" if curves["top_pct"].max() > 1.0 else "fraction"


def _is_factor_table(name: str) -> bool:
    lowered = name.lower()
    return any(k in lowered for k in ("ef ", "af", "enhancement", "acceleration"))


def _factors_from_curves(curves: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Enhancement (EF) and acceleration (AF) factors against the ``random`` strategy's mean Top%."""
    if "random" not in set(map(str, curves["strategy"])):
        return []
    mean = curves.groupby(["strategy", "n"])["top_pct"].mean().unstack(0)
    n_max = int(mean.index.max())
    budgets = sorted({int(round(n_max * q)) for q in (0.1, 0.25, 0.5, 1.0)} & set(map(int, mean.index)))
    scale = 100.0 if curves["top_pct"].max() > 1.0 else 1.0
    ef = pd.DataFrame({"strategy": [s for s in mean.columns if s != "random"]})
    for n in budgets:
        ef[f"EF at {n}"] = [float(mean.loc[n, s] / mean.loc[n, "random"]) if mean.loc[n, "random"] > 0 else np.nan for s in ef["strategy"]]

    def first_reach(series: pd.Series, level: float) -> float:
        hit = series[series >= level * scale]
        return float(hit.index[0]) if len(hit) else np.nan

    af = pd.DataFrame({"strategy": ef["strategy"]})
    for level in (0.5, 0.8, 0.95):
        n_random = first_reach(mean["random"], level)
        af[f"AF at {int(level * 100)}%"] = [n_random / first_reach(mean[s], level) if np.isfinite(n_random) else np.nan for s in af["strategy"]]
    return [("EF (from curves: mean Top% / random's at the same budget)", ef), ("AF (from curves: experiments random needs / experiments the strategy needs)", af)]
