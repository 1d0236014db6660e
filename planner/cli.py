"""The `planner` command line. Every verb has --help; errors print one paragraph and exit 2."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Annotated, Optional

import click
import typer

from planner._version import __version__
from planner.exceptions import NotBuiltYetError, PlannerError

app = typer.Typer(
    name="planner",
    help=(
        "AutoML and Bayesian active-learning experiment planner for battery-materials research.\n\n"
        "A campaign is a directory with campaign.yaml and its state. Typical loop: init -> run -> "
        "leaderboard -> suggest -> (measure in the lab) -> observe -> ... -> report."
    ),
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

CampaignDir = Annotated[Path, typer.Argument(help="The campaign directory (holds campaign.yaml).", show_default=False)]
_ISSUES = {
    "run": "the AutoML search (issue #4)",
    "leaderboard": "the AutoML search (issue #4)",
    "predict": "the AutoML search (issue #4)",
    "suggest": "Bayesian active learning (issue #5)",
    "backtest": "Bayesian active learning (issue #5)",
    "report": "the HTML leaderboard report (issue #6)",
    "quality": "the data-quality report (issue #3)",
}


def _not_built(verb: str) -> None:
    raise NotBuiltYetError(
        f"`planner {verb}` is not built yet; it arrives with {_ISSUES[verb]}. Nothing was changed."
    )


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"planner {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """planner: AutoML + Bayesian active learning for battery-materials experiments."""


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
        raise click.BadParameter(f"--task must be regression or classification, got {task!r}")
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
) -> None:
    """Add measurements to the campaign (append-only; re-adding the same rows is a no-op)."""
    from planner.campaign import Campaign

    campaign = Campaign.load(directory)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the report below lists every warning once
        report = campaign.observe(
            file, source=source, allow_extra=allow_extra, skip_invalid=skip_invalid, delimiter=delimiter
        )
    typer.echo(report.to_text())


@app.command()
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Where to create the demo campaign.")] = Path("demo-campaign"),
    n_initial: Annotated[int, typer.Option("--n-initial", min=2, help="Initial space-filling designs.")] = 12,
    seed: Annotated[int, typer.Option(help="Seed of the initial design and the simulator noise.")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing demo campaign directory.")] = False,
) -> None:
    """Run the closed-loop demo against the simulated cell-design lab (PyBaMM), offline."""
    from planner.demo import run_demo

    run_demo(directory, n_initial=n_initial, seed=seed, force=force, echo=typer.echo)


@app.command()
def run(directory: CampaignDir) -> None:
    """Launch the AutoML search: an Optuna study over whole pipelines, scored by cross-validation."""
    _not_built("run")


@app.command()
def leaderboard(directory: CampaignDir) -> None:
    """Rank the pipelines tried so far (mean +/- spread over CV folds)."""
    _not_built("leaderboard")


@app.command()
def predict(directory: CampaignDir) -> None:
    """Predict new rows with the best (or a chosen) pipeline, with uncertainty where available."""
    _not_built("predict")


@app.command()
def suggest(directory: CampaignDir) -> None:
    """Propose the next experiments by Bayesian active learning (pending until observed)."""
    _not_built("suggest")


@app.command()
def backtest(directory: CampaignDir) -> None:
    """Replay acquisition strategies on a fully labelled pool (Top%, EF, AF)."""
    _not_built("backtest")


@app.command()
def report(directory: CampaignDir) -> None:
    """Write a self-contained HTML report of the campaign."""
    _not_built("report")


@app.command()
def quality(directory: CampaignDir) -> None:
    """Print and save the data-quality report (accuracy, consistency, validity, ...)."""
    _not_built("quality")


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `planner` script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if not debug:
        warnings.showwarning = _show_warning
    try:
        command = typer.main.get_command(app)
        result = command.main(args=args, prog_name="planner", standalone_mode=False)
        return int(result) if isinstance(result, int) else 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
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
        print(
            f"internal error: {type(exc).__name__}: {exc}\nThis is a bug in planner. Re-run with --debug for "
            "the traceback and report it.",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def _script() -> None:
    """Console-script wrapper: exit with :func:`main`'s code."""
    sys.exit(main())
