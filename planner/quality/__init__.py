"""Data quality: cleaning steps as scikit-learn transformers, source merging, and the quality report.

Pipeline steps (fit inside each cross-validation fold, so nothing leaks):

* :class:`Imputer` (mean / median / most frequent / constant / KNN / iterative "MICE forest"),
  :class:`ColumnFilter` (too sparse or constant columns);
* :class:`OutlierTransformer` (clip / mask / flag), :class:`OutlierDetector`, and the
  drop-in-training-only wrappers :class:`OutlierFilteredRegressor` /
  :class:`OutlierFilteredClassifier`;
* :class:`CategoricalEncoder` (one-hot / ordinal), :class:`FeatureScaler` (standard / robust /
  min-max / power / quantile);
* :class:`CorrelationFilter`.

Dataset-level steps and reports:

* :func:`combine_sources` and :func:`merge_sources` (-> :class:`MergeLog`), :func:`clean_dataset`;
* :func:`assess` -> :class:`QualityReport` (prints; ``save(dir)`` writes CSV + JSON);
* :func:`explore` and the ranking functions behind it.
"""

from planner.quality._clean import clean_dataset
from planner.quality._encode import SCALING_METHODS, CategoricalEncoder, FeatureScaler
from planner.quality._explore import (
    CorrelationFilter,
    Exploration,
    correlated_pairs,
    correlation_matrix,
    explore,
    mutual_information_ranking,
    pca_explained_variance,
    target_correlations,
    variance_ranking,
)
from planner.quality._impute import IMPUTE_STRATEGIES, ColumnFilter, Imputer
from planner.quality._log import CleaningAction, CleaningLog, MergeLog
from planner.quality._merge import (
    MERGE_STRATEGIES,
    SourceTable,
    combine_sources,
    composition_keys,
    convert_units,
    merge_sources,
)
from planner.quality._outliers import (
    OUTLIER_METHODS,
    OutlierDetector,
    OutlierFilteredClassifier,
    OutlierFilteredRegressor,
    OutlierTransformer,
)
from planner.quality._report import CHARACTERISTICS, QualityCheck, QualityReport, assess

__all__ = [
    "CHARACTERISTICS",
    "IMPUTE_STRATEGIES",
    "MERGE_STRATEGIES",
    "OUTLIER_METHODS",
    "SCALING_METHODS",
    "CategoricalEncoder",
    "CleaningAction",
    "CleaningLog",
    "ColumnFilter",
    "CorrelationFilter",
    "Exploration",
    "FeatureScaler",
    "Imputer",
    "MergeLog",
    "OutlierDetector",
    "OutlierFilteredClassifier",
    "OutlierFilteredRegressor",
    "OutlierTransformer",
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
