"""`planner` verbs of the AutoML search: run, leaderboard, predict."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from planner.cli._app import CLOCK, CampaignDir, TargetOpt
from planner.layout import model_dir


def run(
    directory: CampaignDir,
    trials: Annotated[int | None, typer.Option("--trials", "-n", help="Trials to add (default: budget.n_trials).")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Stop starting trials after S seconds.")] = None,
    executor: Annotated[str | None, typer.Option("--executor", help="local or ray (default: campaign.yaml).")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Trials in flight at once.")] = None,
    address: Annotated[
        str | None,
        typer.Option("--address", help="Ray cluster: auto or ray://host:10001 (needs --executor ray; default: campaign.yaml)."),
    ] = None,
    metric: Annotated[str | None, typer.Option("--metric", help="Objective metric, e.g. mae, rmse, r2, f1, roc_auc, balanced_accuracy (which also predicts with the class-prior-corrected decision).")] = None,
    target: TargetOpt = None,
    nested: Annotated[
        bool,
        typer.Option("--nested", help="Estimate the whole search honestly by nested CV (--trials per outer fold)."),
    ] = False,
    ensemble: Annotated[
        bool,
        typer.Option(
            "--ensemble/--single",
            help="Save (and with --nested, score) the ensemble that ensemble selection builds from the best trials' "
            "out-of-fold predictions (default), or the single best pipeline.",
        ),
    ] = True,
) -> None:
    """Launch (or continue) the AutoML search: an Optuna study over whole pipelines, scored by CV.

    Each trial is one pipeline (data quality, features, selection, model or fusion), scored by
    repeated (grouped, stratified) cross-validation and stored in the campaign's Optuna storage.
    Re-running continues the same study. The final model (a weighted ensemble of the best
    pipelines chosen by ensemble selection on their out-of-fold predictions, or with --single
    the best pipeline) is refit on all rows and saved under models/<target>/. Inspect the storage with `optuna-dashboard sqlite:///DIR/optuna.db`.
    """
    from planner.campaign import Campaign

    campaign = Campaign.load(directory)
    if executor is not None and executor not in {"local", "ray"}:
        raise typer.BadParameter(f"--executor must be local or ray, got {executor!r}")
    if nested:
        results = campaign.search(targets=target, n_trials=trials, timeout_s=timeout, metric=metric, ensemble=ensemble, nested=True)
        for name, result in results.items():
            typer.echo(f"{name}: nested CV (the whole search inside each outer training fold)")
            typer.echo(result.summary())
            typer.echo(result.to_frame().to_string(index=False))
        return

    def on_trial(event) -> None:  # noqa: ANN001 - a planner.campaign.TrialEvent
        if event.state == "complete":
            score = f"{event.value:.4g}" + (f" \u00b1 {event.std:.2g}" if isinstance(event.std, float) else "")
            best_text = f"best {event.best_value:.4g} (#{event.best_number})" if event.best_value is not None else ""
            typer.echo(f"[{event.target}] trial {event.number:>4}  {score:<18} {best_text:<22} {event.pipeline}")
        else:
            reason = event.failure_reason or "no reason was recorded"
            typer.echo(f"[{event.target}] trial {event.number:>4}  {event.state:<18} {event.pipeline}: {reason}")

    studies = campaign.search(
        targets=target,
        n_trials=trials,
        timeout_s=timeout,
        started_at=CLOCK.get("started"),
        executor=executor,
        n_workers=workers,
        metric=metric,
        on_trial=on_trial,
        address=address,
        ensemble=ensemble,
    )
    for name, study in studies.items():
        typer.echo(f"\n{name}: top pipelines ({len(study.trials)} trials in the study)")
        typer.echo(_format_leaderboard(campaign.leaderboard(name, top=5)))
        typer.echo(_format_baselines(campaign.baselines(name)))
        final = campaign.model_info(name)
        behind = _behind_the_dummy(study.direction.name.lower(), campaign.baselines(name), final)
        if behind:
            typer.echo(f"warning: {behind}", err=True)
        if final is not None:
            saved = model_dir(directory, name)
            kind = "selected ensemble" if final.get("ensemble") else "best pipeline"
            typer.echo(f"{kind} refit on all rows: {saved}/\n  {final.get('pipeline', '')}")
            calibration = final.get("calibration") or {}
            state = f"calibrated from {calibration.get('n')} out-of-fold predictions" if calibration.get("source") else "uncalibrated"
            typer.echo(f"  intervals: {state} ({calibration.get('note', '')})")
    typer.echo(f"\nnext: `planner leaderboard {directory}`, `planner predict {directory} new.csv`")


def _behind_the_dummy(direction: str, baselines, final: dict | None) -> str | None:  # noqa: ANN001 - a frame
    """A line when the saved model (``final``: its ``pipeline.json``, with its own cross-validated
    score) scores no better than predicting the mean (the majority class) on the same folds."""
    dummy = baselines[baselines["baseline"].isin(["mean", "majority"]) & baselines["mean"].notna()]
    cv = (final or {}).get("cv") or {}
    if dummy.empty or cv.get("mean") is None:
        return None
    saved, base = float(cv["mean"]), float(dummy["mean"].iloc[0])
    if (saved < base) if direction == "minimize" else (saved > base):
        return None
    return (
        f"the saved model ({saved:.4g}) does no better than predicting the {dummy['baseline'].iloc[0]} ({base:.4g}, "
        f"{dummy['metric'].iloc[0]} on the same folds): do not trust its predictions; measure more, more varied rows"
    )


def _format_leaderboard(table) -> str:  # noqa: ANN001
    if table.empty:
        return "  (no finished trials yet)"
    ranked = table[table["state"] == "complete"]
    columns = ["rank", "trial", "score", "metric", "model_family", "fusion", "fit_time_s", "pipeline"]
    partial = bool(len(ranked)) and bool((ranked["fidelity"] < 1.0).any())
    if partial:  # some scores were measured on a share of the rows/folds: say which
        ranked = ranked.assign(fidelity=[f"{f:.0%}" for f in ranked["fidelity"]])
        columns.insert(3, "fidelity")
    text = ranked[columns].to_string(index=False, max_colwidth=90) if len(ranked) else "  (no completed trial yet)"
    if partial:
        text += (
            "\n  fidelity: share of the full cross-validation's training work a score was measured with (rows x folds). "
            "A lower-fidelity score ranks below full ones unless it beats them by more than its fold spread."
        )
    others = table[table["state"] != "complete"]
    if len(others):  # reasons are printed whole, one per line, never cut
        lines = [f"  trial {int(r.trial):>4} {r.state:<7} {r.pipeline}: {r.failure_reason or 'no reason was recorded'}" for r in others.itertuples()]
        text += "\n\nnot completed (pruned or failed) and why:\n" + "\n".join(lines)
    return text


def _format_baselines(table) -> str:  # noqa: ANN001 - Campaign.baselines' frame
    if table.empty:
        return "baselines: none recorded (the search ran before any trial completed, or predates baselines)"
    parts = [f"{r.baseline} {r.score or r.state} ({r.pipeline}{'; ' + r.reason if r.reason else ''})" for r in table.itertuples()]
    return f"baselines on the same folds ({table['metric'].iloc[0]}): " + " | ".join(parts)


def leaderboard(
    directory: CampaignDir,
    top: Annotated[int, typer.Option("--top", "-k", help="Rows to show.")] = 10,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    target: TargetOpt = None,
    include_failed: Annotated[bool, typer.Option("--failed", help="Also list failed and pruned trials.")] = False,
) -> None:
    """Rank the pipelines tried so far (mean +/- std of the metric over CV folds)."""
    from planner.campaign import Campaign

    if fmt not in {"table", "csv", "json"}:
        raise typer.BadParameter(f"--format must be table, csv or json, got {fmt!r}")
    campaign = Campaign.load(directory)
    for name in target or campaign.spec.target_names:
        table = campaign.leaderboard(name, top=top, include_failed=include_failed)
        if fmt == "csv":
            from planner.io import spreadsheet_safe

            typer.echo(spreadsheet_safe(table.assign(target=name)).to_csv(index=False), nl=False)
        elif fmt == "json":
            typer.echo(table.assign(target=name).to_json(orient="records", indent=2))
        else:
            direction = next(t.direction for t in campaign.spec.targets if t.name == name)
            typer.echo(f"{name} (target to {direction}imise; pipelines ranked by their CV metric)")
            typer.echo(_format_leaderboard(table))
            typer.echo(_format_baselines(campaign.baselines(name)))


def predict(
    directory: CampaignDir,
    file: Annotated[Path, typer.Argument(help="CSV with the campaign's input columns.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write predictions here (default: print).")] = None,
    target: TargetOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the predictions as JSON records.")] = False,
    interval: Annotated[
        list[float] | None,
        typer.Option(
            "--interval",
            help="Coverage of the conformal intervals (prediction sets for classification), between 0 and 1; "
            "repeat for several levels (columns then end in _80, _95...). Default 0.9.",
        ),
    ] = None,
) -> None:
    """Predict new rows with each target's saved model (models/<target>/): calibrated intervals and flags.

    Per target: prediction, std (the model's own spread, not an interval), conformal lower/upper
    (or a prediction set), whether the row is inside the model's applicability domain (and why
    not), whether the prediction lies far outside the observed targets or was clipped to a
    declared bound, and a note.
    """
    from planner.campaign import Campaign

    table = Campaign.load(directory).predict(file, targets=target, interval=interval)
    for line in table.attrs.get("notes", ()):
        typer.echo(f"note: {line}", err=True)
    if as_json and out is None:
        typer.echo(table.to_json(orient="records", double_precision=10))
    elif out is None:
        typer.echo(table.to_string(index=False))
    else:
        from planner.io import write_export_csv

        write_export_csv(out, table)
        typer.echo(f"wrote {len(table)} predictions to {out}")
