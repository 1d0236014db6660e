"""What every surrogate model of the engine is: :class:`Points` and :class:`BaseSurrogate`.

The models themselves live beside this module: a BoTorch Gaussian process
(:mod:`planner.active._gp`) and tree/bootstrap ensembles (:mod:`planner.active._ensemble`).
Both are fitted on outputs oriented so that larger is better (the engine negates ``min``
targets before it gets here) and expose the same small surface, used by the acquisition
step:

1. :meth:`BaseSurrogate.moments` - posterior mean and variance of many points, in chunks;
2. :meth:`BaseSurrogate.botorch_model` - a BoTorch model plus the tensor that stands for a
   given set of points, for Monte-Carlo batch acquisition functions with pending points;
3. :meth:`BaseSurrogate.joint_samples` - joint posterior draws for Thompson sampling.

Heavy libraries (torch, botorch, gpytorch, scikit-learn) are imported by these modules;
they are only imported when a suggestion is made.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

__all__ = ["Points", "BaseSurrogate", "DTYPE", "VAR_FLOOR"]

DTYPE = torch.float64
#: Variance floor (in squared standardized units) so that log-acquisitions stay finite.
VAR_FLOOR = 1e-12


@dataclass
class Points:
    """A set of experiments in both vocabularies.

    Attributes:
        frame: The inputs as a table (``n`` rows); the surrogate may predict from it.
        enc: The encoded model inputs, shape ``n x d``.
    """

    frame: pd.DataFrame
    enc: np.ndarray

    def __len__(self) -> int:
        return len(self.enc)

    def take(self, idx: np.ndarray | list[int]) -> Points:
        """The sub-set at positions ``idx``."""
        idx = np.asarray(idx, dtype=int)
        return Points(self.frame.iloc[idx], self.enc[idx])

    @staticmethod
    def concat(parts: list[Points]) -> Points:
        """Stack several point sets (``sum n_i`` rows)."""
        parts = [p for p in parts if p is not None]
        d = parts[0].enc.shape[1] if parts else 0
        frames = [p.frame for p in parts if len(p)]
        frame = pd.concat(frames, ignore_index=True) if frames else parts[0].frame.iloc[:0]
        enc = np.vstack([p.enc for p in parts]) if parts else np.zeros((0, d))
        return Points(frame, enc)


@dataclass
class BaseSurrogate(ABC):
    """A fitted model of ``m`` outputs (larger is better).

    Attributes:
        name: Short description for the log, e.g. ``"GP (ARD Matern-5/2)"``.
        n_outputs: ``m``.
        y_mean: Mean of the training outputs, shape ``m``.
        y_std: Standard deviation of the training outputs, shape ``m`` (1 where constant).
        notes: What happened while fitting (retries, fallbacks), one line each.
    """

    name: str
    n_outputs: int
    y_mean: np.ndarray
    y_std: np.ndarray
    notes: list[str] = field(default_factory=list)

    @abstractmethod
    def moments(self, points: Points) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and variance, each ``n x m``."""

    def prepare_prefilter(self, n_candidates: int) -> str | None:
        """Set up :meth:`prefilter_moments` for ``n_candidates``; a note when it approximates."""
        return None

    def prefilter_moments(self, points: Points) -> tuple[np.ndarray, np.ndarray]:
        """Mean and an upper bound of the variance (each ``n x m``) for scoring very many
        candidates; exact unless a subclass says otherwise."""
        return self.moments(points)

    @abstractmethod
    def botorch_model(self, points: Points) -> tuple[Any, Tensor]:
        """A BoTorch model and the ``n x d'`` tensor that stands for ``points`` in it."""

    @abstractmethod
    def joint_samples(self, points: Points, n_samples: int) -> np.ndarray:
        """Joint posterior draws, ``n_samples x n x m`` (uses the global torch RNG)."""

    @property
    def prefilter_bounds_variance(self) -> bool:
        """Whether :meth:`prefilter_moments` gives upper bounds of the variances, not the variances."""
        return False

    @property
    def supports_conditioning(self) -> bool:
        """Whether :meth:`conditional_variance` is available (GPs only)."""
        return False

    @abstractmethod
    def held_out_residuals(self) -> np.ndarray:
        """``|y_i - mean_{-i}| / std_{-i}`` for every training point, fitted without it
        (``n x m``); the scores of a conformal calibration. ``std_{-i}`` is the predictive
        spread of a new measurement: :meth:`moments` plus :meth:`noise_variance`."""

    def cross_validated_residuals(self, refit: Any, points: Points, Y: np.ndarray, n_folds: int = 5) -> np.ndarray:
        """:meth:`held_out_residuals` by ``n_folds``-fold cross-validation: ``refit(points, Y)``
        fits the same kind of surrogate on the other folds (seeded fold assignment), and each
        residual is over that fit's spread of a new measurement."""
        n = len(Y)
        folds = np.arange(n) % min(n_folds, n)
        np.random.default_rng(0).shuffle(folds)
        z = np.empty_like(Y, dtype=float)
        for k in np.unique(folds):
            held, kept = np.flatnonzero(folds == k), np.flatnonzero(folds != k)
            part = refit(points.take(kept), Y[kept])
            mean, var = part.moments(points.take(held))
            z[held] = np.abs(Y[held] - mean) / np.sqrt(var + part.noise_variance())
        return z

    def noise_variance(self) -> np.ndarray:
        """Variance of the measurement noise per output (``m``), in the outputs' units."""
        return np.zeros(self.n_outputs)

    def conditional_variance(self, points: Points, pending: Points) -> np.ndarray:
        """Standardized variance at ``points`` after observing ``pending`` (``n x m``)."""
        raise NotImplementedError
