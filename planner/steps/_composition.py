"""Composition descriptors from chemical formula strings (parsing is :mod:`planner.chem`'s).

* :class:`ElementFractionFeaturizer` — atomic-fraction vector over the elements seen in training.
* :class:`MagpieFeaturizer` — Magpie statistics (mean, average deviation, min, max, range,
  mode) of elemental properties from matminer's shipped Magpie tables, identical to matminer's
  ``ElementProperty.from_preset("magpie")`` but vectorized: formulas are parsed once (cached),
  element tables are loaded once per process, and the statistics are computed for all rows at
  once with ``numpy.ufunc.reduceat`` over the non-zero (row, element) pairs.

pymatgen and matminer are imported on first use, not when this module is imported.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from planner.chem._formula import MAX_Z, formula_error_message, parse_formulas
from planner.exceptions import DataQualityWarning, DataValidationError, OptionalDependencyError, SpecError
from planner.validation import check_choice, format_values

__all__ = [
    "MAGPIE_PROPERTIES",
    "MAGPIE_STATS",
    "ElementFractionFeaturizer",
    "MagpieFeaturizer",
    "element_property_table",
    "magpie_statistics",
]

#: The 22 elemental properties of matminer's ``ElementProperty.from_preset("magpie")``.
MAGPIE_PROPERTIES: tuple[str, ...] = (
    "Number",
    "MendeleevNumber",
    "AtomicWeight",
    "MeltingT",
    "Column",
    "Row",
    "CovalentRadius",
    "Electronegativity",
    "NsValence",
    "NpValence",
    "NdValence",
    "NfValence",
    "NValence",
    "NsUnfilled",
    "NpUnfilled",
    "NdUnfilled",
    "NfUnfilled",
    "NUnfilled",
    "GSvolume_pa",
    "GSbandgap",
    "GSmagmom",
    "SpaceGroupNumber",
)
#: Statistics, in matminer's naming; ``avg_dev`` is the fraction-weighted mean absolute deviation.
MAGPIE_STATS: tuple[str, ...] = ("minimum", "maximum", "range", "mean", "avg_dev", "mode")


# --------------------------------------------------------------------------------------------
# Element tables


@lru_cache(maxsize=8)
def element_property_table(properties: tuple[str, ...] = MAGPIE_PROPERTIES, impute_nan: bool = True) -> np.ndarray:
    """``(119, n_properties)`` table indexed by atomic number (row 0 unused), from matminer's Magpie data.

    Loaded once per process. With ``impute_nan`` (matminer's default), elements without a value
    get the mean over the elements that have one, exactly as ``MagpieData(impute_nan=True)``.
    """
    data = _magpie_data(impute_nan)
    unknown = [p for p in properties if p not in data.all_elemental_props]
    if unknown:
        raise SpecError(
            f"MagpieFeaturizer: unknown elemental propert{'y' if len(unknown) == 1 else 'ies'} "
            f"{format_values(unknown)}. Available: {format_values(sorted(data.all_elemental_props), limit=80)}."
        )
    from pymatgen.core.periodic_table import Element

    table = np.full((MAX_Z + 1, len(properties)), np.nan)
    for z in range(1, MAX_Z + 1):
        symbol = Element.from_Z(z).symbol
        for j, prop in enumerate(properties):
            value = data.all_elemental_props[prop].get(symbol, np.nan)
            table[z, j] = np.nan if isinstance(value, list) else float(value)
    return table


@lru_cache(maxsize=2)
def _magpie_data(impute_nan: bool) -> Any:
    try:
        from matminer.utils.data import MagpieData
    except ImportError as err:  # pragma: no cover - matminer is a core dependency
        raise OptionalDependencyError(
            "Magpie descriptors need matminer (it ships the element tables): pip install 'matminer>=0.10,<0.11'"
        ) from err

    return MagpieData(impute_nan=impute_nan)


# --------------------------------------------------------------------------------------------
# Featurizers


class _FormulaFeaturizer(TransformerMixin, BaseEstimator):
    """Shared input handling: a DataFrame with a formula column, a Series, or a 1-D/one-column array."""

    composition_column: str
    on_error: str
    passthrough: bool

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = True
        tags.input_tags.allow_nan = True
        tags.requires_fit = True
        return tags

    def _split_input(self, X: Any, *, reset: bool) -> tuple[pd.Series, pd.DataFrame | None]:
        owner = type(self).__name__
        if isinstance(X, pd.Series):
            if reset:
                self.n_features_in_ = 1
                self.feature_names_in_ = np.asarray([str(X.name or self.composition_column)], dtype=object)
            return X, None
        if isinstance(X, pd.DataFrame):
            validate_data(self, X, reset=reset, skip_check_array=True)
            if self.composition_column in X.columns:
                col = self.composition_column
            elif X.shape[1] == 1:
                col = X.columns[0]
            else:
                raise DataValidationError(
                    f"{owner}: composition column {self.composition_column!r} not found; available columns: "
                    f"{format_values(list(X.columns), limit=20)}. Set composition_column=<name of the formula column>."
                )
            rest = X.drop(columns=[col]) if self.passthrough else None
            return X[col], rest
        array = np.asarray(X, dtype=object)
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != 1:
            raise DataValidationError(
                f"{owner}: expected one column of formula strings, got an array of shape {array.shape}. "
                "Pass a DataFrame and set composition_column."
            )
        if reset:
            self.n_features_in_ = 1
        return pd.Series(array), None

    def _parse(self, formulas: pd.Series, *, where: str) -> tuple[list[Any], dict[Any, str]]:
        parsed, errors = parse_formulas(
            formulas, where=where, column=str(formulas.name or self.composition_column), on_error="ignore"
        )
        if errors:
            if self.on_error == "raise":
                raise DataValidationError(
                    formula_error_message(errors, where=where, column=str(formulas.name or self.composition_column))
                )
            warnings.warn(
                f"{type(self).__name__}: {len(errors)} formula(s) could not be parsed; their descriptors are NaN "
                f"(first: row {next(iter(errors.items()))[0]}: {next(iter(errors.values()))}).",
                DataQualityWarning,
                stacklevel=3,
            )
        return parsed, errors

    def _assemble(self, features: np.ndarray, names: list[str], formulas: pd.Series, rest: pd.DataFrame | None):
        out = pd.DataFrame(features, columns=names, index=formulas.index)
        if rest is not None and rest.shape[1]:
            out = pd.concat([rest, out], axis=1)
        return out

    def _check_on_error(self) -> None:
        check_choice(self.on_error, ("raise", "nan"), name="on_error", owner=type(self).__name__)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "n_features_in_")
        names = list(self._descriptor_names())
        if self.passthrough and hasattr(self, "feature_names_in_"):
            keep = [c for c in self.feature_names_in_ if c != self._formula_column_name()]
            if len(self.feature_names_in_) > 1:
                names = keep + names
        return np.asarray(names, dtype=object)

    def _formula_column_name(self) -> str:
        names = list(getattr(self, "feature_names_in_", []))
        if self.composition_column in names or len(names) != 1:
            return self.composition_column
        return names[0]


class ElementFractionFeaturizer(_FormulaFeaturizer):
    """Atomic fraction of each element: ``Li7La3Zr2O12`` -> ``frac_Li = 7/24`` ...

    The element columns are fixed in ``fit`` (the elements in the training formulas, ordered by
    atomic number, or the ``elements`` given). Fractions of elements not among them go to a
    ``frac_other`` column at transform time, with a :class:`DataQualityWarning`, so rows still
    sum to 1 and nothing is silently lost.

    Args:
        composition_column: Name of the formula column when ``X`` is a DataFrame.
        elements: Fixed element symbols to use instead of learning them.
        on_error: ``"raise"`` or ``"nan"`` for formulas that do not parse.
        passthrough: Keep the other columns of a DataFrame (the formula column is replaced).

    Attributes:
        elements_: Element symbols of the ``frac_*`` columns.
    """

    def __init__(
        self,
        *,
        composition_column: str = "composition",
        elements: Sequence[str] | None = None,
        on_error: str = "raise",
        passthrough: bool = True,
    ) -> None:
        self.composition_column = composition_column
        self.elements = elements
        self.on_error = on_error
        self.passthrough = passthrough

    def fit(self, X: Any, y: Any = None) -> ElementFractionFeaturizer:
        self._check_on_error()
        from pymatgen.core.periodic_table import Element

        formulas, _ = self._split_input(X, reset=True)
        if self.elements is not None:
            zs = []
            for symbol in self.elements:
                try:
                    zs.append(Element(symbol).Z)
                except ValueError as err:
                    raise SpecError(
                        f"ElementFractionFeaturizer: {symbol!r} in `elements` is not an element symbol."
                    ) from err
        else:
            parsed, _ = self._parse(formulas, where="training data")
            zs = sorted({z for item in parsed if item is not None for z in item[0]})
        self._zs = np.asarray(zs, dtype=int)
        self.elements_ = [Element.from_Z(int(z)).symbol for z in self._zs]
        return self

    def _descriptor_names(self) -> list[str]:
        return [f"frac_{el}" for el in self.elements_] + ["frac_other"]

    def transform(self, X: Any) -> pd.DataFrame:
        """DataFrame of ``frac_<El>`` columns plus ``frac_other`` (and passthrough columns)."""
        check_is_fitted(self, "elements_")
        formulas, rest = self._split_input(X, reset=False)
        parsed, _ = self._parse(formulas, where="data")
        column_of = np.full(MAX_Z + 1, len(self._zs), dtype=int)
        column_of[self._zs] = np.arange(len(self._zs))
        out = np.zeros((len(parsed), len(self._zs) + 1))
        rows, cols, vals = _flatten(parsed)
        if len(rows):
            np.add.at(out, (rows, column_of[cols]), vals)
        bad = np.array([item is None for item in parsed], dtype=bool)
        out[bad] = np.nan
        if np.nansum(out[:, -1]) > 0:
            from pymatgen.core.periodic_table import Element

            unseen = sorted({int(z) for z in cols if column_of[z] == len(self._zs)})
            warnings.warn(
                f"ElementFractionFeaturizer: element(s) {format_values([Element.from_Z(z).symbol for z in unseen])} "
                "were not in the training formulas; their fractions are summed into 'frac_other'.",
                DataQualityWarning,
                stacklevel=2,
            )
        return self._assemble(out, self._descriptor_names(), formulas, rest)


def _flatten(parsed: list[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row index, atomic number and atomic fraction of every (row, element) pair."""
    good = [(i, item) for i, item in enumerate(parsed) if item is not None]
    if not good:
        return np.empty(0, dtype=int), np.empty(0, dtype=int), np.empty(0)
    rows = np.concatenate([np.full(len(item[0]), i) for i, item in good])
    zs = np.concatenate([np.asarray(item[0], dtype=int) for _, item in good])
    amounts = np.concatenate([np.asarray(item[1], dtype=float) for _, item in good])
    totals = np.bincount(rows, weights=amounts, minlength=len(parsed))
    return rows, zs, amounts / totals[rows]


class MagpieFeaturizer(_FormulaFeaturizer):
    """Magpie statistics of elemental properties, matching matminer's ``ElementProperty`` "magpie" preset.

    For each property p with element values ``p_e`` and atomic fractions ``w_e``:
    ``mean = sum w_e p_e``, ``avg_dev = sum w_e |p_e - mean|``, ``minimum``/``maximum`` over the
    elements present, ``range = maximum - minimum``, and ``mode`` = the value of the element
    with the largest fraction (the smallest value among ties, as matminer does).

    The step has no learned state (descriptors of one row never depend on other rows), so it
    can be fitted once outside cross-validation without leakage; it is still a transformer so
    it can sit in a pipeline.

    Args:
        composition_column: Name of the formula column when ``X`` is a DataFrame.
        properties: ``"magpie"`` (the 22 properties of the preset) or a list of names from
            matminer's ``magpie_elementdata`` tables (e.g. ``"IonizationEnergies"`` is not
            scalar and is refused).
        stats: Statistics to compute, any of :data:`MAGPIE_STATS`.
        on_error: ``"raise"`` (one error listing every bad row) or ``"nan"`` (NaN features and
            a :class:`DataQualityWarning`).
        passthrough: Keep the other columns of a DataFrame (the formula column is replaced).
        prefix: Prefix of the output names, ``<prefix>_<stat>_<property>``.
    """

    def __init__(
        self,
        *,
        composition_column: str = "composition",
        properties: str | Sequence[str] = "magpie",
        stats: Sequence[str] = MAGPIE_STATS,
        on_error: str = "raise",
        passthrough: bool = True,
        prefix: str = "magpie",
    ) -> None:
        self.composition_column = composition_column
        self.properties = properties
        self.stats = stats
        self.on_error = on_error
        self.passthrough = passthrough
        self.prefix = prefix

    def _properties(self) -> tuple[str, ...]:
        if isinstance(self.properties, str):
            if self.properties != "magpie":
                raise SpecError(
                    f"MagpieFeaturizer: properties={self.properties!r}; use 'magpie' or a list of property names."
                )
            return MAGPIE_PROPERTIES
        return tuple(self.properties)

    def fit(self, X: Any, y: Any = None) -> MagpieFeaturizer:
        self._check_on_error()
        for stat in self.stats:
            check_choice(stat, MAGPIE_STATS, name="stats", owner="MagpieFeaturizer")
        props = self._properties()
        table = element_property_table(props)
        self.properties_ = list(props)
        self.stats_ = list(self.stats)
        if np.isnan(table[1:]).all(axis=0).any():
            bad = [p for p, empty in zip(props, np.isnan(table[1:]).all(axis=0), strict=True) if empty]
            raise SpecError(
                f"MagpieFeaturizer: propert{'y' if len(bad) == 1 else 'ies'} {format_values(bad)} "
                "have no scalar values per element (e.g. lists of oxidation states); choose scalar properties."
            )
        formulas, _ = self._split_input(X, reset=True)
        self._parse(formulas, where="training data")
        return self

    def _descriptor_names(self) -> list[str]:
        return [f"{self.prefix}_{stat}_{prop}" for prop in self.properties_ for stat in self.stats_]

    def transform(self, X: Any) -> pd.DataFrame:
        """DataFrame of ``n_properties * n_stats`` descriptor columns (and passthrough columns)."""
        check_is_fitted(self, "properties_")
        formulas, rest = self._split_input(X, reset=False)
        parsed, _ = self._parse(formulas, where="data")
        values = magpie_statistics(parsed, self.properties_, self.stats_)
        return self._assemble(values, self._descriptor_names(), formulas, rest)


def magpie_statistics(
    parsed: list[tuple[tuple[int, ...], tuple[float, ...]] | None],
    properties: Sequence[str],
    stats: Sequence[str],
) -> np.ndarray:
    """``n x (len(properties) * len(stats))`` Magpie statistics, property-major (matminer's order).

    Rows whose entry is ``None`` (unparsed formulas) are NaN.
    """
    n = len(parsed)
    table = element_property_table(tuple(properties))
    n_props = table.shape[1]
    out = np.full((n, n_props, len(stats)), np.nan)
    good = np.array([item is not None for item in parsed], dtype=bool)
    if not good.any():
        return out.reshape(n, -1)
    idx = np.flatnonzero(good)
    counts = np.array([len(parsed[i][0]) for i in idx])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    row_of = np.repeat(np.arange(len(idx)), counts)
    zs = np.concatenate([np.asarray(parsed[i][0], dtype=int) for i in idx])
    amounts = np.concatenate([np.asarray(parsed[i][1], dtype=float) for i in idx])
    totals = np.add.reduceat(amounts, starts)
    w = amounts / totals[row_of]
    P = table[zs]  # nnz x n_props
    results: dict[str, np.ndarray] = {}
    mean = np.add.reduceat(w[:, None] * P, starts, axis=0)
    results["mean"] = mean
    if "avg_dev" in stats:
        results["avg_dev"] = np.add.reduceat(w[:, None] * np.abs(P - mean[row_of]), starts, axis=0)
    if {"minimum", "range"} & set(stats):
        results["minimum"] = np.minimum.reduceat(P, starts, axis=0)
    if {"maximum", "range"} & set(stats):
        results["maximum"] = np.maximum.reduceat(P, starts, axis=0)
    if "range" in stats:
        results["range"] = results["maximum"] - results["minimum"]
    if "mode" in stats:
        # matminer: among the elements with the largest amount (np.isclose), the smallest value.
        top = np.maximum.reduceat(amounts, starts)
        is_top = np.isclose(amounts, top[row_of])
        results["mode"] = np.minimum.reduceat(np.where(is_top[:, None], P, np.inf), starts, axis=0)
    for k, stat in enumerate(stats):
        out[idx, :, k] = results[stat]
    return out.reshape(n, -1)
