"""Data quality: the assessment that a scientist reads before trusting any model.

:func:`assess` checks a table against the six characteristics of high-quality data
(:data:`CHARACTERISTICS`: accuracy, consistency, validity, completeness, timeliness,
uniqueness) as set by a frozen, validated :class:`QualitySpec`, and returns a
:class:`QualityReport` (prints; ``save(dir)`` writes quality_report.json/.txt and CSV tables).
The checks are small functions ``check(data, spec)`` registered in :data:`CHECKS`; each can be
run alone on a :class:`QualityData`. :func:`explore` and the ranking functions behind it add
correlations, mutual information and PCA. Reading and merging the sources is
:mod:`planner.sources`; the scikit-learn steps the search fits inside each fold are :mod:`planner.steps`.

Recipe for ``planner quality CAMPAIGN`` (what the campaign layer calls)::

    from planner.quality import QualitySpec, assess
    from planner.sources import SourceTable, combine_sources

    sources = [SourceTable.from_path(path, label=src.label, rename=src.rename, units=src.units) for ...]
    combined, combine_log = combine_sources(sources, units=units)  # every row, named "<label>:<line>"
    spec = QualitySpec(
        id_column=id_column, target_columns=targets, composition_column=composition_column,
        condition_columns=conditions, source_column="source", units=units,
        bounds={t.name: (t.lower, t.upper) for t in spec.targets if t.lower is not None or t.upper is not None},
    )
    report = assess(combined, spec, logs=[combine_log], dataset_name=name)
    print(report.to_text())
    report.save(campaign_dir / "quality")  # quality_report.json/.txt, quality_summary.csv, ...
"""

from planner.quality._assess import assess
from planner.quality._checks import CHECKS, Check, run_checks
from planner.quality._data import QualityData
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
from planner.quality._report import CHARACTERISTICS, QualityCheck, QualityReport
from planner.quality._spec import QualitySpec

__all__ = [
    "CHARACTERISTICS",
    "CHECKS",
    "Check",
    "Exploration",
    "QualityCheck",
    "QualityData",
    "QualityReport",
    "QualitySpec",
    "assess",
    "correlated_pairs",
    "correlation_matrix",
    "explore",
    "mutual_information_ranking",
    "pca_explained_variance",
    "run_checks",
    "target_correlations",
    "variance_ranking",
]
