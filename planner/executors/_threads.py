"""Thread budgets of one unit of work, shared by every executor (a leaf: Ray's and the local ones)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

__all__ = ["run_with_thread_budget"]


def run_with_thread_budget(n_threads: int, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn`` with BLAS/OpenMP pools (and torch, if loaded) capped at ``n_threads``.

    N trials side by side on N cores must not each start a pool as wide as the machine.
    """
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    previous = torch.get_num_threads() if torch is not None else None
    try:
        if torch is not None:
            torch.set_num_threads(n_threads)
        with threadpool_limits(limits=n_threads):
            return fn(*args, **kwargs)
    finally:
        if torch is not None and previous is not None:
            torch.set_num_threads(previous)
