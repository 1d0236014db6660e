"""The campaign's active-learning stage: design space + observations + pending -> logged suggestions."""

from __future__ import annotations

import json
import os
import re
import shutil
import warnings
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from planner.campaign._molecules import clean_pool, fill_empty_components, suggest_featurizer, unparsed_formulas
from planner.campaign._validate import id_text
from planner.exceptions import CampaignError, DataQualityWarning, DataValidationError, SpecError
from planner.layout import BACKTEST_PARTIAL_DIR, BACKTESTS_DIR, RAY_DIR, has_model, model_dir, suggestion_metadata_path
from planner.validation import plain

if TYPE_CHECKING:
    from planner.campaign._campaign import Campaign
    from planner.spec import CampaignSpec

_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_%.]*)\s*(<=|>=)\s*([-+0-9.eE]+)\s*$")


def parse_outcome_constraint(text: str) -> tuple[str, str, float]:
    """``"temp_rise_k<=10"`` -> ``("temp_rise_k", "<=", 10.0)``."""
    match = _CONSTRAINT.match(text)
    if not match:
        raise SpecError(
            f"outcome constraint {text!r} must read NAME<=VALUE or NAME>=VALUE, e.g. temp_rise_k<=10"
        )
    name, op, value = match.groups()
    return name, op, float(value)


def design_for(spec: CampaignSpec, resolve: Callable[[str], Path]) -> Any:
    """The engine's design space from ``design_space`` (a pool file, resolved by ``resolve``
    from the campaign directory, or ranges + constraints)."""
    from planner.active import ContinuousDesign, LinearConstraint, PoolDesign
    from planner.io import read_table

    ds = spec.design_space
    constraints = [LinearConstraint(coefficients=dict(c.coefficients), op=c.op, rhs=c.rhs) for c in ds.constraints]
    constraints += [
        LinearConstraint(coefficients={c: 1.0 for c in g.columns}, op="==", rhs=g.total) for g in spec.fraction_groups
    ]
    categorical = tuple(i.name for i in spec.inputs if i.role != "numeric")
    if ds.pool:
        pool, _ = read_table(resolve(ds.pool), what="candidate pool", levels=spec.level_columns())
        missing = [c for c in spec.input_names if c not in pool.columns]
        if missing:
            raise DataValidationError(
                f"candidate pool {ds.pool}: missing input column(s) {missing}; candidates need all of "
                f"{spec.input_names}."
            )
        _numbers_where_numeric(pool, spec, f"candidate pool {ds.pool}")
        pool, pool_notes = clean_pool(pool, spec, f"candidate pool {ds.pool}")
        lines = pool.index.to_numpy()  # the file's line of each row, for messages
        pool = pool.reset_index(drop=True)  # ``candidate``: the row's position in the file, kept below
        pool_notes += _within_ranges(pool, spec, ds.pool, lines)
        for note in pool_notes:
            warnings.warn(note, DataQualityWarning, stacklevel=2)
        if pool[spec.input_names].isna().any(axis=1).all():
            raise DataValidationError(f"candidate pool {ds.pool}: no valid candidate left ({'; '.join(pool_notes)})")
        tol = max((g.tolerance for g in spec.fraction_groups), default=1e-6)
        # The campaign's id column names the candidates in the suggestions (when the pool has it).
        id_column = spec.data.id_column if spec.data.id_column in pool.columns else None
        return PoolDesign(
            # Index labels stay the file's row positions (``candidate``) where rows were left out.
            candidates=pool[spec.input_names + ([id_column] if id_column else [])],
            inputs=tuple(spec.input_names),
            categorical=categorical,
            constraints=tuple(constraints),
            constraint_tol=tol,
            id_column=id_column,
        )
    if ds.ranges:
        numeric = [i.name for i in spec.inputs if i.role == "numeric"]
        unbounded = [n for n in numeric if n not in ds.ranges]
        if unbounded:
            raise SpecError(
                f"design_space.ranges misses numeric input(s) {unbounded}; give each a [low, high] range "
                "(or use design_space.pool for a candidate list)."
            )
        no_levels = [name for name in categorical if name not in ds.choices]
        if no_levels:
            raise SpecError(
                f"design_space.choices misses the allowed levels of categorical input(s) {no_levels}; list them "
                "in campaign.yaml, e.g. `choices: {" + ", ".join(f"{n}: [a, b]" for n in no_levels) + "}` "
                "(or use design_space.pool for a candidate list)."
            )
        levels = {name: list(ds.choices[name]) for name in categorical}
        return ContinuousDesign(bounds=dict(ds.ranges), constraints=tuple(constraints), categorical=levels)
    raise CampaignError(
        "this campaign has no design space: add design_space.pool (a CSV of candidate experiments) or "
        "design_space.ranges (and constraints) to campaign.yaml, then run `planner suggest` again."
    )


def _numbers_where_numeric(frame: pd.DataFrame, spec: CampaignSpec, label: str) -> None:
    """The numeric inputs of ``frame`` as numbers, in place (``05`` was kept as text by the
    reader, which takes zero-padded numbers for codes); a cell of text names its line, value
    and the two fixes (the frame's index is the file's line, as ``read_table`` returns it)."""
    for inp in spec.inputs:
        if inp.role != "numeric" or inp.name not in frame.columns or pd.api.types.is_numeric_dtype(frame[inp.name]):
            continue
        column = frame[inp.name]
        numbers = pd.to_numeric(column.astype(str).str.strip().where(column.notna()), errors="coerce")
        bad = column.notna() & numbers.isna()
        if bad.any():
            line = bad[bad].index[0]
            raise DataValidationError(
                f"{label}, line {line}: input {inp.name!r} holds {column[line]!r} where campaign.yaml declares a "
                f"number ({int(bad.sum())} such cell(s)); fix the cell, or set `role: categorical` for {inp.name!r} "
                "in campaign.yaml if its values are levels"
            )
        frame[inp.name] = numbers.astype(float)


def _without_unparsed_formulas(named: pd.DataFrame, spec: CampaignSpec) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """The observations whose compositions parse, the mask of those left out (a data source
    keeps such a row with a warning; a surrogate cannot place it among the compositions), and
    a note naming them."""
    bad = np.zeros(len(named), dtype=bool)
    for name in [i.name for i in spec.inputs if i.role == "composition"]:
        bad |= named[name].isin(list(unparsed_formulas(named[name], "observations", name))).to_numpy()
    if not bad.any():
        return named, bad, []
    shown = ", ".join(str(label) for label in named.index[bad][:5])
    note = f"{int(bad.sum())} observation(s) whose composition does not parse are left out of the model ({shown})"
    return named[~bad], bad, [note]


def _named_rows(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    """``frame`` indexed by where each row was written, for the engine's messages: ``data.csv line 3``
    for stored rows (``kind="observations"``), ``suggestion S0004`` for pending ones. Rows whose
    origin is not recorded (merged measurements) keep their position."""
    if kind == "pending" and "_suggestion_id" in frame.columns:
        labels = [f"suggestion {s}" for s in frame["_suggestion_id"]]
    elif "_file" in frame.columns and "_line" in frame.columns:
        lines = pd.to_numeric(frame["_line"], errors="coerce")
        files = {f for f in frame["_file"] if isinstance(f, str) and f}
        # a file by its name, or by its path where two files share the name
        names = [Path(f).name for f in files]
        shown = {f: (Path(f).name if names.count(Path(f).name) == 1 else f) for f in files}
        ids = frame["_obs_id"] if "_obs_id" in frame.columns else pd.Series(np.nan, index=frame.index)
        labels = [
            f"{shown[f]} line {int(line)}" if f in shown and np.isfinite(line)
            else (f"observation {int(obs)}" if pd.notna(obs) else None)  # stored from a DataFrame
            for f, line, obs in zip(frame["_file"], lines, ids, strict=True)
        ]
        if any(label is None for label in labels):
            return frame
    else:
        return frame
    if len(set(labels)) < len(labels):
        return frame
    return frame.set_axis(pd.Index(labels, dtype=object), axis=0)


def _within_ranges(pool: pd.DataFrame, spec: CampaignSpec, path: str, lines: Any) -> list[str]:
    """Leave out (in place) the pool rows outside ``design_space.ranges`` and ``choices``: with a
    pool they narrow it, as they bound a continuous design. Returns the note saying so."""
    ds = spec.design_space
    outside = pd.Series(False, index=pool.index)
    first = ""
    for name, (low, high) in ds.ranges.items():
        if name in pool.columns:
            values = pd.to_numeric(pool[name], errors="coerce")
            out = (values < low) | (values > high)
            if out.any() and not first:
                row = out[out].index[0]
                first = f"line {lines[row]}: {name}={plain(pool.at[row, name])!r} outside [{low:g}, {high:g}]"
            outside |= out.fillna(False)
    for name, levels in ds.choices.items():
        if name in pool.columns:
            out = pool[name].notna() & ~id_text(pool[name]).isin(set(id_text(pd.Series(list(levels)))))
            if out.any() and not first:
                row = out[out].index[0]
                first = f"line {lines[row]}: {name}={plain(pool.at[row, name])!r} not in {list(levels)}"
            outside |= out
    if not outside.any():
        return []
    if outside.all():
        raise DataValidationError(
            f"candidate pool {path}: every row lies outside design_space.ranges/choices ({first}); widen them in "
            "campaign.yaml or remove them to use the whole pool"
        )
    pool.drop(index=pool.index[outside.to_numpy()], inplace=True)
    return [
        f"candidate pool {path}: {int(outside.sum())} row(s) lie outside design_space.ranges/choices and are left "
        f"out (first {first}); remove the ranges from campaign.yaml to use the whole pool"
    ]


def _surrogate(spec: CampaignSpec, campaign_dir: Path, name: str) -> Any:
    if name != "automl":
        return name
    from planner.automl import load_fitted

    models = {}
    for target in spec.target_names:
        if not has_model(campaign_dir, target):
            raise CampaignError(
                f"--surrogate automl needs the AutoML best pipeline of {target!r}; run `planner run "
                f"{campaign_dir}` first (or use --surrogate gp)."
            )
        models[target] = load_fitted(model_dir(campaign_dir, target)).estimator
    return models


def suggest_experiments(
    campaign: Campaign,
    *,
    n: int = 5,
    strategy: str | None = None,
    surrogate: str = "gp-additive",  # planner.active.DEFAULT_SURROGATE
    beta: float = 2.0,
    outcome_constraints: list[str] | None = None,
    calibration: float | None = None,
    floor: str = "values",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Propose ``n`` experiments, log them as pending, and return (logged table, metadata).

    Each target's predicted mean comes with conformal ``_lower``/``_upper`` at ``calibration``
    (default 0.9), clipped with the mean to the target's declared bounds (``_clipped``); far
    extrapolations are flagged (``_out_of_range``), and ``in_domain``/``domain_reason`` say
    whether a suggestion lies inside the observed data (see :mod:`planner.campaign._sanity`).
    """
    from planner.active import suggest
    from planner.campaign._sanity import sanitize_suggestions

    calibration = 0.9 if calibration is None else calibration

    spec = campaign.spec
    if spec.task != "regression":
        raise CampaignError(
            f"suggestions need regression targets, and this campaign's task is {spec.task!r} (planner infers "
            "classification for a target with few distinct values or text labels). If "
            f"{', '.join(repr(t) for t in spec.target_names)} is a measured quantity, set `task: regression` in "
            "campaign.yaml; suggestions for class labels are not supported yet."
        )
    design = design_for(spec, campaign._resolve)
    constraints = [parse_outcome_constraint(c) for c in outcome_constraints or []]
    outputs = spec.target_names + [name for name, _, _ in constraints if name not in spec.target_names]
    unknown = [name for name, _, _ in constraints if name not in spec.target_names]
    if unknown:
        raise SpecError(f"outcome constraint on {unknown}: only measured targets can be constrained ({spec.target_names}).")
    data = campaign.labelled_data()
    named, unparsed, unparsed_note = _without_unparsed_formulas(_named_rows(data, "observations"), spec)
    data = data[~unparsed]
    featurizer = suggest_featurizer(spec, surrogate) if surrogate != "automl" else None
    observed_X = fill_empty_components(named[spec.input_names], spec) if len(data) else None
    observed_y = named[outputs] if len(data) else None
    with campaign.store.lock():
        pending = campaign.suggestions.pending()
        design = _without_taken_ids(design, data, pending)
        design = _without_limits(design, campaign.source_table())
        n_rounds = int(campaign.suggestions.read()["_round"].max()) if len(campaign.suggestions.read()) else 0
        result = suggest(
            observed_X,
            observed_y,
            design=design,
            targets=[(t.name, t.direction) for t in spec.targets],
            n=n,
            strategy=strategy,
            pending=fill_empty_components(_named_rows(pending, "pending")[spec.input_names], spec) if len(pending) else None,
            surrogate=_surrogate(spec, campaign.directory, surrogate),
            outcome_constraints=constraints or None,
            beta=beta,
            seed=spec.seed + n_rounds,
            calibration=calibration,
            floor=floor,
            **({"featurizer": featurizer} if featurizer is not None else {}),
        )
        metadata = dict(result.metadata)
        table, sanity_notes = sanitize_suggestions(spec, result.table, data if len(data) else None)
        metadata["sanity"] = sanity_notes
        metadata["left_out"] = list(campaign.source_table().left_out) + unparsed_note
        logged = campaign.suggestions.append(
            table,
            strategy=str(metadata.get("strategy_used") or strategy or ""),
            model=str(metadata.get("model") or surrogate),
        )
    _write_metadata(campaign, int(logged["_round"].iloc[0]) if len(logged) else n_rounds, metadata)
    return logged, metadata


def _without_limits(design: Any, sources: Any) -> Any:
    """``design`` without the pool rows measured as a limit (``<0.5``; by id, or by inputs):
    such a row is not trained on, but it is measured and not suggested again."""
    from planner.active import PoolDesign
    from planner.active._candidates import exclude_rows
    from planner.active._encoding import row_keys

    if not isinstance(design, PoolDesign) or not sources.censored:
        return design
    limits = sources.frame.iloc[sources.censored]
    inputs, categorical = list(design.inputs), list(design.categorical)
    # by inputs, comparing whole keys only where every value occurs among the limits' (fast on large pools)
    keep, _ = exclude_rows(design.candidates, design, row_keys(limits[inputs], inputs, categorical))
    mask = ~keep
    name = design.id_column
    if name is not None and name in limits.columns:
        mask |= id_text(design.candidates[name]).isin(set(id_text(limits[name].dropna()))).to_numpy()
    if not mask.any():
        return design
    return _pool_without(design, mask, "is measured (some as a limit such as '<0.5'); add candidates to the pool")


def _pool_without(design: Any, mask: np.ndarray, why_all: str) -> Any:
    """``design`` (a pool) without the candidates flagged in ``mask``; ``why_all`` ends the error
    raised when that is every candidate."""
    from planner.active import PoolDesign

    if mask.all():
        raise DataValidationError(f"every candidate of the pool ({len(mask)}) {why_all}")
    with warnings.catch_warnings():  # the pool's own warnings were given when it was read
        warnings.simplefilter("ignore", DataQualityWarning)
        return PoolDesign(
            candidates=design.candidates[~mask],
            inputs=design.inputs,
            categorical=design.categorical,
            constraints=design.constraints,
            constraint_tol=design.constraint_tol,
            id_column=design.id_column,
        )


def _without_taken_ids(design: Any, data: pd.DataFrame, pending: pd.DataFrame) -> Any:
    """``design`` without the pool rows whose id names a measured or pending experiment.

    The engine matches experiments by their inputs; an id says the same more surely. A row
    measured with a gap (an empty input the pool fills in) or with other values than the pool
    lists is still that row: it is not suggested again, and a warning names the ids whose
    inputs disagree.
    """
    from planner.active._encoding import row_keys

    name = getattr(design, "id_column", None)
    if name is None:
        return design
    taken = [id_text(t[name].dropna()) for t in (data, pending) if name in t.columns and len(t)]
    if not taken:
        return design
    pool_ids = id_text(design.candidates[name])
    taken_ids = pd.concat(taken)
    mask = pool_ids.isin(set(taken_ids)).to_numpy()
    if not mask.any():
        return design
    inputs, categorical = list(design.inputs), list(design.categorical)
    measured = pd.concat([t for t in (data, pending) if name in t.columns and len(t)])
    measured = measured[measured[name].notna()]
    # Rows whose inputs match a measured or pending experiment are left out by the engine itself
    # (keys of the id-matched rows only: a pool can hold millions).
    rows = np.flatnonzero(mask)
    same_inputs = row_keys(design.candidates.iloc[rows][inputs], inputs, categorical).isin(
        row_keys(measured[inputs], inputs, categorical)
    )
    mask[rows[np.asarray(same_inputs)]] = False
    if not mask.any():
        return design
    differ = pool_ids[mask].tolist()
    warnings.warn(
        f"candidate pool: {len(differ)} row(s) carry the {name} of a measured or pending experiment but other "
        f"inputs (first {differ[:5]}; e.g. an input left empty in the observations); they count as measured "
        f"and are not suggested again. Make the {name} values or the inputs agree",
        DataQualityWarning,
        stacklevel=3,
    )
    return _pool_without(
        design, mask,
        f"carries the {name} of a measured or pending experiment; add candidates to the pool or observe the "
        "pending experiments",
    )


def _write_metadata(campaign: Campaign, round_index: int, metadata: dict[str, Any]) -> None:
    from planner.io import atomic_write_text

    path = suggestion_metadata_path(campaign.directory, round_index)
    atomic_write_text(path, json.dumps(metadata, indent=2, default=str))


def default_backtest_arms(n_targets: int, batch_size: int) -> list[str]:
    """Random sampling, a greedy random forest, the plain-Matern GP and ``suggest``'s default
    (the GP with the additive kernel). ``batch_size`` is kept for callers; every arm batches."""
    if n_targets > 1:
        return ["random", "greedy@rf", "qlognehvi", "qlognehvi@gp-additive"]
    return ["random", "greedy@rf", "qlognei", "qlognei@gp-additive"]


def backtest_campaign(
    campaign: Campaign,
    *,
    strategies: list[str],
    n_seeds: int = 20,
    n_initial: int = 2,
    batch_size: int = 1,
    budget: int | None = None,
    executor: str | None = None,
    n_jobs: int | None = None,
    pool: str | None = None,
    seed: int | None = None,
    address: str | None = None,
) -> tuple[Any, Any]:
    """Backtest strategies on a fully labelled pool: ``pool`` (a CSV with inputs and targets) or,
    by default, the campaign's own labelled rows. Results go to ``backtests/<run id>/``.

    ``executor="ray"`` runs the seeds as Ray tasks: on the cluster at ``address`` (default:
    ``executor.address`` in campaign.yaml), else on a local Ray instance.

    Returns:
        ``(BacktestResult, directory)``.
    """
    from datetime import datetime

    from planner.active import backtest
    from planner.io import read_table

    spec = campaign.spec
    if pool is not None:
        frame, _ = read_table(pool, what="labelled pool", levels=spec.level_columns())
        missing = [c for c in spec.input_names + spec.target_names if c not in frame.columns]
        if missing:
            raise DataValidationError(f"labelled pool {pool}: missing column(s) {missing}; it needs the inputs and targets.")
        _numbers_where_numeric(frame, spec, f"labelled pool {pool}")
    else:
        frame = campaign.labelled_data()
        if frame.empty:
            raise CampaignError(
                "a backtest replays a campaign on rows already measured, and this campaign has none yet; "
                "observe measurements first, or give a fully labelled file with --pool"
            )
    frame = fill_empty_components(frame[spec.input_names + spec.target_names].dropna(subset=spec.target_names), spec)
    if budget is None:
        budget = min(50, max(n_initial + batch_size, len(frame) // 2))
    if not strategies:
        strategies = default_backtest_arms(len(spec.targets), batch_size)
    ray_executor = None
    if address is not None and executor != "ray":
        raise SpecError(f"--address {address!r} needs the ray executor; add --executor ray")
    # Finished runs are kept here until the result is written: the same command after a
    # kill or a crash reruns only the runs that had not finished.
    partial = campaign.directory / BACKTESTS_DIR / BACKTEST_PARTIAL_DIR
    if executor == "ray":
        from planner.executors import RayExecutor

        ray_executor = RayExecutor(
            n_jobs or max(1, os.cpu_count() or 2),
            address=address or spec.executor.address,
            temp_dir=campaign.directory / RAY_DIR,
        )
    try:
        result = backtest(
            frame.reset_index(drop=True),
            inputs=spec.input_names,
            targets=[(t.name, t.direction) for t in spec.targets],
            strategies=strategies,
            n_seeds=n_seeds,
            n_initial=n_initial,
            batch_size=batch_size,
            budget=budget,
            executor=ray_executor if ray_executor is not None else executor,
            n_jobs=n_jobs,
            categorical=[i.name for i in spec.inputs if i.role != "numeric"],
            seed=spec.seed if seed is None else seed,
            featurizer=suggest_featurizer(spec),
            checkpoint=partial,
        )
    finally:
        if ray_executor is not None:
            ray_executor.shutdown()
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    directory = result.to_dir(campaign.directory / BACKTESTS_DIR / run_id)
    shutil.rmtree(partial, ignore_errors=True)  # every run is in the result folder now
    return result, directory
