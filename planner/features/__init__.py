"""Feature construction: composition descriptors, fraction groups, relational aggregates.

* :class:`MagpieFeaturizer` — Magpie statistics of elemental properties (matminer's tables,
  vectorized); :class:`ElementFractionFeaturizer` — atomic-fraction vectors;
  :func:`parse_formula`, :func:`normalize_formula`, :func:`parse_formulas`.
* :func:`check_fraction_groups`, :func:`validate_fraction_groups`,
  :class:`FractionGroupValidator` — columns that must sum to 1.
* :func:`relational_features`, :class:`RelationalFeaturizer` — featuretools deep feature
  synthesis over a child table (cycling records per cell), with trends and early windows.
* :class:`MoleculeFeaturizer`, :class:`DescriptorCleaner`, :func:`mixture_grid` — RDKit
  descriptors / Morgan counts / one-hot of SMILES columns and fraction-weighted mixtures.

pymatgen, matminer, featuretools and RDKit load on first use, not on import.
"""

from planner.features._composition import (
    MAGPIE_PROPERTIES,
    MAGPIE_STATS,
    ElementFractionFeaturizer,
    FormulaError,
    MagpieFeaturizer,
    clean_formula,
    element_property_table,
    normalize_formula,
    parse_formula,
    parse_formulas,
)
from planner.features._fractions import (
    FractionGroup,
    FractionGroupValidator,
    as_fraction_groups,
    check_fraction_groups,
    validate_fraction_groups,
)
from planner.features._molecules import (
    DescriptorCleaner,
    MoleculeFeaturizer,
    canonical_smiles,
    is_smiles_column,
    mixture_grid,
)
from planner.features._relational import AGGREGATIONS, RelationalFeaturizer, relational_features

__all__ = [
    "AGGREGATIONS",
    "MAGPIE_PROPERTIES",
    "MAGPIE_STATS",
    "DescriptorCleaner",
    "ElementFractionFeaturizer",
    "FormulaError",
    "FractionGroup",
    "FractionGroupValidator",
    "MagpieFeaturizer",
    "MoleculeFeaturizer",
    "RelationalFeaturizer",
    "as_fraction_groups",
    "canonical_smiles",
    "check_fraction_groups",
    "clean_formula",
    "element_property_table",
    "is_smiles_column",
    "mixture_grid",
    "normalize_formula",
    "parse_formula",
    "parse_formulas",
    "relational_features",
    "validate_fraction_groups",
]
