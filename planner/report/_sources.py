"""Readers: everything the report shows comes from the campaign directory through these.

Each kind of stored state has one small reader that returns the data or says why it has
none (a :class:`Missing`), so a format that changes upstream is adjusted in one place.
Nothing here writes to the campaign, and no reader creates a file that is absent (an
Optuna sqlite URL would create an empty database; the file is checked first).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.layout import BACKTESTS_DIR, OPTUNA_FILE, QUALITY_DIR, SUGGESTIONS_FILE, model_dir


@dataclass(frozen=True)
class Missing:
    """Why a section has no data: shown to the reader as is."""

    reason: str


@dataclass
class TargetRecords:
    """What is stored for one target: its AutoML study and its refit pipeline.

    Attributes:
        name, direction, unit: From the campaign spec.
        study: The Optuna study, or why there is none.
        info: What the search recorded on the study (task, metric, direction, cv, roles...).
        trials: One row per finished trial (see :func:`trial_table`), or ``None``.
        fitted: The refit best pipeline (``models/<target>/``), or why there is none.
    """

    name: str
    direction: str
    unit: str | None
    study: Any
    info: dict[str, Any] = field(default_factory=dict)
    trials: pd.DataFrame | None = None
    fitted: Any = None
    freshness: Any = None  # planner.campaign.ModelFreshness: observations that arrived after the refit

    @property
    def has_study(self) -> bool:
        return not isinstance(self.study, Missing)

    @property
    def has_trials(self) -> bool:
        return self.trials is not None and not self.trials.empty and bool((self.trials["state"] == "complete").any())

    @property
    def has_model(self) -> bool:
        return self.fitted is not None and not isinstance(self.fitted, Missing)

    @property
    def metric(self) -> str:
        return str(self.info.get("metric", "score"))

    @property
    def minimize(self) -> bool:
        return self.info.get("direction", "minimize") == "minimize"


@dataclass
class BacktestRun:
    """One ``backtests/<run_id>/`` directory.

    Attributes:
        run_id: The directory name.
        curves: Per-seed long table with ``strategy``, ``seed``, ``n`` and ``best_so_far``
            and/or ``top_pct`` (share of the top set found), or why there is none.
        tables: Named tables to show as they are (per-arm summary with AF, EF, protocol).
        top_label: Which top set ``top_pct`` counts (e.g. ``top_5pct_found``).
    """

    run_id: str
    curves: pd.DataFrame | Missing
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    top_label: str = "top_pct"


def _optuna_quiet() -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def load_study(campaign: Any, target: str) -> Any:
    """The study ``automl-<target>`` in the campaign's storage, or :class:`Missing`."""
    default = campaign.directory / OPTUNA_FILE
    if campaign.spec.storage is None and not default.is_file():
        return Missing(f"no AutoML search has run yet ({OPTUNA_FILE} does not exist); run `planner run {campaign.directory}`")
    optuna = _optuna_quiet()
    from planner.campaign._automl import current_study_name

    name = current_study_name(campaign, target)
    try:
        return optuna.load_study(study_name=name, storage=campaign.storage_url)
    except KeyError:
        return Missing(f"the storage has no study {name!r}; run `planner run {campaign.directory}` for target {target!r}")
    except Exception as err:  # noqa: BLE001 - an unreadable storage is reported, not fatal
        return Missing(f"the Optuna storage could not be read ({type(err).__name__}: {err})")


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


def load_fitted(campaign: Any, target: str) -> Any:
    """The refit pipeline saved in ``models/<target>/``, or :class:`Missing`."""
    from planner.automl import load_fitted as _load
    from planner.exceptions import SpecError

    directory = model_dir(campaign.directory, target)
    if not directory.is_dir():
        return Missing(f"no refit pipeline is stored for {target!r} ({directory.relative_to(campaign.directory)}/ does not exist); `planner run` saves one after the search")
    try:
        return _load(directory)
    except SpecError as err:
        return Missing(str(err))
    except Exception as err:  # noqa: BLE001 - e.g. a pickle from another scikit-learn version
        return Missing(f"the stored pipeline in {directory} could not be loaded ({type(err).__name__}: {err}); refit it with `planner run`")


def load_target(campaign: Any, target: str) -> TargetRecords:
    spec = next(t for t in campaign.spec.targets if t.name == target)
    study = load_study(campaign, target)
    record = TargetRecords(name=target, direction=spec.direction, unit=spec.unit, study=study)
    if record.has_study:
        record.info = dict(study.user_attrs.get("planner", {}))
        record.trials = trial_table(study)
    record.fitted = load_fitted(campaign, target)
    from planner.campaign._freshness import model_freshness

    record.freshness = model_freshness(campaign, target)
    return record


# Quality ------------------------------------------------------------------------------------

QUALITY_FILES = ("quality_report.json", "report.json")


def load_quality(campaign_dir: Path) -> Any:
    """The saved :class:`~planner.quality.QualityReport` in ``quality/``, or :class:`Missing`."""
    from planner.quality import QualityReport

    directory = campaign_dir / QUALITY_DIR
    for name in QUALITY_FILES:
        path = directory / name
        if path.is_file():
            try:
                return QualityReport.from_dict(json.loads(path.read_text(encoding="utf-8")))
            except Exception as err:  # noqa: BLE001 - a report of another version is named, not fatal
                return Missing(f"{path.relative_to(campaign_dir)} could not be read ({type(err).__name__}: {err}); rerun `planner quality`")
    return Missing(f"no data-quality report is stored ({QUALITY_DIR}/{QUALITY_FILES[0]} does not exist); run `planner quality {campaign_dir}`")


# Suggestions --------------------------------------------------------------------------------


def load_suggestions(campaign: Any) -> pd.DataFrame | Missing:
    """``suggestions.csv`` (every suggestion with ``_round``, ``_status``, ``<t>_mean``/``<t>_std``...)."""
    path = campaign.directory / SUGGESTIONS_FILE
    if not path.is_file():
        return Missing(f"no suggestions yet ({SUGGESTIONS_FILE} does not exist); run `planner suggest {campaign.directory}`")
    log = getattr(campaign, "suggestions", None)
    frame = log.read() if log is not None and hasattr(log, "read") else pd.read_csv(path, float_precision="round_trip")
    if frame.empty:
        return Missing(f"{SUGGESTIONS_FILE} holds no suggestions")
    if "_round" not in frame.columns:
        frame["_round"] = 1
    if "_status" not in frame.columns:
        frame["_status"] = "pending"
    return frame


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

#: Accepted column names in ``curves.csv``, first match wins.
CURVE_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "strategy": ("strategy", "arm", "name"),
    "seed": ("seed", "replicate", "run"),
    "n": ("n_experiments", "n_observed", "iteration", "step", "i", "n"),
    "best_so_far": ("best_so_far", "best"),
    "top_pct": ("top_pct", "top_percent", "top%", "topk_fraction", "top_fraction"),
}


def _normalize_curves(frame: pd.DataFrame) -> pd.DataFrame | Missing:
    lower = {c.lower(): c for c in frame.columns}
    found = {key: next((lower[n] for n in names if n in lower), None) for key, names in CURVE_COLUMNS.items()}
    if found["top_pct"] is None:
        # planner.active.backtest's runs.csv: top_<fraction>_found (share of that top set found so far)
        found["top_pct"] = next((c for c in frame.columns if re.fullmatch(r"top_.+_found", str(c))), None)
    needed = ("strategy", "n")
    if any(found[k] is None for k in needed) or (found["best_so_far"] is None and found["top_pct"] is None):
        return Missing(
            f"curves.csv has columns {list(frame.columns)}; the report needs a strategy column ({'/'.join(CURVE_COLUMNS['strategy'])}), "
            f"a step column ({'/'.join(CURVE_COLUMNS['n'])}) and best_so_far and/or top_pct"
        )
    out = pd.DataFrame({key: frame[col] for key, col in found.items() if col is not None})
    out.attrs["top_label"] = found["top_pct"] or "top_pct"
    if "seed" not in out:
        out["seed"] = 0
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
    arm = next((c for c in ("arm", "strategy") if c in curves.columns), None)
    step = next((c for c in ("i", "n_experiments", "n") if c in curves.columns), None)
    if not ef_cols or arm is None or step is None:
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


def load_backtests(campaign_dir: Path) -> list[BacktestRun] | Missing:
    """Every ``backtests/<run_id>/``.

    Reads what :meth:`planner.active.BacktestResult.to_dir` writes: ``runs.csv`` (per arm,
    seed and experiment ``i``: ``best_so_far`` / ``top_<f>_found``) for the curves,
    ``summary.csv`` (per arm: AF, first hits) and ``curves.csv`` (``ef_<f>`` per ``i``) for
    the tables, ``metadata.json`` for the protocol. A per-seed ``curves.csv`` with
    ``strategy, seed, n_experiments, best_so_far, top_pct`` and a ``summary.json`` are read too.
    """
    root = campaign_dir / BACKTESTS_DIR
    # hidden folders (``.partial``: runs of a backtest that has not finished) are no results
    runs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) if root.is_dir() else []
    if not runs:
        return Missing(f"no backtest has been run ({BACKTESTS_DIR}/ is empty or absent); run `planner backtest {campaign_dir}`")
    out = []
    for run in runs:
        per_seed = run / "runs.csv" if (run / "runs.csv").is_file() else run / "curves.csv"
        curves: pd.DataFrame | Missing = Missing(f"{run.name}/ has neither runs.csv nor curves.csv")
        if per_seed.is_file():
            frame = _read(per_seed, pd.read_csv)
            curves = frame if isinstance(frame, Missing) else _normalize_curves(frame)
        tables: list[tuple[str, pd.DataFrame]] = []
        for name, reader, label in (
            ("summary.csv", pd.read_csv, "Summary per arm (final Top%, AF, first hits)"),
            ("summary.json", lambda p: json.loads(p.read_text(encoding="utf-8")), None),
            ("metadata.json", lambda p: json.loads(p.read_text(encoding="utf-8")), None),
        ):
            if (run / name).is_file():
                value = _read(run / name, reader)
                if isinstance(value, pd.DataFrame):
                    tables.append((label, value))
                elif isinstance(value, dict):
                    tables += _json_tables(value)
        if per_seed.name == "runs.csv" and (run / "curves.csv").is_file():
            aggregated = _read(run / "curves.csv", pd.read_csv)
            ef = _ef_table(aggregated) if isinstance(aggregated, pd.DataFrame) else None
            if ef is not None:
                tables.append(("EF per arm (Top% / random sampling's expected Top%)", ef))
        top_label = curves.attrs.get("top_label", "top_pct") if isinstance(curves, pd.DataFrame) else "top_pct"
        out.append(BacktestRun(run_id=run.name, curves=curves, tables=tables, top_label=top_label))
    return out


# Training rows --------------------------------------------------------------------------------


def training_rows(campaign: Any, target: str, columns: list[str]) -> tuple[pd.DataFrame, pd.Series, pd.Series | None]:
    """Labelled rows of ``target`` as the search saw them: inputs ``columns``, the target, CV groups."""
    frame = campaign.labelled_data()
    frame = frame[frame[target].notna()].reset_index(drop=True)
    group = campaign.spec.data.group_column
    groups = frame[group].astype(str) if group and group in frame.columns else None
    present = [c for c in columns if c in frame.columns]
    return frame[present].copy(), frame[target], groups
