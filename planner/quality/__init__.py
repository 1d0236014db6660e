"""Data quality: source merging, cleaning and the quality report.

The scikit-learn steps the search fits inside each cross-validation fold (imputation, outliers,
encoding, scaling, the correlation filter) are :mod:`planner.steps`'.

Dataset-level steps and reports:

* :func:`combine_sources` and :func:`merge_sources` (-> :class:`MergeLog`), :func:`clean_dataset`;
* :func:`assess` -> :class:`QualityReport` (prints; ``save(dir)`` writes CSV + JSON);
* :func:`explore` and the ranking functions behind it.

Recipe for ``planner quality CAMPAIGN`` (what the campaign layer calls)::

    from planner.quality import SourceTable, assess, combine_sources, merge_sources

    sources = [
        SourceTable.from_path(path, label=src.label, rename=src.rename, units=src.units, delimiter=src.delimiter)
        for src, path in resolved_sources
    ]
    units = {column: unit for column, unit in declared_units.items()}  # inputs' and targets' units
    combined, combine_log = combine_sources(sources, units=units)  # every row, named "<label>:<line>"
    logs = [combine_log]
    if id_column or composition_column:  # merging needs a way to recognise one entity
        merged, merge_log = merge_sources(
            sources, units=units, key=id_column, composition_column=composition_column,
            condition_columns=conditions, value_columns=targets, strategy="median",
        )
        logs.append(merge_log)
    report = assess(
        combined, id_column=id_column, target_columns=targets, group_column=group_column,
        composition_column=composition_column, condition_columns=conditions, source_column="source",
        bounds={t.name: (t.lower, t.upper) for t in spec.targets if t.lower is not None or t.upper is not None},
        units=units, allowed_values=spec.design_space.choices, fraction_groups=spec.fraction_groups,
        date_column=date_column, logs=logs, dataset_name=spec.name,
    )
    print(report.to_text())
    report.save(campaign_dir / "quality")  # quality_report.json/.txt, quality_summary.csv, ...
"""

from planner.quality._clean import clean_dataset
from planner.quality._explore import (
    Exploration,
    correlated_pairs,
    correlation_matrix,
    explore,
    mutual_information_ranking,
    pca_explained_variance,
    target_correlations,
    variance_ranking,
)
from planner.quality._log import CleaningAction, CleaningLog, MergeLog
from planner.quality._merge import (
    MERGE_STRATEGIES,
    SourceTable,
    combine_sources,
    composition_keys,
    convert_units,
    merge_sources,
)
from planner.quality._report import CHARACTERISTICS, QualityCheck, QualityReport, assess

__all__ = [
    "CHARACTERISTICS",
    "MERGE_STRATEGIES",
    "CleaningAction",
    "CleaningLog",
    "Exploration",
    "MergeLog",
    "QualityCheck",
    "QualityReport",
    "SourceTable",
    "assess",
    "clean_dataset",
    "combine_sources",
    "composition_keys",
    "convert_units",
    "correlated_pairs",
    "correlation_matrix",
    "explore",
    "merge_sources",
    "mutual_information_ranking",
    "pca_explained_variance",
    "target_correlations",
    "variance_ranking",
]
