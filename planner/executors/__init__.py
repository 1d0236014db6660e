"""Where independent work runs: trials of a search, seeds of a backtest.

Executors are interchangeable: ``local`` (the default; serial, or a small spawn process
pool) and ``ray`` (a local Ray instance or an existing cluster). The caller (the search
driver, the backtest) keeps all state; an executor only runs a pure function and hands
back its result. Importing this package does not import Ray.
"""

from __future__ import annotations

from planner.executors._base import (
    EXECUTOR_KINDS,
    Executor,
    LocalExecutor,
    ProcessExecutor,
    describe_failure,
    make_executor,
)
from planner.executors._ray import RayExecutor
from planner.executors._threads import run_with_thread_budget

__all__ = [
    "EXECUTOR_KINDS",
    "Executor",
    "LocalExecutor",
    "ProcessExecutor",
    "RayExecutor",
    "describe_failure",
    "make_executor",
    "run_with_thread_budget",
]
