"""Chemical formulas: parsing, clean-up and a canonical key.

* :func:`parse_formula` / :func:`parse_formulas` — pymatgen's ``Composition`` parser with
  per-row errors that name the row and the string, and rejection of symbols that are not
  elements (pymatgen silently turns unknown symbols such as ``"Xx"`` into dummy species).
* :func:`normalize_formula` — a canonical key (sorted elements, atomic fractions), so
  ``Li7La3Zr2O12``, ``Li14La6Zr4O24`` and ``"Li7La3Zr2O12 "`` are recognised as one material.

Formula clean-up before parsing (documented, never silent about anything else): surrounding
quotes are stripped (some exported tables quote formulas, e.g. ``'"(Li2S)0.5 (P2S5)0.5"'``)
and whitespace is removed (``"(Li2S)0.5 (P2S5)0.5"`` is the same formula without spaces).

pymatgen is imported on first use, not when this module is imported.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from planner.exceptions import DataValidationError, FormulaError, OptionalDependencyError
from planner.validation import format_values

__all__ = [
    "MAX_Z",
    "clean_formula",
    "formula_error_message",
    "normalize_formula",
    "parse_formula",
    "parse_formulas",
]

#: Highest atomic number in the element tables.
MAX_Z = 118
_QUOTES = "\"'"
_SPACE = re.compile(r"\s+")


def clean_formula(formula: str) -> str:
    """Strip surrounding quotes and all whitespace: the only clean-up applied before parsing."""
    text = formula.strip()
    while len(text) >= 2 and text[0] == text[-1] and text[0] in _QUOTES:
        text = text[1:-1].strip()
    return _SPACE.sub("", text)


def _pymatgen() -> tuple[Any, Any]:
    try:
        from pymatgen.core import Composition, Element
    except ImportError as err:  # pragma: no cover - pymatgen is a core dependency
        raise OptionalDependencyError(
            "Parsing chemical formulas needs pymatgen: pip install 'pymatgen>=2025.1'"
        ) from err
    return Composition, Element


@lru_cache(maxsize=262_144)
def _parse_cached(text: str) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """``(atomic numbers, amounts)`` of a cleaned formula, in pymatgen's element order."""
    Composition, Element = _pymatgen()
    if not text:
        raise FormulaError("the formula is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            comp = Composition(text)
            items = list(comp.element_composition.items())
    except Exception as err:  # pymatgen raises ValueError, KeyError, IndexError... on bad input
        hint = ""
        if text[:1].islower() or re.search(r"[a-z]{3,}", text):
            hint = " (element symbols are case-sensitive: 'Li', not 'li' or 'LI')"
        raise FormulaError(f"pymatgen cannot parse it: {err}{hint}") from err
    not_elements = [str(getattr(sp, "symbol", sp)) for sp, _ in items if not isinstance(sp, Element)]
    if not_elements:
        raise FormulaError(
            f"{format_values(not_elements)} {'is not an element symbol' if len(not_elements) == 1 else 'are not element symbols'}"
        )
    items = [(el, amt) for el, amt in items if amt > 0]
    if not items:
        raise FormulaError("the formula has no element with a positive amount")
    return tuple(el.Z for el, _ in items), tuple(float(amt) for _, amt in items)


def _parse_one(formula: Any) -> tuple[tuple[int, ...], tuple[float, ...]]:
    if formula is None or (isinstance(formula, float) and np.isnan(formula)) or formula is pd.NA:
        raise FormulaError("the formula is missing (empty cell)")
    if not isinstance(formula, str):
        raise FormulaError(f"expected a formula string, got {type(formula).__name__} {formula!r}")
    return _parse_cached(clean_formula(formula))


def parse_formula(formula: str) -> dict[str, float]:
    """Element symbol -> amount for one formula string.

    Raises:
        FormulaError: The string is empty, unparseable, or names a symbol that is not an element.
    """
    from pymatgen.core.periodic_table import Element

    zs, amounts = _parse_one(formula)
    return {Element.from_Z(z).symbol: amt for z, amt in zip(zs, amounts, strict=True)}


def normalize_formula(formula: str, *, digits: int = 6) -> str:
    """Canonical key: elements sorted alphabetically with atomic fractions to ``digits`` significant digits.

    ``normalize_formula("Li7La3Zr2O12") == normalize_formula("Li14La6Zr4O24 ")``.

    Raises:
        FormulaError: See :func:`parse_formula`.
    """
    amounts = parse_formula(formula)
    total = sum(amounts.values())
    return " ".join(f"{el}{amt / total:.{digits}g}" for el, amt in sorted(amounts.items()))


def parse_formulas(
    formulas: Sequence[Any] | pd.Series,
    *,
    where: str = "data",
    column: str = "composition",
    on_error: str = "raise",
) -> tuple[list[tuple[tuple[int, ...], tuple[float, ...]] | None], dict[Any, str]]:
    """Parse many formulas; collect every failure with its row.

    Args:
        formulas: Formula strings; a Series keeps its index for naming rows.
        where: Dataset or file name for messages.
        column: Column name for messages.
        on_error: ``"raise"`` — one :class:`DataValidationError` listing every bad row;
            ``"ignore"`` — return ``None`` for bad rows and report them in ``errors``.

    Returns:
        ``(parsed, errors)``: per row ``(atomic numbers, amounts)`` or ``None``, and
        ``{row label: reason}`` for rows that failed.
    """
    series = formulas if isinstance(formulas, pd.Series) else pd.Series(list(formulas))
    parsed: list[Any] = []
    errors: dict[Any, str] = {}
    cache: dict[Any, Any] = {}
    for label, value in zip(series.index, series.to_numpy(dtype=object), strict=True):
        key = value if isinstance(value, str) else None
        try:
            if key is not None and key in cache:
                result = cache[key]
                if isinstance(result, FormulaError):
                    raise result
            else:
                result = _parse_one(value)
                if key is not None:
                    cache[key] = result
            parsed.append(result)
        except FormulaError as err:
            if key is not None:
                cache[key] = err
            parsed.append(None)
            errors[label] = f"{value!r}: {err}"
    if errors and on_error == "raise":
        raise DataValidationError(formula_error_message(errors, where=where, column=column))
    return parsed, errors


def formula_error_message(errors: dict[Any, str], *, where: str, column: str, limit: int = 8) -> str:
    """One message listing the rows that failed (``errors``: ``{row label: reason}``)."""
    lines = [f"row {label}: {reason}" for label, reason in list(errors.items())[:limit]]
    more = f"\n  ... and {len(errors) - limit} more" if len(errors) > limit else ""
    return (
        f"{where}: {len(errors)} formula(s) in column {column!r} could not be parsed:\n  "
        + "\n  ".join(lines)
        + more
        + "\nFix the formulas (e.g. 'Li7La3Zr2O12'; parentheses and decimals allowed), or use "
        "on_error='nan' to keep the rows with missing descriptors."
    )
