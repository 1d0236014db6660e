"""A process pool whose running calls can be stopped: one spawn process per slot, killable.

``concurrent.futures.ProcessPoolExecutor`` cannot cancel a call that has started, and
killing one of its processes breaks the whole pool. Here every slot is a worker process of
its own, fed through a pipe and reused between calls; :meth:`ProcessExecutor.stop` kills
the process running one call (the other calls go on) and a fresh process takes the slot
on the next call.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from planner.executors._threads import run_with_thread_budget

__all__ = ["ProcessExecutor"]

#: Seconds to wait for a killed or dismissed worker process to be reaped.
_JOIN_S = 5.0


def _watch_parent(parent: int) -> None:  # pragma: no cover - runs in the worker process
    """End this worker when the process that started it is gone (killed, out of memory)."""
    import os
    import time

    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _serve(conn: Any, parent: int) -> None:  # pragma: no cover - runs in the worker process
    """Worker loop: receive ``(fn, args, kwargs)``, send back ``(ok, value)``; ``None`` ends it."""
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        fn, args, kwargs = task
        try:
            reply: tuple[bool, Any] = (True, fn(*args, **kwargs))
        except BaseException as err:  # noqa: BLE001 - delivered to the caller's future
            reply = (False, err)
        try:
            conn.send(reply)
        except Exception as err:  # noqa: BLE001 - the result or the error does not pickle
            conn.send((False, RuntimeError(f"the result could not be sent back: {type(err).__name__}: {err}")))


class _Slot:
    """One worker process and its pipe."""

    def __init__(self, ctx: Any) -> None:
        self.conn, child = ctx.Pipe()
        import os

        self.proc = ctx.Process(target=_serve, args=(child, os.getpid()), daemon=True, name="planner-worker")
        self.proc.start()
        child.close()
        self.stopped = False

    def kill(self) -> None:
        self.stopped = True
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(_JOIN_S)
        self.conn.close()

    def dismiss(self) -> None:
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.proc.join(_JOIN_S)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(_JOIN_S)
        self.conn.close()


class ProcessExecutor:
    """A spawn process pool of ``n_workers`` (one thread each); for a single machine.

    Inputs are pickled per call (``put`` is the identity), which is fine for the small
    tables planner campaigns hold; use :class:`~planner.executors.RayExecutor` to share
    large ones. A running call is stopped by :meth:`stop`, which kills its process.
    """

    def __init__(self, n_workers: int = 2, *, threads_per_task: int = 1) -> None:
        import multiprocessing

        self.n_workers = n_workers
        self.threads_per_task = threads_per_task
        # spawn: forking a process that holds an sqlite connection or BLAS/torch threads is unsafe
        self._ctx = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._queue: deque[tuple[cf.Future, tuple[Any, ...]]] = deque()
        self._idle: list[_Slot] = []
        self._busy: dict[cf.Future, _Slot] = {}
        self._threads: list[threading.Thread] = []
        self._closed = False

    def put(self, obj: Any) -> Any:
        return obj

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        future: cf.Future = cf.Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot submit to a ProcessExecutor after shutdown")
            self._queue.append((future, (run_with_thread_budget, (self.threads_per_task, fn, *args), kwargs)))
        self._dispatch()
        return future

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        return [f.result() for f in [self.submit(fn, item) for item in items]]

    def stop(self, future: cf.Future) -> bool:
        """Stop one call: cancel it if it waits, kill its process if it runs. ``False`` if it had finished."""
        with self._lock:
            slot = self._busy.pop(future, None)
        if slot is None:
            return future.cancel()
        slot.kill()
        _settle(future, error=cf.CancelledError("stopped: its worker process was killed"))
        return True

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Dismiss the workers. ``cancel_futures``: drop queued calls and kill running ones."""
        with self._lock:
            self._closed = True
            queued = list(self._queue) if cancel_futures else []
            if cancel_futures:
                self._queue.clear()
            busy = list(self._busy) if cancel_futures else []
        for future, _ in queued:
            future.cancel()
        for future in busy:
            self.stop(future)
        while wait:
            with self._lock:
                threads = [t for t in self._threads if t.is_alive()]
            if not threads:
                break
            for thread in threads:
                thread.join()
        with self._lock:
            idle, self._idle = self._idle, []
            running = list(self._busy.values())
        for slot in idle:
            slot.dismiss()
        if not wait:
            for slot in running:  # not waited for: their processes must not outlive the pool
                slot.kill()

    # -- internals --------------------------------------------------------------------
    def _dispatch(self) -> None:
        with self._lock:
            while self._queue and len(self._busy) < self.n_workers:
                future, task = self._queue.popleft()
                if not future.set_running_or_notify_cancel():
                    continue
                slot = self._idle.pop() if self._idle else _Slot(self._ctx)
                self._busy[future] = slot
                thread = threading.Thread(target=self._run, args=(future, slot, task), daemon=True)
                self._threads = [t for t in self._threads if t.is_alive()] + [thread]
                thread.start()

    def _run(self, future: cf.Future, slot: _Slot, task: tuple[Any, ...]) -> None:
        try:
            slot.conn.send(task)
        except Exception as err:  # noqa: BLE001 - the call does not pickle: the slot stays usable
            self._release(future, slot, healthy=not slot.stopped)
            _settle(future, error=err)
            return
        try:
            ok, value = slot.conn.recv()
        except (EOFError, OSError) as err:
            code = slot.proc.exitcode
            self._release(future, slot, healthy=False)
            if not slot.stopped:
                slot.kill()
                why = f"the worker process died (exit code {code})" if code is not None else f"lost the worker process ({type(err).__name__})"
                _settle(future, error=BrokenProcessPool(why))
            return
        except Exception as err:  # noqa: BLE001 - the reply arrived whole but does not unpickle here
            self._release(future, slot, healthy=True)
            _settle(future, error=err)
            return
        self._release(future, slot, healthy=True)
        _settle(future, result=value) if ok else _settle(future, error=value)

    def _release(self, future: cf.Future, slot: _Slot, *, healthy: bool) -> None:
        dismiss = False
        with self._lock:
            owned = self._busy.pop(future, None) is slot
            if owned and healthy and not slot.stopped:
                if self._closed and not self._queue:
                    dismiss = True
                else:
                    self._idle.append(slot)
        if dismiss:
            slot.dismiss()
        self._dispatch()


def _settle(future: cf.Future, *, result: Any = None, error: BaseException | None = None) -> None:
    """Set a future's outcome unless it already has one (a stopped call may finish meanwhile)."""
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    except cf.InvalidStateError:
        pass
