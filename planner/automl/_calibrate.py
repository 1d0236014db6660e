"""What a saved model needs for calibrated predictions, and the columns it adds to ``predict``.

At refit (:func:`final_oof`): the out-of-fold predictions of the *final* model (the selected
ensemble or the single pipeline) with its spread where it has one. They come for free from
the trials' stored OOF predictions when the spread is not needed or is the ensemble members'
disagreement; otherwise the final pipeline is cross-validated once more on the study's own
folds (first repeat), unless the trials' timings say that would take longer than
:data:`MAX_RECOMPUTE_S`.

At predict (:func:`calibrated_columns`): conformal intervals or sets (see
:mod:`planner.automl._conformal`), the applicability-domain flag
(:mod:`planner.automl._domain`), the far-outside-the-observed-targets flag and the clipping
to declared bounds.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from planner.automl._conformal import (
    MIN_RESIDUALS,
    ClassificationCalibrator,
    RegressionCalibrator,
    check_levels,
    level_suffix,
)
from planner.automl._keys import FIT_TIME_ATTR, N_FOLDS_ATTR, OOF_ATTR
from planner.layout import DOMAIN_FILE, OOF_FILE

# FittedPipeline (planner.automl._refit) is passed in or duck-typed here: _refit imports this
# module, so importing it back would close a circle.
__all__ = ["OOF_FILE", "DOMAIN_FILE", "final_oof", "calibrated_columns", "RANGE_MARGIN", "REFRESH_HINT"]

CALIBRATION_VERSION = 1
#: Skip recomputing OOF predictions (a note says why) when the trials' timings predict more.
MAX_RECOMPUTE_S = 120.0
#: A prediction is "far outside the observed targets" beyond this fraction of their range.
RANGE_MARGIN = 0.25
REFRESH_HINT = "run `planner run` again (or refit) to store out-of-fold predictions with the model"


def _trial_oof(trial: Any, n: int) -> np.ndarray | None:
    oof = trial.user_attrs.get(OOF_ATTR) if trial is not None else None
    if not isinstance(oof, list) or len(oof) != n:
        return None
    return np.asarray(oof, dtype=float)


def _first_repeat_splits(data: Any, task: str, cv: dict[str, Any] | None, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from planner.automl._cv import CVSpec, make_splits

    cv = cv or {}
    spec = CVSpec(n_splits=cv.get("n_splits"), n_repeats=1, stratify=bool(cv.get("stratify", True)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        splits, _ = make_splits(data.y, task=task, cv_spec=spec, groups=data.groups, seed=seed)
    return splits


def _frame(data: Any, task: str, classes: Sequence[Any] | None, P: np.ndarray, std: np.ndarray | None, folds: np.ndarray) -> pd.DataFrame:
    out = pd.DataFrame({"y_true": data.y})
    if task == "regression":
        out["prediction"] = P.reshape(len(P), -1)[:, 0]
        out["std"] = std if std is not None else np.nan
    else:
        P = P / np.clip(P.sum(axis=1, keepdims=True), 1e-12, None)
        out["prediction"] = np.asarray(classes, dtype=object)[np.argmax(P, axis=1)]
        for j, c in enumerate(classes or []):
            out[f"proba_{c}"] = P[:, j]
    out["fold"] = folds
    if data.groups is not None:
        out["group"] = pd.Series(np.asarray(data.groups, dtype=object)).astype(str).to_numpy()
    return out


def _oof_in_domain(data: Any, splits: list[tuple[np.ndarray, np.ndarray]], seed: int) -> np.ndarray:
    """Per training row: inside the applicability domain of its fold's training rows? The same
    rule ``predict`` applies, so out-of-domain residuals can calibrate out-of-domain rows."""
    from planner.automl._domain import ApplicabilityDomain

    flags = np.ones(len(data.y), dtype=bool)
    for train, test in splits:
        domain = ApplicabilityDomain.fit(data.X.iloc[train], data.column_roles, seed=seed)
        flags[test] = domain.check(data.X.iloc[test])["in_domain"].to_numpy(bool)
    return flags


def final_oof(
    fitted_estimator: Any,
    params: dict[str, Any],
    data: Any,
    *,
    task: str,
    seed: int,
    study: Any = None,
    member_trials: Sequence[int] = (),
    weights: Sequence[float] = (),
    has_std: bool,
    as_fitted: Any,
) -> tuple[pd.DataFrame | None, dict[str, Any]]:
    """Out-of-fold predictions of the final model, one row per training row.

    Args:
        fitted_estimator: The refitted final estimator (for class order).
        params: Its pipeline spec (rebuilt per fold when recomputing).
        data: The :class:`~planner.automl._data.PreparedData` it was refitted on.
        study: The search's study (trials' stored OOF, folds, timings), or ``None``.
        member_trials: Trial numbers of the model (one for a single pipeline), with ``weights``.
        has_std: Whether the final model states a spread.
        as_fitted: :class:`~planner.automl.FittedPipeline` (wraps each fold's estimator to predict).

    Returns:
        ``(frame, info)``: the frame has ``y_true``, ``prediction``, ``std`` (regression) or
        ``proba_<class>`` (classification), ``fold`` (first repeat) and ``group`` when grouped;
        ``None`` with ``info["note"]`` saying why when they could not be had.
    """
    info_cv = None
    if study is not None:
        from planner.automl._keys import study_info

        info_cv = study_info(study).get("cv")
    splits = _first_repeat_splits(data, task, info_cv, seed)
    folds = np.full(len(data.y), -1)
    for k, (_, test) in enumerate(splits):
        folds[test] = k
    classes = list(fitted_estimator.classes_) if task == "classification" else None
    n = len(data.y)
    trials = {t.number: t for t in study.get_trials(deepcopy=False)} if study is not None else {}
    members = [_trial_oof(trials.get(t), n) for t in member_trials]
    stored_ok = bool(members) and all(m is not None for m in members)
    ensemble = len(member_trials) > 1
    meta: dict[str, Any] = {"version": CALIBRATION_VERSION, "file": OOF_FILE, "n": n}
    if stored_ok and (task == "classification" or ensemble or not has_std):
        w = np.asarray(weights if len(weights) == len(members) else [1.0] * len(members), dtype=float)
        w = w / w.sum()
        M = np.stack(members)  # members x n x k
        P = np.tensordot(w, M, axes=1)
        std = None
        if task == "regression" and ensemble:
            # the spread predict_std reports: members' weighted disagreement
            std = np.sqrt(np.clip(np.tensordot(w, (M[:, :, 0] - P[:, 0]) ** 2, axes=1), 0.0, None))
        meta.update(source="trials", note=f"out-of-fold predictions of trial(s) {list(member_trials)} as stored by the search (mean over CV repeats)")
        frame = _frame(data, task, classes, P, std, folds)
        frame["in_domain"] = _oof_in_domain(data, splits, seed)
        return frame, meta
    # recompute on the study's folds: the spread is needed, or nothing was stored
    expected = None
    if trials:
        times = [trials[t].user_attrs.get(FIT_TIME_ATTR) for t in member_trials if t in trials]
        n_run = [trials[t].user_attrs.get(N_FOLDS_ATTR) or 1 for t in member_trials if t in trials]
        if times and all(isinstance(x, int | float) for x in times):
            expected = sum(float(x) / max(1, int(k)) * len(splits) for x, k in zip(times, n_run, strict=True))
    if expected is not None and expected > MAX_RECOMPUTE_S:
        meta.update(source=None, note=f"no out-of-fold predictions: the trials stored none and recomputing them would take about {expected:.0f} s (limit {MAX_RECOMPUTE_S:.0f} s)")
        return None, meta
    from threadpoolctl import threadpool_limits

    from planner.automl._build import build_pipeline
    start = time.perf_counter()
    spec = {"task": task, "feature_columns": list(data.X.columns), "column_roles": data.column_roles}
    values = np.zeros((n, len(classes) if classes else 1))
    std = np.full(n, np.nan) if has_std else None
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")
        for train, test in splits:
            est = build_pipeline(params, task=task, column_roles=data.column_roles, seed=seed).fit(data.X.iloc[train], data.y[train])
            pred = as_fitted(estimator=est, spec=spec).predict(data.X.iloc[test])
            if task == "regression":
                values[test, 0] = pred["prediction"].to_numpy(float)
                if std is not None:
                    std[test] = pred["std"].to_numpy(float)
            else:
                for j, c in enumerate(classes or []):
                    col = f"proba_{c}"
                    values[test, j] = pred[col].to_numpy(float) if col in pred else (pred["prediction"].to_numpy() == c).astype(float)
    meta.update(source="recomputed", note=f"out-of-fold predictions of the final model recomputed on the search's folds (first repeat, {len(splits)} folds) in {time.perf_counter() - start:.1f} s")
    frame = _frame(data, task, classes, values, std, folds)
    frame["in_domain"] = _oof_in_domain(data, splits, seed)
    return frame, meta


def _bounds(bounds: tuple[float | None, float | None] | None) -> tuple[float, float]:
    lo, hi = bounds if bounds is not None else (None, None)
    return (-np.inf if lo is None else float(lo)), (np.inf if hi is None else float(hi))


def calibrated_columns(
    fitted: Any,
    X: pd.DataFrame,
    base: pd.DataFrame,
    *,
    levels: Any = None,
    groups: Sequence[Any] | np.ndarray | None = None,
    bounds: tuple[float | None, float | None] | None = None,
) -> pd.DataFrame:
    """``base`` (``prediction``, ``std`` or ``proba_*``) with intervals or sets and the flags.

    Regression adds ``lower``/``upper`` (suffixed ``_80``, ``_95`` when several levels),
    ``interval_calibrated``, ``out_of_range`` and, with ``bounds``, ``clipped``. Classification
    adds ``set`` (classes joined by ``|``), ``set_size`` and ``calibrated_proba_<class>``. Both
    add ``in_domain``, ``domain_reason``, ``nn_distance`` and a ``note`` per row (empty when
    nothing is to be said); notes about the model as a whole are in ``out.attrs["notes"]``.
    """
    levels = check_levels(levels)
    out = base.copy()
    m = len(out)
    notes: list[list[str]] = [[] for _ in range(m)]
    oof = fitted.oof
    if fitted.domain is not None:
        dom = fitted.domain.check(X).reset_index(drop=True)
        out["in_domain"] = dom["in_domain"].to_numpy()
        out["domain_reason"] = dom["domain_reason"].to_numpy()
        out["nn_distance"] = dom["nn_distance"].to_numpy()
        outside_rows = np.flatnonzero(~dom["in_domain"].to_numpy())
    else:
        out["in_domain"] = pd.array([pd.NA] * m, dtype="boolean")
        out["domain_reason"] = "unknown: " + REFRESH_HINT
        out["nn_distance"] = np.nan
        outside_rows = np.array([], dtype=int)
    widened = False
    common: list[str] = []  # on every row: why the interval is not calibrated
    info: list[str] = []  # about the model, once: in ``out.attrs["notes"]``
    if fitted.task == "regression":
        lo_b, hi_b = _bounds(bounds)
        pred = out["prediction"].to_numpy(float)
        if bounds is not None:
            clipped = (pred < lo_b) | (pred > hi_b)
            for i in np.flatnonzero(clipped):
                notes[i].append(f"prediction {pred[i]:.4g} clipped to the declared bound {'lower' if pred[i] < lo_b else 'upper'} {lo_b if pred[i] < lo_b else hi_b:g}")
            out["prediction"] = pred = np.clip(pred, lo_b, hi_b)
            out["clipped"] = clipped
        std = out["std"].to_numpy(float) if "std" in out else None
        if oof is not None:
            cal = RegressionCalibrator.from_oof(oof)
            info += list(cal.notes)
            if cal.in_domain is not None:
                widened = min(int(cal.in_domain.sum()), int((~cal.in_domain).sum())) >= MIN_RESIDUALS
            for level in levels:
                in_domain = out["in_domain"].to_numpy(dtype=bool, na_value=True) if fitted.domain is not None else None
                lower, upper, ok, g_notes = cal.intervals(pred, std, level, groups=groups, in_domain=in_domain)
                sfx = level_suffix(level, len(levels))
                out[f"lower{sfx}"], out[f"upper{sfx}"] = np.clip(lower, lo_b, hi_b), np.clip(upper, lo_b, hi_b)
                info += g_notes
            out["interval_calibrated"] = ok
            if not ok.all():
                common.append(f"uncalibrated: only {cal.n} out-of-fold residuals (at least 20 needed); the interval uses the largest ones seen")
        else:
            from scipy.stats import norm

            for level in levels:
                sfx = level_suffix(level, len(levels))
                half = norm.ppf(0.5 + level / 2) * (std if std is not None else np.full(m, np.nan))
                out[f"lower{sfx}"], out[f"upper{sfx}"] = np.clip(pred - half, lo_b, hi_b), np.clip(pred + half, lo_b, hi_b)
            out["interval_calibrated"] = False
            common.append(f"uncalibrated (normal quantile x the model's spread, NaN without one): {fitted.spec.get('calibration', {}).get('note') or 'the model has no stored out-of-fold predictions'}; {REFRESH_HINT}")
        rng = fitted.spec.get("target_range")
        if rng:
            span = float(rng[1]) - float(rng[0])
            raw = base["prediction"].to_numpy(float)
            far = (raw < rng[0] - RANGE_MARGIN * span) | (raw > rng[1] + RANGE_MARGIN * span)
            out["out_of_range"] = far
            for i in np.flatnonzero(far):
                notes[i].append(f"prediction {raw[i]:.4g} far outside the observed targets [{rng[0]:.4g}, {rng[1]:.4g}]")
        else:
            out["out_of_range"] = pd.array([pd.NA] * m, dtype="boolean")
    else:
        classes = list(fitted.spec.get("classes") or [])
        cols = [f"proba_{c}" for c in classes]
        if oof is not None and cols and all(c in out for c in cols):
            cal = ClassificationCalibrator.from_oof(oof, classes)
            P = out[cols].to_numpy(float)
            for level in levels:
                sets, ok, g_notes = cal.sets(P, level, groups=groups)
                sfx = level_suffix(level, len(levels))
                out[f"set{sfx}"] = ["|".join(map(str, s)) for s in sets]
                out[f"set_size{sfx}"] = [len(s) for s in sets]
                info += g_notes
            out["interval_calibrated"] = ok
            if not ok.all():
                common.append(f"uncalibrated: only {cal.n} out-of-fold rows (at least 20 needed)")
            Q = cal.calibrated_proba(P)
            for j, c in enumerate(classes):
                out[f"calibrated_proba_{c}"] = Q[:, j]
        else:
            out["interval_calibrated"] = False
            common.append("no prediction sets: " + ("the model has no class probabilities" if not cols or not all(c in out for c in cols) else f"no stored out-of-fold predictions; {REFRESH_HINT}"))
    for i in outside_rows:
        notes[i].append(
            "outside the applicability domain: "
            + ("the interval uses the quantile of out-of-fold rows that were outside theirs; " if widened else "")
            + "coverage is not guaranteed here"
        )
    common = list(dict.fromkeys(common))
    first = [c for c in base.columns if c in out]
    interval = [c for c in out.columns if c.startswith(("lower", "upper", "set", "calibrated_proba_"))]
    flags = [c for c in ("interval_calibrated", "clipped", "out_of_range", "in_domain", "domain_reason", "nn_distance") if c in out]
    out = out[first + interval + flags]
    out["note"] = ["; ".join(n + common) for n in notes]
    out.attrs["notes"] = list(dict.fromkeys(info + common))
    return out
