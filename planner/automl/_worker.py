"""Hard deadlines: trials and refits run in a child process the driver can kill.

The local default stays light: one reusable worker process, forked from the driver so it
inherits the dataset (and the representation tables) instead of receiving them pickled.
The worker streams each fold's running mean back; when a trial passes its deadline the
driver kills the worker, records the trial as stopped by the clock with the folds it did
finish (so the sampler still learns from it), and forks a fresh worker for the next trial.

:func:`call_with_deadline` runs one function (a refit) in a fresh forked process and
returns its result, or ``None`` with the reason when the deadline passed.
"""

from __future__ import annotations

import multiprocessing as mp
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from planner.automl._evaluate import TrialResult, evaluate_pipeline
from planner.automl._keys import FAILED, PRUNED

__all__ = ["DeadlineWorker", "call_with_deadline", "fork_available"]

#: Seconds a killed process gets to go before the driver stops waiting for it.
_JOIN_S = 5.0


def fork_available() -> bool:
    """Whether this platform can fork (the worker needs it to share the data cheaply)."""
    return "fork" in mp.get_all_start_methods()


def _context() -> Any:
    return mp.get_context("fork")


def _serve(conn: Any, X: pd.DataFrame, y: np.ndarray) -> None:
    """The worker's loop: evaluate each trial sent, streaming fold results back."""
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        params, rule, kwargs = message

        def on_fold(step: int, mean: float) -> str | None:
            conn.send(("fold", step, mean))
            return rule(step, mean) if rule is not None else None  # noqa: B023 - used within this message

        try:
            result = evaluate_pipeline(params, X, y, on_fold=on_fold, **kwargs)
            conn.send(("done", result))
        except BaseException as err:  # noqa: BLE001 - reported to the driver as this trial's failure
            conn.send(("error", f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=3)}"))


def _folds_from_means(means: list[float]) -> tuple[float, ...]:
    """Per-fold scores from the running means the worker streamed."""
    out, prev = [], 0.0
    for i, m in enumerate(means):
        out.append(m * (i + 1) - prev * i)
        prev = m
    return tuple(out)


class DeadlineWorker:
    """One reusable worker process evaluating trials under a hard deadline each.

    Args:
        X: The feature table every trial uses (inherited by the forked worker).
        y: The target.
    """

    def __init__(self, X: pd.DataFrame, y: np.ndarray) -> None:
        self._X, self._y = X, y
        self._proc: Any = None
        self._conn: Any = None
        self.n_killed = 0

    def _start(self) -> None:
        ctx = _context()
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(child, self._X, self._y), daemon=True, name="planner-trial-worker")
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent

    def evaluate(
        self,
        params: Mapping[str, Any],
        *,
        limit_s: float | None,
        rule: Callable[[int, float], str | None] | None,
        on_fold: Callable[[int, float], None] | None = None,
        metric: str,
        n_folds: int,
        fidelity: float = 1.0,
        **kwargs: Any,
    ) -> TrialResult:
        """Evaluate one pipeline; kill it when ``limit_s`` seconds pass.

        Args:
            params: The pipeline spec.
            limit_s: Hard limit for this trial (``None``: none).
            rule: Picklable fold stop rule applied in the worker.
            on_fold: Called in the driver with each fold's ``(step, running_mean)``.
            metric: Objective name (for the result of a killed trial).
            n_folds: Folds planned (same).
            fidelity: Share of training rows used (same).
            **kwargs: Passed to :func:`~planner.automl.evaluate_pipeline`.

        Returns:
            The worker's :class:`TrialResult`, or for a killed trial a ``pruned`` one
            holding the folds it finished and the reason.
        """
        if self._proc is None or not self._proc.is_alive():
            self._start()
        started = time.monotonic()
        end = None if limit_s is None else started + max(0.0, limit_s)
        means: list[float] = []
        try:
            self._conn.send((dict(params), rule, dict(kwargs, metric=metric)))
            while True:
                wait = None if end is None else max(0.0, end - time.monotonic())
                if not self._conn.poll(wait):
                    break
                message = self._conn.recv()
                if message[0] == "fold":
                    means.append(float(message[2]))
                    if on_fold is not None:
                        on_fold(int(message[1]), float(message[2]))
                elif message[0] == "done":
                    return message[1]
                else:
                    return TrialResult(params=dict(params), status=FAILED, metric=metric, value=None, fold_scores=_folds_from_means(means), n_folds=n_folds, failure_reason=f"worker error: {message[1]}")
        except (EOFError, OSError, BrokenPipeError) as err:
            code = self._proc.exitcode if self._proc is not None else None
            self.kill()
            why = f"the worker process died (exit code {code}; out of memory?)" if code else f"lost the worker process ({type(err).__name__})"
            return TrialResult(params=dict(params), status=FAILED, metric=metric, value=None, fold_scores=_folds_from_means(means), n_folds=n_folds, failure_reason=f"WorkerDied: {why} after {len(means)} of {n_folds} folds")
        elapsed = time.monotonic() - started
        self.kill()
        self.n_killed += 1
        folds = _folds_from_means(means)
        return TrialResult(
            params=dict(params),
            status=PRUNED,
            metric=metric,
            value=float(np.mean(folds)) if folds else None,
            fold_scores=folds,
            n_folds=n_folds,
            fit_time_s=elapsed,
            failure_reason=(
                f"TimeBudget: stopped by the clock after {elapsed:.1f} s (this trial's limit was {limit_s:.1f} s), "
                f"with {len(folds)} of {n_folds} folds done"
            ),
            fidelity=fidelity,
        )

    def kill(self) -> None:
        """Stop the worker now (a fresh one starts on the next trial)."""
        if self._proc is not None:
            if self._proc.is_alive():
                self._proc.kill()
            self._proc.join(_JOIN_S)
        if self._conn is not None:
            self._conn.close()
        self._proc = self._conn = None

    def close(self) -> None:
        """Ask the worker to exit; kill it if it does not."""
        if self._conn is not None and self._proc is not None and self._proc.is_alive():
            try:
                self._conn.send(None)
                self._proc.join(1.0)
            except (OSError, BrokenPipeError):
                pass
        self.kill()


def _call(conn: Any, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    try:
        conn.send(("done", fn(*args, **kwargs)))
    except BaseException as err:  # noqa: BLE001 - the caller decides what a failed refit means
        conn.send(("error", f"{type(err).__name__}: {err}"))
    finally:
        conn.close()


def call_with_deadline(fn: Callable[..., Any], *args: Any, limit_s: float, **kwargs: Any) -> tuple[Any, str | None]:
    """Run ``fn(*args, **kwargs)`` in a forked process for at most ``limit_s`` seconds.

    Returns:
        ``(result, None)``, or ``(None, reason)`` when it raised or ran out of time (the
        process is killed).
    """
    if limit_s <= 0:
        return None, "TimeBudget: no time was left for it"
    ctx = _context()
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_call, args=(child, fn, args, kwargs), daemon=True, name="planner-refit")
    started = time.monotonic()
    proc.start()
    child.close()
    try:
        if parent.poll(limit_s):
            try:
                kind, payload = parent.recv()
            except (EOFError, OSError):
                return None, f"the process died (exit code {proc.exitcode}; out of memory?)"
            return (payload, None) if kind == "done" else (None, payload)
        return None, f"TimeBudget: stopped by the clock after {time.monotonic() - started:.1f} s (limit {limit_s:.1f} s)"
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(_JOIN_S)
        parent.close()
