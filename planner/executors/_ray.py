"""Ray as an executor: one Ray task per unit of work. Ray is imported on first use."""

from __future__ import annotations

import concurrent.futures as cf
import os
import tempfile
import threading
from collections.abc import Callable, Iterable
from typing import Any

from planner.exceptions import OptionalDependencyError, SpecError
from planner.executors._threads import run_with_thread_budget

__all__ = ["RayExecutor"]

# Ray builds unix socket paths under the session folder; they must stay under 107 bytes.
_MAX_TEMP_DIR_CHARS = 40


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as err:
        raise OptionalDependencyError(
            "executor 'ray' needs Ray; install it with: pip install 'ray==2.60.0' (or use --executor local)"
        ) from err
    return ray


class RayExecutor:
    """Run calls as Ray tasks, one CPU and one thread each.

    Ray starts (or connects) on first use. Without an address it starts a local instance
    with the dashboard off, token auth off (``RAY_AUTH_MODE=disabled``, local only) and
    its session folder under ``temp_dir`` (a fresh temporary folder by default); it is
    shut down by :meth:`shutdown`. An instance that was already running, or a cluster
    given by ``address``, is left running.

    Args:
        n_workers: CPUs of the local Ray instance this executor starts; the caller keeps
            this many calls in flight.
        address: ``"auto"`` (a cluster started with ``ray start`` on this machine),
            ``"ray://host:10001"`` (Ray Client), or ``None``.
        temp_dir: Session folder for a local instance. Paths longer than 40 characters
            are replaced by a short temporary folder (Ray's socket paths have a limit).
        max_retries: Reruns of a task whose worker process or node died (Ray's task
            ``max_retries``; exceptions raised by the function itself are not retried).
        threads_per_task: BLAS/OpenMP/torch threads a task may use.
    """

    def __init__(
        self,
        n_workers: int = 2,
        *,
        address: str | None = None,
        temp_dir: str | os.PathLike[str] | None = None,
        max_retries: int = 3,
        threads_per_task: int = 1,
    ) -> None:
        if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
            raise SpecError(f"n_workers must be an integer >= 1, got {n_workers!r}")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise SpecError(f"max_retries must be an integer >= 0, got {max_retries!r}")
        self.n_workers = n_workers
        self.address = address
        self.temp_dir = None if temp_dir is None else str(temp_dir)
        self.max_retries = max_retries
        self.threads_per_task = threads_per_task
        self._remote: Any = None
        self._started = False
        self._pending: dict[Any, None] = {}  # ObjectRefs submitted and not yet finished
        self._refs: dict[cf.Future, Any] = {}  # the ObjectRef behind each future not yet finished
        self._lock = threading.Lock()

    # -- lifecycle --------------------------------------------------------------------
    def _ray(self) -> Any:
        ray = _import_ray()
        if not ray.is_initialized():
            if self.address is None:
                os.environ.setdefault("RAY_AUTH_MODE", "disabled")
                temp_dir = self.temp_dir
                if temp_dir is None or len(os.path.abspath(temp_dir)) > _MAX_TEMP_DIR_CHARS:
                    temp_dir = tempfile.mkdtemp(prefix="planner-ray-")
                os.makedirs(temp_dir, exist_ok=True)
                ray.init(
                    num_cpus=self.n_workers,
                    include_dashboard=False,
                    log_to_driver=False,
                    _temp_dir=os.path.abspath(temp_dir),
                )
            else:
                ray.init(address=self.address, log_to_driver=False)
            self._started = True
        if self._remote is None:
            # num_cpus=1: Ray also sets OMP_NUM_THREADS=1 in the task's process
            self._remote = ray.remote(num_cpus=1, max_retries=self.max_retries, retry_exceptions=False)(run_with_thread_budget)
        return ray

    @property
    def is_started(self) -> bool:
        """Whether this executor started (or connected) Ray and must shut it down."""
        return self._started

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = True) -> None:
        """Cancel tasks still running (by default), then stop Ray if this executor started it."""
        if self._started:
            ray = _import_ray()
            if cancel_futures:
                with self._lock:
                    pending = list(self._pending)
                for ref in pending:
                    try:
                        ray.cancel(ref, force=True)
                    except Exception:  # noqa: BLE001 - already finished or its node is gone
                        pass
            ray.shutdown()
            self._started = False
        self._remote = None
        with self._lock:
            self._pending.clear()
            self._refs.clear()

    # -- work -------------------------------------------------------------------------
    def put(self, obj: Any) -> Any:
        """Store ``obj`` once in Ray's object store; pass the returned ref to ``submit``."""
        return self._ray().put(obj)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        """Run ``fn(*args, **kwargs)`` as a task; ObjectRefs among ``args`` arrive as values."""
        self._ray()
        ref = self._remote.remote(self.threads_per_task, fn, *args, **kwargs)
        future = ref.future()
        with self._lock:
            self._pending[ref] = None
            self._refs[future] = ref
        future.add_done_callback(lambda f, ref=ref: self._forget(ref, f))
        return future

    def _forget(self, ref: Any, future: cf.Future | None = None) -> None:
        with self._lock:
            self._pending.pop(ref, None)
            self._refs.pop(future, None)

    def stop(self, future: cf.Future) -> bool:
        """Stop one call: ``ray.cancel(ref, force=True)`` kills the worker running it (not retried).

        Returns ``False`` when the call had already finished.
        """
        with self._lock:
            ref = self._refs.pop(future, None)
        if ref is None or future.done():
            return False
        try:
            _import_ray().cancel(ref, force=True)
        except Exception:  # noqa: BLE001 - finished meanwhile, or its node is gone
            return False
        return True

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        """``[fn(item) for item in items]`` as tasks, all submitted at once, in order."""
        futures = [self.submit(fn, item) for item in items]
        return [f.result() for f in futures]
