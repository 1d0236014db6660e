"""Every scikit-learn step the AutoML search puts in its pipelines (each fitted inside CV folds).

Cleaning (array in, array out; checked by scikit-learn's estimator checks):

* :class:`Imputer` (mean / median / most frequent / constant / KNN / iterative "MICE forest"),
  :class:`ColumnFilter` (too sparse or constant columns);
* :class:`OutlierTransformer` (clip / mask / flag), :class:`OutlierDetector`, and the
  drop-in-training-only wrappers :class:`OutlierFilteredRegressor` /
  :class:`OutlierFilteredClassifier`;
* :class:`CategoricalEncoder` (one-hot / ordinal), :class:`FeatureScaler` (standard / robust /
  min-max / power / quantile);
* :class:`CorrelationFilter`, :class:`L1Selector`, :class:`PLSTransformer`,
  :class:`EncodedLabelClassifier` (the search's selectors and label wrapper).

Featurisers (named columns or strings in, descriptor columns out):

* :class:`MagpieFeaturizer` — Magpie statistics of elemental properties (matminer's tables,
  vectorized); :class:`ElementFractionFeaturizer` — atomic-fraction vectors (formula parsing
  is :mod:`planner.chem`'s);
* :class:`FractionGroupValidator` — fraction groups checked or renormalized;
* :func:`relational_features`, :class:`RelationalFeaturizer` — featuretools deep feature
  synthesis over a child table (cycling records per cell), with trends and early windows;
* :class:`MoleculeFeaturizer`, :class:`DescriptorCleaner`, :func:`mixture_grid` — RDKit
  descriptors / Morgan counts / one-hot of SMILES columns and fraction-weighted mixtures.

pymatgen, matminer, featuretools and RDKit load on first use, not on import.
"""

from planner.steps._composition import (
    MAGPIE_PROPERTIES,
    MAGPIE_STATS,
    ElementFractionFeaturizer,
    MagpieFeaturizer,
    element_property_table,
    magpie_statistics,
)
from planner.steps._encode import CategoricalEncoder
from planner.steps._fractions import FractionGroupValidator
from planner.steps._impute import IMPUTE_STRATEGIES, ColumnFilter, Imputer
from planner.steps._labels import EncodedLabelClassifier
from planner.steps._molecules import (
    DescriptorCleaner,
    MoleculeFeaturizer,
    canonical_smiles,
    is_smiles_column,
    mixture_grid,
)
from planner.steps._outliers import (
    OUTLIER_METHODS,
    OutlierDetector,
    OutlierFilteredClassifier,
    OutlierFilteredRegressor,
    OutlierTransformer,
)
from planner.steps._relational import AGGREGATIONS, RelationalFeaturizer, relational_features
from planner.steps._scale import SCALING_METHODS, FeatureScaler
from planner.steps._selection import CorrelationFilter, L1Selector, PLSTransformer

__all__ = [
    "AGGREGATIONS",
    "IMPUTE_STRATEGIES",
    "MAGPIE_PROPERTIES",
    "MAGPIE_STATS",
    "OUTLIER_METHODS",
    "SCALING_METHODS",
    "CategoricalEncoder",
    "ColumnFilter",
    "CorrelationFilter",
    "DescriptorCleaner",
    "ElementFractionFeaturizer",
    "EncodedLabelClassifier",
    "FeatureScaler",
    "FractionGroupValidator",
    "Imputer",
    "L1Selector",
    "MagpieFeaturizer",
    "MoleculeFeaturizer",
    "OutlierDetector",
    "OutlierFilteredClassifier",
    "OutlierFilteredRegressor",
    "OutlierTransformer",
    "PLSTransformer",
    "RelationalFeaturizer",
    "canonical_smiles",
    "element_property_table",
    "is_smiles_column",
    "magpie_statistics",
    "mixture_grid",
    "relational_features",
]
