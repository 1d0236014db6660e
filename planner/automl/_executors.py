"""Where trials are evaluated. The search driver only needs ``submit(fn, *args, **kw)``
returning a ``concurrent.futures.Future`` (and uses ``put`` when the executor has one).
The executors themselves live in :mod:`planner.executors`; Ray is loaded lazily."""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from planner.executors import EXECUTOR_KINDS, RayExecutor
from planner.executors import make_executor as _make_executor

__all__ = ["TrialExecutor", "RayExecutor", "make_executor", "EXECUTOR_KINDS"]


@runtime_checkable
class TrialExecutor(Protocol):
    """Anything that runs ``fn(*args, **kwargs)`` elsewhere and returns a future.

    ``concurrent.futures.ProcessPoolExecutor`` satisfies it. The driver calls
    ``submit`` for each asked trial, waits on the futures, and calls ``shutdown`` only
    on executors it created itself. An optional ``put(obj)`` stores the dataset once
    (Ray's object store) and returns the handle passed to every ``submit``. An optional
    ``stop(future)`` stops a running call (the driver uses it at a trial's hard deadline);
    without it the late call is cancelled if it waits, else abandoned.
    """

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future: ...


def make_executor(kind: str, n_workers: int, *, address: str | None = None, temp_dir: str | None = None) -> TrialExecutor | None:
    """The executor for a campaign's ``executor`` setting.

    Args:
        kind: ``"local"`` (in the driver when ``n_workers == 1``, else a process pool),
            ``"process"`` or ``"ray"``.
        n_workers: Trials evaluated at once.
        address: Ray cluster address (``auto``, ``ray://host:10001``); ``None``: local Ray.
        temp_dir: Session folder of a local Ray instance.

    Returns:
        ``None`` for in-driver evaluation (live pruning), else an executor the caller
        must shut down.

    Raises:
        SpecError: Unknown kind or ``n_workers < 1``.
    """
    executor = _make_executor(kind, n_workers, address=address, temp_dir=temp_dir)
    if kind == "local" and n_workers == 1:
        return None
    return executor
