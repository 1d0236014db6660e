"""The `planner` command line. Every verb has --help; errors print one paragraph and exit 2."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Annotated, Optional

import typer

try:  # typer >= 0.20 vendors click; its exceptions are the ones raised
    from typer._click import ClickException
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import ClickException

from planner.exceptions import Interrupted, NotBuiltYetError, PlannerError

from planner._cli_app import CampaignDir, TargetOpt, app

@app.command()
def init(
    directory: CampaignDir,
    data: Annotated[Path, typer.Option("--data", "-d", help="CSV with one row per sample (UTF-8, BOM ok).")],
    target: Annotated[
        list[str], typer.Option("--target", "-t", help="NAME:max or NAME:min; repeat for several targets.")
    ],
    id_column: Annotated[Optional[str], typer.Option("--id", help="Column naming each row uniquely.")] = None,
    group: Annotated[
        Optional[str],
        typer.Option("--group", help="Column whose equal values must stay in one CV fold (e.g. composition)."),
    ] = None,
    task: Annotated[
        Optional[str], typer.Option("--task", help="regression or classification (inferred if omitted).")
    ] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Campaign name (default: directory name).")] = None,
    label: Annotated[Optional[str], typer.Option("--label", help="Source label of the data file.")] = None,
    delimiter: Annotated[Optional[str], typer.Option("--delimiter", help="Field separator (detected if omitted).")] = None,
    search_space: Annotated[
        Optional[str], typer.Option("--search-space", help="default, small_data, fast, or a path.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for reproducible trials and suggestions.")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing campaign.yaml.")] = False,
) -> None:
    """Create a campaign from a CSV, inferring column roles; writes DIRECTORY/campaign.yaml.

    The data file is referenced, not copied. Open campaign.yaml afterwards: every inferred role
    has a comment saying why, and columns that would leak the target are listed under data.ignore.
    """
    from planner.campaign import Campaign

    if task is not None and task not in {"regression", "classification"}:
        raise typer.BadParameter(f"--task must be regression or classification, got {task!r}")
    campaign = Campaign.from_csv(
        directory,
        data,
        target,
        id_column=id_column,
        group_column=group,
        task=task,
        name=name,
        label=label,
        delimiter=delimiter,
        search_space=search_space,
        seed=seed,
        force=force,
    )
    spec = campaign.spec
    typer.echo(f"created campaign {spec.name!r} in {directory}/campaign.yaml")
    typer.echo(f"  task: {spec.task}; targets: " + ", ".join(f"{t.name} ({t.direction})" for t in spec.targets))
    roles: dict[str, list[str]] = {}
    for item in spec.inputs:
        roles.setdefault(item.role, []).append(item.name)
    for role, names in roles.items():
        typer.echo(f"  {role} inputs ({len(names)}): {', '.join(names)}")
    if spec.data.ignore:
        typer.echo(f"  ignored ({len(spec.data.ignore)}): {', '.join(spec.data.ignore)} (reasons in campaign.yaml)")
    for w in campaign.source_table().warnings:
        typer.echo(f"  warning: {w}")
    typer.echo(f"next: check the roles in campaign.yaml, then `planner status {directory}`")


@app.command()
def status(
    directory: CampaignDir,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Show observations, best values per target, trials, pending suggestions and warnings."""
    from planner.campaign import Campaign

    snapshot = Campaign.load(directory).status()
    typer.echo(snapshot.to_json() if as_json else snapshot.to_text())


@app.command()
def observe(
    directory: CampaignDir,
    file: Annotated[Path, typer.Argument(help="CSV of new measurements with the campaign's columns.")],
    source: Annotated[Optional[str], typer.Option(help="Label stored with each row (default: file name).")] = None,
    allow_extra: Annotated[
        bool, typer.Option("--allow-extra", help="Drop columns the campaign does not know instead of failing.")
    ] = False,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Store the valid rows and report the invalid ones.")
    ] = False,
    delimiter: Annotated[Optional[str], typer.Option("--delimiter", help="Field separator (detected if omitted).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was stored as JSON.")] = False,
) -> None:
    """Add measurements to the campaign (append-only; re-adding the same rows is a no-op)."""
    from planner.campaign import Campaign

    campaign = Campaign.load(directory)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the report below lists every warning once
        report = campaign.observe(
            file, source=source, allow_extra=allow_extra, skip_invalid=skip_invalid, delimiter=delimiter
        )
    if as_json:
        from dataclasses import asdict

        typer.echo(json.dumps(asdict(report), indent=2, default=str))
    else:
        typer.echo(report.to_text())


@app.command()
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Where to create the demo campaign.")] = Path("demo-campaign"),
    n_initial: Annotated[int, typer.Option("--n-initial", min=2, help="Initial space-filling designs.")] = 12,
    rounds: Annotated[int, typer.Option("--rounds", min=0, help="Suggest -> simulate -> observe rounds.")] = 3,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Suggestions per round.")] = 4,
    trials: Annotated[int, typer.Option("--trials", min=0, help="AutoML trials per target (0 skips).")] = 8,
    seed: Annotated[int, typer.Option(help="Seed of the designs, the simulator noise, search and suggestions.")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing demo campaign directory.")] = False,
) -> None:
    """Run the closed-loop demo against the simulated cell-design lab (PyBaMM), offline.

    Initial Sobol batch -> AutoML search -> leaderboard -> suggest -> simulate -> observe
    (several rounds) -> HTML report.
    """
    from planner.demo import run_demo

    run_demo(
        directory, n_initial=n_initial, rounds=rounds, batch_size=batch, n_trials=trials, seed=seed, force=force, echo=typer.echo
    )



@app.command()
def run(
    directory: CampaignDir,
    trials: Annotated[Optional[int], typer.Option("--trials", "-n", help="Trials to add (default: budget.n_trials).")] = None,
    timeout: Annotated[Optional[float], typer.Option("--timeout", help="Stop starting trials after S seconds.")] = None,
    executor: Annotated[Optional[str], typer.Option("--executor", help="local or ray (default: campaign.yaml).")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", help="Trials in flight at once.")] = None,
    address: Annotated[
        Optional[str],
        typer.Option("--address", help="Ray cluster: auto or ray://host:10001 (needs --executor ray; default: campaign.yaml)."),
    ] = None,
    metric: Annotated[Optional[str], typer.Option("--metric", help="Objective metric, e.g. mae, rmse, r2, f1, roc_auc.")] = None,
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
    from planner.automl import leaderboard as make_leaderboard
    from planner.campaign import Campaign
    from planner.campaign._automl import run_automl

    campaign = Campaign.load(directory)
    if executor is not None and executor not in {"local", "ray"}:
        raise typer.BadParameter(f"--executor must be local or ray, got {executor!r}")
    if nested:
        from planner.campaign._automl import nested_automl

        for name, result in nested_automl(campaign, targets=target, n_trials=trials, timeout_s=timeout, metric=metric, ensemble=ensemble).items():
            typer.echo(f"{name}: nested CV (the whole search inside each outer training fold)")
            typer.echo(result.summary())
            typer.echo(result.to_frame().to_string(index=False))
        return

    def on_trial(target_name, study, trial):  # noqa: ANN001
        attrs = trial.user_attrs
        pipeline = attrs.get("pipeline", "")
        if trial.state.name == "COMPLETE":
            spread = attrs.get("std")
            score = f"{trial.value:.4g}" + (f" \u00b1 {spread:.2g}" if isinstance(spread, float) else "")
            try:
                best_trial = study.best_trial
                best_text = f"best {best_trial.value:.4g} (#{best_trial.number})"
            except ValueError:
                best_text = ""
            typer.echo(f"[{target_name}] trial {trial.number:>4}  {score:<18} {best_text:<22} {pipeline}")
        else:
            reason = str(attrs.get("failure_reason") or "no reason was recorded")
            typer.echo(f"[{target_name}] trial {trial.number:>4}  {trial.state.name.lower():<18} {pipeline}: {reason}")

    studies = run_automl(
        campaign,
        targets=target,
        n_trials=trials,
        timeout_s=_search_budget(timeout),
        executor=executor,
        n_workers=workers,
        metric=metric,
        on_trial=on_trial,
        address=address,
        ensemble=ensemble,
    )
    for name, study in studies.items():
        table = make_leaderboard(study, top=5)
        typer.echo(f"\n{name}: top pipelines ({len(study.trials)} trials in the study)")
        typer.echo(_format_leaderboard(table))
        typer.echo(_format_baselines(study))
        saved = Path(directory) / "models" / name
        spec_file = saved / "pipeline.json"
        if spec_file.exists():
            final = json.loads(spec_file.read_text(encoding="utf-8"))
            kind = "selected ensemble" if final.get("ensemble") else "best pipeline"
            typer.echo(f"{kind} refit on all rows: {saved}/\n  {final.get('pipeline', '')}")
            calibration = final.get("calibration") or {}
            state = f"calibrated from {calibration.get('n')} out-of-fold predictions" if calibration.get("source") else "uncalibrated"
            typer.echo(f"  intervals: {state} ({calibration.get('note', '')})")
    typer.echo(f"\nnext: `planner leaderboard {directory}`, `planner predict {directory} new.csv`")


def _format_leaderboard(table) -> str:  # noqa: ANN001
    if table.empty:
        return "  (no finished trials yet)"
    ranked = table[table["state"] == "complete"]
    view = ranked[["rank", "trial", "score", "metric", "model_family", "fusion", "fit_time_s", "pipeline"]]
    text = view.to_string(index=False, max_colwidth=90) if len(ranked) else "  (no completed trial yet)"
    others = table[table["state"] != "complete"]
    if len(others):  # reasons are printed whole, one per line, never cut
        lines = [f"  trial {int(r.trial):>4} {r.state:<7} {r.pipeline}: {r.failure_reason or 'no reason was recorded'}" for r in others.itertuples()]
        text += "\n\nnot completed (pruned or failed) and why:\n" + "\n".join(lines)
    return text


def _format_baselines(study) -> str:  # noqa: ANN001
    from planner.automl import baselines

    table = baselines(study)
    if table.empty:
        return "baselines: none recorded (the search ran before any trial completed, or predates baselines)"
    parts = [f"{r.baseline} {r.score or r.state} ({r.pipeline}{'; ' + r.reason if r.reason else ''})" for r in table.itertuples()]
    return f"baselines on the same folds ({table['metric'].iloc[0]}): " + " | ".join(parts)


def _search_budget(timeout: float | None) -> float | None:
    """--timeout minus the seconds this process already spent (imports, loading), so the whole
    command ends on time; a budget below the engine's minimum is passed as given (it refuses it)."""
    from planner.automl._driver import MIN_TIMEOUT_S

    if timeout is None or timeout < MIN_TIMEOUT_S:
        return timeout
    spent = time.monotonic() - _CLOCK.get("started", time.monotonic())
    return max(MIN_TIMEOUT_S, timeout - spent)


_CLOCK: dict[str, float] = {}


def _process_age_s() -> float:
    """Seconds since this process started (imports count against --timeout)."""
    try:
        import psutil

        return max(0.0, time.time() - psutil.Process().create_time())
    except Exception:  # noqa: BLE001 - without psutil the budget starts at the search
        return 0.0


@app.command()
def leaderboard(
    directory: CampaignDir,
    top: Annotated[int, typer.Option("--top", "-k", help="Rows to show.")] = 10,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    target: TargetOpt = None,
    include_failed: Annotated[bool, typer.Option("--failed", help="Also list failed and pruned trials.")] = False,
) -> None:
    """Rank the pipelines tried so far (mean +/- std of the metric over CV folds)."""
    from planner.automl import leaderboard as make_leaderboard
    from planner.campaign import Campaign
    from planner.campaign._automl import load_study

    if fmt not in {"table", "csv", "json"}:
        raise typer.BadParameter(f"--format must be table, csv or json, got {fmt!r}")
    campaign = Campaign.load(directory)
    for name in target or campaign.spec.target_names:
        table = make_leaderboard(load_study(campaign, name), top=top, include_failed=include_failed)
        if fmt == "csv":
            from planner.io import spreadsheet_safe

            typer.echo(spreadsheet_safe(table.assign(target=name)).to_csv(index=False), nl=False)
        elif fmt == "json":
            typer.echo(table.assign(target=name).to_json(orient="records", indent=2))
        else:
            direction = next(t.direction for t in campaign.spec.targets if t.name == name)
            typer.echo(f"{name} (target to {direction}imise; pipelines ranked by their CV metric)")
            typer.echo(_format_leaderboard(table))
            typer.echo(_format_baselines(load_study(campaign, name)))


@app.command()
def predict(
    directory: CampaignDir,
    file: Annotated[Path, typer.Argument(help="CSV with the campaign's input columns.")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write predictions here (default: print).")] = None,
    target: TargetOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the predictions as JSON records.")] = False,
    interval: Annotated[
        Optional[list[float]],
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
    from planner.campaign._automl import predict_table

    campaign = Campaign.load(directory)
    table = predict_table(campaign, file, targets=target, interval=interval)
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


@app.command()
def quality(
    directory: CampaignDir,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 2 if any check fails (after saving).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Assess the data: accuracy, consistency, validity, completeness, timeliness, uniqueness.

    Prints the report and saves it under DIRECTORY/quality/ (JSON, text and CSV tables of the
    offending rows), so the HTML report and lab notebooks can use it.
    """
    import json

    from planner.campaign import Campaign
    from planner.campaign._quality import quality_report

    campaign = Campaign.load(directory)
    report = quality_report(campaign)
    typer.echo(json.dumps(report.to_dict(), indent=2, default=str) if as_json else report.to_text())
    typer.echo(f"saved: {Path(directory) / 'quality'}/", err=True)
    if strict:
        report.raise_for_failures()


import planner._cli_lab  # noqa: E402, F401 - registers suggest, suggestions, backtest, report


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `planner` script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    # the clock of --timeout: from here, or from process start when run as the `planner` script
    _CLOCK["started"] = time.monotonic() - (_process_age_s() if argv is None else 0.0)
    debug = "--debug" in args
    if not debug:
        warnings.showwarning = _show_warning
    previous_sigint = _catch_sigint()
    try:
        command = typer.main.get_command(app)
        result = command.main(args=args, prog_name="planner", standalone_mode=False)
        return int(result) if isinstance(result, int) else 0
    except Interrupted:
        print(
            "interrupted: everything stored before the interruption is kept (running trials are marked "
            "failed with the reason 'interrupted'); run the same command again to continue",
            file=sys.stderr,
        )
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except ClickException as exc:
        exc.show()
        return exc.exit_code
    except typer.Abort:
        print("aborted", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted; everything stored before the interruption is kept", file=sys.stderr)
        return 130
    except PlannerError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 3 if isinstance(exc, NotBuiltYetError) else 2
    except Exception as exc:  # noqa: BLE001 - last resort: never a bare traceback for users
        if debug:
            raise
        storage = _storage_failure(exc)
        if storage is not None:
            print(f"error: {storage}", file=sys.stderr)
            return 2
        print(
            f"internal error: {type(exc).__name__}: {exc}\nThis is a bug in planner. Re-run with --debug for "
            "the traceback and report it.",
            file=sys.stderr,
        )
        return 1
    finally:
        if previous_sigint is not None:
            signal.signal(signal.SIGINT, previous_sigint)


def _storage_failure(exc: BaseException) -> str | None:
    """A message for a write the file system refused (read-only, full, size limit), else None."""
    import errno

    from planner.io._atomic import _STORAGE_ERRNOS, unwritable

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _STORAGE_ERRNOS:
            return str(unwritable(Path(exc.filename or "a campaign file"), exc))
        text = str(exc).lower()
        if "readonly database" in text or "read-only file system" in text:
            return str(unwritable(Path("optuna.db"), OSError(errno.EROFS, "read-only")))
        if "database or disk is full" in text or "file too large" in text:
            return str(unwritable(Path("optuna.db"), OSError(errno.ENOSPC, "disk full")))
        exc = exc.__cause__ or exc.__context__
    return None


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted()


def _catch_sigint():  # noqa: ANN202 - the previous handler, or None off the main thread
    """Ctrl-C raises :class:`Interrupted` (typer would swallow a KeyboardInterrupt silently)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, _raise_interrupted)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def _script() -> None:
    """Console-script wrapper: exit with :func:`main`'s code."""
    sys.exit(main())
