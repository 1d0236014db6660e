"""The campaign's data-quality stage: every source and observation, assessed and saved.

Takes records (the spec, the source paths, the observations, where to save), never a Campaign;
:meth:`planner.campaign.Campaign.assess_quality` gathers them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from planner.campaign._validate import campaign_columns
from planner.spec import CampaignSpec


def quality_report(
    spec: CampaignSpec,
    *,
    source_paths: Sequence[Path],
    observed: pd.DataFrame,
    merge_log: Callable[[], Any] | None = None,
    save_to: Path | None = None,
) -> Any:
    """Assess the campaign's rows as stored (before any merge), so disagreements stay visible.

    Args:
        spec: the campaign's spec.
        source_paths: the resolved path of each of ``spec.data.sources``, in order.
        observed: the observations stored in the campaign (with their meta columns).
        merge_log: returns the log of ``data.merge`` (called only when the spec has a merge).
        save_to: the folder to save the report in (the campaign's ``quality/``), or ``None``.

    The report is organised by the six characteristics of high-quality data (accuracy,
    consistency, validity, completeness, timeliness, uniqueness).

    Returns:
        :class:`planner.quality.QualityReport`.
    """
    from planner.quality import QualitySpec, assess
    from planner.sources import SourceTable, combine_sources

    units = {i.name: i.unit for i in [*spec.inputs, *spec.targets] if i.unit}
    sources = [
        SourceTable.from_path(
            path,
            label=s.label or s.path,
            rename=dict(s.rename),
            units=dict(s.units),
            delimiter=s.delimiter,
        )
        for s, path in zip(spec.data.sources, source_paths, strict=True)
    ]
    if len(observed):
        frame = observed[campaign_columns(spec)].copy()
        frame.index = [f"obs{int(i)}" for i in observed["_obs_id"]]
        sources.append(SourceTable(label="observations", frame=frame))
    if not sources:
        from planner.exceptions import DataValidationError

        raise DataValidationError(
            f"campaign {spec.name!r} has no data yet: add data.sources to campaign.yaml or `planner observe` results."
        )
    combined, combine_log = combine_sources(sources, units=units, source_column="_source")
    # Columns the user left out of the campaign (provenance, leaks, notes) are not assessed.
    keep = set(campaign_columns(spec)) | {"_source"}
    combined = combined.drop(columns=[c for c in spec.data.ignore if c in combined.columns and c not in keep])
    logs = [combine_log]
    if any(i.role == "smiles" for i in spec.inputs):
        from planner.campaign._molecules import smiles_log

        logs.append(smiles_log(combined, spec))
    if spec.data.merge is not None and merge_log is not None:
        logs.append(merge_log())
    compositions = [i.name for i in spec.inputs if i.role == "composition"]
    dates = [i.name for i in spec.inputs if i.role == "date"]
    merge = spec.data.merge
    quality_spec = QualitySpec(
        id_column=spec.data.id_column,
        target_columns=spec.target_names,
        feature_columns=spec.input_names,
        group_column=_entity_group(spec),
        composition_column=compositions[0] if compositions else None,
        condition_columns=list(merge.condition_columns) if merge else (),
        condition_tolerance=merge.condition_tolerance if merge else None,
        source_column="_source",
        bounds={t.name: (t.lower, t.upper) for t in spec.targets if t.lower is not None or t.upper is not None},
        units=units,
        allowed_values={k: list(v) for k, v in spec.design_space.choices.items()},
        fraction_groups=list(spec.fraction_groups),
        date_column=dates[0] if dates else None,
    )
    report = assess(combined, quality_spec, logs=logs, dataset_name=spec.name)
    if save_to is not None:
        report.save(save_to)
    return report


def _entity_group(spec: Any) -> str | None:
    """The group column when it names an entity (a material, a cell), not provenance.

    Rows grouped by their source (a DOI, a reference put in data.ignore) are *different*
    materials from one paper; checking that they agree on the target would report every
    paper as a conflict.
    """
    group = spec.data.group_column
    if group is None or group in spec.data.ignore:
        return None
    from planner.campaign._infer import _BOOKKEEPING_NAME, _IDENTIFIER_NAME

    if _BOOKKEEPING_NAME.match(group.strip()) or _IDENTIFIER_NAME.search(group.strip()):
        return None
    return group
