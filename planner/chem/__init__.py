"""Chemistry records and parsing shared by the spec, the data sources, the steps and the engines.

A leaf: it imports only :mod:`planner.exceptions`, :mod:`planner.validation`, numpy and pandas
(pymatgen on the first parse).

* Formulas: :func:`parse_formula`, :func:`parse_formulas`, :func:`clean_formula`,
  :func:`normalize_formula` (a canonical key); bad ones raise :class:`FormulaError`.
* :class:`FractionGroup` — columns that are parts of one whole; :func:`as_fraction_groups`,
  :func:`check_fraction_groups`, :func:`validate_fraction_groups`.
* Units: :func:`convert_units` (pint, loaded on first use), :func:`unit_registry`.
* :class:`LinearConstraint` — ``sum_i c_i x_i  op  rhs`` over numeric inputs (the campaign
  spec's design-space constraints and the active-learning engine's are this one class).
"""

from planner.chem._constraints import LINEAR_OPERATORS, LinearConstraint
from planner.chem._formula import (
    MAX_Z,
    clean_formula,
    formula_error_message,
    normalize_formula,
    parse_formula,
    parse_formulas,
)
from planner.chem._fractions import (
    FractionGroup,
    as_fraction_groups,
    check_fraction_groups,
    validate_fraction_groups,
    violation_message,
)
from planner.chem._units import convert_units, unit_registry
from planner.exceptions import FormulaError

__all__ = [
    "LINEAR_OPERATORS",
    "MAX_Z",
    "FormulaError",
    "FractionGroup",
    "LinearConstraint",
    "as_fraction_groups",
    "check_fraction_groups",
    "clean_formula",
    "convert_units",
    "formula_error_message",
    "normalize_formula",
    "parse_formula",
    "parse_formulas",
    "unit_registry",
    "validate_fraction_groups",
    "violation_message",
]
