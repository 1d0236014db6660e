"""``surrogate="portfolio"``: one batch, two models.

The GP and a random forest win on different kinds of data: the GP on smooth responses over
few, continuous inputs; the forest on steps, plateaus and one-hot-heavy inputs, where a GP's
stationary kernel is misspecified. Which one a new pool needs is not known before it is
measured, and the held-out fit of the observations does not tell reliably (``robust``, which
chooses one model by held-out log predictive density, chose the GP on AutoAM, where the
forest needs a third fewer experiments). A portfolio batch hedges instead: half of each batch
(rounded up) is the strategy's pick under the GP, the rest its pick under the random forest,
with the GP's picks passed as pending experiments (so the forest's picks complement them).
Either model finding the region of the optimum is enough for the campaign to exploit it in
the next batch.

Measured with ``benchmarks/active/run_backtests.py`` (20 paired seeds per pool, see
``benchmarks/active/README.md``).

The split applies to one objective, a model-based strategy that is not pure exploration, and
``n >= 2``; otherwise the request runs with the GP alone and says so in its notes. The table's
rows alternate between the models (GP first), its ``model`` column and every reason line name
the model that picked the row, and the metadata's ``portfolio`` entry holds the split and the
forest's own model, notes and fallbacks.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from planner.active._request import SuggestRequest
    from planner.active._result import SuggestionResult

__all__ = ["is_portfolio", "run_portfolio", "portfolio_split"]

#: The forest of the portfolio (planner's random-forest ensemble surrogate).
FOREST = "rf"


def is_portfolio(surrogate: Any) -> bool:
    """Whether ``surrogate`` asks for the model portfolio."""
    return isinstance(surrogate, str) and surrogate.lower() == "portfolio"


def portfolio_split(req: SuggestRequest) -> tuple[int, int, str]:
    """``(n under the GP, n under the forest, why not split)``; the reason is empty when split."""
    strat = req.strategy
    if req.is_multi:
        return req.n, 0, "several objectives: the GP alone (the portfolio is measured on one objective)"
    if not strat.needs_model or strat.explores_only:
        return req.n, 0, f"strategy {req.asked!r} does not rank by a model's predictions: the GP alone"
    if req.n < 2:
        return req.n, 0, "one suggestion: the GP's (the portfolio splits batches of 2 or more)"
    n_gp = (req.n + 1) // 2
    return n_gp, req.n - n_gp, ""


def run_portfolio(
    req: SuggestRequest,
    observed_X: pd.DataFrame | None,
    observed_y: pd.DataFrame | None,
    pending: pd.DataFrame | None,
) -> SuggestionResult:
    """Run ``req`` (whose surrogate is ``"portfolio"``) as a GP part and a forest part."""
    from planner.active._result import SuggestionResult
    from planner.active._run import run_request

    n_gp, n_forest, why = portfolio_split(req)
    first = run_request(dataclasses.replace(req, surrogate="gp", n=n_gp), observed_X, observed_y, pending)
    if not why and first.metadata.get("strategy_used") == "space_filling":
        # No model yet: the whole batch is space-filling, as with the GP alone.
        why = "no model could be fitted yet: space-filling suggestions"
        first = run_request(dataclasses.replace(req, surrogate="gp"), observed_X, observed_y, pending)
    gp_meta = dict(first.metadata)
    if why or len(first.table) < n_gp:
        reason = why or "the pool holds no more candidates"
        gp_meta["notes"] = [*gp_meta.get("notes", []), f"surrogate portfolio: {reason}"]
        gp_meta["portfolio"] = {"split": {"GP": len(first.table)}, "why_not": reason}
        return SuggestionResult(table=first.table, metadata=gp_meta)

    inputs = list(req.design.inputs)
    picked = first.table[inputs]
    before = pending[inputs] if pending is not None and len(pending) else None
    pending_2 = picked if before is None else pd.concat([before, picked], ignore_index=True)
    second = run_request(
        dataclasses.replace(req, surrogate=FOREST, n=n_forest), observed_X, observed_y, pending_2
    )
    forest_meta = dict(second.metadata)
    gp_name, forest_name = gp_meta.get("model") or "GP", forest_meta.get("model") or "random forest"
    table = _interleave(first.table.assign(model=gp_name), second.table.assign(model=forest_name))
    table["reason"] = [
        f"{text}; picked by the {'GP' if m == gp_name else 'random forest'} (model portfolio)"
        for text, m in zip(table["reason"], table["model"])
    ]
    meta = gp_meta
    meta["model"] = f"portfolio: {gp_name} ({len(first.table)} picks) + {forest_name} ({len(second.table)} picks)"
    meta["notes"] = [
        *gp_meta.get("notes", []),
        *[f"forest part: {t}" for t in forest_meta.get("notes", []) if t not in gp_meta.get("notes", [])],
        f"surrogate portfolio: {len(first.table)} of {len(table)} picks by the GP, {len(second.table)} by the "
        f"random forest with the GP's picks pending",
    ]
    meta["fallbacks"] = [*gp_meta.get("fallbacks", []), *[f"forest part: {t}" for t in forest_meta.get("fallbacks", [])]]
    meta["seconds"] = {
        key: round(float(gp_meta["seconds"].get(key, 0.0)) + float(forest_meta["seconds"].get(key, 0.0)), 4)
        for key in gp_meta.get("seconds", {})
    }
    meta["portfolio"] = {
        "split": {"GP": len(first.table), "random forest": len(second.table)},
        "forest": {k: forest_meta.get(k) for k in ("model", "strategy_used", "n_scored", "calibration", "seconds")},
    }
    return SuggestionResult(table=table, metadata=meta)


def _interleave(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``a`` and ``b`` alternating (``a`` first), the longer one's rest at the end."""
    order = np.argsort(
        np.concatenate([np.arange(len(a)) * 2, np.arange(len(b)) * 2 + 1]), kind="stable"
    )
    both = pd.concat([a, b], ignore_index=True)
    return both.iloc[order].reset_index(drop=True)
