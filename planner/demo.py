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
from planner.spec import CampaignSpec, DesignSpace, InputSpec, TargetSpec

Echo = Callable[[str], None]


def cell_design_spec(space, *, name: str = "cell_design", seed: int = 0) -> CampaignSpec:  # noqa: ANN001
    """The campaign spec of the simulated lab's design space (inputs, two objectives, ranges)."""
    lower = {"max": 0.0, "min": None}
    return CampaignSpec(
        name=name,
        description=(
            "Virtual cell-design lab (PyBaMM): choose electrode thicknesses, porosities, particle "
            "radius and C-rate to maximise stack energy density while keeping the temperature rise low."
        ),
        inputs=[InputSpec(name=p.name, role="numeric", unit=p.unit) for p in space.parameters],
        targets=[
            TargetSpec(name=o.name, direction=o.direction, unit=o.unit, lower=lower[o.direction])
            for o in space.objectives
        ],
        design_space=DesignSpace(ranges=dict(space.bounds)),
        search_space="fast",
        seed=seed,
    )


def _record_failures(directory: Path, failed: pd.DataFrame) -> None:
    if failed.empty:
        return
    path = directory / "failed_experiments.csv"
    previous = pd.read_csv(path) if path.exists() else pd.DataFrame()
    combined = pd.concat([previous, failed], ignore_index=True)
    atomic_write_text(path, combined.to_csv(index=False))


def measure_and_observe(
    campaign: Campaign, lab, designs: pd.DataFrame, *, round_index: int, echo: Echo  # noqa: ANN001
) -> pd.DataFrame:
    """Run ``designs`` in the lab, hand the results to the campaign as a CSV file; return the results."""
    started = time.perf_counter()
    results = lab.measure(designs)
    elapsed = time.perf_counter() - started
    inputs, targets = campaign.spec.input_names, campaign.spec.target_names
    ok = results[results["status"] == "ok"]
    failed = results[results["status"] != "ok"].assign(round=round_index)
    measurements = campaign.directory / "measurements" / f"round_{round_index:02d}.csv"
    measurements.parent.mkdir(exist_ok=True)
    atomic_write_text(measurements, ok[inputs + targets].to_csv(index=False))
    _record_failures(campaign.directory, failed)
    report = campaign.observe(measurements, source="simlab")
    echo(
        f"  round {round_index}: simulated {len(results)} designs in {elapsed:.1f} s, "
        f"{len(ok)} ok, {len(failed)} failed; stored {report.n_added} observations"
    )
    for _, row in failed.iterrows():
        echo(f"    failed design: {row['failure_reason']}")
    return results


def run_demo(
    directory: str | Path,
    *,
    n_initial: int = 12,
    seed: int = 0,
    force: bool = False,
    echo: Echo = print,
) -> Campaign:
    """Create the demo campaign, measure a space-filling first batch, and report what comes next.

    Args:
        directory: where the campaign is created.
        n_initial: designs in the initial Sobol batch.
        seed: seeds the initial design (and everything downstream).
        force: replace an existing directory.
        echo: where progress lines go.
    """
    from planner.simlab import CellDesignLab, CellDesignSpace, initial_design

    directory = Path(directory)
    if directory.exists():
        if not force:
            raise CampaignExistsError(
                f"{directory} already exists; pass --force to replace it or --dir to choose another directory."
            )
        if (directory / "campaign.yaml").exists() or not any(directory.iterdir()):
            shutil.rmtree(directory)
        else:
            raise CampaignExistsError(
                f"{directory} exists and is not a planner campaign; refusing to delete it. Choose another --dir."
            )
    space = CellDesignSpace()
    spec = cell_design_spec(space, seed=seed)
    campaign = Campaign.create(
        directory,
        spec,
        header="Demo campaign written by `planner demo`: a virtual cell-design lab simulated with PyBaMM.",
    )
    echo(f"planner demo: campaign {spec.name!r} in {directory}/")
    echo(
        "  design space: "
        + ", ".join(f"{p.name} [{p.low:g}, {p.high:g}]" for p in space.parameters)
    )
    echo("  objectives:   " + ", ".join(f"{o.name} ({o.direction})" for o in space.objectives))
    echo("  starting the simulated lab (PyBaMM DFN model)...")
    lab = CellDesignLab(seed=seed)
    designs = initial_design(space, n_initial, seed=seed, method="sobol")
    echo(f"  initial batch: {n_initial} Sobol designs")
    measure_and_observe(campaign, lab, designs, round_index=0, echo=echo)
    status = campaign.status()
    echo("")
    echo(status.to_text())
    echo("")
    echo(
        "next: the AutoML search (`planner run`, issue #4) and next-experiment suggestions "
        "(`planner suggest`, issue #5) are not built yet, so the demo stops after the initial batch."
    )
    echo(f"results: {directory}/observations.csv (all measurements), {directory}/measurements/ (per round)")
    return campaign
