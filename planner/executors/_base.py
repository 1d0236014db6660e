"""The executor contract and the local executors (serial, spawn process pool)."""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

from planner.exceptions import SpecError
from planner.executors._threads import run_with_thread_budget

__all__ = ["EXECUTOR_KINDS", "Executor", "LocalExecutor", "ProcessExecutor", "describe_failure", "make_executor"]

EXECUTOR_KINDS = ("local", "process", "ray")


@runtime_checkable
class Executor(Protocol):
    """Runs pure functions elsewhere; the caller keeps every piece of state.

    Call order: ``put`` large shared inputs once (the dataset), ``submit`` one call per
    unit of work passing the handles ``put`` returned as top-level arguments, wait on the
    futures, and ``shutdown`` when done (only the creator of an executor shuts it down).
    ``map`` is ``submit`` + wait, keeping the order.
    """

    n_workers: int

    def put(self, obj: Any) -> Any: ...

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future: ...

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]: ...

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None: ...


def describe_failure(err: BaseException, max_chars: int = 300) -> str:
    """``"<ErrorType>: <first meaningful line>"`` for an error raised through a future.

    Ray wraps errors (``RayTaskError(...)``) with a colored header line naming the task;
    the cause and its message are what a user needs in a trial's failure reason.
    """
    import re

    cause = getattr(err, "cause", None)
    if isinstance(cause, BaseException) and cause is not err:
        err = cause
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(err))
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("ray::")]
    return f"{type(err).__name__}: {lines[0][:max_chars] if lines else ''}".rstrip(": ")


class LocalExecutor:
    """Runs each call in the calling thread when it is submitted (serial, no copies)."""

    n_workers = 1

    def put(self, obj: Any) -> Any:
        return obj

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as err:  # noqa: BLE001 - delivered through the future, as a pool would
            future.set_exception(err)
        return future

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        return [fn(item) for item in items]

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        return None


class ProcessExecutor:
    """A spawn process pool of ``n_workers`` (one thread each); for a single machine.

    Inputs are pickled per call (``put`` is the identity), which is fine for the
    small tables planner campaigns hold; use :class:`RayExecutor` to share large ones.
    """

    def __init__(self, n_workers: int = 2, *, threads_per_task: int = 1) -> None:
        import multiprocessing

        self.n_workers = n_workers
        self.threads_per_task = threads_per_task
        # spawn: forking a process that holds an sqlite connection or BLAS/torch threads is unsafe
        self._pool = cf.ProcessPoolExecutor(max_workers=n_workers, mp_context=multiprocessing.get_context("spawn"))

    def put(self, obj: Any) -> Any:
        return obj

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        return self._pool.submit(run_with_thread_budget, self.threads_per_task, fn, *args, **kwargs)

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        return [f.result() for f in [self.submit(fn, item) for item in items]]

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def make_executor(
    kind: str = "local",
    n_workers: int = 1,
    *,
    address: str | None = None,
    temp_dir: str | None = None,
    max_retries: int = 3,
) -> Executor:
    """The executor for a campaign's ``executor`` setting.

    Args:
        kind: ``"local"`` (serial when ``n_workers == 1``, else a process pool),
            ``"process"`` or ``"ray"``.
        n_workers: Units of work in flight at once.
        address: Ray only: ``"auto"``, ``"ray://host:10001"``, or ``None`` to start a
            local Ray instance.
        temp_dir: Ray only: session folder of a Ray instance this executor starts.
        max_retries: Ray only: reruns of a call whose worker or node died.

    Returns:
        An executor; the caller shuts it down.

    Raises:
        SpecError: Unknown kind, ``n_workers < 1``, or an address for a non-Ray kind.
    """
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise SpecError(f"n_workers must be an integer >= 1, got {n_workers!r}")
    if kind not in EXECUTOR_KINDS:
        raise SpecError(f"unknown executor {kind!r}; use one of {list(EXECUTOR_KINDS)}")
    if address is not None and kind != "ray":
        raise SpecError(f"an address ({address!r}) needs the ray executor; use --executor ray, or drop --address")
    if kind == "ray":
        from planner.executors._ray import RayExecutor

        return RayExecutor(n_workers, address=address, temp_dir=temp_dir, max_retries=max_retries)
    if kind == "local" and n_workers == 1:
        return LocalExecutor()
    return ProcessExecutor(n_workers)
