"""`planner init`'s stage: a first campaign spec from one CSV, with column roles inferred."""

from __future__ import annotations

import os
import warnings
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from planner.campaign._infer import guess_target_bounds, infer_columns
from planner.exceptions import DataQualityWarning, DataValidationError, SpecError
from planner.io import read_table
from planner.spec import CampaignSpec, DataSource, DataSpec, DesignSpace, TargetSpec


def parse_target(text: str) -> tuple[str, str]:
    """Parse ``name:max`` / ``name:min`` as given on the command line."""
    name, sep, direction = text.rpartition(":")
    if not sep or not name or direction.strip().lower() not in {"max", "min"}:
        raise SpecError(
            f"target {text!r} must be written NAME:max or NAME:min (e.g. log_cond:max), "
            "saying whether larger or smaller values are better."
        )
    return name.strip(), direction.strip().lower()


def spec_from_csv(
    directory: Path,
    data: str | Path,
    targets: list[str] | list[tuple[str, str]],
    *,
    id_column: str | None = None,
    group_column: str | None = None,
    task: str | None = None,
    name: str | None = None,
    label: str | None = None,
    delimiter: str | None = None,
    search_space: str | None = None,
    seed: int = 0,
) -> tuple[CampaignSpec, dict[str, str], str]:
    """The spec of a campaign in ``directory`` on ``data``, the notes written beside its inferred
    roles, and the header of ``campaign.yaml``."""
    parsed = [parse_target(t) if isinstance(t, str) else t for t in targets]
    frame, info = read_table(data, delimiter=delimiter)
    target_names = [n for n, _ in parsed]
    for column, what in [(n, "target") for n in target_names] + [(id_column, "--id"), (group_column, "--group")]:
        if column is not None and column not in frame.columns:
            raise DataValidationError(
                f"{data}: {what} column {column!r} is not in the file; its columns are {list(frame.columns)}."
            )
    repeated = sorted({n for n in target_names if target_names.count(n) > 1})
    if repeated:
        raise SpecError(f"--target {repeated[0]!r} is given more than once; give each target once, with one direction.")
    for column, what in ((id_column, "--id"), (group_column, "--group")):
        if column is not None and column in target_names:
            raise SpecError(
                f"{what} {column!r} is also a target; {what} names a column that identifies (--id) or groups "
                "(--group) the rows, so choose another column or leave it out."
            )
    if id_column is not None and id_column == group_column:
        raise SpecError(f"--id and --group both name {id_column!r}; an id is unique per row, a group spans rows.")
    inference = infer_columns(frame, targets=target_names, id_column=id_column, group_column=group_column, task=task)
    if not inference.inputs:
        raise DataValidationError(
            f"{data}: no usable input columns besides the target(s); columns ignored: "
            + "; ".join(f"{k} ({v})" for k, v in inference.notes.items())
        )
    bounds = guess_target_bounds(frame, target_names) if inference.task == "regression" else {}
    notes = dict(inference.notes) | {f"{n}.lower": why for n, (_, why) in bounds.items()}
    rel = os.path.relpath(Path(data).resolve(), directory.resolve())
    n_rows = len(frame)
    # Rows with no target value at all are experiments not run yet. Where they are at least half
    # of the file (nothing measured: a cold start), the file lists what could be run next: it is
    # the pool, whose measured rows suggest leaves out. (A few empty rows in a table of
    # measurements are gaps, not plans.)
    n_unmeasured = int(frame[target_names].isna().all(axis=1).sum())
    cold = n_unmeasured >= 1 and n_unmeasured >= n_rows - n_unmeasured
    try:  # what the checks above do not foresee is still named, with exit 2
        spec = CampaignSpec(
            name=name or directory.resolve().name,
            description=f"created by `planner init` from {Path(data).name}",
            data=DataSpec(
                sources=[DataSource(path=rel, label=label or Path(data).stem, delimiter=info.delimiter)],
                id_column=id_column,
                group_column=group_column,
                ignore=inference.ignore,
            ),
            inputs=inference.inputs,
            fraction_groups=inference.fraction_groups,
            targets=[TargetSpec(name=n, direction=d, lower=bounds[n][0] if n in bounds else None) for n, d in parsed],
            task=inference.task,
            design_space=DesignSpace(pool=rel) if cold else DesignSpace(),
            search_space=search_space or ("small_data" if n_rows < 300 else "default"),
            seed=seed,
        )
    except ValidationError as err:
        raise SpecError(
            "planner init: these arguments do not make a valid campaign: "
            + "; ".join(e["msg"].removeprefix("Value error, ") for e in err.errors(include_url=False))
        ) from None
    header = (
        f"planner campaign, created {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from {data}\n"
        f"({n_rows} rows, {len(frame.columns)} columns). Column roles were inferred; check them.\n"
        f"task: {inference.task} ({inference.task_note})"
    )
    if cold:
        unmeasured = frame[target_names].isna().all(axis=1)
        for item in inference.inputs:
            empty = int(frame.loc[unmeasured, item.name].isna().sum())
            if empty:
                warnings.warn(
                    f"{data}: input {item.name!r} is empty in {empty} of the {n_unmeasured} unmeasured rows; suggest "
                    "leaves a candidate with an empty input out. Fill the cells"
                    + (" (if empty means absent, write that level, e.g. none)" if item.role == "categorical" else ""),
                    DataQualityWarning,
                    stacklevel=2,
                )
        header += (
            f"\ndesign_space.pool is the data file: {n_unmeasured} of its {n_rows} rows are not measured yet, so they "
            "are the candidates (suggest leaves the measured ones out)"
        )
    return spec, notes, header
