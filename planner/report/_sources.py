"""Readers: everything the report shows comes from the campaign's stored files through these.

Each kind of stored state has one small reader that returns the data or says why it has
none (a :class:`~planner.report._records.Missing`), so a format that changes upstream is
adjusted in one place. Nothing here writes to the campaign, and no reader creates a file that
is absent. The readers take paths and tables, never a campaign: :mod:`._gather` calls them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.report._records import BacktestRun, Missing, ReportInputs


def optuna_quiet() -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def trial_table(study: Any) -> pd.DataFrame:
    """The study's leaderboard (all finished trials) with what the report plots besides.

    Columns: those of :func:`planner.automl.leaderboard` (``rank`` for complete trials,
    ``trial``, ``pipeline``, ``metric``, ``mean``, ``std``, ``n_folds``, ``fit_time_s``,
    ``model_family``, ``fusion``, ``state``, ``source``, ``failure_reason``...), plus
    ``fusion_group`` (``single`` / ``homogeneous`` / ``heterogeneous``), ``fold_scores``
    (list), ``params`` (the pipeline spec), ``selector``, ``duration_s``, ``start`` and
    ``selected_features`` (``None`` unless the engine stores which features a trial kept).
    Rows in trial order.
    """
    from optuna.trial import TrialState

    from planner.automl import leaderboard

    extras = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)):
        attrs = t.user_attrs
        params = attrs.get("params") or dict(t.params)
        extras.append(
            {
                "trial": t.number,
                "fold_scores": [float(s) for s in attrs.get("fold_scores") or [] if s is not None],
                "params": params,
                "selector": str(params.get("selector", "none")),
                "duration_s": (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete and t.datetime_start else math.nan,
                "start": t.datetime_start,
                "selected_features": attrs.get("selected_features"),
            }
        )
    table = leaderboard(study, include_failed=True)
    if table.empty:
        return table
    table = table.merge(pd.DataFrame(extras), on="trial", how="left").sort_values("trial", kind="mergesort")
    table["mean"] = pd.to_numeric(table["mean"], errors="coerce")
    table["std"] = pd.to_numeric(table["std"], errors="coerce")
    table["fit_time_s"] = pd.to_numeric(table["fit_time_s"], errors="coerce")
    table["fusion_group"] = table["fusion"].astype(str).str.split(":").str[0]
    table["model_family"] = table["model_family"].astype(str)
    return table.reset_index(drop=True)


def ranked(trials: pd.DataFrame) -> pd.DataFrame:
    """Complete trials, best first (the leaderboard's ``rank``)."""
    done = trials[trials["state"] == "complete"]
    return done.sort_values("rank", kind="mergesort")


def load_fitted(directory: Path, campaign_dir: Path) -> Any:
    """The refit pipeline saved in ``directory`` (``models/<target>/``), or :class:`Missing`."""
    from planner.automl import load_fitted as _load
    from planner.exceptions import SpecError

    if not directory.is_dir():
        return Missing(f"no refit pipeline is stored for {directory.name!r} ({directory.relative_to(campaign_dir)}/ does not exist); `planner run` saves one after the search")
    try:
        return _load(directory)
    except SpecError as err:
        return Missing(str(err))
    except Exception as err:  # noqa: BLE001 - e.g. a pickle from another scikit-learn version
        return Missing(f"the stored pipeline in {directory} could not be loaded ({type(err).__name__}: {err}); refit it with `planner run`")


# Quality ------------------------------------------------------------------------------------

QUALITY_FILES = ("quality_report.json", "report.json")


def load_quality(directory: Path) -> Any:
    """The saved :class:`~planner.quality.QualityReport` in ``directory`` (the campaign's
    ``quality/``), or :class:`Missing`."""
    from planner.quality import QualityReport

    campaign_dir = directory.parent
    for name in QUALITY_FILES:
        path = directory / name
        if path.is_file():
            try:
                return QualityReport.from_dict(json.loads(path.read_text(encoding="utf-8")))
            except Exception as err:  # noqa: BLE001 - a report of another version is named, not fatal
                return Missing(f"{path.relative_to(campaign_dir)} could not be read ({type(err).__name__}: {err}); rerun `planner quality`")
    return Missing(f"no data-quality report is stored ({directory.name}/{QUALITY_FILES[0]} does not exist); run `planner quality {campaign_dir}`")


# Suggestions --------------------------------------------------------------------------------


def suggestion_outcomes(suggestions: pd.DataFrame, observations: pd.DataFrame, targets: list[str]) -> pd.DataFrame:
    """The suggestions with ``<t>_observed`` columns: the measured value of each observed one.

    Observed suggestions name their observation in ``_observed_obs_id`` (the campaign's
    suggestion log links them when the measurement is added).
    """
    out = suggestions.copy()
    for t in targets:
        out[f"{t}_observed"] = np.nan
    if "_observed_obs_id" not in out.columns or observations.empty or "_obs_id" not in observations.columns:
        return out
    by_id = observations.set_index(pd.to_numeric(observations["_obs_id"], errors="coerce"))
    ids = pd.to_numeric(out["_observed_obs_id"], errors="coerce")
    known = ids.isin(by_id.index)
    for t in targets:
        if t in by_id.columns:
            values = pd.to_numeric(by_id[t], errors="coerce")
            out.loc[known, f"{t}_observed"] = values.reindex(ids[known]).to_numpy()
    return out


# Backtests ----------------------------------------------------------------------------------

#: ``runs.csv`` as :meth:`planner.active.BacktestResult.to_dir` writes it (the only writer of a
#: campaign's ``backtests/<run>/``, since `planner backtest` first stored results): column ->
#: the name the report's curves use. ``top_<fraction>_found`` columns follow the best-so-far.
RUNS_COLUMNS: Mapping[str, str] = {"arm": "strategy", "seed": "seed", "i": "n"}
RUNS_VALUE = "best_so_far"
RUNS_TOP = re.compile(r"top_.+_found")


def runs_curves(frame: pd.DataFrame, name: str = "runs.csv") -> pd.DataFrame:
    """The per-seed curves of a backtest's ``runs.csv``: ``strategy, seed, n`` and ``best_so_far``
    and/or ``top_pct`` (share of the first top set found; its column name in ``attrs["top_label"]``).

    Raises:
        DataValidationError: A column that :meth:`planner.active.BacktestResult.to_dir` writes
            is absent (the file was not written by `planner backtest`).
    """
    from planner.exceptions import DataValidationError

    missing = [c for c in RUNS_COLUMNS if c not in frame.columns]
    top = next((c for c in frame.columns if RUNS_TOP.fullmatch(str(c))), None)
    if not missing and RUNS_VALUE not in frame.columns and top is None:
        missing = [f"{RUNS_VALUE} or top_<fraction>_found"]
    if missing:
        raise DataValidationError(
            f"{name} lacks column(s) {missing} (it has {list(frame.columns)}); backtest results are read as "
            f"`planner backtest` writes them ({', '.join(RUNS_COLUMNS)}, {RUNS_VALUE}, top_<fraction>_found): "
            "rerun `planner backtest` to replace this run"
        )
    out = pd.DataFrame({ours: frame[theirs] for theirs, ours in RUNS_COLUMNS.items()})
    if RUNS_VALUE in frame.columns:
        out["best_so_far"] = frame[RUNS_VALUE]
    if top is not None:
        out["top_pct"] = frame[top]
    out.attrs["top_label"] = top or "top_pct"
    return out


def _read(path: Path, reader: Any) -> Any:
    try:
        return reader(path)
    except Exception as err:  # noqa: BLE001 - one unreadable file is named, the rest still shows
        return Missing(f"{path.parent.name}/{path.name} could not be read ({type(err).__name__}: {err})")


def _json_tables(data: Mapping[str, Any]) -> list[tuple[str, pd.DataFrame]]:
    """Tables in a JSON object: lists of records, dicts of dicts, and the scalars as settings."""
    out = []
    scalars = {}
    for key, value in data.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            out.append((key, pd.DataFrame(value)))
        elif isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            out.append((key, pd.DataFrame.from_dict(value, orient="index").rename_axis("strategy").reset_index()))
        else:
            scalars[key] = json.dumps(value) if isinstance(value, list | dict) else value
    if scalars:
        out.insert(0, ("Protocol", pd.DataFrame({"key": list(scalars), "value": [str(v) for v in scalars.values()]})))
    return out


def _ef_table(curves: pd.DataFrame) -> pd.DataFrame | None:
    """EF per arm at a few budgets, from an aggregated curves.csv with ``ef_<top set>`` columns."""
    ef_cols = [c for c in curves.columns if str(c).startswith("ef_")]
    arm, step = "arm", "i"  # as planner.active.BacktestResult.to_dir writes curves.csv
    if not ef_cols or arm not in curves.columns or step not in curves.columns:
        return None
    n_max = int(curves[step].max())
    budgets = sorted({max(1, int(round(n_max * q))) for q in (0.1, 0.25, 0.5, 1.0)})
    rows = []
    for name, part in curves.groupby(arm, sort=False):
        part = part.set_index(step)
        row: dict[str, Any] = {"arm": name}
        for col in ef_cols:
            for b in budgets:
                if b in part.index:
                    row[f"{col} at {b}"] = float(part.loc[b, col])
        rows.append(row)
    return pd.DataFrame(rows)


def load_backtests(root: Path) -> list[BacktestRun] | Missing:
    """Every ``<root>/<run_id>/`` (``root``: the campaign's ``backtests/`` folder).

    Reads what :meth:`planner.active.BacktestResult.to_dir` writes: ``runs.csv`` (per arm,
    seed and experiment ``i``: ``best_so_far`` / ``top_<f>_found``) for the curves,
    ``summary.csv`` (per arm: AF, first hits) and ``curves.csv`` (``ef_<f>`` per ``i``) for
    the tables, ``metadata.json`` for the protocol. A run whose ``runs.csv`` is absent or lacks
    one of those columns is shown with the reason.
    """
    # hidden folders (``.partial``: runs of a backtest that has not finished) are no results
    runs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) if root.is_dir() else []
    if not runs:
        return Missing(f"no backtest has been run ({root.name}/ is empty or absent); run `planner backtest {root.parent}`")
    from planner.exceptions import DataValidationError

    out = []
    for run in runs:
        per_seed = run / "runs.csv"
        curves: pd.DataFrame | Missing = Missing(f"{run.name}/ has no runs.csv; it was not written by `planner backtest`")
        if per_seed.is_file():
            frame = _read(per_seed, pd.read_csv)
            if isinstance(frame, Missing):
                curves = frame
            else:
                try:
                    curves = runs_curves(frame, f"{run.name}/runs.csv")
                except DataValidationError as err:
                    curves = Missing(str(err))
        tables: list[tuple[str, pd.DataFrame]] = []
        if (run / "summary.csv").is_file():
            value = _read(run / "summary.csv", pd.read_csv)
            if isinstance(value, pd.DataFrame):
                tables.append(("Summary per arm (final Top%, AF, first hits)", value))
        if (run / "metadata.json").is_file():
            value = _read(run / "metadata.json", lambda p: json.loads(p.read_text(encoding="utf-8")))
            if isinstance(value, dict):
                tables += _json_tables(value)
        if (run / "curves.csv").is_file():
            aggregated = _read(run / "curves.csv", pd.read_csv)
            ef = _ef_table(aggregated) if isinstance(aggregated, pd.DataFrame) else None
            if ef is not None:
                tables.append(("EF per arm (Top% / random sampling's expected Top%)", ef))
        top_label = curves.attrs.get("top_label", "top_pct") if isinstance(curves, pd.DataFrame) else "top_pct"
        out.append(BacktestRun(run_id=run.name, curves=curves, tables=tables, top_label=top_label))
    return out


# Training rows --------------------------------------------------------------------------------


def training_rows(inputs: ReportInputs, target: str, columns: list[str]) -> tuple[pd.DataFrame, pd.Series, pd.Series | None]:
    """Labelled rows of ``target`` as the search saw them: inputs ``columns``, the target, CV groups."""
    frame = inputs.labelled
    frame = frame[frame[target].notna()].reset_index(drop=True)
    group = inputs.spec.data.group_column
    groups = frame[group].astype(str) if group and group in frame.columns else None
    present = [c for c in columns if c in frame.columns]
    return frame[present].copy(), frame[target], groups
