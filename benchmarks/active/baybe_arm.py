"""BayBE as an external recommender for the side-by-side backtests (benchmark env only).

Install in the benchmark environment, never in the project: ``pip install baybe``.
Each call builds a fresh BayBE campaign over the pool (``SubspaceDiscrete.from_dataframe``),
adds the measurements so far and asks for a batch: BayBE's default recommender (random
start, then a GP with its own acquisition), with recommending measured points disallowed.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


def baybe_policy(
    observed_X: pd.DataFrame,
    observed_y: pd.DataFrame,
    candidates: pd.DataFrame,
    targets: Sequence[tuple[str, str]],
    n: int,
    seed: int,
) -> list[int]:
    """``n`` new row labels of ``candidates`` recommended by BayBE."""
    import warnings

    from baybe import Campaign
    from baybe.objectives import ParetoObjective, SingleTargetObjective
    from baybe.searchspace import SearchSpace, SubspaceDiscrete
    from baybe.targets import NumericalTarget
    from baybe.utils.random import set_random_seed

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        set_random_seed(seed % (2**32 - 1))
        space = SearchSpace(discrete=SubspaceDiscrete.from_dataframe(candidates.reset_index(drop=True)))
        bts = [NumericalTarget(name, minimize=(d == "min")) for name, d in targets]
        objective = SingleTargetObjective(bts[0]) if len(bts) == 1 else ParetoObjective(bts)
        campaign = Campaign(space, objective, allow_recommending_already_measured=False)
        measured = pd.concat([observed_X.reset_index(drop=True), observed_y.reset_index(drop=True)], axis=1)
        campaign.add_measurements(measured, numerical_measurements_must_be_within_tolerance=False)
        rec = campaign.recommend(batch_size=n)
    cols = list(candidates.columns)
    lookup = candidates.reset_index().merge(rec[cols].reset_index(drop=True), on=cols, how="inner")
    if len(lookup) < n:
        raise RuntimeError(f"BayBE recommended rows that are not in the pool ({len(lookup)} of {n} matched)")
    return [int(i) for i in lookup["index"].to_numpy()[:n]]
