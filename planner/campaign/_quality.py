"""The campaign's data-quality stage: every source and observation, assessed and saved."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from planner.layout import QUALITY_DIR
from planner.campaign._validate import campaign_columns

if TYPE_CHECKING:
    from planner.campaign._campaign import Campaign


def quality_report(campaign: Campaign, *, save: bool = True) -> Any:
    """Assess the campaign's rows as stored (before any merge), so disagreements stay visible.

    The report is organised by the six characteristics of high-quality data (accuracy,
    consistency, validity, completeness, timeliness, uniqueness) and saved under ``quality/``.

    Returns:
        :class:`planner.quality.QualityReport`.
    """
    from planner.quality import SourceTable, assess, combine_sources

    spec = campaign.spec
    units = {i.name: i.unit for i in [*spec.inputs, *spec.targets] if i.unit}
    sources = [
        SourceTable.from_path(
            campaign._resolve(s.path),
            label=s.label or s.path,
            rename=dict(s.rename),
            units=dict(s.units),
            delimiter=s.delimiter,
        )
        for s in spec.data.sources
    ]
    observed = campaign.observations()
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
    if spec.data.merge is not None:
        logs.append(campaign.merged_data()[1])
    compositions = [i.name for i in spec.inputs if i.role == "composition"]
    dates = [i.name for i in spec.inputs if i.role == "date"]
    merge = spec.data.merge
    report = assess(
        combined,
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
        logs=logs,
        dataset_name=spec.name,
    )
    if save:
        report.save(campaign.directory / QUALITY_DIR)
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
