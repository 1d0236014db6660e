"""Cost-frugal search on large tables: low-cost starts, growth of boosted models, promotion.

FLAML's lesson: start every model at its cheapest size and spend more only where it pays.

* :func:`order_by_cost` orders the enqueued defaults cheapest model first and starts each
  boosted or bagged model's size parameters (trees, leaves, depth) at their lower bound.
* On large tables (above :data:`LARGE_TABLE_ROWS` training rows per fold), :func:`grow`
  re-runs a complete single boosted model that is promising - a default (low-cost start),
  a grown trial that beat its parent, or the best of its fidelity - with twice its rounds
  and leaves (:data:`GROW_PARAMS`, within the space's bounds) at the same fidelity; a chain
  stops when a step does not beat its parent. Boosting's rounds and leaves are its capacity
  and its cost, both linear; a forest's extra trees only average, so forests are not grown.
* :func:`promote_affordable` then sends the best low-fidelity trial whose predicted
  full-fidelity cost fits what a promoted trial may use to full fidelity (a promotion bound
  to be stopped by the clock is skipped for the next best). Scores at different fidelities
  are never ranked together.
"""

from __future__ import annotations

from typing import Any

from planner.automl._keys import (
    FIDELITY_ATTR,
    FIT_TIME_ATTR,
    FOLD_SCORES_ATTR,
    PROMOTED_FROM_ATTR,
    SOURCE_ATTR,
    SOURCE_DEFAULT,
    SOURCE_PROMOTED,
    TRAIN_ROWS_ATTR,
)

__all__ = ["LARGE_TABLE_ROWS", "GROW_PARAMS", "SOURCE_GROWN", "GROWN_FROM_ATTR", "PROMOTED_SHARE_OF_TIME_LEFT", "order_by_cost", "grown_params", "grow", "promote_affordable", "full_cost_s"]

#: Above this many training rows per fold, boosted models grow cost-frugally (smaller tables search as before).
LARGE_TABLE_ROWS = 20_000
#: Size parameters a grown trial doubles (capped at the space's upper bound).
GROW_PARAMS = ("n_estimators", "max_iter", "num_leaves", "max_leaf_nodes")
#: ``source`` of a grown trial, and the trial it grew from.
SOURCE_GROWN = "grown"
GROWN_FROM_ATTR = "grown_from"
#: On a large table, a trial promoted to full fidelity may use this share of the time left.
PROMOTED_SHARE_OF_TIME_LEFT = 0.5
#: Low-fidelity trials considered for promotion, best first.
PROMOTE_TOP = 3

#: Relative cost of the model families, for ordering the enqueued defaults cheap-first.
_COST_RANK = {"ridge": 0, "logistic": 0, "lasso": 1, "naive_bayes": 1, "elasticnet": 1, "pls": 1, "lgbm": 2, "hgb": 3, "tree": 3, "knn": 4, "xgb": 5, "rf": 6, "et": 6, "gb": 7}
#: Parameters whose cost grows with their value: the low-cost start takes their lower bound.
_COST_PARAMS = ("n_estimators", "num_leaves", "max_leaf_nodes", "max_depth", "max_features")


def _single_model_specs(space: Any, model: Any) -> list[tuple[str, Any]]:
    """``(param, ParamSpec)`` of a model offered as a single model (empty: not offered)."""
    return [(pname, spec) for fusion in space.fusion if fusion.kind == "single" for base in fusion.bases if base.name == model for pname, spec in base.params]


def order_by_cost(defaults: list[dict[str, Any]], space: Any = None, ctx: Any = None) -> list[dict[str, Any]]:
    """Enqueued defaults, cheapest model first; with ``space``, each boosted or bagged
    model's cost parameters (trees, leaves, depth) start at their lower bound (FLAML's
    low-cost start: the sampler, and on large tables :func:`grown_params`, grow them when that pays)."""
    ordered = sorted(defaults, key=lambda p: _COST_RANK.get(str(p.get("model", "")), 9))
    if space is None:
        return ordered
    out = []
    for params in ordered:
        params = dict(params)
        model = params.get("model")
        for pname, spec in _single_model_specs(space, model):
            key = f"model.{model}.{pname}"
            if pname in _COST_PARAMS and key in params and spec.kind in ("int", "float"):
                params[key] = spec.bounds(ctx)[0]
        out.append(params)
    return out


def grown_params(params: dict[str, Any], space: Any, ctx: Any) -> dict[str, Any] | None:
    """A boosted single model's Optuna params with its rounds / leaves doubled (within the
    space's bounds); ``None`` when there is nothing to grow (not a single boosted model, or at
    the top). Boosting's rounds and leaves are its capacity; a forest's extra trees only
    average, so forests are not grown."""
    from planner.automl._components import get_component

    model = params.get("model")
    if params.get("fusion", "single") != "single" or model is None or get_component("model", str(model)).family != "boosting":
        return None
    out, grew = dict(params), False
    for pname, spec in _single_model_specs(space, model):
        key = f"model.{model}.{pname}"
        if pname not in GROW_PARAMS or key not in params or spec.kind != "int":
            continue
        high = spec.bounds(ctx)[1]
        value = min(int(high), 2 * int(params[key]))
        if value > int(params[key]):
            out[key], grew = value, True
    return out if grew else None


def _better(direction: str, a: Any, b: Any) -> bool:
    sign = 1.0 if direction == "minimize" else -1.0
    return sign * a.value < sign * b.value


def full_cost_s(frozen: Any, train_rows: int, n_folds: int) -> float:
    """Predicted seconds of a low-fidelity trial re-run at full fidelity (``n_folds`` folds of ``train_rows`` rows)."""
    attrs = frozen.user_attrs
    folds = max(1, len([s for s in attrs.get(FOLD_SCORES_ATTR) or [] if s is not None]))
    rows = float(attrs.get(TRAIN_ROWS_ATTR) or train_rows)
    return float(attrs.get(FIT_TIME_ATTR) or 0.0) / folds * max(1.0, train_rows / max(rows, 1.0)) * n_folds


def promote_affordable(driver: Any) -> None:
    """Promote the best low-fidelity trial (of the top :data:`PROMOTE_TOP`) whose predicted
    full-fidelity cost fits :data:`PROMOTED_SHARE_OF_TIME_LEFT` of the time left; each trial once."""
    from optuna.trial import TrialState

    sign = 1.0 if driver.objective.direction == "minimize" else -1.0
    trials = driver.study.get_trials(deepcopy=False)
    promoted = {t.user_attrs.get(PROMOTED_FROM_ATTR) for t in trials}
    low = sorted((t for t in trials if t.state == TrialState.COMPLETE and float(t.user_attrs.get(FIDELITY_ATTR, 1.0)) < 1.0), key=lambda t: (sign * t.value, t.number))
    left = driver.time_left()
    cap = None if left is None else PROMOTED_SHARE_OF_TIME_LEFT * left
    for t in low[:PROMOTE_TOP]:
        if cap is not None and full_cost_s(t, driver.train_rows, len(driver.splits)) > cap:
            continue
        if t.number not in promoted:
            driver.study.enqueue_trial(dict(t.params), user_attrs={SOURCE_ATTR: SOURCE_PROMOTED, PROMOTED_FROM_ATTR: t.number})
        return


def grow(driver: Any, frozen: Any) -> bool:
    """Enqueue ``frozen`` with twice its rounds / leaves at its fidelity when it is promising:
    a default (low-cost start), a grown trial that beat its parent, or the best of its
    fidelity. Returns whether a grown trial was enqueued."""
    from optuna.trial import TrialState

    if frozen.state != TrialState.COMPLETE or float(frozen.user_attrs.get(FIDELITY_ATTR, 1.0)) >= 1.0:
        return False
    direction = driver.objective.direction
    source = frozen.user_attrs.get(SOURCE_ATTR)
    trials = driver.study.get_trials(deepcopy=False)
    if source == SOURCE_GROWN:
        parent = trials[int(frozen.user_attrs[GROWN_FROM_ATTR])]
        promising = parent.state != TrialState.COMPLETE or _better(direction, frozen, parent)
    elif source == SOURCE_DEFAULT:
        promising = True
    else:
        fid = float(frozen.user_attrs.get(FIDELITY_ATTR, 1.0))
        same = [t for t in trials if t.state == TrialState.COMPLETE and abs(float(t.user_attrs.get(FIDELITY_ATTR, 1.0)) - fid) < 1e-3]
        promising = not any(_better(direction, t, frozen) for t in same)
    grown = grown_params(dict(frozen.params), driver.space, driver.ctx) if promising else None
    if grown is None or any(t.params == grown and t.user_attrs.get(SOURCE_ATTR) != SOURCE_PROMOTED for t in trials):
        return False
    driver.study.enqueue_trial(grown, user_attrs={SOURCE_ATTR: SOURCE_GROWN, GROWN_FROM_ATTR: frozen.number})
    return True
