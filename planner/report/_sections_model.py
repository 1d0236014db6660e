"""Sections 6 and 7: interpretation (SHAP, permutation importance) and uncertainty (coverage)."""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import pandas as pd

import planner.report._figures as F
from planner.report._calibration import conformal_block
from planner.report._context import COVERAGE_LEVELS, N_BEESWARM, N_DEPENDENCE, SCORERS, Context
from planner.report._html import Section, fmt, grid, table
from planner.report._records import Missing, TargetRecords
from planner.report._sources import ranked, suggestion_outcomes

# 6 ------------------------------------------------------------------------------------------


def _physical(e: Any, raw: pd.DataFrame | None, features: list[str]) -> tuple[pd.DataFrame, dict[str, str]]:
    """Feature values in the units of the campaign's own columns where a model input is one of them.

    Scaled numeric inputs keep their column's name (``x1`` or ``num__x1``); for those the raw,
    physical value is shown, so every target's dependence plot reads in the same units.
    """
    data = e.data.copy()
    units = {}
    if raw is None:
        return data, {f: "model input" for f in features}
    for feat in features:
        name = feat.split("__", 1)[-1]
        if name in raw.columns and pd.api.types.is_numeric_dtype(pd.to_numeric(raw[name], errors="coerce")):
            values = pd.to_numeric(raw[name], errors="coerce")
            if values.notna().any():
                data[feat] = values.reindex(data.index).to_numpy()
                units[feat] = "measured value"
                continue
        units[feat] = "model input"
    return data, units


def interpretation(ctx: Context) -> Section:
    sec = Section("interpretation", "Interpretation")
    for record in ctx.targets:
        ctx.target_heading(sec, record)
        shap = ctx.shap(record)
        if isinstance(shap, Missing):
            sec.missing(shap.reason)
            continue
        e, y, raw = shap
        kind = {"tree": "TreeExplainer (exact)", "linear": "LinearExplainer (exact)", "permutation": "a permutation explainer over a 50-row background"}[e.explainer]
        sec.note(
            f"Stored pipeline `{record.fitted.spec.get('pipeline', '?')}` explained with {kind} on {len(e.values)} labelled rows; "
            f"features are the model's inputs after preprocessing (scaled where the pipeline scales). Output explained: {e.output}."
        )
        importance = e.importance()
        figs = [ctx.figures(F.beeswarm(e.values, e.data, top=N_BEESWARM, output=e.output), height=max(360, 80 + 30 * min(N_BEESWARM, len(importance))))]
        start = time.perf_counter()
        perm = _permutation_importance(record, e, y, int(ctx.spec.seed))
        ctx.timings[f"permutation importance {record.name}"] = time.perf_counter() - start
        if isinstance(perm, Missing):
            sec.missing(perm.reason)
        else:
            scores, scoring = perm
            shown = scores.head(N_BEESWARM)
            figs.append(ctx.figures(F.bars(shown, title="Permutation importance", x=f"drop in {scoring} when shuffled", color=F.PALETTE[1]), height=max(360, 80 + 30 * len(shown))))
        grouped = _molecule_importance(importance)
        if grouped is not None:  # fingerprint bits summed per molecule block, not hundreds of anonymous bits
            figs.append(ctx.figures(F.bars(grouped.head(N_BEESWARM), title="Importance by molecular feature (bits of each fingerprint summed)", x="mean |SHAP|"), height=max(360, 80 + 30 * min(N_BEESWARM, len(grouped)))))
        sec.add(grid(figs))
        top = list(importance.index[:N_DEPENDENCE])
        physical, kinds = _physical(e, raw, top)
        sec.add(ctx.figures(F.dependence(e.values, physical, top, output=e.output, kinds=kinds), height=360))
        sec.markdown.append(f"- **Interpretation {record.name}** (mean |SHAP|): " + ", ".join(f"{k} {fmt(v, 3)}" for k, v in importance.head(5).items()))
    return sec


def _permutation_importance(record: TargetRecords, e: Any, y: pd.Series, seed: int) -> tuple[pd.Series, str] | Missing:
    from sklearn.inspection import permutation_importance

    model = record.fitted.estimator.steps[-1][1] if hasattr(record.fitted.estimator, "steps") else record.fitted.estimator
    scoring = SCORERS.get(record.metric, "r2" if record.info.get("task") == "regression" else "accuracy")
    if record.info.get("task") == "classification" and y.nunique() > 2 and scoring == "roc_auc_ovr":
        scoring = "accuracy"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = permutation_importance(model, e.data.to_numpy(), y.to_numpy(), scoring=scoring, n_repeats=5, random_state=seed, n_jobs=1)
    except Exception as err:  # noqa: BLE001
        return Missing(f"permutation importance could not be computed ({type(err).__name__}: {err})")
    label = scoring.replace("neg_", "").replace("_", " ")
    return pd.Series(result.importances_mean, index=e.feature_names).sort_values(ascending=False), label


# 7 ------------------------------------------------------------------------------------------


def _coverage(y: np.ndarray, mean: np.ndarray, std: np.ndarray, levels: np.ndarray) -> np.ndarray:
    from scipy.stats import norm

    z = np.abs(y - mean) / np.where(std > 0, std, np.nan)
    return np.array([float(np.mean(z <= norm.ppf(0.5 + lv / 2))) for lv in levels])


def uncertainty(ctx: Context) -> Section:
    sec = Section("uncertainty", "Uncertainty")
    levels = np.round(np.arange(0.05, 1.0, 0.05), 2)
    for record in ctx.targets:
        ctx.target_heading(sec, record)
        curves: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}
        why: list[str] = []
        oof = ctx.oof(record)
        is_clf = record.info.get("task", ctx.spec.task) == "classification"
        if is_clf:
            if isinstance(oof, Missing):
                sec.missing(oof.reason)
                continue
            cols = [f"proba_{c}" for c in oof.classes if f"proba_{c}" in oof.frame]
            if not cols:
                sec.missing("the best pipeline states no class probabilities")
                continue
            proba = oof.frame[cols].to_numpy(dtype=float)
            y = oof.frame["y_true"].astype(str).to_numpy()
            if len(cols) == 2:
                label = str(oof.classes[1])
                fig = F.reliability(proba[:, 1], y == label, label=f"class {label}")
            else:
                picked = np.array([str(c) for c in oof.classes])[proba.argmax(axis=1)]
                fig = F.reliability(proba.max(axis=1), picked == y, label="confidence of the predicted class")
            sec.add(grid([ctx.figures(fig, height=400)]))
            sec.note("Out-of-fold probabilities binned in tenths; a calibrated model's points lie on the diagonal.")
            conformal_block(ctx, sec, record)
            continue
        conformal_block(ctx, sec, record)
        if isinstance(oof, Missing):
            why.append(oof.reason)
        elif "std" in oof.frame:
            f = oof.frame.dropna(subset=["std"])
            curves["out-of-fold (best pipeline)"] = (levels, _coverage(f["y_true"].to_numpy(float), f["prediction"].to_numpy(float), f["std"].to_numpy(float), levels), len(f))
        else:
            family = ranked(record.trials).iloc[0]["model_family"] if record.has_trials else "?"
            why.append(f"the best pipeline ({family}) states no predictive spread (GPs, forests, bagging and voting ensembles do)")
        if isinstance(ctx.suggestions, pd.DataFrame) and f"{record.name}_std" in ctx.suggestions:
            s = suggestion_outcomes(ctx.suggestions, ctx.inputs.observations, [record.name])
            s = s.dropna(subset=[f"{record.name}_observed", f"{record.name}_mean", f"{record.name}_std"])
            if len(s):
                curves["suggestions, then measured"] = (levels, _coverage(s[f"{record.name}_observed"].to_numpy(float), s[f"{record.name}_mean"].to_numpy(float), s[f"{record.name}_std"].to_numpy(float), levels), len(s))
            else:
                why.append("no suggestion with a stated std has been measured yet")
        else:
            why.append("no suggestions are logged" if isinstance(ctx.suggestions, Missing) else f"suggestions.csv has no {record.name}_std column")
        if curves:
            sec.add(grid([ctx.figures(F.calibration(curves), height=420)]))
            rows = [{"interval source": name, "rows": n, **{f"{int(lv * 100)}% nominal": float(np.interp(lv, exp, obs)) for lv in COVERAGE_LEVELS}} for name, (exp, obs, n) in curves.items()]
            sec.add(table(pd.DataFrame(rows), digits=3))
            sec.note("Coverage: the fraction of measured values inside the stated central interval mean ± z·std (normal quantiles). Below the diagonal: intervals too narrow (over-confident).")
            sec.markdown.append(f"- **Uncertainty {record.name}**: " + "; ".join(f"{r['interval source']}: 90% intervals cover {r['90% nominal']:.0%} (n={r['rows']})" for r in rows))
        if why:
            (sec.note if curves else sec.missing)("Not shown: " + "; ".join(why) + ".")
    return sec


def _molecule_importance(importance: pd.Series) -> pd.Series | None:
    if not any(":morgan" in str(n) for n in importance.index):
        return None
    from planner.steps._molecules import group_molecule_importance

    return group_molecule_importance(importance)
