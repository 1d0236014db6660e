"""Where trials are evaluated. The search driver only needs ``submit(fn, *args, **kw)``
returning a ``concurrent.futures.Future``; Ray is one such executor, loaded lazily."""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from planner.exceptions import SpecError

__all__ = ["TrialExecutor", "RayExecutor", "make_executor", "EXECUTOR_KINDS"]

EXECUTOR_KINDS = ("local", "process", "ray")


@runtime_checkable
class TrialExecutor(Protocol):
    """Anything that runs ``fn(*args, **kwargs)`` elsewhere and returns a future.

    ``concurrent.futures.ProcessPoolExecutor`` satisfies it. The driver calls
    ``submit`` for each asked trial, waits on the futures, and calls ``shutdown`` only
    on executors it created itself.
    """

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future: ...


class RayExecutor:
    """Evaluate trials as Ray tasks (one CPU each); Ray starts on first use.

    Args:
        n_workers: CPUs Ray may use when this executor starts it.
        address: An existing cluster's address; ``None`` starts a local Ray.
    """

    def __init__(self, n_workers: int = 2, address: str | None = None) -> None:
        self.n_workers = n_workers
        self.address = address
        self._remote: dict[Callable[..., Any], Any] = {}
        self._started = False

    def _ray(self) -> Any:
        from planner.automl._deps import require

        ray = require("ray")
        if not ray.is_initialized():
            ray.init(address=self.address, num_cpus=None if self.address else self.n_workers, include_dashboard=False, log_to_driver=False)
            self._started = True
        return ray

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        ray = self._ray()
        if fn not in self._remote:
            self._remote[fn] = ray.remote(num_cpus=1)(fn)
        return self._remote[fn].remote(*args, **kwargs).future()

    def shutdown(self, wait: bool = True) -> None:
        if self._started:
            import ray

            ray.shutdown()
            self._started = False


def make_executor(kind: str, n_workers: int) -> TrialExecutor | None:
    """The executor for a campaign's ``executor`` setting.

    Args:
        kind: ``"local"`` (in the driver when ``n_workers == 1``, else a process pool),
            ``"process"`` or ``"ray"``.
        n_workers: Trials evaluated at once.

    Returns:
        ``None`` for in-driver evaluation, else an executor the caller must shut down.

    Raises:
        SpecError: Unknown kind or ``n_workers < 1``.
    """
    if not isinstance(n_workers, int) or n_workers < 1:
        raise SpecError(f"n_workers must be an integer >= 1, got {n_workers!r}")
    if kind not in EXECUTOR_KINDS:
        raise SpecError(f"unknown executor {kind!r}; use one of {list(EXECUTOR_KINDS)}")
    if kind == "ray":
        return RayExecutor(n_workers)
    if kind == "local" and n_workers == 1:
        return None
    import multiprocessing

    # spawn: forking a process that holds an sqlite connection or BLAS threads is unsafe
    return cf.ProcessPoolExecutor(max_workers=n_workers, mp_context=multiprocessing.get_context("spawn"))
