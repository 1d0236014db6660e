"""The request of one suggestion: :class:`SuggestRequest`.

A :class:`SuggestRequest` is the validated, frozen form of :func:`~planner.active.suggest`'s
options (everything but the data); :meth:`SuggestRequest.run` applies it to observations with
:func:`planner.active._run.run_request` and returns a
:class:`~planner.active._result.SuggestionResult`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from planner.active._specs import (
    ContinuousDesign,
    OutcomeConstraint,
    PoolDesign,
    Target,
    parse_outcome_constraints,
    parse_targets,
)
from planner.exceptions import SpecError

if TYPE_CHECKING:
    from planner.active._result import SuggestionResult

__all__ = ["SuggestRequest", "FLOOR_MODES", "DEFAULT_SURROGATE"]

#: The surrogate of ``suggest``, ``Campaign.suggest`` and ``planner suggest`` when none is named:
#: the GP with the ARD plus additive Matern kernel (:mod:`planner.active._kernels`), never
#: significantly worse than greedy RF or BayBE on the seven benchmark pools and better than
#: BayBE on several (benchmarks/active/README.md, ``results/ablation/DEFAULT_VS_REFERENCES.md``).
DEFAULT_SURROGATE = "gp-additive"

#: Modes of ``suggest(floor=...)``.
FLOOR_MODES = ("failures", "values")


#: The surrogates named by a string (anything else is a scikit-learn regressor, or a mapping
#: from output to one of these).
SURROGATE_NAMES = ("portfolio", "gp", "gp-additive", "rf", "et", "auto", "robust")


def check_surrogate_name(surrogate: Any) -> Any:
    """``surrogate`` in lower case when it is a string, checked against :data:`SURROGATE_NAMES`
    before anything is fitted.

    Raises:
        SpecError: An unknown name.
    """
    if isinstance(surrogate, str):
        name = surrogate.strip().lower()
        if name not in SURROGATE_NAMES:
            raise SpecError(
                f"unknown surrogate {surrogate!r}; use one of {list(SURROGATE_NAMES)} or a scikit-learn regressor"
            )
        return name
    return surrogate


@dataclass(frozen=True)
class SuggestRequest:
    """The validated options of one suggestion (see :func:`~planner.active.suggest` for each).

    Build it with :meth:`create` (which validates and fills in the defaults) and apply it
    with :meth:`run`; change a copy with :func:`dataclasses.replace`.

    Attributes:
        strategy: The strategy instance that will run (a :class:`~planner.active.BaseStrategy`).
        asked: The strategy name as asked (for the log).
        design: The design space.
        n: Number of suggestions.
        targets: The objectives.
        constraints: Outcome constraints.
        outputs: Modelled outputs: the targets, then constrained outcomes that are no target.
        signs: ``+1``/``-1`` per output (``-1`` for minimised targets).
        surrogate: ``"gp-additive"`` (default), ``"gp"``, ``"portfolio"``, ``"rf"``, ``"et"``, ``"auto"``, ``"robust"``,
            an estimator or a mapping.
        ref_point: Hypervolume reference point (data units) or ``None``.
        beta: UCB exploration weight.
        featurizer: Input featurizer or ``None``.
        seed: Seed of every random step.
        min_observations: Fewest usable observations for a model.
        n_mc_samples: Monte-Carlo samples of the acquisition functions.
        shortlist_size: Candidates passed from the prefilter to the exact acquisition.
        refit_surrogate: Refit a scikit-learn surrogate on the observations.
        calibration: Target coverage of conformal intervals, or ``None``.
        floor: ``"values"`` or ``"failures"``.
        n_threads: Torch threads while suggesting (``None``: the caller's setting).
    """

    strategy: Any
    asked: str
    design: PoolDesign | ContinuousDesign
    n: int
    targets: tuple[Target, ...]
    constraints: tuple[OutcomeConstraint, ...]
    outputs: tuple[str, ...]
    signs: np.ndarray
    surrogate: Any = DEFAULT_SURROGATE
    ref_point: Mapping[str, float] | None = None
    beta: float = 2.0
    featurizer: Any = None
    seed: int = 0
    min_observations: int = 2
    n_mc_samples: int = 256
    shortlist_size: int = 1000
    refit_surrogate: bool = True
    calibration: float | None = None
    floor: str = "values"
    n_threads: int | None = 1

    @property
    def is_multi(self) -> bool:
        """Whether there are several objectives."""
        return len(self.targets) > 1

    @classmethod
    def create(
        cls,
        *,
        design: PoolDesign | ContinuousDesign,
        targets: Sequence[tuple[str, str]] | Mapping[str, str] | Sequence[Target] | str,
        n: int = 5,
        strategy: str | None = None,
        surrogate: Any = DEFAULT_SURROGATE,
        outcome_constraints: Sequence[tuple[str, str, float]] | Sequence[OutcomeConstraint] | None = None,
        ref_point: Mapping[str, float] | None = None,
        beta: float = 2.0,
        featurizer: Any = None,
        seed: int = 0,
        min_observations: int = 2,
        n_mc_samples: int | None = None,
        shortlist_size: int | None = None,
        refit_surrogate: bool = True,
        calibration: float | None = None,
        n_threads: int | None = 1,
        floor: str = "values",
    ) -> SuggestRequest:
        """Validate :func:`~planner.active.suggest`'s options and fill in the defaults.

        Raises:
            SpecError: An unknown strategy, a strategy that does not fit the number of
                targets, or a malformed argument.
        """
        from planner.active._strategies import strategy_for_targets

        if not isinstance(design, (PoolDesign, ContinuousDesign)):
            raise SpecError(f"design must be a PoolDesign or ContinuousDesign, got {type(design).__name__}")
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise SpecError(f"n (the number of suggestions) must be a positive integer, got {n!r}")
        target_specs = parse_targets(targets)
        constraint_specs = parse_outcome_constraints(outcome_constraints)
        names = {t.name for t in target_specs}
        outputs = tuple([t.name for t in target_specs] + [c.name for c in constraint_specs if c.name not in names])
        signs = np.array([t.sign for t in target_specs] + [1.0] * (len(outputs) - len(target_specs)))
        is_multi = len(target_specs) > 1
        asked = strategy if strategy is not None else ("qlognehvi" if is_multi else "qlognei")
        strat = strategy_for_targets(asked, len(target_specs))
        if ref_point is not None and not is_multi:
            raise SpecError("ref_point is only used with several targets")
        if not (isinstance(beta, (int, float)) and beta >= 0):
            raise SpecError(f"beta must be a non-negative number, got {beta!r}")
        if floor not in FLOOR_MODES:
            raise SpecError(f"floor must be one of {list(FLOOR_MODES)}, got {floor!r}")
        if calibration is not None and not (isinstance(calibration, float) and 0 < calibration < 1):
            raise SpecError(f"calibration is a coverage between 0 and 1 such as 0.9, got {calibration!r}")
        surrogate = check_surrogate_name(surrogate)
        return cls(
            strategy=strat,
            asked=asked,
            design=design,
            n=int(n),
            targets=target_specs,
            constraints=constraint_specs,
            outputs=outputs,
            signs=signs,
            surrogate=surrogate,
            ref_point=ref_point,
            beta=float(beta),
            featurizer=featurizer,
            seed=int(seed),
            min_observations=int(min_observations),
            n_mc_samples=int(n_mc_samples if n_mc_samples is not None else (128 if is_multi else 256)),
            shortlist_size=int(shortlist_size if shortlist_size is not None else (300 if is_multi else 1000)),
            refit_surrogate=bool(refit_surrogate),
            calibration=calibration,
            floor=floor,
            n_threads=n_threads,
        )

    def run(
        self, observed_X: pd.DataFrame | None, observed_y: pd.DataFrame | None, pending: pd.DataFrame | None = None
    ) -> SuggestionResult:
        """Propose :attr:`n` experiments given the observations so far (see
        :func:`~planner.active.suggest`)."""
        from planner.active._portfolio import is_portfolio, run_portfolio
        from planner.active._run import run_request

        if is_portfolio(self.surrogate):
            return run_portfolio(self, observed_X, observed_y, pending)
        return run_request(self, observed_X, observed_y, pending)

    def with_strategy(self, name: str) -> SuggestRequest:
        """A copy that runs the strategy registered as ``name`` (the asked one stays in the log)."""
        from planner.active._strategies import get_strategy

        return dataclasses.replace(self, strategy=get_strategy(name))
