"""Sane suggestions: declared bounds, far-outside-the-data flags and the applicability domain.

Post-processing of the table :func:`planner.active.suggest` returns, in the campaign layer
(which knows the declared target bounds and the column roles). The applicability domain is
the one of :mod:`planner.automl._domain`, fitted on the observed inputs, so that ``predict``
and ``suggest`` flag rows by the same rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from planner.spec import CampaignSpec

__all__ = ["sanitize_suggestions"]


def sanitize_suggestions(spec: CampaignSpec, table: pd.DataFrame, observed: pd.DataFrame | None) -> tuple[pd.DataFrame, list[str]]:
    """Clip each target's ``_mean``/``_lower``/``_upper`` to its declared bounds (``<t>_clipped``),
    flag means far outside the observed values (``<t>_out_of_range``) and add ``in_domain`` /
    ``domain_reason`` for the suggested inputs against the observed ones.

    Returns:
        ``(table, notes)``.
    """
    from planner.automl._calibrate import RANGE_MARGIN
    from planner.automl._domain import ApplicabilityDomain
    from planner.campaign._automl import _ENGINE_ROLE

    table = table.copy()
    notes: list[str] = []
    for target in spec.targets:
        mean_col = f"{target.name}_mean"
        if mean_col not in table:
            continue
        mean = pd.to_numeric(table[mean_col], errors="coerce").to_numpy(float)
        if observed is not None and target.name in observed and observed[target.name].notna().any():
            values = pd.to_numeric(observed[target.name], errors="coerce").dropna()
            lo, hi = float(values.min()), float(values.max())
            span = hi - lo
            table[f"{target.name}_out_of_range"] = (mean < lo - RANGE_MARGIN * span) | (mean > hi + RANGE_MARGIN * span)
        if target.lower is None and target.upper is None:
            continue
        lo_b = -np.inf if target.lower is None else float(target.lower)
        hi_b = np.inf if target.upper is None else float(target.upper)
        clipped = (mean < lo_b) | (mean > hi_b)
        for column in (mean_col, f"{target.name}_lower", f"{target.name}_upper"):
            if column in table:
                table[column] = np.clip(pd.to_numeric(table[column], errors="coerce").to_numpy(float), lo_b, hi_b)
        table[f"{target.name}_clipped"] = clipped
        if clipped.any() and "reason" in table:  # the reason quotes the model's value: say what the table shows
            table.loc[clipped, "reason"] = [
                f"{text}; the model's {target.name} {value:.4g} lies beyond the declared bound "
                f"{lo_b if value < lo_b else hi_b:g}, so {mean_col} shows the bound"
                for text, value in zip(table.loc[clipped, "reason"], mean[clipped], strict=True)
            ]
        if clipped.any():
            notes.append(f"{int(clipped.sum())} predicted {target.name} value(s) clipped to the declared bounds [{target.lower}, {target.upper}]")
    if observed is not None and len(observed) >= 3 and all(c in table for c in spec.input_names):
        roles = {i.name: _ENGINE_ROLE[i.role] for i in spec.inputs}
        domain = ApplicabilityDomain.fit(observed[spec.input_names], roles, seed=spec.seed)
        flags = domain.check(table[spec.input_names])
        table["in_domain"] = flags["in_domain"].to_numpy()
        table["domain_reason"] = flags["domain_reason"].to_numpy()
        n_out = int((~flags["in_domain"]).sum())
        if n_out:
            notes.append(f"{n_out} suggestion(s) lie outside the observed data (in_domain false): their predictions are extrapolations")
    return table, notes
