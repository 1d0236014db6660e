"""The executor contract and the local executors (serial, spawn process pool)."""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

from planner.exceptions import SpecError
from planner.executors._process import ProcessExecutor

__all__ = ["EXECUTOR_KINDS", "Executor", "LocalExecutor", "ProcessExecutor", "describe_failure", "make_executor"]

EXECUTOR_KINDS = ("local", "process", "ray")


@runtime_checkable
class Executor(Protocol):
    """Runs pure functions elsewhere; the caller keeps every piece of state.

    Call order: ``put`` large shared inputs once (the dataset), ``submit`` one call per
    unit of work passing the handles ``put`` returned as top-level arguments, wait on the
    futures, and ``shutdown`` when done (only the creator of an executor shuts it down).
    ``map`` is ``submit`` + wait, keeping the order. ``stop(future)`` stops one call that
    is still waiting or running (its worker is killed); it returns ``False`` if it had finished.
    """

    n_workers: int

    def put(self, obj: Any) -> Any: ...

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future: ...

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]: ...

    def stop(self, future: cf.Future) -> bool: ...

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

    def stop(self, future: cf.Future) -> bool:
        return future.cancel()  # calls run when submitted: nothing is ever left to stop

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        return None


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
