"""Bayesian active learning: propose the next experiments and backtest strategies.

A plain API over pandas tables, not tied to a campaign:

- design spaces: :class:`PoolDesign` (a candidate table), :class:`ContinuousDesign`
  (boxes, linear equalities/inequalities such as fractions summing to 1, categorical levels);
- :func:`suggest` -> :class:`SuggestionResult` (a table with one row per proposed experiment);
- :func:`backtest` -> :class:`BacktestResult` (simulated campaigns on a labelled pool, with
  best-so-far curves, Top%, enhancement and acceleration factors);
- :func:`register_strategy` to add an acquisition strategy.

Importing this package loads nothing heavy; torch and BoTorch load on the first call.
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
    "SuggestionResult": "_suggest",
    "pareto_front": "_pareto",
    "backtest": "_backtest",
    "BacktestResult": "_backtest",
    "Arm": "_backtest",
    "available_strategies": "_strategies",
    "register_strategy": "_strategies",
    "BaseStrategy": "_strategies",
    "Problem": "_strategies",
    "Selection": "_strategies",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f"planner.active.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'planner.active' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
