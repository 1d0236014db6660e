"""Sections 1-5: summary, data quality, leaderboard, best pipeline, search. Each reads the gathered
records (:class:`~planner.report._context.Context`) and says plainly what is missing."""

from __future__ import annotations

import math
import time
import warnings
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

import planner.report._figures as F
from planner.report._context import N_LEADERBOARD, UNIT_METRICS, Context, metric_label
from planner.report._html import Section, badge, details, esc, fmt, grid, key_values, table
from planner.report._records import Missing, TargetRecords
from planner.report._sources import ranked

# 1 ------------------------------------------------------------------------------------------


def summary(ctx: Context) -> Section:
    sec = Section("summary", "Campaign summary")
    spec, inputs = ctx.spec, ctx.inputs
    sources = inputs.sources
    observed = inputs.observations
    by_source = sources["_source"].value_counts(sort=False) if len(sources) else pd.Series(dtype=int)
    source_text = "; ".join(f"{name} ({n} rows, {src.path})" for (name, n), src in zip(by_source.items(), spec.data.sources, strict=False)) or "none (all rows observed in the campaign)"
    targets = ", ".join(f"{t.name} ({t.direction}{', ' + t.unit if t.unit else ''})" for t in spec.targets)
    items = {
        "campaign": f"{spec.name} — {spec.description}" if spec.description else spec.name,
        "directory": str(inputs.paths.directory),
        "task": spec.task,
        "data sources": source_text,
        "rows": f"{len(sources) + len(observed)} ({len(sources)} from data sources, {len(observed)} observed in the campaign)",
        "inputs": f"{len(spec.inputs)}: " + ", ".join(i.name + (f" [{i.unit}]" if i.unit else "") for i in spec.inputs),
        "targets and directions": targets,
    }
    md = [f"- **Campaign** {spec.name} ({spec.task}), {len(sources) + len(observed)} rows ({len(observed)} observed here); targets: {targets}"]
    data = inputs.data
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
    items["report generated"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    spec_path = inputs.paths.spec_file
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
                f"{record.metric} mean" + (f" ({record.unit})" if record.unit and record.metric in UNIT_METRICS else ""): top["mean"],
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


def _when(path: Any) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
