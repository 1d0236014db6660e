"""How well the saved model's conformal intervals (prediction sets) cover, for the Uncertainty section.

The saved model's out-of-fold (OOF) predictions calibrate its intervals, so their coverage on
those same rows would be true by construction. The honest check here is *cross-conformal*:
the rows of each CV fold get intervals calibrated on the other folds' residuals only, exactly
as ``predict`` computes them (normalisation, Mondrian groups and all). Measured suggestions
are checked against the interval logged when they were proposed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from planner.automl import ClassificationCalibrator, RegressionCalibrator

__all__ = ["LEVELS", "cross_conformal", "verdict", "suggestion_coverage"]

LEVELS = (0.8, 0.9, 0.95)


def _folds(oof: pd.DataFrame) -> np.ndarray:
    if "fold" in oof and (oof["fold"] >= 0).all() and oof["fold"].nunique() >= 2:
        return oof["fold"].to_numpy()
    return np.arange(len(oof)) % 5


def cross_conformal(
    oof: pd.DataFrame, *, task: str, classes: list[Any] | None = None, levels: tuple[float, ...] = LEVELS
) -> tuple[pd.DataFrame, np.ndarray | None, dict[float, np.ndarray]]:
    """Per level: coverage and mean width (regression, target units) or mean set size.

    Returns:
        ``(table, calibrated, hits)``: the table has ``level``, ``coverage``, ``width`` or
        ``set size``, ``rows``; ``calibrated`` holds cross-fitted recalibrated probabilities
        (classification, `n x k`) for the reliability curve, else ``None``; ``hits`` maps each
        level to whether each row was covered.
    """
    folds = _folds(oof)
    n = len(oof)
    rows = []
    calibrated = np.zeros((n, len(classes or []))) if task == "classification" else None
    hits = {lv: np.zeros(n, dtype=bool) for lv in levels}
    sizes = {lv: np.zeros(n) for lv in levels}
    for k in np.unique(folds):
        test = folds == k
        train = oof[~test]
        part = oof[test]
        groups = part["group"].to_numpy() if "group" in part else None
        if task == "regression":
            cal = RegressionCalibrator.from_oof(train)
            std = part["std"].to_numpy(float) if "std" in part else None
            inside = part["in_domain"].astype(str).str.lower().isin(["true", "1", "1.0"]).to_numpy() if "in_domain" in part else None
            for lv in levels:
                lo, hi, _, _ = cal.intervals(part["prediction"].to_numpy(float), std, lv, groups=groups, in_domain=inside)
                y = part["y_true"].to_numpy(float)
                hits[lv][test] = (y >= lo) & (y <= hi)
                sizes[lv][test] = hi - lo
        else:
            cal = ClassificationCalibrator.from_oof(train, classes or [])
            P = part[[f"proba_{c}" for c in classes or []]].to_numpy(float)
            y = part["y_true"].astype(str).to_numpy()
            for lv in levels:
                sets, _, _ = cal.sets(P, lv, groups=groups)
                hits[lv][test] = [str(t) in {str(c) for c in s} for t, s in zip(y, sets, strict=True)]
                sizes[lv][test] = [len(s) for s in sets]
            calibrated[test] = cal.calibrated_proba(P)  # type: ignore[index]
    for lv in levels:
        finite = np.isfinite(sizes[lv])
        rows.append({
            "level": lv,
            "coverage": float(hits[lv].mean()),
            ("width" if task == "regression" else "set size"): float(sizes[lv][finite].mean()) if finite.any() else math.inf,
            "rows": n,
        })
    return pd.DataFrame(rows), calibrated, hits


def verdict(level: float, coverage: float, n: int) -> str:
    """Plain words: within sampling noise of the level, too narrow, or too wide."""
    tol = max(0.03, 2 * math.sqrt(level * (1 - level) / max(n, 1)))
    if coverage < level - tol:
        return f"OFF: too narrow ({coverage:.0%} covered, {level:.0%} promised)"
    if coverage > level + tol:
        return f"off: wider than needed ({coverage:.0%} covered, {level:.0%} promised)"
    return "holds"


def suggestion_coverage(outcomes: pd.DataFrame, target: str) -> dict[str, Any] | None:
    """Coverage of the logged ``<target>_lower``/``_upper`` by the measured values, or ``None``."""
    cols = [f"{target}_lower", f"{target}_upper", f"{target}_observed"]
    if not all(c in outcomes for c in cols):
        return None
    f = outcomes.dropna(subset=cols)
    if f.empty:
        return None
    y = f[f"{target}_observed"].to_numpy(float)
    hit = (y >= f[f"{target}_lower"].to_numpy(float)) & (y <= f[f"{target}_upper"].to_numpy(float))
    return {"rows": len(f), "coverage": float(hit.mean()), "width": float((f[f"{target}_upper"] - f[f"{target}_lower"]).mean())}


def _suggestion_level(paths: Any, rounds: list[int], target: str) -> float | None:
    """The interval level logged with the suggestion rounds (``None`` when unknown or mixed)."""
    import json

    levels = set()
    for r in rounds:
        path = paths.suggestion_round(r)
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        entry = (meta.get("calibration") or {}).get(target)
        if not entry:
            return None
        levels.add(float(entry["coverage"]))
    return levels.pop() if len(levels) == 1 else None


def _domain_note(sec: Any, fitted: Any, oof: pd.DataFrame, hits: dict[float, np.ndarray]) -> None:
    """Applicability domain: its rule, how many out-of-fold rows fell outside, and their coverage."""
    domain = getattr(fitted, "domain", None)
    if domain is None or "in_domain" not in oof:
        return
    inside = oof["in_domain"].astype(str).str.lower().isin(["true", "1", "1.0"]).to_numpy()
    text = (
        f"Applicability domain: a row is flagged (`in_domain` false in `planner predict`) when an input leaves the training "
        f"range, a category or element is new, or its nearest training row is further than {domain.threshold:.3g} (the "
        f"{domain.nn_quantile:.0%} quantile of training nearest-neighbour distances). Out of fold, {int((~inside).sum())} of "
        f"{len(inside)} rows were outside their fold's domain"
    )
    level = 0.9 if 0.9 in hits else next(iter(hits))
    if (~inside).any() and inside.any():
        text += f"; {level:.0%} coverage inside {hits[level][inside].mean():.0%}, outside {hits[level][~inside].mean():.0%}"
    sec.note(text + ".")


def conformal_block(ctx: Any, sec: Any, record: Any) -> None:
    """The calibrated-interval part of the Uncertainty section for one target."""
    import planner.report._figures as F
    from planner.report._html import grid, table
    from planner.report._records import Missing
    from planner.report._sources import suggestion_outcomes

    fitted = record.fitted
    if fitted is None or isinstance(fitted, Missing):
        return
    oof = getattr(fitted, "oof", None)
    if oof is None:
        sec.missing(
            f"Calibrated intervals: the saved model of {record.name} stores no out-of-fold predictions "
            f"({(fitted.spec.get('calibration') or {}).get('note') or 'saved before calibration'}); run `planner run` again."
        )
        return
    task = fitted.task
    classes = [str(c) for c in fitted.spec.get("classes") or []]
    frame, calibrated, hits = cross_conformal(oof, task=task, classes=classes or None)
    unit = f" ({record.unit})" if getattr(record, "unit", None) else ""
    shown = frame.assign(
        level=[f"{lv:.0%}" for lv in frame["level"]],
        verdict=[verdict(lv, c, n) for lv, c, n in zip(frame["level"], frame["coverage"], frame["rows"], strict=True)],
    )
    if task == "regression":
        shown = shown.rename(columns={"width": f"mean width{unit}"})
    sec.add(table(shown, digits=3))
    what = "intervals" if task == "regression" else "prediction sets"
    sec.note(
        f"Conformal {what} of the saved model ({'ensemble' if fitted.spec.get('ensemble') else 'single pipeline'}), checked "
        f"cross-conformally on its {len(oof)} out-of-fold predictions: each fold's rows get {what} calibrated on the other "
        "folds only, as `planner predict` computes them. 'holds' means within sampling noise of the level."
    )
    off = shown[shown["verdict"] != "holds"]
    line = "; ".join(f"{r['level']}: {r['verdict']}" for _, r in shown.iterrows())
    if len(off):
        sec.note(f"Coverage is off for {record.name}: " + "; ".join(off["verdict"]) + ". Treat these intervals with care.")
    sec.markdown.append(f"- **Calibrated {what} {record.name}** (cross-conformal, out-of-fold): {line}")
    _domain_note(sec, fitted, oof, hits)
    if task == "classification" and calibrated is not None and len(classes) >= 2:
        y = oof["y_true"].astype(str).to_numpy()
        if len(classes) == 2:
            fig = F.reliability(calibrated[:, 1], y == classes[1], label=f"class {classes[1]}, recalibrated, cross-fitted")
        else:
            picked = np.array(classes)[calibrated.argmax(axis=1)]
            fig = F.reliability(calibrated.max(axis=1), picked == y, label="recalibrated confidence, cross-fitted")
        sec.add(grid([ctx.figures(fig, height=400)]))
    if task == "regression" and isinstance(ctx.suggestions, pd.DataFrame):
        outcomes = suggestion_outcomes(ctx.suggestions, ctx.inputs.observations, [record.name])
        got = suggestion_coverage(outcomes, record.name)
        flagged = [c for c in ("in_domain", f"{record.name}_clipped") if c in outcomes]
        if flagged:
            parts = []
            if "in_domain" in outcomes:
                parts.append(f"{int((outcomes['in_domain'].astype(str).str.lower() == 'false').sum())} outside the observed data")
            if f"{record.name}_clipped" in outcomes:
                parts.append(f"{int((outcomes[f'{record.name}_clipped'].astype(str).str.lower() == 'true').sum())} with the prediction clipped to a declared bound")
            sec.note(f"Logged suggestions: {len(outcomes)}, of which " + " and ".join(parts) + ".")
        if got is None:
            sec.note(f"No measured suggestion with a logged {record.name} interval yet.")
        else:
            measured = outcomes.dropna(subset=[f"{record.name}_observed", f"{record.name}_lower"])
            level = _suggestion_level(ctx.inputs.paths, sorted(measured["_round"].unique()), record.name) if "_round" in measured else None
            words = verdict(level, got["coverage"], got["rows"]) if level is not None else "level not logged"
            sec.note(
                f"Suggestions measured since: {got['rows']} of them, {got['coverage']:.0%} inside the interval logged when "
                f"they were proposed ({'level ' + format(level, '.0%') if level else 'level unknown'}; {words}), mean width "
                f"{got['width']:.3g}{unit}."
            )
