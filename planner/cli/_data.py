"""`planner` verbs of a campaign's data: init, status, observe, quality, and the closed-loop demo."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Annotated

import typer

from planner.cli._app import CampaignDir
from planner.layout import QUALITY_DIR, SPEC_FILE


def init(
    directory: CampaignDir,
    data: Annotated[Path, typer.Option("--data", "-d", help="CSV with one row per sample (UTF-8, BOM ok).")],
    target: Annotated[
        list[str], typer.Option("--target", "-t", help="NAME:max or NAME:min; repeat for several targets.")
    ],
    id_column: Annotated[str | None, typer.Option("--id", help="Column naming each row uniquely.")] = None,
    group: Annotated[
        str | None,
        typer.Option("--group", help="Column whose equal values must stay in one CV fold (e.g. composition)."),
    ] = None,
    task: Annotated[
        str | None, typer.Option("--task", help="regression or classification (inferred if omitted).")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Campaign name (default: directory name).")] = None,
    label: Annotated[str | None, typer.Option("--label", help="Source label of the data file.")] = None,
    delimiter: Annotated[str | None, typer.Option("--delimiter", help="Field separator (detected if omitted).")] = None,
    search_space: Annotated[
        str | None, typer.Option("--search-space", help="default, small_data, fast, or a path.")
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
    typer.echo(f"created campaign {spec.name!r} in {directory}/{SPEC_FILE}")
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
    if spec.design_space.pool is not None:
        measured = len(campaign.labelled_data())
        start = "cold start: no row is measured yet" if not measured else f"{measured} row(s) are measured"
        typer.echo(
            f"  {start}; design_space.pool is {spec.design_space.pool}, so its unmeasured rows are the candidates"
        )
        if spec.task != "regression":
            typer.echo("  note: suggestions need a regression target (task: regression); `planner run` works for classification")
        first = " for a space-filling first batch" if not measured else ""
        typer.echo(f"next: check the roles in campaign.yaml, then `planner suggest {directory}`{first}")
        return
    typer.echo(f"next: check the roles in campaign.yaml, then `planner status {directory}`")


def status(
    directory: CampaignDir,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Show observations, best values per target, trials, pending suggestions and warnings."""
    from planner.campaign import Campaign

    snapshot = Campaign.load(directory).status()
    typer.echo(snapshot.to_json() if as_json else snapshot.to_text())


def observe(
    directory: CampaignDir,
    file: Annotated[Path, typer.Argument(help="CSV of new measurements with the campaign's columns.")],
    source: Annotated[str | None, typer.Option(help="Label stored with each row (default: file name).")] = None,
    allow_extra: Annotated[
        bool, typer.Option("--allow-extra", help="Drop columns the campaign does not know instead of failing.")
    ] = False,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Store the valid rows and report the invalid ones.")
    ] = False,
    delimiter: Annotated[str | None, typer.Option("--delimiter", help="Field separator (detected if omitted).")] = None,
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


def quality(
    directory: CampaignDir,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 2 if any check fails (after saving).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Assess the data: accuracy, consistency, validity, completeness, timeliness, uniqueness.

    Prints the report and saves it under DIRECTORY/quality/ (JSON, text and CSV tables of the
    offending rows), so the HTML report and lab notebooks can use it.
    """
    from planner.campaign import Campaign

    report = Campaign.load(directory).assess_quality()
    typer.echo(json.dumps(report.to_dict(), indent=2, default=str) if as_json else report.to_text())
    typer.echo(f"saved: {Path(directory) / QUALITY_DIR}/", err=True)
    if strict:
        report.raise_for_failures()


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
