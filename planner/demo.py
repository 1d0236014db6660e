"""`planner demo`: a closed loop against the simulated cell-design lab, offline.

The lab (:mod:`planner.simlab`, PyBaMM) stands in for real experiments: the campaign receives
its results as CSV files, exactly as it would from a real lab, through
:meth:`Campaign.observe`. Failed simulations are kept in ``failed_experiments.csv`` with the
reason, as a lab notebook would keep failed runs.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from planner.campaign import Campaign
from planner.exceptions import CampaignExistsError
from planner.io import atomic_write_text
from planner.layout import (
    FAILED_FILE,
    MEASUREMENTS_DIR,
    MODELS_DIR,
    OBSERVATIONS_FILE,
    SPEC_FILE,
    SUGGESTIONS_FILE,
    measurements_path,
)
from planner.spec import CampaignSpec, DesignSpace, InputSpec, TargetSpec

Echo = Callable[[str], None]

#: The discharge rate the application requires (a power tool, a drone: the cell must deliver 2C).
#: It is a condition, not a design choice: left free, the optimiser would discharge at the
#: slowest rate allowed, which gives both the most energy and the least heat (a trivial optimum).
#: At a required rate, thicker and denser electrodes store more energy but heat up more: the
#: two objectives conflict and the Pareto front is real.
REQUIRED_C_RATE = 2.0


def demo_design_space():  # noqa: ANN201 - a planner.simlab.CellDesignSpace
    """The lab's design space without the C-rate, which the demo fixes at :data:`REQUIRED_C_RATE`."""
    import dataclasses

    from planner.simlab import CellDesignSpace

    full = CellDesignSpace()
    return dataclasses.replace(full, parameters=tuple(p for p in full.parameters if p.name != "c_rate"))


def cell_design_spec(space, *, name: str = "cell_design", seed: int = 0) -> CampaignSpec:  # noqa: ANN001
    """The campaign spec of the simulated lab's design space (inputs, two objectives, ranges).

    Both objectives have the physical lower bound 0 (no negative energy density; the cell only
    warms up while it is discharged at 2C), which predictions and suggestions respect.
    """
    return CampaignSpec(
        name=name,
        description=(
            "Virtual cell-design lab (PyBaMM): choose electrode thicknesses, porosities and particle radius "
            f"of a cell that must deliver a {REQUIRED_C_RATE:g}C discharge, to maximise stack energy density "
            "while keeping the temperature rise low (thicker electrodes store more but heat more)."
        ),
        inputs=[InputSpec(name=p.name, role="numeric", unit=p.unit) for p in space.parameters],
        targets=[TargetSpec(name=o.name, direction=o.direction, unit=o.unit, lower=0.0) for o in space.objectives],
        design_space=DesignSpace(ranges=dict(space.bounds)),
        search_space="fast",
        seed=seed,
    )


def _record_failures(directory: Path, failed: pd.DataFrame) -> None:
    if failed.empty:
        return
    path = directory / FAILED_FILE
    previous = pd.read_csv(path) if path.exists() else pd.DataFrame()
    combined = pd.concat([previous, failed], ignore_index=True)
    atomic_write_text(path, combined.to_csv(index=False))


def measure_and_observe(
    campaign: Campaign, lab, designs: pd.DataFrame, *, round_index: int, echo: Echo  # noqa: ANN001
) -> pd.DataFrame:
    """Run ``designs`` in the lab, hand the results to the campaign as a CSV file; return the results.

    A ``suggestion_id`` column in ``designs`` is carried into the measurement file, as a lab would
    note which suggestion a sample answers, so the campaign links results to suggestions.
    """
    inputs, targets = campaign.spec.input_names, campaign.spec.target_names
    started = time.perf_counter()
    to_run = designs[inputs].copy()
    missing = [name for name in lab.space.parameter_names if name not in to_run.columns]
    if missing == ["c_rate"]:
        to_run["c_rate"] = REQUIRED_C_RATE  # the operating condition every design must meet
    results = lab.measure(to_run[list(lab.space.parameter_names)])
    elapsed = time.perf_counter() - started
    link = ["suggestion_id"] if "suggestion_id" in designs else []
    if link:
        results["suggestion_id"] = designs["suggestion_id"].to_numpy()
    ok = results[results["status"] == "ok"]
    failed = results[results["status"] != "ok"].assign(round=round_index)
    measurements = measurements_path(campaign.directory, round_index)
    measurements.parent.mkdir(exist_ok=True)
    atomic_write_text(measurements, ok[link + inputs + targets].to_csv(index=False))
    _record_failures(campaign.directory, failed)
    report = campaign.observe(measurements, source="simlab")
    echo(
        f"  round {round_index}: simulated {len(results)} designs in {elapsed:.1f} s, "
        f"{len(ok)} ok, {len(failed)} failed; stored {report.n_added} observations"
    )
    for _, row in failed.iterrows():
        echo(f"    failed design: {row['failure_reason']}")
    return results


def _best_line(campaign: Campaign) -> str:
    from planner.active import pareto_front

    data = campaign.labelled_data()
    spec = campaign.spec
    parts = []
    for t in spec.targets:
        best = data[t.name].max() if t.direction == "max" else data[t.name].min()
        parts.append(f"best {t.name} {best:.4g}")
    front = pareto_front(data[spec.target_names], [(t.name, t.direction) for t in spec.targets])
    return ", ".join(parts) + f"; Pareto front: {len(front)} of {len(data)} designs"


def run_demo(
    directory: str | Path,
    *,
    n_initial: int = 12,
    rounds: int = 3,
    batch_size: int = 4,
    n_trials: int = 8,
    seed: int = 0,
    force: bool = False,
    echo: Echo = print,
) -> Campaign:
    """The closed loop against the simulated lab: measure a space-filling batch, search
    pipelines, suggest, simulate, observe (``rounds`` times), then write the report.

    Args:
        directory: where the campaign is created.
        n_initial: designs in the initial Sobol batch.
        rounds: suggest -> simulate -> observe rounds after the initial batch.
        batch_size: suggestions per round.
        n_trials: AutoML trials per target (``fast`` search space); 0 skips the search.
        seed: seeds the initial design, the simulator noise, the search and the suggestions.
        force: replace an existing demo campaign directory.
        echo: where progress lines go.
    """
    from planner.simlab import CellDesignLab, initial_design

    started = time.perf_counter()
    directory = Path(directory)
    if directory.exists():
        if not force:
            raise CampaignExistsError(
                f"{directory} already exists; pass --force to replace it or --dir to choose another directory."
            )
        if (directory / SPEC_FILE).exists() or not any(directory.iterdir()):
            shutil.rmtree(directory)
        else:
            raise CampaignExistsError(
                f"{directory} exists and is not a planner campaign; refusing to delete it. Choose another --dir."
            )
    space = demo_design_space()
    spec = cell_design_spec(space, seed=seed)
    campaign = Campaign.create(
        directory,
        spec,
        header="Demo campaign written by `planner demo`: a virtual cell-design lab simulated with PyBaMM.",
    )
    echo(f"planner demo: campaign {spec.name!r} in {directory}/")
    echo("  design space: " + ", ".join(f"{p.name} [{p.low:g}, {p.high:g}]" for p in space.parameters))
    echo("  objectives:   " + ", ".join(f"{o.name} ({o.direction})" for o in space.objectives)
         + f", at a required {REQUIRED_C_RATE:g}C discharge")
    echo("  starting the simulated lab (PyBaMM DFN model)...")
    lab = CellDesignLab(seed=seed)

    echo(f"\n[1] initial batch: {n_initial} Sobol designs")
    measure_and_observe(campaign, lab, initial_design(space, n_initial, seed=seed), round_index=0, echo=echo)
    echo(f"  {_best_line(campaign)}")

    if n_trials > 0:
        echo(f"\n[2] AutoML search: {n_trials} pipelines per target ('fast' space, repeated CV)")
        studies = campaign.search(n_trials=n_trials)
        for target in studies:
            top = campaign.leaderboard(target, top=3)
            echo(f"  {target}: top pipelines (metric {top['metric'].iloc[0] if len(top) else '?'})")
            for _, row in top.iterrows():
                echo(f"    #{int(row['rank'])} {row['score']:<18} {row['pipeline']}")

    for r in range(1, rounds + 1):
        echo(f"\n[3.{r}] suggest {batch_size} designs (BoTorch GP, qLogNEHVI), simulate, observe")
        table, metadata = campaign.suggest(batch_size)
        for line in metadata.get("fallbacks", ()):
            echo(f"  note: {line}")
        for _, row in table.iterrows():
            echo(f"  {row['_suggestion_id']}: {row['reason']}")
        designs = table[spec.input_names].assign(suggestion_id=table["_suggestion_id"].to_numpy())
        measure_and_observe(campaign, lab, designs, round_index=r, echo=echo)
        echo(f"  {_best_line(campaign)}")

    if n_trials > 0 and rounds > 0:
        # The models were refit on the initial batch; the rounds added rows. Catch up as a lab
        # would: a new study per target re-scores the best pipelines on all rows, then refits.
        n_rows = len(campaign.labelled_data())
        echo(f"\n[4] refresh the models on all {n_rows} rows (the rounds added observations)")
        campaign.search(n_trials=max(2, n_trials // 2))
        for target in spec.target_names:
            echo(f"  {target}: refit on {n_rows} rows")

    echo("\n[5] report")
    result = campaign.report()
    echo("")
    echo(campaign.status().to_text())
    echo("")
    echo(f"done in {time.perf_counter() - started:.0f} s. Open {result.html_path} in a browser.")
    echo(
        f"results: {directory}/{OBSERVATIONS_FILE} (all measurements), {directory}/{SUGGESTIONS_FILE} (every "
        f"suggestion and its status), {directory}/{MEASUREMENTS_DIR}/ (per round), {directory}/{MODELS_DIR}/ (final model per target: the selected ensemble)"
    )
    echo(f"continue by hand: planner suggest {directory} -n 4; planner observe {directory} results.csv")
    return campaign
