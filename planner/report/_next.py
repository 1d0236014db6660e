"""The report's first box, "What to do next", and its glossary.

A scientist opens the report to decide what to make and measure next. The first box says it:
the pending (or next) batch with each design's inputs, its predicted value and interval, and
the expected gain over the best measured so far; the Pareto-optimal designs measured so far
with their inputs (several objectives); a plain verdict on each model against the mean
predictor; and whether the saved models are stale. Everything is read from what the campaign
stores; nothing is refit.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from planner.report._html import Section, key_values, table
from planner.report._records import Missing

#: Below this out-of-fold R², a model explains too little of the variation to steer experiments.
WEAK_R2 = 0.3
N_SHOWN = 12

GLOSSARY = {
    "trial": "one cross-validated evaluation of one pipeline (data steps, features, model) in the AutoML search",
    "pruned": "a trial stopped early because its first folds were clearly worse than the best trials (or it "
    "would not fit the time left); its reason is listed with it",
    "fusion: single": "one model",
    "fusion: bagging / forest / boosting": "homogeneous fusion: many models of one kind on resampled rows or "
    "residuals, averaged or added",
    "fusion: stacking / voting": "heterogeneous fusion: models of different kinds combined by a meta-model "
    "(stacking) or by averaging (voting)",
    "ensemble selection": "the final model: a weighted average of the best trials' pipelines, weights chosen "
    "greedily on their out-of-fold predictions",
    "out-of-fold (OOF)": "a prediction for a row made by a model that did not see that row in training",
    "conformal interval": "a range that contains the measured value with the stated probability, calibrated "
    "on out-of-fold errors",
    "applicability domain": "the region of inputs the model was trained on; predictions outside it are flagged",
    "suggestion / experiment": "what the acquisition step proposes / what the lab measures",
    "pending": "a suggestion not yet measured (or withdrawn: cancelled)",
    "Pareto-optimal": "a design no other measured design beats on every objective at once",
    "R²": "share of the target's variance the model explains out of fold; 0 is no better than predicting the mean",
}


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    mask = np.isfinite(y) & np.isfinite(pred)
    if mask.sum() < 3:
        return float("nan")
    y, pred = y[mask], pred[mask]
    total = float(((y - y.mean()) ** 2).sum())
    return float("nan") if total == 0 else 1.0 - float(((y - pred) ** 2).sum()) / total


def _verdicts(ctx: Any) -> dict[str, str]:
    items: dict[str, str] = {}
    for record in ctx.targets:
        if ctx.spec.task != "regression":
            continue
        if not record.has_trials:
            items[f"model {record.name}"] = "no AutoML search yet: run `planner run DIR`"
            continue
        oof = ctx.oof(record)
        if isinstance(oof, Missing):
            items[f"model {record.name}"] = f"no out-of-fold predictions to judge it ({oof.reason})"
            continue
        y = pd.to_numeric(oof.frame["y_true"], errors="coerce").to_numpy(dtype=float)
        pred = pd.to_numeric(oof.frame["prediction"], errors="coerce").to_numpy(dtype=float)
        r2 = _r2(y, pred)
        mae = float(np.nanmean(np.abs(y - pred)))
        mae_mean = float(np.nanmean(np.abs(y - np.nanmean(y))))
        unit = f" {record.unit}" if record.unit else ""
        if not math.isfinite(r2):
            verdict = "too few out-of-fold predictions to judge"
        elif r2 < 0:
            verdict = "WORSE than predicting the mean: do not trust its predictions; collect more varied data"
        elif r2 < WEAK_R2:
            verdict = "WEAK MODEL: explains little; suggestions lean on exploration more than on the model"
        elif r2 < 0.7:
            verdict = "useful: clearly better than the mean, with sizeable errors"
        else:
            verdict = "strong: explains most of the variation out of fold"
        items[f"model {record.name}"] = (
            f"{verdict} (out-of-fold R² {r2:.2f}; MAE {mae:.3g}{unit} against {mae_mean:.3g}{unit} for the mean "
            f"predictor, {len(y)} rows)"
        )
        if record.freshness is not None and record.freshness.is_stale:
            items[f"model {record.name}"] += f". STALE: {record.freshness.n_new_observations} observation(s) arrived after its refit; run `planner run DIR`"
    return items


def _best_observed(ctx: Any) -> dict[str, float]:
    data = ctx.inputs.data
    best = {}
    for t in ctx.spec.targets:
        if t.name in data:
            values = pd.to_numeric(data[t.name], errors="coerce").dropna()
            if len(values):
                best[t.name] = float(values.max() if t.direction == "max" else values.min())
    return best


def _pending_table(ctx: Any, best: dict[str, float]) -> tuple[pd.DataFrame, list[str]]:
    from scipy.stats import norm

    s = ctx.suggestions
    pending = s[s["_status"] == "pending"] if isinstance(s, pd.DataFrame) else pd.DataFrame()
    if pending.empty:
        return pending, []
    spec = ctx.spec
    rows = pd.DataFrame({"suggestion": pending["_suggestion_id"].astype(str), "round": pending["_round"]})
    for name in spec.input_names:
        if name in pending:
            rows[name] = pending[name].to_numpy()
    md = []
    for t in spec.targets:
        mean = pd.to_numeric(pending.get(f"{t.name}_mean"), errors="coerce") if f"{t.name}_mean" in pending else None
        if mean is None:
            continue
        rows[f"{t.name} predicted"] = mean.to_numpy()
        lower, upper = f"{t.name}_lower", f"{t.name}_upper"
        if lower in pending and upper in pending:
            rows[f"{t.name} interval"] = [
                f"{a:.3g} to {b:.3g}" if pd.notna(a) and pd.notna(b) else "" for a, b in zip(pending[lower], pending[upper], strict=False)
            ]
        if t.name in best:
            sign = 1.0 if t.direction == "max" else -1.0
            gain = sign * (mean.to_numpy(dtype=float) - best[t.name])
            rows[f"{t.name} gain vs best"] = gain
            std = pd.to_numeric(pending.get(f"{t.name}_std"), errors="coerce") if f"{t.name}_std" in pending else None
            if std is not None:
                with np.errstate(divide="ignore", invalid="ignore"):
                    z = gain / std.to_numpy(dtype=float)
                rows[f"P({t.name} beats best)"] = np.where(np.isfinite(z), norm.cdf(z), np.nan)
                md.append(
                    f"{t.name}: best pending pick has a {np.nanmax(rows[f'P({t.name} beats best)']):.0%} chance to beat "
                    f"the best measured {best[t.name]:.4g}"
                )
    if "reason" in pending:
        rows["reason"] = pending["reason"].astype(str).to_numpy()
    return rows.head(N_SHOWN), md


def _pareto_table(ctx: Any) -> pd.DataFrame | None:
    from planner.active import pareto_front

    spec = ctx.spec
    if spec.task != "regression" or len(spec.targets) < 2:
        return None
    data = ctx.inputs.data
    names = [t.name for t in spec.targets]
    values = data[names].apply(pd.to_numeric, errors="coerce")
    complete = values.dropna()
    if len(complete) < 2:
        return None
    front = pareto_front(complete, [(t.name, t.direction) for t in spec.targets])
    rows = data.loc[front.index]
    shown = [c for c in ([spec.data.id_column] if spec.data.id_column else []) + spec.input_names + names if c and c in rows]
    out = rows[shown].copy()
    if "_obs_id" in rows:
        out.insert(0, "observation", rows["_obs_id"].map(lambda v: f"#{int(v)}" if pd.notna(v) else "data source"))
    first = spec.targets[0]
    return out.sort_values(first.name, ascending=first.direction == "min").head(25)


def next_steps(ctx: Any) -> Section:
    sec = Section("next", "What to do next")
    best = _best_observed(ctx)
    pending, md = _pending_table(ctx, best)
    if len(pending):
        sec.heading("Pending batch: measure these next", 4)
        sec.add(table(pending, sortable=True))
        sec.note(
            "Predicted values are the surrogate's (interval: the calibrated one where logged); gain is the predicted "
            "improvement over the best measured value in target units (negative: the pick explores rather than "
            "exploits); P(beats best) assumes a normal predictive distribution. Withdraw picks with "
            "`planner suggestions DIR --cancel ID`."
        )
        sec.markdown += [f"- **Next**: {len(pending)} pending suggestion(s)"] + [f"  - {line}" for line in md]
    else:
        sec.missing("No suggestion is pending: run `planner suggest DIR -n 5` for the next batch.")
        sec.markdown.append("- **Next**: no pending suggestions; run `planner suggest`")
    verdicts = _verdicts(ctx)
    if verdicts:
        sec.heading("Can the models be trusted?", 4)
        sec.add(key_values(verdicts))
        sec.markdown += [f"- **{k}**: {v}" for k, v in verdicts.items()]
    pareto = _pareto_table(ctx)
    if pareto is not None and len(pareto):
        sec.heading("Pareto-optimal designs measured so far", 4)
        sec.add(table(pareto, sortable=True))
        sec.note("No other measured design is better on every objective at once than these; choose among them by the trade-off you need.")
    return sec


def glossary(ctx: Any) -> Section:
    sec = Section("glossary", "Glossary")
    sec.add(key_values(GLOSSARY))
    return sec
