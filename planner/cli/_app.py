"""The `planner` command-line application object and the argument types its verbs share.

The verbs live in :mod:`planner.cli._data`, :mod:`planner.cli._search` and :mod:`planner.cli._lab`;
:mod:`planner.cli` registers them on :data:`app` (in `planner --help` order) and holds the entry
point (:func:`planner.cli.main`).
Each verb is one :class:`planner.campaign.Campaign` call plus formatting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from planner._version import __version__

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


TargetOpt = Annotated[
    list[str] | None, typer.Option("--target", help="Only this target (repeatable); default: every target.")
]

#: ``CLOCK["started"]``: the :func:`time.monotonic` reading the command started at (set by
#: :func:`planner.cli.main`); `planner run --timeout` counts from it.
CLOCK: dict[str, float] = {}
