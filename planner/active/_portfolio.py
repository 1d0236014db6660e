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

The split applies to one objective, a model-based strategy that is not pure exploration,
``n >= 2``, ``floor="values"``, a GP that could be fitted and ranks by the asked strategy (not
the exploration it falls back to when every observed value is the same), and enough candidates
left; otherwise the request runs as with ``surrogate="gp"`` and says why in its notes.

The table holds the GP's picks (in the order the sequential batch chose them), then the
forest's; its ``model`` column and every reason line name the model that picked the row.
(Alternating the two models' rows was measured and not adopted:
benchmarks/active/results/ablation/interleaved/README.md.) The metadata is the GP part's, with
the forest part's notes and fallbacks added (prefixed "forest part:"), the seconds summed, and a
``portfolio`` entry: the split and the forest's model, strategy, candidates scored and
calibration.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd

from planner.active._ensemble import LARGE_POOL

if TYPE_CHECKING:
    from planner.active._request import SuggestRequest
    from planner.active._result import SuggestionResult

__all__ = ["is_portfolio", "run_portfolio", "portfolio_split"]

#: The forest of the portfolio (planner's random-forest ensemble surrogate).
FOREST = "rf"
#: Shortlist of the forest's exact acquisition on pools above ``LARGE_POOL`` candidates (its
#: prefilter there ranks by 25 of the trees, :meth:`EnsembleSurrogate.prepare_prefilter`);
#: keeps ``suggest -n 5`` on 100,000 candidates within 2 s (benchmarks/active/results/LATENCY_PORTFOLIO.md).
LARGE_POOL_FOREST_SHORTLIST = 250


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
    from planner.active._run import run_request
    from planner.active._specs import PoolDesign

    run = _once_per_warning(run_request)
    n_gp, n_forest, why = portfolio_split(req)
    if not why and req.floor == "failures":
        why = "floor='failures' models failed runs with a GP: the GP alone"
    gp_req = dataclasses.replace(req, surrogate="gp")
    if why:
        return _alone(run(gp_req, observed_X, observed_y, pending), why)
    first = run(dataclasses.replace(gp_req, n=n_gp), observed_X, observed_y, pending)
    meta = first.metadata
    if meta.get("strategy_used") == "space_filling":
        why = "no model could be fitted yet: space-filling suggestions"
    elif meta.get("strategy_used") != req.strategy.name:
        # The GP part fell back (all observed values identical: it explores by its variance). A
        # forest fitted to such values predicts one value with no spread, so its picks would be
        # arbitrary rows.
        why = (
            f"the observations cannot rank candidates yet, so the GP explores ({meta.get('strategy_used')}) "
            "for the whole batch; a forest cannot tell the candidates apart"
        )
    elif not str(meta.get("model") or "").startswith("GP"):
        why = f"the GP could not be fitted: {meta.get('model')} for the whole batch"
    elif meta.get("n_candidates") is not None and meta["n_candidates"] < req.n:
        why = f"only {meta['n_candidates']} candidate(s) remain: the GP alone"
    if why:  # the whole batch as the GP request makes it (with its own warnings and fallbacks)
        return _alone(run(gp_req, observed_X, observed_y, pending), why)

    inputs = list(req.design.inputs)
    # A pool's own rows (by their index label), so that the forest's part excludes exactly them.
    picked = (
        req.design.candidates.loc[first.table["candidate"], inputs]
        if isinstance(req.design, PoolDesign)
        else first.table[inputs]
    )
    before = pending[inputs] if pending is not None and len(pending) else None
    pending_2 = picked if before is None else pd.concat([before, picked], ignore_index=True)
    forest_req = dataclasses.replace(req, surrogate=FOREST, n=n_forest)
    if int(meta.get("n_candidates") or 0) > LARGE_POOL:
        # The forest's exact batch acquisition costs a member table per shortlisted candidate:
        # on large pools its shortlist is shorter (see LARGE_POOL_FOREST_SHORTLIST).
        forest_req = dataclasses.replace(forest_req, shortlist_size=min(req.shortlist_size, LARGE_POOL_FOREST_SHORTLIST))
    second = run(forest_req, observed_X, observed_y, pending_2)
    return _combine(first, second, n_pending=int(meta.get("n_pending", 0)))


def _once_per_warning(run: Callable[..., SuggestionResult]) -> Callable[..., SuggestionResult]:
    """``run`` whose warnings are passed on once per call of :func:`run_portfolio`: the two
    parts read the same observations and pool, so most warnings would otherwise come twice.
    They are given again from this module (a ``module="planner"`` filter still applies), also
    when a part raises."""
    seen: set[tuple[type, str]] = set()

    def run_and_warn_once(*args: Any) -> SuggestionResult:
        caught: list[warnings.WarningMessage] = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                return run(*args)
        finally:
            for w in caught:
                key = (w.category, str(w.message))
                if key not in seen:
                    seen.add(key)
                    warnings.warn(w.message, stacklevel=2)

    return run_and_warn_once


def _picks(k: int) -> str:
    return f"{k} pick" if k == 1 else f"{k} picks"


def _alone(result: SuggestionResult, why: str) -> SuggestionResult:
    from planner.active._result import SuggestionResult

    meta = dict(result.metadata)
    meta["notes"] = [*meta.get("notes", []), f"surrogate portfolio: {why}"]
    model = str(meta.get("model") or "space filling")
    meta["portfolio"] = {"split": {"GP" if model.startswith("GP") else model: len(result.table)}, "why_not": why}
    return SuggestionResult(table=result.table, metadata=meta)


def _combine(first: SuggestionResult, second: SuggestionResult, n_pending: int) -> SuggestionResult:
    from planner.active._result import SuggestionResult

    gp_meta, forest_meta = dict(first.metadata), dict(second.metadata)
    gp_name, forest_name = gp_meta.get("model") or "GP", forest_meta.get("model") or "random forest"
    table = pd.concat(
        [first.table.assign(model=gp_name), second.table.assign(model=forest_name)], ignore_index=True
    )
    table["reason"] = [
        f"{text}; picked by the {'GP' if m == gp_name else 'random forest'} (model portfolio)"
        for text, m in zip(table["reason"], table["model"])
    ]
    meta = gp_meta
    meta["model"] = f"portfolio: {gp_name} ({_picks(len(first.table))}) + {forest_name} ({_picks(len(second.table))})"
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
    meta["n_pending"] = n_pending  # as asked (the forest part also counted the GP's picks)
    meta["portfolio"] = {
        "split": {"GP": len(first.table), "random forest": len(second.table)},
        "forest": {k: forest_meta.get(k) for k in ("model", "strategy_used", "n_scored", "calibration")},
    }
    return SuggestionResult(table=table, metadata=meta)
