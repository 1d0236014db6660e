"""Bayesian active learning: propose the next experiments and backtest strategies.

A plain API over pandas tables, not tied to a campaign:

- design spaces: :class:`PoolDesign` (a candidate table), :class:`ContinuousDesign`
  (boxes, linear equalities/inequalities such as fractions summing to 1, categorical levels);
- :func:`suggest` -> :class:`SuggestionResult` (a table with one row per proposed experiment);
  :class:`SuggestRequest` is the same call as a frozen, validated record
  (``SuggestRequest.create(design=..., targets=...).run(observed_X, observed_y)``);
- :func:`backtest` -> :class:`BacktestResult` (simulated campaigns on a labelled pool, with
  best-so-far curves, Top%, enhancement and acceleration factors);
- :func:`register_strategy` to add an acquisition strategy.

Importing this package loads nothing heavy; torch and BoTorch load on the first call.

Example (what ``planner suggest`` does with a campaign's tables)::

    from planner.active import PoolDesign, suggest

    result = suggest(
        observations[inputs], observations[["capacity", "temp_rise"]],
        design=PoolDesign(candidates, inputs=inputs),        # or ContinuousDesign(...)
        targets=[("capacity", "max")], outcome_constraints=[("temp_rise", "<=", 10.0)],
        n=5, pending=pending_suggestions[inputs],             # logged, not yet observed
        surrogate="gp-additive",                              # default; "gp", "rf", or the AutoML's best
        featurizer=composition_featurizer, seed=campaign_seed,
    )
    result.table     # one row per suggestion: inputs, <target>_mean/_std, acquisition, distance, reason
    result.metadata  # strategy_used, model, fallbacks, notes, seconds, ... (JSON-ready)

and ``planner backtest``::

    from planner.active import backtest

    bt = backtest(labelled_pool, inputs=inputs, targets=[("capacity", "max")],
                  strategies=["random", "greedy@rf", "qlognei", "qlognei@rf"],
                  n_seeds=20, n_initial=2, batch_size=5, budget=50, n_jobs=2)
    bt.to_dir(campaign_dir / "backtests" / run_id)   # runs.csv, curves.csv, summary.csv, metadata.json
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "Target",
    "OutcomeConstraint",
    "LinearConstraint",
    "PoolDesign",
    "ContinuousDesign",
    "PoolReport",
    "suggest",
    "SuggestionResult",
    "SuggestRequest",
    "DEFAULT_SURROGATE",
    "pareto_front",
    "backtest",
    "BacktestResult",
    "Arm",
    "available_strategies",
    "register_strategy",
    "BaseStrategy",
    "Problem",
    "Selection",
]

_WHERE = {
    "Target": "_specs",
    "OutcomeConstraint": "_specs",
    "LinearConstraint": "_specs",
    "PoolDesign": "_specs",
    "ContinuousDesign": "_specs",
    "PoolReport": "_specs",
    "suggest": "_suggest",
    "SuggestionResult": "_result",
    "SuggestRequest": "_request",
    "DEFAULT_SURROGATE": "_request",
    "pareto_front": "_pareto",
    "backtest": "_backtest",
    "BacktestResult": "_backtest",
    "Arm": "_backtest",
    "available_strategies": "_strategies",
    "register_strategy": "_strategies",
    "BaseStrategy": "_strategies",
    "Problem": "_problem",
    "Selection": "_problem",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f"planner.active.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'planner.active' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
