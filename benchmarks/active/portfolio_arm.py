"""A model-portfolio batch, tried as a candidate default before any change to planner.

Half of each batch (rounded up) is the GP's qLogNEI batch; the rest is the random forest's
qLogNEI batch with the GP's picks passed as pending experiments. The two surrogates win on
different pools (a forest on AutoAM's steps, the GP on smooth responses), and a batch that
holds both models' best picks hedges against either being wrong.
"""

from __future__ import annotations


def portfolio_policy(observed_X, observed_y, candidates, targets, n, seed):
    from planner.active import PoolDesign, suggest

    n_gp = (n + 1) // 2
    first = suggest(
        observed_X, observed_y, design=PoolDesign(candidates), targets=targets, n=n_gp,
        strategy="qlognei", surrogate="gp", seed=seed,
    )
    picks = [int(c) for c in first.table["candidate"]]
    if n - n_gp <= 0:
        return picks
    second = suggest(
        observed_X, observed_y, design=PoolDesign(candidates), targets=targets, n=n - n_gp,
        strategy="qlognei", surrogate="rf", pending=candidates.iloc[picks], seed=seed,
    )
    return picks + [int(c) for c in second.table["candidate"]]
