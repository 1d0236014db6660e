"""The nine sections. Each reads what the campaign stores and says plainly what is missing."""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from planner.report import _figures as F
from planner.report._html import FigureWriter, Section, badge, details, esc, fmt, grid, key_values, table
from planner.report._calibration import conformal_block
from planner.report._oof import OutOfFold, out_of_fold
from planner.report._sources import BacktestRun, Missing, TargetRecords, ranked, suggestion_outcomes, training_rows

#: Metrics in the target's unit; the others are unitless or fractions.
_UNIT_METRICS = {"mae", "rmse"}
#: scikit-learn scorer for each objective metric (permutation importance).
_SCORERS = {
    "mae": "neg_mean_absolute_error",
    "rmse": "neg_root_mean_squared_error",
    "r2": "r2",
    "accuracy": "accuracy",
    "precision": "precision_weighted",
    "recall": "recall_weighted",
    "f1": "f1_weighted",
    "roc_auc": "roc_auc_ovr",
    "log_loss": "neg_log_loss",
}
N_LEADERBOARD = 25
N_BEESWARM = 12
N_DEPENDENCE = 3
COVERAGE_LEVELS = (0.5, 0.68, 0.9, 0.95)


@dataclass
class Context:
    """What every section may read; results computed once (out-of-fold, SHAP) are cached here."""

    campaign: Any
    targets: list[TargetRecords]
    quality: Any
    suggestions: pd.DataFrame | Missing
    backtests: list[BacktestRun] | Missing
    figures: FigureWriter
    allow_recompute: bool = True
    max_shap_samples: int = 200
    colors: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    _oof: dict[str, OutOfFold | Missing] = field(default_factory=dict)
    _shap: dict[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> Any:
        return self.campaign.spec

    @property
    def multi(self) -> bool:
        return len(self.targets) > 1

    def oof(self, record: TargetRecords) -> OutOfFold | Missing:
        if record.name not in self._oof:
            start = time.perf_counter()
            self._oof[record.name] = out_of_fold(self.campaign, record, allow_recompute=self.allow_recompute)
            self.timings[f"out-of-fold {record.name}"] = time.perf_counter() - start
        return self._oof[record.name]

    def shap(self, record: TargetRecords) -> Any:
        """``(Explanation, y, raw X)`` for the stored best pipeline, or :class:`Missing`."""
        if record.name not in self._shap:
            start = time.perf_counter()
            self._shap[record.name] = _explain_target(self, record)
            self.timings[f"SHAP {record.name}"] = time.perf_counter() - start
        return self._shap[record.name]

    def target_heading(self, section: Section, record: TargetRecords) -> None:
        if self.multi:
            section.heading(f"Target {record.name}")


def metric_label(record: TargetRecords) -> str:
    metric = record.metric
    unit = record.unit if metric in _UNIT_METRICS else None
    arrow = "lower is better" if record.minimize else "higher is better"
    return F.axis_label(f"{metric} ({arrow})", unit)


def _when(path: Any) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


# 1 ------------------------------------------------------------------------------------------


def summary(ctx: Context) -> Section:
    sec = Section("summary", "Campaign summary")
    spec, campaign = ctx.spec, ctx.campaign
    sources = campaign.source_table().frame
    observed = campaign.observations()
    by_source = sources["_source"].value_counts(sort=False) if len(sources) else pd.Series(dtype=int)
    source_text = "; ".join(f"{name} ({n} rows, {src.path})" for (name, n), src in zip(by_source.items(), spec.data.sources, strict=False)) or "none (all rows observed in the campaign)"
    targets = ", ".join(f"{t.name} ({t.direction}{', ' + t.unit if t.unit else ''})" for t in spec.targets)
    items = {
        "campaign": f"{spec.name} — {spec.description}" if spec.description else spec.name,
        "directory": str(campaign.directory),
        "task": spec.task,
        "data sources": source_text,
        "rows": f"{len(sources) + len(observed)} ({len(sources)} from data sources, {len(observed)} observed in the campaign)",
        "inputs": f"{len(spec.inputs)}: " + ", ".join(i.name + (f" [{i.unit}]" if i.unit else "") for i in spec.inputs),
        "targets and directions": targets,
    }
    md = [f"- **Campaign** {spec.name} ({spec.task}), {len(sources) + len(observed)} rows ({len(observed)} observed here); targets: {targets}"]
    data = campaign.data()
    for record in ctx.targets:
        values = pd.to_numeric(data[record.name], errors="coerce") if record.name in data else pd.Series(dtype=float)
        n_lab = int(values.notna().sum())
        if spec.task == "regression" and n_lab:
            idx = values.idxmax() if record.direction == "max" else values.idxmin()
            best_obs = f"{fmt(values[idx], 6)}{' ' + record.unit if record.unit else ''} ({_row_label(data.loc[idx], spec.data.id_column)}); {n_lab} labelled rows"
        else:
            best_obs = f"{n_lab} labelled rows"
        items[f"best {record.name} observed"] = best_obs
        if record.has_trials:
            t = record.trials
            best = ranked(t).iloc[0]
            counts = t["state"].value_counts()
            items[f"search {record.name}"] = (
                f"{int(counts.get('complete', 0))} complete, {int(counts.get('pruned', 0))} pruned, {int(counts.get('fail', 0))} failed trials; "
                f"{t['duration_s'].sum() / 60:.1f} min of search; space {record.info.get('search_space', '?')}, "
                f"{record.info.get('cv', {}).get('n_folds', '?')}-fold CV; budget {spec.budget.n_trials} trials per `planner run`"
            )
            items[f"best {record.name} pipeline"] = f"{best['pipeline']} — {record.metric} {fmt(best['mean'])} ± {fmt(best['std'], 2)} (trial {int(best['trial'])})"
            md.append(f"- **{record.name}** best observed: {best_obs}; best pipeline: `{best['pipeline']}`, {record.metric} {fmt(best['mean'])} ± {fmt(best['std'], 2)} over {int(best['n_folds'])} folds ({len(t)} trials)")
        else:
            items[f"search {record.name}"] = record.study.reason if isinstance(record.study, Missing) else "no completed trial yet"
            md.append(f"- **{record.name}** best observed: {best_obs}; no AutoML search yet")
    if isinstance(ctx.suggestions, pd.DataFrame):
        s = ctx.suggestions
        items["suggestions"] = f"{len(s)} in {s['_round'].nunique()} round(s): " + ", ".join(f"{n} {k}" for k, n in s["_status"].value_counts().items())
    items["report generated"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    spec_path = campaign.directory / "campaign.yaml"
    items["campaign created / changed"] = _when(spec_path) if spec_path.exists() else "?"
    sec.add(key_values(items))
    sec.markdown = md
    return sec


def _row_label(row: pd.Series, id_column: str | None) -> str:
    if id_column and id_column in row and pd.notna(row[id_column]):
        return f"{id_column}={row[id_column]}"
    if "_obs_id" in row and pd.notna(row.get("_obs_id")):
        return f"observation #{int(row['_obs_id'])}"
    return f"{row.get('_source', 'source')} line {row.get('_line', '?')}"


# 2 ------------------------------------------------------------------------------------------


def quality(ctx: Context) -> Section:
    sec = Section("quality", "Data quality")
    report = ctx.quality
    if isinstance(report, Missing):
        sec.missing(report.reason)
        sec.markdown = [f"- **Data quality**: {report.reason}"]
        return sec
    counts = {s: sum(c.status == s for c in report.checks) for s in ("fail", "warn", "pass", "skipped")}
    sec.add(
        f"<p>Overall {badge(report.status)} — {esc(report.dataset)}: {report.n_rows} rows × {report.n_columns} columns; "
        f"{counts['fail']} failed, {counts['warn']} warnings, {counts['pass']} passed, {counts['skipped']} skipped checks"
        f"{esc(', assessed ' + report.created) if report.created else ''}.</p>"
    )
    from planner.quality import CHARACTERISTICS

    chars = pd.DataFrame({"characteristic": list(CHARACTERISTICS), "status": [badge(report.characteristic_status(c)) for c in CHARACTERISTICS]})
    summary = report.summary()
    summary["status"] = [badge(s) for s in summary["status"]]
    # Long unbroken column lists squeeze the message column into a sliver; keep them short and wrappable.
    summary["columns"] = [
        ", ".join(parts[:5]) + (f", +{len(parts) - 5} more" if len(parts) > 5 else "")
        for parts in (str(c).split(";") if isinstance(c, str) and c else [] for c in summary["columns"])
    ]
    sec.add(table(chars, raw_html=("status",)), table(summary, sortable=True, raw_html=("status",)))
    flagged = [c for c in report.checks if c.issues and c.status in ("fail", "warn")]
    if flagged:
        sec.heading("Offending rows", 4)
        for check in flagged:
            issues = pd.DataFrame([dict(i) for i in check.issues])
            shown = issues.head(500)
            more = f" (first {len(shown)} shown)" if len(issues) > len(shown) else ""
            sec.add(details(f"{check.characteristic} / {check.name}: {check.n_failed} flagged{more}", table(shown, sortable=True)))
    if len(report.actions):
        sec.add(details(f"Cleaning actions ({len(report.actions)})", table(report.actions.to_frame(), sortable=True)))
    sec.markdown = [f"- **Data quality**: {report.status.upper()} ({counts['fail']} failed, {counts['warn']} warnings, {counts['pass']} passed)"]
    return sec


# 3 ------------------------------------------------------------------------------------------


def leaderboard(ctx: Context) -> Section:
    sec = Section("leaderboard", "Leaderboard")
    for record in ctx.targets:
        ctx.target_heading(sec, record)
        if not record.has_trials:
            sec.missing(record.study.reason if isinstance(record.study, Missing) else f"the study of {record.name} has no completed trial yet")
            continue
        trials = record.trials
        top = ranked(trials).head(N_LEADERBOARD)
        shown = pd.DataFrame(
            {
                "rank": top["rank"].astype(int),
                "trial": top["trial"].astype(int),
                "pipeline": top["pipeline"],
                "hyperparameters": top["params"].map(_hyperparameters) if "params" in top else "",
                "model family": top["model_family"],
                "fusion": top["fusion"],
                f"{record.metric} mean" + (f" ({record.unit})" if record.unit and record.metric in _UNIT_METRICS else ""): top["mean"],
                "± std": top["std"],
                "folds": top["n_folds"].astype(int),
                "fit time (s)": top["fit_time_s"],
                "source": top["source"],
            }
        )
        counts = trials["state"].value_counts()
        sec.note(
            f"Top {len(top)} of {int(counts.get('complete', 0))} completed trials ({int(counts.get('pruned', 0))} pruned, {int(counts.get('fail', 0))} failed); "
            f"{record.metric} {'(lower is better)' if record.minimize else '(higher is better)'} as mean ± std over CV folds. Click a header to sort."
        )
        sec.add(table(shown, sortable=True))
        failed = trials[trials["state"] == "fail"]
        if len(failed):
            reasons = failed["failure_reason"].fillna("?").astype(str).str.slice(0, 160).value_counts().rename_axis("reason").reset_index(name="trials")
            sec.add(details(f"Failed trials by reason ({len(failed)})", table(reasons)))
        label = metric_label(record)
        sec.add(
            grid(
                [
                    ctx.figures(F.fold_scores_box(trials, "model_family", ctx.colors, metric=f"fold {label}", title="Fold scores per model family (trials)"), height=400),
                    ctx.figures(F.fold_scores_box(trials, "fusion_group", None, metric=f"fold {label}", title="Fold scores per fusion kind (trials)"), height=400),
                ]
            )
        )
        sec.note("Each point is one fold of one trial; overlapping boxes mean the difference between families or fusion kinds is within the fold-to-fold spread.")
        head = ranked(trials).head(3)
        sec.markdown.append(f"- **Leaderboard {record.name}** (top 3 of {int(counts.get('complete', 0))}):")
        sec.markdown += [f"  {int(r['rank'])}. `{r['pipeline']}` — {record.metric} {fmt(r['mean'])} ± {fmt(r['std'], 2)}" for _, r in head.iterrows()]
    return sec


def _hyperparameters(params: Any) -> str:
    """The tuned values of a pipeline spec, short: two rows that read ``... > rf`` differ here."""
    if not isinstance(params, dict):
        return ""
    parts = []
    for key, value in sorted(params.items()):
        if "." not in key:  # the step choices themselves are the pipeline text
            continue
        name = key.split(".", 2)[-1]
        parts.append(f"{name}={fmt(value, 3) if isinstance(value, float) else value}")
    return ", ".join(parts)


# 4 ------------------------------------------------------------------------------------------


def best_pipeline(ctx: Context) -> Section:
    sec = Section("best", "Best pipeline")
    for record in ctx.targets:
        ctx.target_heading(sec, record)
        if not record.has_trials:
            sec.missing(record.study.reason if isinstance(record.study, Missing) else "no completed trial yet")
            continue
        best = ranked(record.trials).iloc[0]
        items = {
            "pipeline": best["pipeline"],
            "trial": str(int(best["trial"])),
            "model family / fusion": f"{best['model_family']} / {best['fusion']}",
            f"CV {record.metric}": f"{fmt(best['mean'])} ± {fmt(best['std'], 2)} over {int(best['n_folds'])} folds",
        }
        if record.has_model:
            spec = record.fitted.spec
            ens = spec.get("ensemble")
            if ens:
                members = ", ".join(f"#{t} ({w:.2f})" for t, w in zip(ens["trials"], ens["weights"], strict=False))
                items["stored model"] = (
                    f"ensemble selection of trials {members}, refit on {spec.get('n_train_rows', '?')} rows, {spec.get('created', '')}"
                )
                items[f"ensemble out-of-fold {ens['metric']}"] = (
                    f"{fmt(ens['oof_score'])} (best single trial {fmt(ens['best_single_oof_score'])}; weights chosen on these "
                    "predictions, so optimistic: `planner run --nested` estimates it honestly)"
                )
                items["stored pipeline"] = str(spec.get("pipeline", "?"))
            else:
                items["stored model"] = f"trial {spec.get('trial', '?')}, refit on {spec.get('n_train_rows', '?')} rows, {spec.get('created', '')}"
            if not ens and spec.get("trial") is not None and int(spec["trial"]) != int(best["trial"]):
                items["stored model"] += " — not the current best trial; `planner run` refits it"
            if record.freshness is not None and record.freshness.is_stale:
                items["STALE MODEL"] = record.freshness.message("DIR")
        else:
            items["stored model"] = record.fitted.reason
        sec.add(key_values(items))
        oof = ctx.oof(record)
        if isinstance(oof, Missing):
            sec.missing(oof.reason)
            continue
        sec.note(oof.note)
        frame = oof.frame
        if record.info.get("task", ctx.spec.task) == "classification":
            sec.add(grid(_classification_figures(ctx, frame, oof.classes)))
            acc = float((frame["prediction"].astype(str) == frame["y_true"].astype(str)).mean())
            sec.markdown.append(f"- **Best {record.name}**: out-of-fold accuracy {acc:.3f} ({len(frame)} rows)")
        else:
            y, p = frame["y_true"].astype(float), frame["prediction"].astype(float)
            mae, rmse = float(np.mean(np.abs(y - p))), float(np.sqrt(np.mean((y - p) ** 2)))
            r2 = 1 - float(np.sum((y - p) ** 2) / np.sum((y - y.mean()) ** 2)) if y.nunique() > 1 else math.nan
            unit = f" {record.unit}" if record.unit else ""
            sec.note(f"Out-of-fold: MAE {fmt(mae)}{unit}, RMSE {fmt(rmse)}{unit}, R² {fmt(r2, 3)} over {len(frame)} rows.")
            sec.add(
                grid(
                    [
                        ctx.figures(F.parity(frame, quantity=record.name, unit=record.unit), height=440),
                        ctx.figures(F.residuals(frame, quantity=record.name, unit=record.unit), height=440),
                    ]
                )
            )
            sec.markdown.append(f"- **Best {record.name}**: out-of-fold MAE {fmt(mae)}{unit}, R² {fmt(r2, 3)} ({len(frame)} rows)")
    return sec


def _classification_figures(ctx: Context, frame: pd.DataFrame, classes: list[Any]) -> list[str]:
    from sklearn.metrics import auc, confusion_matrix, roc_curve

    labels = [str(c) for c in classes] or sorted(frame["y_true"].astype(str).unique())
    y, pred = frame["y_true"].astype(str), frame["prediction"].astype(str)
    out = [ctx.figures(F.confusion(confusion_matrix(y, pred, labels=labels), labels), height=400)]
    proba_cols = [f"proba_{c}" for c in classes if f"proba_{c}" in frame]
    if proba_cols:
        curves = {}
        pairs = list(zip(labels, proba_cols, strict=True))
        for label, col in pairs[-1:] if len(pairs) == 2 else pairs:
            hit = (y == label).to_numpy()
            if 0 < hit.sum() < len(hit):
                fpr, tpr, _ = roc_curve(hit, frame[col].astype(float))
                curves[f"class {label}" if len(pairs) == 2 else f"{label} vs rest"] = (fpr, tpr, float(auc(fpr, tpr)))
        if curves:
            out.append(ctx.figures(F.roc(curves), height=400))
    return out


# 5 ------------------------------------------------------------------------------------------


def search(ctx: Context) -> Section:
    sec = Section("search", "Search")
    for record in ctx.targets:
        ctx.target_heading(sec, record)
        if not record.has_trials:
            sec.missing(record.study.reason if isinstance(record.study, Missing) else "no completed trial yet")
            continue
        trials = record.trials
        figs = [ctx.figures(F.history(trials, ctx.colors, minimize=record.minimize, metric=metric_label(record)), height=400)]
        start = time.perf_counter()
        importances, note = _param_importances(record)
        ctx.timings[f"importances {record.name}"] = time.perf_counter() - start
        if importances is not None:
            figs.append(ctx.figures(F.bars(importances, title="Hyperparameter importance (fANOVA)", x="importance (share of objective variance)"), height=400))
        sec.add(grid(figs))
        if note:
            sec.note(note)
        done = ranked(trials)
        n_top = min(len(done), max(10, int(math.ceil(0.1 * len(done)))))
        top = done.head(n_top)
        sec.heading(f"What the top {n_top} trials chose", 4)
        counts = top["selector"].value_counts()
        figs = [ctx.figures(F.bars(counts, title="Feature-selection method", x=f"trials among the top {n_top} (count)", color=F.PALETTE[2]), height=max(260, 60 + 34 * len(counts)))]
        feature_counts = _selected_feature_counts(top)
        if feature_counts is not None:
            shown = feature_counts.head(25)
            figs.append(ctx.figures(F.bars(shown, title="Features kept", x=f"trials among the top {n_top} (count)", color=F.PALETTE[4]), height=max(260, 60 + 22 * len(shown))))
        sec.add(grid(figs))
        if feature_counts is None:
            sec.missing(
                "Which features each trial kept is not stored (trials record the selection method and its settings, "
                "not the selected columns: a 'selected_features' trial attribute would add the per-feature counts)."
            )
            shap = ctx.shap(record)
            if not isinstance(shap, Missing):
                names = shap[0].feature_names
                sec.note(f"The stored best pipeline feeds {len(names)} features to its model: {', '.join(names)}.")
        sec.markdown.append(f"- **Search {record.name}**: selection methods among the top {n_top}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return sec


def _param_importances(record: TargetRecords) -> tuple[pd.Series | None, str]:
    import optuna

    done = record.trials[record.trials["state"] == "complete"]
    if len(done) < 4:
        return None, f"Hyperparameter importances need at least 4 completed trials; the study has {len(done)}."
    common = set.intersection(*(set(p) for p in done["params"]))
    every = set().union(*(set(p) for p in done["params"]))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            evaluator = optuna.importance.FanovaImportanceEvaluator(n_trees=32, seed=0)
            values = optuna.importance.get_param_importances(record.study, evaluator=evaluator)
    except Exception as err:  # noqa: BLE001 - e.g. a single distinct value everywhere
        return None, f"Hyperparameter importances could not be computed ({type(err).__name__}: {err})."
    if not values:
        return None, "No hyperparameter varies across all completed trials, so there is nothing to rank."
    left_out = sorted(every - common)
    note = (
        f"Importances rank the {len(values)} choices present in every trial; {len(left_out)} conditional parameters "
        "(those of one component only) are not ranked."
        if left_out
        else ""
    )
    return pd.Series(values, dtype=float).sort_values(ascending=False), note


def _selected_feature_counts(top: pd.DataFrame) -> pd.Series | None:
    """Per feature, in how many of ``top`` trials it was kept (``selected_features`` attribute)."""
    stored = top["selected_features"].dropna() if "selected_features" in top else pd.Series(dtype=object)
    if stored.empty:
        return None
    counts: dict[str, int] = {}
    for value in stored:
        flat = [f for part in value for f in (part if isinstance(part, list) else [part])] if isinstance(value, list) else []
        for feature in set(map(str, flat)):
            counts[feature] = counts.get(feature, 0) + 1
    return pd.Series(counts, dtype=int).sort_values(ascending=False) if counts else None


# 6 ------------------------------------------------------------------------------------------


def _explain_target(ctx: Context, record: TargetRecords) -> Any:
    from planner.explain import explain

    if not record.has_model:
        return Missing(record.fitted.reason)
    fitted = record.fitted
    X, y, _ = training_rows(ctx.campaign, record.name, fitted.feature_columns)
    try:
        explanation = explain(fitted, X, max_samples=ctx.max_shap_samples, background=50, seed=int(ctx.spec.seed))
    except Exception as err:  # noqa: BLE001 - the section says why
        return Missing(f"SHAP values could not be computed for the stored pipeline ({type(err).__name__}: {err})")
    rows = explanation.values.index
    return explanation, y.loc[rows], X.loc[rows] if X.index.isin(rows).all() else None


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
    scoring = _SCORERS.get(record.metric, "r2" if record.info.get("task") == "regression" else "accuracy")
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
            s = suggestion_outcomes(ctx.suggestions, ctx.campaign.observations(), [record.name])
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
