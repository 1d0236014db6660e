"""What one suggestion returns: :class:`SuggestionResult` (a leaf record, no engine imports)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["SuggestionResult"]


@dataclass(frozen=True)
class SuggestionResult:
    """The proposed experiments and how they were chosen.

    Attributes:
        table: One row per suggestion (``n`` rows, best first): the inputs; ``<output>_mean``
            and ``<output>_std`` per target (and per constrained outcome) in the data's units;
            ``p_feasible`` when there are outcome constraints; ``acquisition`` (the
            strategy's value at the time of the pick; log scale for the ``qlog*`` strategies);
            ``distance_to_nearest_observed`` (Euclidean, in input space scaled to the unit
            cube of the design); ``reason`` (one line, starting with "high predicted value"
            ("low predicted value" for a minimised target), "high uncertainty", "value and
            uncertainty together", "one of the last candidates", "extends the Pareto front",
            "space-filling" or "random baseline"); for pools ``candidate`` (the row's index label in the pool) and, when
            the pool names an ``id_column``, that column.
        metadata: For the campaign's log (plain JSON-serializable values): ``strategy``
            (asked), ``strategy_used``, ``model``, ``fallbacks`` (each fallback taken, one
            line), ``notes``, ``seed``, ``targets``, ``outcome_constraints``, ``ref_point``,
            ``beta``, ``acquisition_scale``, ``design``, ``n_observations``, ``n_pending``,
            ``n_candidates``, ``n_scored``, ``pool_report``, ``calibration``, ``seconds`` and
            ``imputed_inputs`` (input column -> observations whose missing value was imputed
            for the surrogate) and ``model_choice`` (``surrogate="robust"``: the chosen model
            and every candidate's mean held-out log predictive density; else ``None``).
    """

    table: pd.DataFrame
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def fallbacks(self) -> tuple[str, ...]:
        """Every fallback taken (empty when the request ran as asked)."""
        return tuple(self.metadata.get("fallbacks", ()))

    def __len__(self) -> int:
        return len(self.table)
