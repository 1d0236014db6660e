"""The synthetic problem of the latency harnesses: Hartmann-6 on a uniform pool in the unit cube."""

from __future__ import annotations

import numpy as np
import pandas as pd

_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_P = 1e-4 * np.array(
    [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991], [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]
)
_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(X: np.ndarray) -> np.ndarray:
    """The Hartmann-6 function (to maximize) at the rows of ``X`` (``n x 6`` in the unit cube)."""
    return (_ALPHA * np.exp(-(_A[None] * (X[:, None, :] - _P[None]) ** 2).sum(-1))).sum(-1)


def uniform_pool(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` candidates uniform in the 6-dimensional unit cube, columns ``x0..x5``."""
    return pd.DataFrame(np.random.default_rng(seed).random((n, 6)), columns=[f"x{i}" for i in range(6)])
