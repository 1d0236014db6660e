"""Out-of-fold predictions of the best pipeline: read when stored, else recomputed for that one pipeline.

The search stores per-fold *scores*, not predictions. When no predictions are stored, the
best trial's pipeline spec is cross-validated again on the study's own folds (same seed,
same K, first repeat): one pipeline, deterministic, about the cost of one trial. The
search itself is never re-run and nothing is written to the campaign.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.layout import OOF_FILE
from planner.report._records import Missing, ReportInputs, TargetRecords
from planner.report._sources import ranked, training_rows

#: Where stored out-of-fold predictions are looked for: a file beside the refit model, or the
#: best trial's user attribute (a dict of equal-length lists with the same column names).
OOF_ATTRS = ("oof", "oof_predictions")


@dataclass(frozen=True)
class OutOfFold:
    """Out-of-fold predictions, one row per labelled row (first CV repeat).

    Attributes:
        frame: ``y_true``, ``prediction``, ``fold``; regression ``std`` (NaN where the model
            states no spread); classification ``proba_<class>`` per class.
        classes: Class labels (classification), in ``proba_`` column order.
        trial: The trial whose pipeline made them.
        source: ``"stored"`` or ``"recomputed"``.
        note: One line for the reader: where they come from and at what cost.
    """

    frame: pd.DataFrame
    classes: list[Any]
    trial: int
    source: str
    note: str


def _stored_file(record: TargetRecords) -> Path | None:
    """``oof.csv`` beside the refit model, when it is stored."""
    path = record.model_dir / OOF_FILE if record.model_dir is not None else None
    return path if path is not None and path.is_file() else None


def _stored(record: TargetRecords, best: pd.Series) -> pd.DataFrame | None:
    path = _stored_file(record)
    if path is not None:
        return pd.read_csv(path)
    trial = next((t for t in record.study.get_trials(deepcopy=False) if t.number == int(best["trial"])), None)
    for key in OOF_ATTRS:
        value = trial.user_attrs.get(key) if trial is not None else None
        if isinstance(value, dict) and "prediction" in value:
            return pd.DataFrame(value)
    return None


def _recompute(inputs: ReportInputs, record: TargetRecords, params: dict[str, Any]) -> tuple[pd.DataFrame, list[Any]]:
    from planner.automl import (  # run_search's own preparation
        CVSpec,
        FittedPipeline,
        build_pipeline,
        make_splits,
        prepare_data,
    )

    info = record.info
    task, roles, seed = info["task"], dict(info["column_roles"]), int(info.get("seed", 0))
    cv = info.get("cv", {})
    X, y, groups = training_rows(inputs, record.name, list(roles))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = prepare_data(X, y, task=task, column_roles=roles, groups=groups)
        spec = CVSpec(n_splits=cv.get("n_splits"), n_repeats=1, stratify=bool(cv.get("stratify", True)))
        splits, _ = make_splits(data.y, task=task, cv_spec=spec, groups=data.groups, seed=seed)
        columns = {"task": task, "feature_columns": list(data.X.columns), "column_roles": data.column_roles}
        parts = []
        classes: list[Any] = []
        for fold, (train, test) in enumerate(splits):
            estimator = build_pipeline(params, task=task, column_roles=data.column_roles, seed=seed)
            estimator.fit(data.X.iloc[train], data.y[train])
            pred = FittedPipeline(estimator=estimator, spec=columns).predict(data.X.iloc[test])
            pred.insert(0, "y_true", data.y[test])
            pred["fold"] = fold
            pred.index = test
            parts.append(pred)
            if task == "classification":
                classes = list(estimator.classes_)
    frame = pd.concat(parts).sort_index()
    if task == "classification":
        # every fold of a stratified split sees every class; align columns anyway
        frame = frame.reindex(columns=["y_true", "prediction", *[f"proba_{c}" for c in classes], "fold"])
    return frame, classes


def out_of_fold(inputs: ReportInputs, record: TargetRecords, *, allow_recompute: bool = True) -> OutOfFold | Missing:
    """Out-of-fold predictions of the best trial's pipeline for ``record``'s target."""
    if not record.has_trials:
        return Missing("no completed trial: there is no best pipeline yet")
    best = ranked(record.trials).iloc[0]
    trial = int(best["trial"])
    stored = _stored(record, best)
    if stored is not None:
        classes = [c[len("proba_") :] for c in stored.columns if c.startswith("proba_")]
        if "std" in stored and np.isfinite(pd.to_numeric(stored["std"], errors="coerce")).sum() == 0:
            stored = stored.drop(columns="std")  # the model states no spread
        if _stored_file(record) is not None:
            how = (getattr(record.fitted, "spec", None) or {}).get("calibration", {}).get("note", "")
            note = f"out-of-fold predictions of the saved model, stored with it at refit: {how}" if how else "out-of-fold predictions of the saved model, stored with it at refit"
            return OutOfFold(stored, classes, trial, "stored", note)
        return OutOfFold(stored, classes, trial, "stored", f"stored out-of-fold predictions of trial {trial}")
    if not allow_recompute:
        return Missing(f"no out-of-fold predictions are stored for trial {trial} ({OOF_FILE} beside the model, or a trial attribute {OOF_ATTRS[0]!r})")
    start = time.perf_counter()
    try:
        frame, classes = _recompute(inputs, record, dict(best["params"]))
    except Exception as err:  # noqa: BLE001 - the section says why instead of failing the report
        return Missing(f"out-of-fold predictions of trial {trial} could not be recomputed ({type(err).__name__}: {err})")
    seconds = time.perf_counter() - start
    n_rows = record.info.get("n_rows")
    note = (
        f"out-of-fold predictions of trial {trial}, recomputed from its stored pipeline spec on the study's folds "
        f"(seed {record.info.get('seed', 0)}, first repeat, {int(frame['fold'].max()) + 1} folds) in {seconds:.1f} s"
    )
    if n_rows is not None and int(n_rows) != len(frame):
        note += f"; the study was searched on {n_rows} rows and the campaign now has {len(frame)} labelled rows, so folds differ from the search's"
    if "std" in frame and np.isfinite(pd.to_numeric(frame["std"], errors="coerce")).sum() == 0:
        frame = frame.drop(columns="std")
    return OutOfFold(frame, classes, trial, "recomputed", note)
